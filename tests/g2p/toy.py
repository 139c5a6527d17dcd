"""A toy language with known spelling rules, written as a gruut-style SQLite lexicon.

Rules (so a right model can be checked letter by letter): "c" before e/i says "s", else "k";
"ch" says "ʃ" (h silent); "qu" says "k" (u silent); a doubled consonant says one phoneme (the
second letter is silent); a final "e" is silent; "x" says "k s" (two phonemes from one
letter); every other letter says itself. Seeded random words.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

LETTERS = "abcdefghiklmnopqrstuvx"
VOWELS = set("aeiou")


def pronounce(word: str) -> list[tuple[str, list[str]]]:
    """(graphemes, phonemes) chunks of `word` under the toy rules (the gold alignment)."""
    out, i = [], 0
    while i < len(word):
        ch = word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        if ch == "c" and nxt == "h":
            out.append(("ch", ["ʃ"]))
            i += 2
            continue
        if ch == "q" and nxt == "u":
            out.append(("qu", ["k"]))
            i += 2
            continue
        if ch not in VOWELS and nxt == ch:
            out.append((ch + ch, [ch]))
            i += 2
            continue
        if ch == "c":
            out.append(("c", ["s"] if nxt in ("e", "i") else ["k"]))
        elif ch == "e" and i == len(word) - 1 and i > 0:
            out.append(("e", []))
        elif ch == "x":
            out.append(("x", ["k", "s"]))
        else:
            out.append((ch, [ch]))
        i += 1
    return out


def alignment_string(word: str) -> str:
    return " ".join("|".join(g) + "}" + ("|".join(p) if p else "_") for g, p in pronounce(word))


def words(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out: set[str] = set()
    while len(out) < n:
        k = int(rng.integers(2, 9))
        w = "".join(LETTERS[int(i)] for i in rng.integers(0, len(LETTERS), size=k))
        out.add(w)
    return sorted(out)


def prons(ws: list[str]) -> list[list[str]]:
    return [[p for _, ps in pronounce(w) for p in ps] for w in ws]


def write_lexicon(path: Path, ws: list[str], extra_rows=(), alignments: bool = True) -> Path:
    """A gruut lexicon.db: word_phonemes (+ g2p_alignments); `extra_rows` as (word, pron_order, phonemes)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE word_phonemes (id INTEGER PRIMARY KEY AUTOINCREMENT, word TEXT, pron_order INTEGER, "
                "phonemes TEXT, role TEXT)")
    con.execute("CREATE TABLE g2p_alignments (id INTEGER PRIMARY KEY AUTOINCREMENT, word TEXT, alignment TEXT)")
    for w, p in zip(ws, prons(ws)):
        con.execute("INSERT INTO word_phonemes (word, pron_order, phonemes, role) VALUES (?, 0, ?, '')",
                    (w, " ".join(p)))
        if alignments:
            con.execute("INSERT INTO g2p_alignments (word, alignment) VALUES (?, ?)", (w, alignment_string(w)))
    for w, order, ph in extra_rows:
        con.execute("INSERT INTO word_phonemes (word, pron_order, phonemes, role) VALUES (?, ?, ?, '')",
                    (w, order, ph))
    con.commit()
    con.close()
    return path
