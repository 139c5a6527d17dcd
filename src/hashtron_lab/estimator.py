"""`HashtronClassifier`: the scikit-learn style front door (fit / predict / score)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .config import Settings, pipeline_settings
from .experiment import Data, check_fit, initial_network, run_experiment
from .model.architecture import Architecture, default_architecture
from .model.network import Network
from .settings import Range, SettingError, from_mapping
from .train.run import Split

SETTINGS = ("budget", "pipeline", "capacity", "selection", "run", "validation_fraction")
# Run defaults of the estimator (the pipelines' own defaults are the reference's): conservative
# updates and a Hamming objective suit the default ECOC architecture (docs/decisions.md D20).
RUN_DEFAULTS = {"acceptance": {"keep_unvoted": True, "objective": "hamming"}}
VALIDATION_FRACTION = Range(0, 1, hi_open=True, note="0 = no validation split")


class NotFittedError(ValueError, AttributeError):
    """Raised when predict/score is called before fit."""


class HashtronClassifier(ClassifierMixin, BaseEstimator):
    """Train a hashtron network in three lines::

        clf = HashtronClassifier(seed=0).fit(X_train, y_train)
        clf.score(X_test, y_test)

    `X` is a 2-D matrix of non-negative integer features (uint32 range); `y` any labels.
    `architecture`: an `Architecture`, a spec dict `{"layers": [...]}`, or None for
    `default_architecture(n_features, n_classes)`. `direction`: "backward" or "forward".
    `settings`: the config groups `budget`, `pipeline`, `capacity`, `selection`, `run` (dicts, as in
    `conf/`) and `validation_fraction` (held out from `fit`'s data for early stopping; 0 = none).
    `init_from`: a trained network to continue instead of an untrained one — a Go weights file or
    a model file path (for the given `architecture`), or a `Network`; its class i is the i-th of
    the sorted labels of `y` (`classes_`). The backward pipeline then starts with one tally of
    every neuron, which fills the sum cache, instead of its bootstrap.
    """

    def __init__(self, architecture=None, direction: str = "backward", seed: int = 0, init_from=None,
                 **settings: Any):
        self.architecture = architecture
        self.direction = direction
        self.seed = seed
        self.init_from = init_from
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; valid: {list(SETTINGS)}")
        self.settings = settings

    # scikit-learn's clone/grid-search protocol (BaseEstimator introspects __init__; **settings needs these)
    def get_params(self, deep: bool = True) -> dict:
        return {"architecture": self.architecture, "direction": self.direction, "seed": self.seed,
                "init_from": self.init_from, **self.settings}

    def set_params(self, **params) -> "HashtronClassifier":
        for k, v in params.items():
            if k in ("architecture", "direction", "seed", "init_from"):
                setattr(self, k, v)
            elif k in SETTINGS:
                self.settings[k] = v
            else:
                raise ValueError(f"unknown parameter {k!r}")
        return self

    def fit(self, X, y, X_val=None, y_val=None) -> "HashtronClassifier":
        if self.direction not in ("backward", "forward"):
            raise ValueError(f"direction must be 'backward' or 'forward', got {self.direction!r}")
        # settings first: a value out of range fails naming its key before any data is touched
        cfg = {"seed": self.seed, "pipeline": {"direction": self.direction, **self.settings.get("pipeline", {})},
               "capacity": self.settings.get("capacity", {}), "selection": self.settings.get("selection", {}),
               "budget": self.settings.get("budget", {}), "run": self.settings.get("run", RUN_DEFAULTS)}
        cfg["pipeline"] = pipeline_settings(cfg["pipeline"])
        settings = from_mapping(Settings, cfg)
        frac = self.settings.get("validation_fraction", 0.0)
        if not VALIDATION_FRACTION.ok(frac):
            raise SettingError("validation_fraction", frac, VALIDATION_FRACTION.describe())
        X = _check_X(X)
        y = check_labels(y, X.shape[0])
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"got {len(self.classes_)} class; need at least 2 to train a classifier")
        arch = self._architecture(X.shape[1], len(self.classes_))
        check_fit(arch, X.shape[1], len(self.classes_))
        train, val = self._split(X, y_idx, X_val, y_val)
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
        self.n_features_in_ = X.shape[1]
        self.history_ = run.history
        self.epochs_ = run.epochs
        self.decisions_ = run.decisions
        self.sum_cache_ = getattr(pipeline, "cache", None)
        self.run_ = run
        return self

    def _architecture(self, n_features: int, n_classes: int) -> Architecture:
        a = self.architecture
        if a is None:
            return default_architecture(n_features, n_classes)
        return a if isinstance(a, Architecture) else Architecture.from_spec(a)

    def _split(self, X, y_idx, X_val, y_val) -> tuple[Split, Split | None]:
        if X_val is not None:
            X_val = _check_X(X_val, "X_val")
            y_val = check_labels(y_val, X_val.shape[0], "y_val")
            yv = np.searchsorted(self.classes_, y_val)
            if np.any(yv >= len(self.classes_)) or np.any(self.classes_[np.minimum(yv, len(self.classes_) - 1)]
                                                           != y_val):
                raise ValueError("y_val holds labels not seen in y")
            return Split(X, y_idx), Split(X_val, yv)
        frac = float(self.settings.get("validation_fraction", 0.0))
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("this HashtronClassifier is not fitted yet; call fit(X, y) first")

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        X = _check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but the classifier was fitted with {self.n_features_in_}")
        return self.classes_[self.run_.code.decode(self.network_.forward(X))]

    def score(self, X, y) -> float:
        pred = self.predict(X)
        return float(np.mean(pred == check_labels(y, pred.shape[0])))


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


def _check_X(X, name: str = "X") -> np.ndarray:
    _refuse_sparse(X, name)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D with shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if not np.issubdtype(X.dtype, np.integer):
        if np.issubdtype(X.dtype, np.floating) and np.all(np.isfinite(X)) and np.all(X == np.round(X)):
            X = X.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer features (got dtype {X.dtype}); encode floats first, "
                            "e.g. with hashtron_lab.data.encoders.thermometer")
    if X.min() < 0 or X.max() > 0xFFFFFFFF:
        raise ValueError(f"{name}: features must be in the uint32 range 0 .. 2**32-1")
    return np.ascontiguousarray(X, dtype=np.uint32)
