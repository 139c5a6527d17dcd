"""Words as letter samples: context keys, the per-letter class table, unknown characters.

A *sample* is one letter of a word. Its *class* is the phoneme chunk it starts ("" = ε,
the letter starts no phoneme; "t s" = two phonemes), as `data.lexicon.letter_labels` aligns
them. A *window* (l, r) reads the l letters left and r right of the letter (and the letter);
`context_keys` hashes every window of every sample into an even uint32 key.

The network does not predict a class directly but its *rank* among the classes its letter
had in training (`ClassTable`): rank 0 = the letter's most frequent class. Ranks keep the
argmax over classes small (every letter shares the same R groups) and make "the letter's
usual sound" the answer when nothing is known.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..kernels import g2p as KG
from ..kernels.threads import threads_for

PAD = 0  # the code point a window reads outside the word

EPS = ""


def default_windows(max_left: int = 4, max_right: int = 4) -> list[tuple[int, int]]:
    """Every window (l, r) with l <= max_left, r <= max_right, shortest first (the credit's order)."""
    return sorted(((l, r) for l in range(max_left + 1) for r in range(max_right + 1)),
                  key=lambda t: (t[0] + t[1], t[0], t[1]))


def fold_char(ch: str, alphabet) -> str:
    """A character never seen in training becomes its base letter when that one was seen
    ("ǎ" -> "a": NFD, combining marks dropped); otherwise it stays as it is (no class: silent)."""
    if ch in alphabet:
        return ch
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return base if len(base) == 1 and base in alphabet else ch


def fold_word(word: str, alphabet) -> str:
    return "".join(fold_char(ch, alphabet) for ch in word)


@dataclass
class Letters:
    """The letters of a word list as flat arrays (what the kernels read)."""

    chars: np.ndarray        # uint32 code points of every word, concatenated
    word_off: np.ndarray     # int64 (n_words + 1,)
    sample_word: np.ndarray  # int64: the word of each sample
    sample_pos: np.ndarray   # int64: its position in the word

    @classmethod
    def of(cls, words: list[str]) -> "Letters":
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        word_off = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(lengths, out=word_off[1:])
        text = "".join(words)
        chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy() if text else np.zeros(0, np.uint32)
        sample_word = np.repeat(np.arange(len(words), dtype=np.int64), lengths)
        sample_pos = np.arange(int(word_off[-1]), dtype=np.int64) - word_off[sample_word]
        return cls(chars, word_off, sample_word, sample_pos)

    @property
    def n(self) -> int:
        return int(self.sample_word.shape[0])


def context_keys(letters: Letters, windows: list[tuple[int, int]]) -> np.ndarray:
    """uint32 (n_samples, n_windows): the even key of every window of every letter."""
    lefts = np.array([w[0] for w in windows], dtype=np.int64)
    rights = np.array([w[1] for w in windows], dtype=np.int64)
    out = np.empty((letters.n, len(windows)), dtype=np.uint32)
    threads_for(letters.n)
    KG.context_keys_into(letters.chars, letters.word_off, letters.sample_word, letters.sample_pos, lefts, rights,
                         np.uint32(PAD), out)
    return out


class ClassTable:
    """Per letter, its training classes by frequency (ties: by name): rank r <-> class."""

    def __init__(self, classes: dict[str, list[str]], ranks: int):
        self.classes = classes
        self.ranks = int(ranks)

    @classmethod
    def fit(cls, words: list[str], labels: list[list[str]], max_ranks: int = 16,
            coverage: float = 0.995) -> "ClassTable":
        """Ranks R: the fewest covering `coverage` of the training letters (at least 2, at most
        `max_ranks`); rarer classes of a letter cannot be predicted (counted as errors)."""
        counts: dict[str, Counter] = {}
        for w, labs in zip(words, labels):
            for ch, lab in zip(w, labs):
                counts.setdefault(ch, Counter())[lab] += 1
        classes = {ch: [k for k, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))] for ch, c in counts.items()}
        by_rank = Counter()
        for ch, c in counts.items():
            for r, k in enumerate(classes[ch]):
                by_rank[r] += c[k]
        total = sum(by_rank.values())
        R, acc = 0, 0
        while R < max_ranks and (total == 0 or acc / total < coverage):
            acc += by_rank.get(R, 0)
            R += 1
        return cls(classes, max(2, R))

    @property
    def alphabet(self) -> set[str]:
        return set(self.classes)

    def encode(self, words: list[str], labels: list[list[str]]) -> np.ndarray:
        """int64 rank of every letter (R when its class is past the table's ranks or unknown)."""
        out = []
        for w, labs in zip(words, labels):
            for ch, lab in zip(w, labs):
                cl = self.classes.get(ch, [])
                r = cl.index(lab) if lab in cl else self.ranks
                out.append(r if r < self.ranks else self.ranks)
        return np.array(out, dtype=np.int64)

    def decode(self, words: list[str], ranks: np.ndarray) -> list[list[str]]:
        """Class of every letter from its rank (a rank past the letter's list: its rank 0; a letter
        with no table: ε)."""
        out, j = [], 0
        for w in words:
            labs = []
            for ch in w:
                cl = self.classes.get(ch)
                r = int(ranks[j])
                labs.append(EPS if not cl else cl[r] if r < len(cl) else cl[0])
                j += 1
            out.append(labs)
        return out

    def to_dict(self) -> dict:
        return {"ranks": self.ranks, "classes": self.classes}

    @classmethod
    def from_dict(cls, d: dict) -> "ClassTable":
        return cls({str(k): [str(x) for x in v] for k, v in d["classes"].items()}, int(d["ranks"]))


def phonemes_of(labels: list[list[str]]) -> list[list[str]]:
    """The phoneme sequence each word's letter classes write (ε letters write nothing)."""
    return [[p for lab in labs for p in lab.split()] for labs in labels]
