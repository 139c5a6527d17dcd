"""Deterministic, seeded size caps and train / validation / test splits.

Every function takes an explicit `numpy.random.Generator`; the caller seeds it. Index
arrays come back sorted, so a split keeps the source's order.
"""
from __future__ import annotations

import numpy as np

from .errors import DatasetError

SPLIT_KEYS = {"train", "val", "test", "stratify", "group"}
DEFAULT_SPLIT = {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True, "group": None}


def check_split_config(cfg) -> dict:
    """Validate ``split`` ({train, val, test, stratify, group}); fill defaults."""
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise DatasetError(f"split must be a mapping with keys {sorted(SPLIT_KEYS)}, got {cfg!r}")
    unknown = set(cfg) - SPLIT_KEYS
    if unknown:
        raise DatasetError(f"unknown key(s) {sorted(unknown)} in split; valid keys: {sorted(SPLIT_KEYS)}")
    out = {**DEFAULT_SPLIT, **cfg}
    fr = []
    for k in ("train", "val", "test"):
        v = out[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise DatasetError(f"split.{k} must be a fraction in [0, 1], got {v!r}")
        out[k] = float(v)
        fr.append(float(v))
    if abs(sum(fr) - 1.0) > 1e-6:
        raise DatasetError(f"split fractions must sum to 1, got train+val+test = {sum(fr):g}. "
                           f"Fix: e.g. split={{train: 0.6, val: 0.2, test: 0.2}}")
    if out["train"] <= 0:
        raise DatasetError("split.train must be > 0: nothing to train on")
    if not isinstance(out["stratify"], bool):
        raise DatasetError(f"split.stratify must be true or false, got {out['stratify']!r}")
    if out["group"] not in (None, "word"):
        raise DatasetError(f"split.group must be null or 'word', got {out['group']!r}")
    return out


def _cuts(n: int, fractions) -> tuple[int, int]:
    a = int(np.floor(n * fractions[0] + 0.5))
    b = int(np.floor(n * (fractions[0] + fractions[1]) + 0.5))
    return a, max(a, min(b, n))


def split_indices(labels: np.ndarray, fractions, rng: np.random.Generator,
                  stratify: bool = True, groups: np.ndarray | None = None):
    """Disjoint sorted index arrays (train, val, test) covering every sample.

    With ``groups`` every group lands whole in one split (groups are shuffled and cut by
    count). Otherwise with ``stratify`` each class is shuffled and cut on its own, so
    every split keeps the class proportions (a class too small for a split stays in
    train). Returns the three arrays and whether the split was stratified.
    """
    n = labels.shape[0]
    if groups is not None:
        uniq, inverse = np.unique(groups, return_inverse=True)
        perm = rng.permutation(uniq.shape[0])
        a, b = _cuts(uniq.shape[0], fractions)
        where = np.empty(uniq.shape[0], dtype=np.int8)
        where[perm[:a]], where[perm[a:b]], where[perm[b:]] = 0, 1, 2
        side = where[inverse]
        stratified = False
    elif stratify:
        side = np.empty(n, dtype=np.int8)
        for c in np.unique(labels):
            members = np.nonzero(labels == c)[0]
            members = members[rng.permutation(members.shape[0])]
            a, b = _cuts(members.shape[0], fractions)
            side[members[:a]], side[members[a:b]], side[members[b:]] = 0, 1, 2
        stratified = True
    else:
        perm = rng.permutation(n)
        a, b = _cuts(n, fractions)
        side = np.empty(n, dtype=np.int8)
        side[perm[:a]], side[perm[a:b]], side[perm[b:]] = 0, 1, 2
        stratified = False
    return (np.nonzero(side == 0)[0], np.nonzero(side == 1)[0], np.nonzero(side == 2)[0]), stratified


def cap_indices(n: int, max_samples: int | None, rng: np.random.Generator,
                groups: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` samples (whole groups when ``groups`` is given)."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    if groups is None:
        return np.sort(rng.choice(n, size=max_samples, replace=False))
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    perm = rng.permutation(uniq.shape[0])
    total = np.cumsum(counts[perm])
    keep_n = max(1, int(np.searchsorted(total, max_samples, side="right")))
    keep = np.zeros(uniq.shape[0], dtype=bool)
    keep[perm[:keep_n]] = True
    return np.nonzero(keep[inverse])[0]
