"""Deterministic, seeded size caps and train / validation / test splits.

Every function takes an explicit `numpy.random.Generator`; the caller seeds it. Index
arrays come back sorted, so a split keeps the source's order.
"""
from __future__ import annotations

import numpy as np

from .errors import DatasetError

SPLIT_KEYS = {"train", "val", "test", "stratify", "group"}
DEFAULT_SPLIT = {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True, "group": None}


def dataset_defaults() -> dict:
    """The keys every dataset config has beside its loader's and its encoding (one place for their
    defaults: the settings tree starts `dataset` from these, and a dataset option overrides them)."""
    return {"max_samples": None, "split": dict(DEFAULT_SPLIT), "parity": None}
#: the fewest samples a dataset may be capped to (dataset.max_samples): fewer cannot give three
#: non-empty splits with every class in train; `check_split_sizes` checks the actual split
MIN_SAMPLES = 10


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
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise DatasetError(f"split.{k} = {v!r} is out of range; allowed: a fraction in (0, 1) (every split "
                               f"needs samples: validation chooses the model, test measures it)")
        out[k] = float(v)
        fr.append(float(v))
    if abs(sum(fr) - 1.0) > 1e-6:
        raise DatasetError(f"split fractions must sum to 1, got train+val+test = {sum(fr):g}. "
                           f"Fix: e.g. split={{train: 0.6, val: 0.2, test: 0.2}}")
    if not isinstance(out["stratify"], bool):
        raise DatasetError(f"split.stratify must be true or false, got {out['stratify']!r}")
    if out["group"] not in (None, "word"):
        raise DatasetError(f"split.group must be null or 'word', got {out['group']!r}")
    return out


def check_split_sizes(y_train: np.ndarray, y_val: np.ndarray, y_test: np.ndarray, class_names,
                      where: str, open_classes: bool = False) -> dict:
    """Refuse a split that leaves a split empty or a class without a training sample, naming the
    sizes: an empty split would report an accuracy of 0 (or none), an unseen class is never learnt.

    Open-class data (G2P: classes are the grapheme/phoneme pairs of the words drawn, split by
    word) always meets unseen pairs in unseen words; there they count as errors, as they would in
    use, and are reported instead of refused. Returns {"classes", "val", "test"}: the classes
    without a training sample and how many validation / test samples have one."""
    sizes = {"train": int(y_train.shape[0]), "val": int(y_val.shape[0]), "test": int(y_test.shape[0])}
    told = ", ".join(f"{k} {v}" for k, v in sizes.items())
    empty = [k for k, v in sizes.items() if v == 0]
    if empty:
        raise DatasetError(f"{where}: the split leaves {' and '.join(empty)} empty ({told} samples). Fix: use more "
                           f"samples (dataset.max_samples) or change dataset.split so every split gets some.")
    n = len(class_names)
    seen = np.bincount(np.asarray(y_train, np.int64), minlength=n)[:n] > 0
    present = np.zeros(n, bool)
    for y in (y_train, y_val, y_test):
        present |= np.bincount(np.asarray(y, np.int64), minlength=n)[:n] > 0
    absent = np.flatnonzero(present & ~seen)
    unseen = {"classes": [str(class_names[c]) for c in absent],
              "val": int(np.isin(y_val, absent).sum()), "test": int(np.isin(y_test, absent).sum())}
    if absent.size and not open_classes:
        names = [str(class_names[c]) for c in absent[:10]]
        raise DatasetError(f"{where}: class(es) {names}{' ...' if absent.size > 10 else ''} have samples in "
                           f"validation/test but none in train ({told} samples); the network could never "
                           f"predict them. Fix: use more samples (dataset.max_samples), split.stratify=true, "
                           f"or a larger split.train.")
    return unseen


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
