"""What a phonemizer is scored on: word accuracy, phoneme error rate, per-letter accuracy."""
from __future__ import annotations

import numpy as np

from ..kernels import g2p as KG


def _ids(seqs: list[list[str]], vocab: dict) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seqs], out=off[1:])
    ids = np.fromiter((vocab.setdefault(p, len(vocab)) for s in seqs for p in s), dtype=np.int64, count=int(off[-1]))
    return ids, off


def edit_distances(pred: list[list[str]], gold: list[list[str]]) -> np.ndarray:
    """Levenshtein distance (insertions, deletions, substitutions of whole phonemes) per word."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} words")
    vocab: dict = {}
    a, a_off = _ids(pred, vocab)
    b, b_off = _ids(gold, vocab)
    out = np.empty(len(gold), dtype=np.int64)
    KG.edit_distances_into(a, a_off, b, b_off, out)
    return out


def word_scores(pred: list[list[str]], gold: list[list[str]]) -> dict:
    """word_accuracy: share of words whose phoneme sequence is exactly right; per: edit
    distance summed over words / gold phonemes summed (the phoneme error rate)."""
    if not gold:
        raise ValueError("no words to score")
    d = edit_distances(pred, gold)
    n_ph = sum(len(g) for g in gold)
    return {"word_accuracy": float(np.mean(d == 0)) if len(d) else 0.0,
            "per": float(d.sum() / n_ph) if n_ph else 0.0, "words": len(gold), "phonemes": n_ph}


def letter_accuracy(pred: list[list[str]], gold: list[list[str] | None]) -> float:
    """Share of letters whose class is right, over words the aligner could label."""
    right = total = 0
    for p, g in zip(pred, gold):
        if g is None:
            continue
        right += sum(a == b for a, b in zip(p, g))
        total += len(g)
    return right / total if total else float("nan")
