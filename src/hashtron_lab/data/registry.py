"""The dataset registry and `load_dataset`, the one way the pipeline gets data.

A dataset config (``conf/dataset/<name>.yaml``) holds ``name``, the loader's own
parameters (the loader's keyword arguments are the schema), and the common keys
``max_samples``, ``split``, ``encoding`` and ``parity``. `load_dataset` then:

1. validates every key (unknown keys raise, naming the valid ones);
2. runs the loader (no download: installed packages or the user's file);
3. caps the size at ``max_samples`` (seeded; whole words for G2P);
4. orders open-class datasets (G2P) by class frequency and, when ``max_output_bits``
   leaves fewer classes than there are, keeps the ``2**bits - 1`` most frequent and maps
   the rest to ``<other>``; any other dataset with too many classes raises;
5. splits train / val / test (seeded; stratified, or by word for G2P);
6. fits the encoding on the training split and encodes every split;
7. adds parity words if asked, and records everything in ``meta`` with a content hash.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from ..jsonable import jsonable
from . import g2p, lexicon, sources
from .dataset import Dataset, content_hash
from .encoders import Encoder, row_hash
from .errors import DatasetError
from ..settings import Range
from .splits import MIN_SAMPLES, cap_indices, check_split_config, check_split_sizes, split_indices

OTHER = "<other>"
COMMON_KEYS = ("name", "max_samples", "split", "encoding", "parity")
PARITY_KINDS = (None, "none", "hash")

DATASETS = {
    "digits": sources.digits,
    "breast_cancer": sources.breast_cancer,
    "isalnum": sources.isalnum,
    "parity": sources.parity,
    "csv": sources.csv,
    "mnist": sources.mnist,
    "phonemizer": g2p.phonemizer,
    "cmudict": g2p.cmudict,
    "lexicon": lexicon.dataset,  # words for the Phonemizer (hashtron_lab.g2p), not feature rows
}


def _plain(obj):
    """Plain dicts/lists from any mapping/sequence (e.g. an OmegaConf node), recursively."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) or (hasattr(obj, "__iter__") and hasattr(obj, "__len__")
                                          and not isinstance(obj, (str, bytes, dict, np.ndarray))):
        return [_plain(v) for v in obj]
    return obj


def loader_params(name: str) -> dict:
    """The loader's parameters and defaults (``inspect.Parameter.empty`` when required)."""
    return {p.name: p.default for p in inspect.signature(DATASETS[name]).parameters.values()}


def _check_config(cfg: dict) -> tuple[str, dict]:
    if "name" not in cfg:
        raise DatasetError(f"dataset config has no 'name' key; valid names: {sorted(DATASETS)}")
    name = cfg["name"]
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset name {name!r}; valid names: {sorted(DATASETS)}")
    params = loader_params(name)
    valid = set(COMMON_KEYS) | set(params)
    unknown = sorted(set(cfg) - valid)
    if unknown:
        raise DatasetError(f"unknown key(s) {unknown} in the config of dataset {name!r}; valid keys: {sorted(valid)}")
    return name, {k: cfg[k] for k in params if k in cfg}


#: dataset.max_samples: fewer samples cannot give three non-empty splits with every class in train
MAX_SAMPLES = Range(MIN_SAMPLES, integer=True, optional=True, note="null = every sample")


def _check_max_samples(v):
    if not MAX_SAMPLES.ok(v if not isinstance(v, np.integer) else int(v)):
        raise DatasetError(f"dataset.max_samples = {v!r} is out of range; allowed: {MAX_SAMPLES.describe()}. "
                           f"Fewer than {MIN_SAMPLES} samples cannot fill train, validation and test splits")
    return None if v is None else int(v)


def check_config(cfg: Mapping) -> None:
    """The checks of a dataset config that need no data (keys, max_samples, split, encoding):
    run at composition, so a bad value fails before any loading."""
    cfg = _plain(cfg)
    if not isinstance(cfg, dict):
        raise DatasetError(f"dataset config must be a mapping, got {type(cfg).__name__}")
    _check_config(cfg)
    _check_max_samples(cfg.get("max_samples"))
    check_split_config(cfg.get("split"))
    if "encoding" in cfg:
        Encoder.from_config(cfg["encoding"])


def _capacity(max_output_bits):
    if max_output_bits is None:
        return None
    if isinstance(max_output_bits, bool) or not isinstance(max_output_bits, (int, np.integer)) \
            or not 1 <= max_output_bits <= 32:
        raise DatasetError(f"max_output_bits must be an integer in 1..32, got {max_output_bits!r}")
    return 1 << int(max_output_bits)


def _order_open_classes(src: sources.Source, capacity: int | None) -> tuple[sources.Source, dict | None]:
    """Classes by frequency (most frequent = 0); past ``capacity`` merge the tail into <other>."""
    counts = np.bincount(src.labels, minlength=len(src.class_names))
    order = [int(c) for c in sorted(np.nonzero(counts)[0], key=lambda c: (-counts[c], src.class_names[c]))]
    other = None
    if capacity is not None and len(order) > capacity:
        kept, merged = order[:capacity - 1], order[capacity - 1:]
        other = {"index": capacity - 1, "classes_merged": len(merged),
                 "merged": [src.class_names[c] for c in merged[:50]],
                 "samples_merged": int(counts[merged].sum()), "classes_total": len(order)}
        remap = np.full(len(src.class_names), capacity - 1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        names = [src.class_names[c] for c in kept] + [OTHER]
    else:
        remap = np.full(len(src.class_names), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        names = [src.class_names[c] for c in order]
    return sources.Source(src.columns, remap[src.labels], names, src.where, src.info, src.groups,
                          src.open_classes), other


def load_dataset(cfg: Mapping, seed: int, max_output_bits: int | None = None) -> Dataset:
    """Build the dataset ``cfg`` describes (see the module docstring), deterministically for ``seed``."""
    cfg = _plain(cfg)
    if not isinstance(cfg, dict):
        raise DatasetError(f"dataset config must be a mapping, got {type(cfg).__name__}")
    name, params = _check_config(cfg)
    max_samples = _check_max_samples(cfg.get("max_samples"))
    split_cfg = check_split_config(cfg.get("split"))
    if "encoding" not in cfg:
        raise DatasetError(f"dataset {name!r} config has no 'encoding'; e.g. encoding: {{kind: byte_picker, n_features: 80}}")
    encoder = Encoder.from_config(cfg["encoding"])
    parity_kind = cfg.get("parity")
    if parity_kind not in PARITY_KINDS:
        raise DatasetError(f"parity must be null, 'none' or 'hash', got {parity_kind!r}")
    capacity = _capacity(max_output_bits)
    seed = int(seed)

    src = DATASETS[name](**params)
    where = src.where
    encoder.check_source(src.columns, where)
    if src.n_samples == 0:
        raise DatasetError(f"{where} has no samples (empty dataset)")
    if split_cfg["group"] is not None and src.groups is None:
        raise DatasetError(f"split.group={split_cfg['group']!r} needs a grapheme dataset; {where} has no words. "
                           f"Fix: set split.group to null.")
    groups = src.groups if split_cfg["group"] is not None else None

    # 3. size cap
    n_source = src.n_samples
    keep = cap_indices(n_source, max_samples, np.random.default_rng([seed, 1]),
                       groups if groups is not None else src.groups)
    src = src.take(keep)
    groups = src.groups if split_cfg["group"] is not None else None

    # 4. classes
    other = None
    if src.open_classes:
        src, other = _order_open_classes(src, capacity)
    elif capacity is not None and len(src.class_names) > capacity:
        bits = int(np.ceil(np.log2(len(src.class_names))))
        raise DatasetError(f"{where} has {len(src.class_names)} classes but the network's {max_output_bits} output "
                           f"bit(s) express only {capacity}. Fix: give the final layer at least {bits} output bits, "
                           f"or use labels with at most {capacity} classes.")
    present = np.unique(src.labels)
    if present.shape[0] < 2:
        only = src.class_names[int(present[0])]
        raise DatasetError(f"{where} has a single class ({only!r}) in its {src.n_samples} samples; a classifier needs "
                           f"at least 2. Fix: check the label column / data{', or raise max_samples' if max_samples else ''}.")

    # 5. split
    fractions = (split_cfg["train"], split_cfg["val"], split_cfg["test"])
    (tr, va, te), stratified = split_indices(src.labels, fractions, np.random.default_rng([seed, 2]),
                                             split_cfg["stratify"], groups)
    unseen = check_split_sizes(src.labels[tr], src.labels[va], src.labels[te], src.class_names, where,
                               src.open_classes)

    # 6. encoding: fit on train only
    parts = {s: src.take(idx) for s, idx in (("train", tr), ("val", va), ("test", te))}
    encoder.fit(parts["train"].columns, src.columns, rng=np.random.default_rng([seed, 3]), labels=parts["train"].labels)
    X = {s: np.ascontiguousarray(encoder.transform(p.columns), dtype=np.uint32) for s, p in parts.items()}
    y = {s: np.ascontiguousarray(p.labels, dtype=np.int64) for s, p in parts.items()}

    # 7. parity words
    n_classes = len(src.class_names)
    parity = {s: None for s in parts}
    parity_meta = None
    if parity_kind == "hash":
        bits = int(max_output_bits) if max_output_bits is not None else max(1, int(np.ceil(np.log2(n_classes))))
        mask = np.uint32((1 << bits) - 1) if bits < 32 else np.uint32(0xFFFFFFFF)
        parity = {s: row_hash(X[s]) & mask for s in parts}
        parity_meta = {"kind": "hash", "bits": bits, "start": 0xFFFFFFFF,
                       "doc": "string hash of the sample's features, masked to the output bits"}

    arrays = {}
    for s in parts:
        arrays[f"X_{s}"], arrays[f"y_{s}"], arrays[f"parity_{s}"] = X[s], y[s], parity[s]
    meta = {
        "name": name,
        "params": {k: params.get(k, d) for k, d in loader_params(name).items()
                   if d is not inspect.Parameter.empty or k in params},
        "seed": seed,
        "max_samples": max_samples,
        "samples_source": n_source,
        "samples": int(src.n_samples),
        "split": {**split_cfg, "stratified": stratified,
                  "sizes": {s: int(y[s].shape[0]) for s in parts}},
        "encoding": encoder.describe(),
        "n_features": int(X["train"].shape[1]),
        "n_classes": n_classes,
        "max_output_bits": max_output_bits,
        "class_counts": {s: np.bincount(y[s], minlength=n_classes).tolist() for s in parts},
        "other_class": other,
        "open_classes": bool(src.open_classes),
        "unseen_in_train": unseen,           # open classes only: val/test samples of classes train lacks
        "parity": parity_meta,
        "source": src.info,
    }
    meta["content_hash"] = content_hash(arrays, src.class_names)
    return Dataset(name=name, class_names=list(src.class_names), meta=jsonable(meta),
                   **{k: v for k, v in arrays.items()})
