"""Score a model (ours or a baseline) on the validation and test words of a `G2PData`."""
from __future__ import annotations

import time

from .baselines import make_baseline
from .data import G2PData, Part
from .letters import phonemes_of
from .metrics import letter_accuracy, word_scores

PARTS = ("val", "test")


def score_part(pred_labels: list[list[str]], part: Part) -> dict:
    """word_accuracy, per (phoneme error rate), letter_accuracy (over words the aligner labelled)."""
    out = word_scores(phonemes_of(pred_labels), part.prons)
    out["letter_accuracy"] = letter_accuracy(pred_labels, part.labels)
    return out


def score_parts(predict_labels, data: G2PData, parts=PARTS) -> dict[str, dict]:
    """Per part: `score_part` of `predict_labels(words)` and the seconds predicting and scoring took."""
    out = {}
    for p in parts:
        part = getattr(data, p)
        t0 = time.perf_counter()
        scores = score_part(predict_labels(part.words), part)
        out[p] = {**scores, "predict_seconds": time.perf_counter() - t0}
    return out


def run_baseline(name: str, data: G2PData, parts=PARTS) -> dict:
    """Fit baseline `name` on the training words (timed), score it on `parts`."""
    words, labels = data.train.aligned()
    model = make_baseline(name, data.language, data.seed)
    t0 = time.perf_counter()
    model.fit(words, labels)
    fit = time.perf_counter() - t0
    return {"model": name, "language": data.language, "seed": data.seed, "fit_seconds": fit,
            "model_bytes": int(model.model_bytes()), **score_parts(model.predict_labels, data, parts)}
