"""Pronunciation lexicons: words with their phonemes, split by word, letters aligned to phonemes.

The lexicons are those of the `gruut` phonemizer, one PyPI package per language
(``gruut-lang-de`` …, the optional extra ``pip install -e ".[lexicons]"``): each ships
``lexicon.db``, an SQLite file with

- ``word_phonemes(word, pron_order, phonemes, …)``: a word and one pronunciation, its IPA
  phonemes separated by spaces (a word may have several rows; the lowest ``pron_order`` is
  the one we learn and score);
- ``g2p_alignments(word, alignment)`` (most languages): Phonetisaurus-style chunks
  ``A|a}aː c|h}χ e}ə n}n`` — graphemes joined by ``|``, ``}``, phonemes joined by ``|``,
  ``_`` for none.

`read_lexicon` turns a file into a `Lexicon` (words lower-cased and NFC-normalised) and
counts every row it skips and why (`Lexicon.skipped`): a malformed row never stops a load.
`letter_labels` gives each letter of a word the phonemes it *starts* (a multi-letter chunk's
phonemes go to its first letter, the others get ε = ""), from the lexicon's alignment when
it spells the word and its pronunciation exactly, else from our own EM aligner
(`em_alignments`: each letter emits nothing, one phoneme or two).
"""
from __future__ import annotations

import importlib.util
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..kernels import encoders as KE
from .errors import DatasetError

# gruut's language packages (gruut 2.x); `installed_languages()` says which are present.
GRUUT_LANGUAGES = ("ar", "ca", "cs", "de", "en", "es", "fa", "fr", "it", "lb", "nl", "pt", "ru", "sv", "sw")
EXTRA_HINT = 'pip install -e ".[lexicons]"'
EPS = ""  # the class of a letter that starts no phoneme


class LexiconError(DatasetError):
    """A lexicon that cannot be used at all (missing package, not an SQLite lexicon)."""


def package_name(language: str) -> str:
    return f"gruut-lang-{language}"


def lexicon_path(language: str) -> Path:
    """`lexicon.db` of an installed gruut language package, or a LexiconError saying how to install it."""
    if language not in GRUUT_LANGUAGES:
        raise LexiconError(f"unknown lexicon language {language!r}; known: {', '.join(GRUUT_LANGUAGES)} "
                           f"(gruut's language packages)")
    spec = importlib.util.find_spec(f"gruut_lang_{language}")
    if spec is None or not spec.submodule_search_locations:
        raise LexiconError(f"language {language!r}: its lexicon package {package_name(language)} is not installed. "
                           f"Fix: {EXTRA_HINT} (all {len(GRUUT_LANGUAGES)} languages) or "
                           f"pip install {package_name(language)}")
    path = Path(list(spec.submodule_search_locations)[0]) / "lexicon.db"
    if not path.is_file():
        raise LexiconError(f"language {language!r}: {package_name(language)} is installed but has no {path.name} "
                           f"at {path}. Fix: reinstall it (pip install --force-reinstall {package_name(language)})")
    return path


def installed_languages() -> list[str]:
    """The gruut languages whose package is installed, in `GRUUT_LANGUAGES` order."""
    return [lang for lang in GRUUT_LANGUAGES if importlib.util.find_spec(f"gruut_lang_{lang}") is not None]


def normalize_word(word: str) -> str:
    """How every word is read, in training and at prediction: NFC, lower case, outer spaces stripped."""
    return unicodedata.normalize("NFC", word).strip().lower()


@dataclass
class Lexicon:
    """Words (normalised, unique, in file order), their first pronunciation, the lexicon's
    alignment as read (None: none) and the count of skipped rows per reason."""

    language: str
    words: list[str]
    prons: list[list[str]]
    alignments: list[str | None]
    skipped: dict = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.words)

    def summary(self) -> dict:
        aligned = sum(a is not None for a in self.alignments)
        return {"language": self.language, "words": len(self.words), "aligned_by_lexicon": aligned,
                "skipped": dict(self.skipped), "source": self.source}


SKIP_REASONS = ("not_text", "empty_word", "space_in_word", "empty_pronunciation", "duplicate_word")


def _connect(path: Path) -> sqlite3.Connection:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    except sqlite3.DatabaseError as e:
        raise LexiconError(f"{path}: not an SQLite lexicon ({e}). Fix: give a gruut lexicon.db "
                           f"(table word_phonemes(word, phonemes))") from None
    if "word_phonemes" not in tables:
        con.close()
        raise LexiconError(f"{path}: no table word_phonemes (has {sorted(tables)}). Fix: give a gruut lexicon.db "
                           f"(table word_phonemes(word, phonemes))")
    return con


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"pragma table_info({table})")}


def read_lexicon(path: str | Path, language: str = "") -> Lexicon:
    """Every usable word of `path` (a gruut lexicon.db) with its first pronunciation.

    Skipped and counted (never raised): a word or pronunciation that is not text, an empty
    word, a word with a space inside, an empty pronunciation, a second spelling of a word
    already read (words are lower-cased: "BLEU" after "bleu"). Alignments are kept as read;
    `letter_labels` checks them (one that does not spell the word and its pronunciation is
    counted and replaced by EM's).
    """
    path = Path(path)
    if not path.is_file():
        raise LexiconError(f"lexicon file {path} does not exist")
    con = _connect(path)
    try:
        cols = _columns(con, "word_phonemes")
        missing = {"word", "phonemes"} - cols
        if missing:
            raise LexiconError(f"{path}: table word_phonemes lacks column(s) {sorted(missing)}. Fix: give a gruut "
                               f"lexicon.db (word_phonemes(word, pron_order, phonemes))")
        order_col = "pron_order" if "pron_order" in cols else "0"
        rows = con.execute(f"select rowid, word, phonemes, {order_col} from word_phonemes order by rowid").fetchall()
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        aligned: dict[str, str] = {}
        if "g2p_alignments" in tables and {"word", "alignment"} <= _columns(con, "g2p_alignments"):
            for w, a in con.execute("select word, alignment from g2p_alignments order by rowid"):
                if isinstance(w, str) and isinstance(a, str):
                    aligned.setdefault(normalize_word(w), a)
    finally:
        con.close()
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    first: dict[str, tuple[tuple, int, list[str]]] = {}  # word -> ((pron_order, rowid), first rowid, phonemes)
    spelled: dict[str, str] = {}                          # normalised word -> the spelling read first
    for rowid, w, p, order in rows:
        if not isinstance(w, str) or not isinstance(p, str):
            skipped["not_text"] += 1
            continue
        word = normalize_word(w)
        if not word:
            skipped["empty_word"] += 1
            continue
        if len(word.split()) != 1:  # whitespace inside (split in C: ~10x faster than a per-character test)
            skipped["space_in_word"] += 1
            continue
        phon = unicodedata.normalize("NFC", p).split()
        if not phon:
            skipped["empty_pronunciation"] += 1
            continue
        raw = w.strip()
        if spelled.setdefault(word, raw) != raw:
            skipped["duplicate_word"] += 1
            continue
        rank = (order if isinstance(order, (int, float)) else float("inf"), rowid)
        if word not in first:
            first[word] = (rank, rowid, phon)
        elif rank < first[word][0]:
            first[word] = (rank, first[word][1], phon)
    words = sorted(first, key=lambda w: first[w][1])
    prons = [first[w][2] for w in words]
    alignments = [aligned.get(w) for w in words]
    return Lexicon(language, words, prons, alignments, skipped, str(path))


def parse_alignment(alignment: str) -> list[tuple[list[str], list[str]]] | None:
    """Chunks (graphemes, phonemes) of a Phonetisaurus alignment, ε phonemes dropped; None if malformed."""
    chunks = []
    for token in alignment.split():
        if "}" not in token:
            return None
        g, p = token.split("}", 1)
        gs = [unicodedata.normalize("NFC", x).lower() for x in g.split("|") if x]
        if not gs:
            return None
        ps = [unicodedata.normalize("NFC", x) for x in p.split("|") if x and x != "_"]
        chunks.append((gs, ps))
    return chunks or None


def check_alignment(word: str, pron: list[str], alignment: str) -> str | None:
    """None when `alignment` spells `word` and `pron` exactly; else the skip reason."""
    chunks = parse_alignment(alignment)
    if chunks is None:
        return "alignment_malformed"
    if "".join("".join(gs) for gs, _ in chunks) != word or [p for _, ps in chunks for p in ps] != pron:
        return "alignment_mismatch"
    return None


def labels_from_alignment(word: str, alignment: str) -> list[str]:
    """One class per letter: the phonemes (space-joined) its chunk starts, ε for the chunk's other letters."""
    out: list[str] = []
    for gs, ps in parse_alignment(alignment) or []:
        n = len("".join(gs))
        out.append(" ".join(ps))
        out.extend([EPS] * (n - 1))
    if len(out) != len(word):
        raise ValueError(f"alignment {alignment!r} does not spell {word!r}")
    return out


# ---------------------------------------------------------------------------
# our own aligner, for words the lexicon does not align
# ---------------------------------------------------------------------------
def em_alignments(words: list[str], prons: list[list[str]], iterations: int = 5,
                  prior: list[tuple[str, list[str]]] | None = None) -> list[list[str] | None]:
    """Letter classes of each word by EM: every letter emits nothing, one phoneme or two
    (forward-backward expected counts, then the Viterbi path; the kernels of the CMUdict
    loader). `prior`: labelled words, (word, its letter classes), whose counts
    seed the first E-step. A word that cannot be aligned (more than two phonemes a letter)
    gets None."""
    letters_set = sorted({ch for w in words for ch in w})
    phones_set = sorted({p for pr in prons for p in pr})
    if not words or not phones_set:
        return [None] * len(words)
    lid = {c: i for i, c in enumerate(letters_set)}
    pid = {p: i for i, p in enumerate(phones_set)}
    n_p = len(phones_set)
    fits = [0 < len(pr) <= 2 * len(w) for w, pr in zip(words, prons)]
    use = [i for i, f in enumerate(fits) if f]
    letters = np.fromiter((lid[c] for i in use for c in words[i]), dtype=np.int64)
    letter_off = np.zeros(len(use) + 1, dtype=np.int64)
    np.cumsum([len(words[i]) for i in use], out=letter_off[1:])
    phones = np.fromiter((pid[p] for i in use for p in prons[i]), dtype=np.int64)
    phone_off = np.zeros(len(use) + 1, dtype=np.int64)
    np.cumsum([len(prons[i]) for i in use], out=phone_off[1:])
    n_e = 1 + n_p + n_p * n_p
    logp = np.empty((len(letters_set), n_e))
    logp[:, 0] = np.log(0.2)
    logp[:, 1:1 + n_p] = np.log(0.7 / n_p)
    logp[:, 1 + n_p:] = np.log(0.1 / (n_p * n_p))
    if prior:
        counts = np.full(logp.shape, 0.01)
        for w, labs in prior:
            for ch, lab in zip(w, labs):
                if ch not in lid:
                    continue
                ps = lab.split()
                if len(ps) > 2 or any(p not in pid for p in ps):
                    continue
                e = 0 if not ps else (1 + pid[ps[0]] if len(ps) == 1 else 1 + n_p + pid[ps[0]] * n_p + pid[ps[1]])
                counts[lid[ch], e] += 1.0
        logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    for _ in range(iterations):
        counts = np.full(logp.shape, 1e-8)
        KE.align_em_counts(letters, letter_off, phones, phone_off, logp, n_p, counts)
        logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    emission = np.empty(letters.shape[0], dtype=np.int64)
    KE.align_viterbi_into(letters, letter_off, phones, phone_off, logp, n_p, emission)
    out: list[list[str] | None] = [None] * len(words)
    for j, i in enumerate(use):
        em = emission[letter_off[j]:letter_off[j + 1]]
        if (em < 0).any():
            continue
        labs = []
        for e in em:
            if e == 0:
                labs.append(EPS)
            elif e <= n_p:
                labs.append(phones_set[e - 1])
            else:
                a, b = divmod(int(e) - 1 - n_p, n_p)
                labs.append(f"{phones_set[a]} {phones_set[b]}")
        out[i] = labs
    return out


def letter_labels(words: list[str], prons: list[list[str]], alignments: list[str | None],
                  mode: str = "lexicon", em_iterations: int = 5,
                  prior: list[tuple[str, list[str]]] | None = None) -> tuple[list[list[str] | None], dict]:
    """One class list per word (None: the word cannot be aligned, e.g. 9 phonemes for 2 letters).

    mode "lexicon": the lexicon's alignment where it has one that spells the word and its
    pronunciation, EM (seeded by those and by `prior`, labelled words from elsewhere, e.g. the
    training words when aligning test words) for the rest; "em": EM for every word. Returns the
    lists and counts: per source, and the lexicon alignments rejected (malformed, mismatch)."""
    if mode not in ("lexicon", "em"):
        raise DatasetError(f"alignment mode must be 'lexicon' or 'em', got {mode!r}")
    out: list[list[str] | None] = [None] * len(words)
    todo = []
    rejected = {"alignment_malformed": 0, "alignment_mismatch": 0}
    for i, (w, pr, a) in enumerate(zip(words, prons, alignments)):
        why = check_alignment(w, pr, a) if (mode == "lexicon" and a is not None) else "none"
        if why is None:
            out[i] = labels_from_alignment(w, a)
        else:
            if why != "none":
                rejected[why] += 1
            todo.append(i)
    n_lex = len(words) - len(todo)
    if todo:
        seed = [(words[i], out[i]) for i in range(len(words)) if out[i] is not None] + list(prior or [])
        got = em_alignments([words[i] for i in todo], [prons[i] for i in todo], em_iterations, seed or None)
        for i, labs in zip(todo, got):
            out[i] = labs
    n_em = sum(out[i] is not None for i in todo)
    return out, {"by_lexicon": n_lex, "by_em": n_em, "unaligned": len(todo) - n_em, **rejected}


# ---------------------------------------------------------------------------
# the word sample and its split
# ---------------------------------------------------------------------------
SPLIT = (0.8, 0.1, 0.1)


def split_words(n_total: int, n_words: int | None, seed: int,
                fractions: tuple[float, float, float] = SPLIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train / validation / test words: a seeded sample of `n_words` (all when None or
    more than there are), cut 80/10/10 by word (every sample of a word is in its word's split)."""
    if n_words is not None and (isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer))
                                or n_words < 3):
        raise DatasetError(f"n_words must be an integer >= 3 or null (all words), got {n_words!r}")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise DatasetError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1E71C0]))
    take = n_total if n_words is None else min(int(n_words), n_total)
    idx = rng.permutation(n_total)[:take]
    n_val = int(round(fractions[1] * take))
    n_test = int(round(fractions[2] * take))
    n_train = take - n_val - n_test
    if n_train < 1:
        raise DatasetError(f"a sample of {take} words leaves no training word; use more words")
    return np.sort(idx[:n_train]), np.sort(idx[n_train:n_train + n_val]), np.sort(idx[n_train + n_val:])


# ---------------------------------------------------------------------------
# the registry entry (its signature is the dataset config's schema)
# ---------------------------------------------------------------------------
def dataset(language: str | None = None, n_words: int | None = 20000, alignment: str = "lexicon"):
    """``dataset=lexicon``: words and their phonemes, not feature rows. The app trains a
    `Phonemizer` on it (``python -m hashtron_lab dataset=lexicon language=de``; in Python,
    `hashtron_lab.g2p.data.prepare`); the feature-row pipeline cannot read it."""
    raise DatasetError("dataset 'lexicon' holds words, not feature rows: the app trains a Phonemizer on it "
                       "(python -m hashtron_lab dataset=lexicon language=de, or experiment=g2p); in Python use "
                       "hashtron_lab.g2p.data.prepare(language) or hashtron_lab.Phonemizer")


def language_of(cfg: dict) -> str | None:
    """A composed config's lexicon language: dataset.language, else the root key `language`."""
    return (cfg.get("dataset") or {}).get("language") or cfg.get("language")


def check_dataset_config(cfg: dict) -> None:
    """What `dataset=lexicon` needs before anything loads (`cfg`: the whole composed config):
    a known, installed language and sane keys."""
    language = language_of(cfg)
    cfg = cfg.get("dataset") or {}
    if not language:
        have = installed_languages()
        raise DatasetError(f"dataset 'lexicon' needs a language, e.g. language=de; installed: "
                           f"{', '.join(have) if have else 'none'} (more: {EXTRA_HINT})")
    lexicon_path(str(language))
    n = cfg.get("n_words", 20000)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 3):
        raise DatasetError(f"dataset.n_words must be an integer >= 3 or null (all words), got {n!r}")
    if cfg.get("alignment", "lexicon") not in ("lexicon", "em"):
        raise DatasetError(f"dataset.alignment must be 'lexicon' or 'em', got {cfg.get('alignment')!r}")
