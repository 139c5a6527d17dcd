"""`HashtronClassifier`: the scikit-learn estimator (fit / predict / score) of hashtron networks.

With no arguments it picks the network for the data (`architecture=None`):

- ``direct``: integer rows from a small domain (non-negative integers, at most `DIRECT_DOMAIN`
  distinct rows possible, e.g. one byte or a few bits): each row packed into one key, one
  hashtron layer with one neuron per output bit, every key its own table entry (the Go
  library's is-alnum network). Learns any function of the domain exactly.
- ``ntuple``: anything else (numeric tables, images, floats): the n-tuple network of
  `NTupleClassifier` with its defaults (thresholds at training quantiles, random tuples, one
  RAM per tuple and class).

An explicit `architecture` (an `Architecture`, a spec dict as in `conf/model/`, or ``"ecoc"`` for
`default_architecture`) trains that network on the features as they are when they are uint32
integers; other values (fractions, negatives) go through the default encoder `QuantileBins`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import Settings, pipeline_settings
from .experiment import Data, check_fit, initial_network, run_experiment
from .model.architecture import Architecture, default_architecture
from .model.network import Network
from .presets import BACKWARD_ALL, CAPACITY_FIXED, ROUND_ROBIN
from .settings import Range, SettingError, from_mapping
from .train.run import Split

__all__ = ["HashtronClassifier", "NotFittedError", "QuantileBins"]

# Run defaults of an explicit architecture (the pipelines' own defaults are the reference's):
# conservative updates and a Hamming objective suit the ECOC architecture (docs/decisions.md D20).
RUN_DEFAULTS = {"acceptance": {"keep_unvoted": True, "objective": "hamming"}}
VALIDATION_FRACTION = Range(0, 1, hi_open=True, note="0 = no validation split")
DIRECT_DOMAIN = 1 << 16   # auto: integer rows with at most this many possible values -> one direct layer
ENCODERS = ("auto", "quantile", "none")


class QuantileBins:
    """The default encoder of non-integer features: each column becomes the index of its value
    among `bins - 1` thresholds at the training rows' quantiles (0 .. bins-1, uint32), so a
    column stays one feature and an explicit architecture keeps its width."""

    def __init__(self, bins: int = 256):
        self.bins = bins

    def fit(self, X: np.ndarray) -> "QuantileBins":
        q = np.linspace(0, 1, self.bins + 1)[1:-1]
        self.thresholds_ = [np.unique(np.quantile(X[:, c], q)) for c in range(X.shape[1])]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape, dtype=np.uint32)
        for c, t in enumerate(self.thresholds_):
            out[:, c] = np.searchsorted(t, X[:, c], side="right")
        return out


class HashtronClassifier(ClassifierMixin, BaseEstimator):
    """Train a hashtron network in three lines::

        clf = HashtronClassifier().fit(X_train, y_train)
        clf.score(X_test, y_test)

    `X`: a 2-D numeric matrix; `y`: any labels (at least two classes).
    `architecture`: None (chosen from the data: ``direct`` or ``ntuple``, see the module), ``"ecoc"``
    (`default_architecture`), an `Architecture` or a spec dict. `direction`: "backward" or "forward".
    `budget`, `pipeline`, `capacity`, `selection`, `run`: config groups as dicts (as in `conf/`),
    laid over the chosen architecture's settings; `validation_fraction` of `fit`'s rows is held
    out for early stopping (0 = none). `encoder` (explicit architectures): "auto" = uint32
    integer features as they are, anything else through `QuantileBins`; "quantile" = always;
    "none" = refuse anything but uint32 integers.
    `init_from`: a trained network to continue instead of an untrained one — a Go weights file or
    a model file path (for the given `architecture`), or a `Network`; its class i is the i-th of
    the sorted labels of `y` (`classes_`). The backward pipeline then starts with one tally of
    every neuron, which fills the sum cache, instead of its bootstrap.
    After `fit`: `kind_` (direct / ntuple / given), `network_`, `architecture_`, `history_`,
    `epochs_`, `decisions_`, `sum_cache_` (backward runs).
    """

    def __init__(self, architecture=None, direction: str = "backward", seed: int = 0, init_from=None, *,
                 budget: dict | None = None, pipeline: dict | None = None, capacity: dict | None = None,
                 selection: dict | None = None, run: dict | None = None, validation_fraction: float = 0.0,
                 encoder: str = "auto"):
        self.architecture = architecture
        self.direction = direction
        self.seed = seed
        self.init_from = init_from
        self.budget = budget
        self.pipeline = pipeline
        self.capacity = capacity
        self.selection = selection
        self.run = run
        self.validation_fraction = validation_fraction
        self.encoder = encoder

    # -- fit ----------------------------------------------------------------------------------
    def _settings(self, base: dict) -> Settings:
        """The run's settings: `base` (the chosen architecture's) with the given groups laid over;
        a value out of range fails naming its key before any data is touched."""
        if self.direction not in ("backward", "forward"):
            raise ValueError(f"direction must be 'backward' or 'forward', got {self.direction!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        given = {"budget": self.budget, "pipeline": self.pipeline, "capacity": self.capacity,
                 "selection": self.selection, "run": self.run}
        for k, v in given.items():
            if v is not None and not isinstance(v, dict):
                raise TypeError(f"{k} must be a dict of the config group's settings (as in conf/{k}/), got {v!r}")
        cfg = {"seed": self.seed}
        for k in given:
            cfg[k] = given[k] if given[k] is not None else base.get(k, {})
        cfg["pipeline"] = pipeline_settings({"direction": self.direction, **cfg["pipeline"]})
        frac = self.validation_fraction
        if not VALIDATION_FRACTION.ok(frac):
            raise SettingError("validation_fraction", frac, VALIDATION_FRACTION.describe())
        return from_mapping(Settings, cfg)

    def fit(self, X, y, X_val=None, y_val=None) -> "HashtronClassifier":
        self._settings({})  # every setting checked before the data
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"got {len(self.classes_)} class; need at least 2 to train a classifier")
        self.kind_ = self._kind(X)
        if self.kind_ == "ntuple":
            return self._fit_ntuple(X, y_idx, X_val)
        n_bits = max(1, math.ceil(math.log2(len(self.classes_))))
        if self.kind_ == "direct":
            self.radix_ = X.max(axis=0).astype(np.int64) + 1
            arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": n_bits}]})
            base = {"pipeline": BACKWARD_ALL if self.direction == "backward" else {}, "capacity": CAPACITY_FIXED,
                    "selection": ROUND_ROBIN, "budget": {"max_updates": 3 * n_bits}}
        else:
            arch = self._given_architecture(X.shape[1], len(self.classes_))
            base = {"run": RUN_DEFAULTS}
        settings = self._settings(base)
        F = self._features(X, fitting=True)
        check_fit(arch, F.shape[1], len(self.classes_))
        train, val = self._split(F, y_idx, X_val, y_val)
        self._train(settings, arch, train, val)
        return self

    def _validate(self, X, y):
        _refuse_sparse(X, "X")
        X_arr = X if hasattr(X, "shape") else np.asarray(X)
        if len(X_arr.shape) != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got {len(X_arr.shape)}-D with shape "
                             f"{X_arr.shape}; reshape a single feature with X.reshape(-1, 1)")
        if X_arr.shape[0] == 0:
            raise ValueError("X has no rows (0 samples); fit needs at least one")
        y_arr = np.asarray(y) if not hasattr(y, "shape") else y
        if getattr(y_arr, "ndim", 1) == 1:
            check_labels(y_arr, X_arr.shape[0])
        else:
            _refuse_sparse(y, "y")
        return validate_data(self, X, y, dtype="numeric", y_numeric=False)

    def _kind(self, X: np.ndarray) -> str:
        if self.architecture is not None:
            return "given"
        if not _uint32_integers(X):
            return "ntuple"
        domain = float(np.prod(X.max(axis=0).astype(np.float64) + 1))
        return "direct" if domain <= DIRECT_DOMAIN else "ntuple"

    def _fit_ntuple(self, X, y_idx, X_val) -> "HashtronClassifier":
        from .ntuple import NTupleClassifier

        given = [k for k in ("pipeline", "capacity", "selection", "run", "init_from") if getattr(self, k) is not None]
        if given or X_val is not None or self.validation_fraction:
            raise ValueError(f"architecture=None chose the n-tuple network for this data, which sets its own "
                             f"{', '.join(given) or 'validation'}; pass an architecture (e.g. 'ecoc') to set them, "
                             f"or use hashtron_lab.NTupleClassifier for the n-tuple network's own parameters")
        max_updates = None if self.budget is None else self.budget.get("max_updates")
        self.model_ = NTupleClassifier(direction=self.direction, seed=self.seed, max_updates=max_updates).fit(X, y_idx)
        inner = self.model_.model_
        for name in ("network_", "architecture_", "history_", "epochs_", "decisions_", "sum_cache_", "run_"):
            setattr(self, name, getattr(inner, name))
        return self

    def _given_architecture(self, n_features: int, n_classes: int) -> Architecture:
        a = self.architecture
        if isinstance(a, str):
            if a != "ecoc":
                raise ValueError(f"architecture must be None, 'ecoc', an Architecture or a spec dict, got {a!r}")
            return default_architecture(n_features, n_classes)
        return a if isinstance(a, Architecture) else Architecture.from_spec(a)

    def _features(self, X: np.ndarray, fitting: bool = False) -> np.ndarray:
        """The network's input: packed rows (direct), X itself (uint32 integers) or its bins."""
        if self.kind_ == "direct":
            keys = np.zeros(X.shape[0], dtype=np.int64)
            for c in range(X.shape[1]):  # mixed radix; a value above the training maximum reads as it
                col = np.clip(np.rint(X[:, c]), 0, self.radix_[c] - 1).astype(np.int64)
                keys = keys * int(self.radix_[c]) + col
            return keys.astype(np.uint32).reshape(-1, 1)
        if fitting:
            plain = _uint32_integers(X)
            if self.encoder == "none" and not plain:
                raise TypeError("X must hold integer features in the uint32 range 0 .. 2**32-1 with encoder='none' "
                                f"(got dtype {X.dtype}); use encoder='auto' to bin them at training quantiles, "
                                "or encode them first, e.g. with hashtron_lab.data.encoders.thermometer")
            self.encoder_ = None if plain and self.encoder != "quantile" else QuantileBins().fit(X)
        if self.encoder_ is None:
            if not _uint32_integers(X):
                raise ValueError("X must hold integer features in the uint32 range 0 .. 2**32-1, as at fit")
            return np.ascontiguousarray(X, dtype=np.uint32)
        return self.encoder_.transform(X)

    def _train(self, settings: Settings, arch: Architecture, train: Split, val: Split | None) -> None:
        init = None
        if isinstance(self.init_from, Network):
            if self.init_from.architecture.to_spec() != arch.to_spec():
                raise ValueError(f"init_from is a network of layer widths {self.init_from.architecture.widths}, not "
                                 f"this classifier's {arch.widths}; pass architecture= the one it was trained with")
            net, init = self.init_from.copy(), {"format": "network"}
        elif self.init_from is not None:
            net, init = initial_network(self.init_from, arch)
        else:
            net = None
        settings.model = spec_of(arch)
        result = run_experiment(settings, data=Data(train, val, None, len(self.classes_)), net=net, init=init)
        run, pipeline = result.run, result.pipeline
        self.network_ = run.net
        self.architecture_ = arch
        self.history_ = run.history
        self.epochs_ = run.epochs
        self.decisions_ = run.decisions
        self.sum_cache_ = getattr(pipeline, "cache", None)
        self.run_ = run

    def _split(self, X, y_idx, X_val, y_val) -> tuple[Split, Split | None]:
        if X_val is not None:
            X_val = self._features(validate_data(self, X_val, reset=False, dtype="numeric"))
            y_val = check_labels(y_val, X_val.shape[0], "y_val")
            yv = np.searchsorted(self.classes_, y_val)
            if np.any(yv >= len(self.classes_)) or np.any(self.classes_[np.minimum(yv, len(self.classes_) - 1)]
                                                           != y_val):
                raise ValueError("y_val holds labels not seen in y")
            return Split(X, y_idx), Split(X_val, yv)
        frac = float(self.validation_fraction)
        if frac <= 0:
            return Split(X, y_idx), None
        from sklearn.model_selection import train_test_split

        idx = np.arange(X.shape[0])
        strat = y_idx if np.bincount(y_idx).min() >= 2 else None
        tr, va = train_test_split(idx, test_size=frac, random_state=self.seed, stratify=strat)
        missing = np.setdiff1d(np.arange(len(self.classes_)), y_idx[tr])
        if missing.size or va.size == 0:
            raise ValueError(
                f"validation_fraction={frac} leaves {'class(es) ' + str(self.classes_[missing][:10].tolist()) + ' without a training sample' if missing.size else 'no validation sample'} "
                f"(train {tr.size}, validation {va.size} rows). Fix: give more rows, a smaller validation_fraction, "
                f"or pass X_val, y_val")
        return Split(X[tr], y_idx[tr]), Split(X[va], y_idx[va])

    # -- predict ------------------------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        _refuse_sparse(X, "X")
        X = validate_data(self, X, reset=False, dtype="numeric")
        if self.kind_ == "ntuple":
            return self.classes_[self.model_.predict(X)]
        return self.classes_[self.run_.code.decode(self.network_.forward(self._features(X)))]

    def score(self, X, y, sample_weight=None) -> float:
        pred = self.predict(X)
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(check_labels(np.asarray(y), pred.shape[0]), pred, sample_weight=sample_weight))


def _uint32_integers(X: np.ndarray) -> bool:
    """True when every value is a whole number in 0 .. 2**32-1 (as uint32 features need)."""
    if X.size == 0:
        return True
    if not (np.issubdtype(X.dtype, np.integer) or (np.issubdtype(X.dtype, np.floating) and np.all(X == np.round(X)))):
        return False
    return bool(X.min() >= 0 and X.max() <= 0xFFFFFFFF)


def spec_of(arch: Architecture):
    from .model.architecture import ModelSpec

    spec = arch.to_spec()
    return ModelSpec(layers=spec["layers"], output_code=spec.get("output_code", arch.output_code))


def _refuse_sparse(X, name: str) -> None:
    from scipy.sparse import issparse

    if issparse(X):
        raise TypeError(f"{name}: sparse matrices are not supported; call .toarray() first "
                        f"(hashtron features are dense uint32 integers)")


def check_labels(y, n_rows: int, name: str = "y") -> np.ndarray:
    """Labels as a 1-D array of one label per row; NaN / None labels are refused (numpy would
    make them a class of their own)."""
    _refuse_sparse(y, name)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"{name} must be 1-D with one label per row of X ({n_rows}), got shape {y.shape}")
    if y.dtype.kind in "fc":
        bad = ~np.isfinite(y)
    elif y.dtype == object:
        bad = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in y.tolist()], bool)
    else:
        bad = np.zeros(0, bool)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} holds {int(bad.sum())} missing label(s) (NaN, inf or None; first at row {r}); "
                         f"a missing label is not a class. Fix: drop those rows or fill in their labels")
    return y
