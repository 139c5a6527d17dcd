"""Seed 000's could-haves: when the generalisation phase begins, and per-layer capacity advice.

`generalisation_phase` reads a run's epoch curve: the phase begins after the first epoch whose
validation accuracy is within `min_delta` of the run's peak (no later epoch beats it by more)
while training accuracy kept rising after it — from then on training fits what does not carry to
unseen rows. With the decisions' margins it also gives the margin trend after that epoch (a
falling margin while train rises is the memorisation signature of the sum cache).

`capacity_advice` turns a run's decisions and accuracies into one verdict per layer — premodulo
"too_small", "too_large" or "ok" — with the reason and the numbers it read, for the dashboard,
the compare report and MLflow.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Sequence

import numpy as np

GAP = 0.05            # train − validation gap that counts as memorising
FIT_FLOOR = 0.90      # training accuracy below this: the network cannot fit its own data
SHARE = 0.5           # a regime "dominates" a layer when at least this share of its decisions have it


def generalisation_phase(epochs: Sequence[Mapping], decisions: Iterable[Mapping] = (),
                         min_delta: float = 0.0) -> dict:
    """{"epoch": first epoch of the phase (the validation peak) or None, "detected": bool,
    "train_at", "val_at", "train_last", "train_rise", "margin_slope_after"}."""
    pts = [(int(e["epoch"]), float(e["train_accuracy"]), float(e["val_accuracy"]))
           for e in epochs if e.get("val_accuracy") is not None and e.get("train_accuracy") is not None]
    out = {"epoch": None, "detected": False, "train_at": None, "val_at": None, "train_last": None,
           "train_rise": None, "margin_slope_after": None, "epochs_read": len(pts)}
    if len(pts) < 2:
        return out
    vals = np.array([p[2] for p in pts])
    best = int(np.argmax(vals >= vals.max() - min_delta))  # first epoch within min_delta of the peak
    e, tr_at, va_at = pts[best]
    rise = pts[-1][1] - tr_at
    out.update(epoch=e, train_at=tr_at, val_at=va_at, train_last=pts[-1][1], train_rise=rise,
               detected=bool(best < len(pts) - 1 and rise > min_delta))
    margins = [(int(d["epoch"]), float(d["margin"])) for d in decisions
               if d.get("margin") is not None and d.get("epoch") is not None and int(d["epoch"]) >= e]
    if len({m[0] for m in margins}) >= 2:
        x, y = np.array([m[0] for m in margins], float), np.array([m[1] for m in margins])
        out["margin_slope_after"] = float(np.polyfit(x, y, 1)[0])
    return out


def capacity_advice(decisions: Iterable[Mapping], history: Iterable[Mapping], train_accuracy: float | None,
                    val_accuracy: float | None, law: str | None = None) -> list[dict]:
    """One verdict per layer that got decisions (see module docstring)."""
    by_layer: dict[int, list[Mapping]] = {}
    for d in decisions:
        if d.get("phase") != "bootstrap":
            by_layer.setdefault(int(d["layer"]), []).append(d)
    keys_by_layer: dict[int, list[int]] = {}
    for h in history:
        if h.get("accepted") and h.get("keys") is not None:
            keys_by_layer.setdefault(int(h["layer"]), []).append(int(h["keys"]))
    gap = None if train_accuracy is None or val_accuracy is None else float(train_accuracy) - float(val_accuracy)
    out = []
    for layer in sorted(by_layer):
        ds = by_layer[layer]
        regimes = Counter(str(d.get("regime", "unknown")) for d in ds)
        n = len(ds)
        finals = [int(d["final"]) for d in ds if d.get("final") is not None]
        distinct = [int(d["distinct_keys"]) for d in ds if d.get("distinct_keys") is not None]
        evidence = {"decisions": n, "regimes": dict(regimes),
                    "premodulo_median": float(np.median(finals)) if finals else None,
                    "distinct_keys_median": float(np.median(distinct)) if distinct else None,
                    "stored_keys_median": float(np.median(keys_by_layer[layer])) if keys_by_layer.get(layer) else None,
                    "train_accuracy": train_accuracy, "val_accuracy": val_accuracy, "gap": gap}
        exact = bool(finals) and all(p == 0 for p in finals)
        # buckets per distinct key: below 1 the table merges keys (collisions), far above it stores them apart
        per_key = [f / k for f, k in zip(finals, distinct) if k > 0 and f > 0] if distinct else []
        evidence["buckets_per_key_median"] = float(np.median(per_key)) if per_key else None
        verdict, reason = "ok", "training fits and validation follows it"
        if train_accuracy is not None and train_accuracy < FIT_FLOOR and (
                regimes.get("collapsed", 0) >= SHARE * n or (per_key and np.median(per_key) < 1.0)
                or (finals and not exact and np.median(finals) <= 2)):
            verdict = "too_small"
            reason = (f"training accuracy {train_accuracy:.3f} < {FIT_FLOOR}: the premodulo forces collisions the "
                      f"network cannot fit ({regimes.get('collapsed', 0)} of {n} decisions collapsed); raise it "
                      f"(support law: a larger load_factor)")
        elif gap is not None and gap > GAP and (exact or (per_key and np.median(per_key) > 2.0)):
            verdict = "too_large"
            reason = (f"train − validation gap {gap:.3f} > {GAP} with "
                      f"{'no premodulo' if exact else f'{np.median(per_key):.1f} buckets per key'}: every key is "
                      f"stored apart (memorising); lower it (support law: load_factor 1–2, or a bleaching threshold)")
        elif regimes.get("noisy", 0) >= SHARE * n:
            verdict = "too_large"
            reason = f"{regimes['noisy']} of {n} decisions in the noisy regime: votes cancel; fewer buckets pool them"
        out.append({"layer": layer, "verdict": verdict, "reason": reason, "law": law, "evidence": evidence})
    return out


def run_advice(run) -> list[dict]:
    """`capacity_advice` of a loaded run record (report.runs.RunData)."""
    return capacity_advice(run.decisions, run.history, run.metrics.get("train_accuracy"),
                           run.metrics.get("val_accuracy"))
