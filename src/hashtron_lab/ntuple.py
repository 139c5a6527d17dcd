"""`NTupleClassifier`: the n-tuple hashtron network of docs/accuracy.md behind fit / predict / score.

Numeric columns in: every column is thresholded at training-set quantiles, `n_tuples` tuples of
`tuple_size` threshold bits are drawn (seeded; optionally from pixel windows of an image), and
each tuple is read by one RAM neuron per class. An `argmax` over the class groups picks the
class, output neurons map its index to the label. The backward pipeline trains the output
layer first (the prior), then every RAM once from local credit, then the output layer again
(decisions D21–D25); the presets are those of `conf/experiment/ntuple_*.yaml`.
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .data.encoders import ORDINAL, Encoder, TableColumns
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .estimator import HashtronClassifier, _refuse_sparse, check_labels
from .presets import BACKWARD_ALL as BACKWARD
from .presets import CAPACITY_FIXED as CAPACITY
from .presets import NTUPLE_RUN as RUN
from .presets import ROUND_ROBIN as SELECTION
from .settings import from_mapping
from .train.run import RunSetup


class NTupleClassifier(ClassifierMixin, BaseEstimator):
    """Three lines, ~0.97 test accuracy on scikit-learn digits::

        clf = NTupleClassifier(window=2, image_shape=(8, 8)).fit(X_train, y_train)
        clf.score(X_test, y_test)

    `X`: finite numbers, one column per feature; `y`: any labels (at least two classes).
    `max_updates`: the training budget; None = exactly what backward needs (output layer,
    every RAM, output layer again). The forward pipeline needs about three times that.
    `select_pool` k > 1: draw k·n_tuples tuples and keep the n_tuples that discriminate the
    training labels best (leave-one-out; D27); 1 = the plain random draw. `select_columns` k: draw
    tuples only from the k columns whose levels say most about the label (mutual information).
    `levels`: fixed thresholds for every column (e.g. [1, 128] for 0..255 pixels) instead of
    `quantiles` training-split quantiles. `load_factor` / `bleach`: the support capacity law
    (train/capacity.py) — each RAM's premodulo ceil(load_factor · its distinct keys), its
    bleaching threshold from its support; both off (None, 0) trains every RAM exactly.
    Named settings for common data: `hashtron_lab.presets.estimator("mnist")`.
    """

    def __init__(self, n_tuples: int = 300, tuple_size: int = 10, quantiles: int = 6, window: int | None = None,
                 image_shape: tuple[int, int] | None = None, direction: str = "backward", seed: int = 0,
                 max_updates: int | None = None, select_pool: int = 10, select_columns: int | None = None,
                 levels: list[float] | None = None, load_factor: float | None = None, bleach: float = 0.0):
        self.n_tuples, self.tuple_size, self.quantiles, self.select_pool = n_tuples, tuple_size, quantiles, select_pool
        self.select_columns, self.levels, self.load_factor, self.bleach = select_columns, levels, load_factor, bleach
        self.window, self.image_shape = window, image_shape
        self.direction, self.seed, self.max_updates = direction, seed, max_updates

    def set_params(self, **params) -> NTupleClassifier:  # get_params: BaseEstimator's, from __init__
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"unknown parameter {k!r}; valid: {sorted(self.get_params())}")
            setattr(self, k, v)
        return self

    def fit(self, X, y) -> NTupleClassifier:
        from_mapping(RunSetup, {"seed": self.seed})  # the seed's range, checked before it seeds the tuple draw
        X = _columns(X)
        if y is None:
            raise ValueError("NTupleClassifier requires y to be passed, but the target y is None")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = check_labels(y, X.values.shape[0])
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        C = len(self.classes_)
        if C < 2:
            raise ValueError(f"got {C} class; need at least 2 to train a classifier")
        self.encoder_ = Encoder.from_config({
            "kind": "tuples", "levels": None if self.levels is None else list(self.levels),
            "quantiles": None if self.levels is not None else self.quantiles, "tuple_size": self.tuple_size,
            "n_tuples": self.n_tuples, "window": self.window,
            "image_shape": None if self.image_shape is None else list(self.image_shape), "repeat": C,
            "select_pool": self.select_pool, "select_columns": self.select_columns})
        self.encoder_.fit(X, X, rng=np.random.default_rng([self.seed, 3]), labels=y_idx)
        bits = max(1, math.ceil(math.log2(C)))
        rams = C * self.n_tuples
        arch = {"layers": [{"type": "hashtron", "neurons": rams}, {"type": "argmax", "groups": C},
                           {"type": "hashtron", "neurons": bits}]}
        budget = self.max_updates if self.max_updates is not None else 3 * bits + rams
        self.model_ = HashtronClassifier(
            arch, direction=self.direction, seed=self.seed, budget={"max_updates": int(budget)},
            pipeline=BACKWARD if self.direction == "backward" else {}, capacity=self._capacity(), selection=SELECTION,
            run=RUN)
        self.model_.fit(self.encoder_.transform(X), y_idx)
        self.n_features_in_ = X.values.shape[1]
        return self

    def _capacity(self) -> dict:
        if self.load_factor is None and not self.bleach:
            return CAPACITY
        return {"enabled": True, "law": "support", "load_factor": self.load_factor, "bleach": float(self.bleach),
                "fixed_premodulo": 0}

    def _features(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = _columns(X)
        if X.values.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.values.shape[1]} features, but NTupleClassifier is expecting "
                             f"{self.n_features_in_} features as input (it was fitted with {self.n_features_in_})")
        return self.encoder_.transform(X)

    def predict(self, X) -> np.ndarray:
        features = self._features(X)
        return self.classes_[self.model_.predict(features)]

    def decision_function(self, X) -> np.ndarray:
        """Votes: how many of each class's RAMs answer 1 (what the argmax compares), float (n, C) in
        `classes_` order; with two classes, class 1's votes minus class 0's (scikit-learn's shape
        for ROC curves and thresholds). Ties go to the earlier class in `predict`."""
        features = self._features(X)
        C, R = len(self.classes_), self.n_tuples
        cells = self.model_.network_.trace(features).cells[:, :C * R]
        votes = cells.reshape(-1, C, R).sum(axis=2, dtype=np.int64).astype(np.float64)
        return votes[:, 1] - votes[:, 0] if C == 2 else votes

    def score(self, X, y) -> float:
        pred = self.predict(X)
        return float(np.mean(pred == check_labels(y, pred.shape[0])))


def _columns(X) -> TableColumns:
    _refuse_sparse(X, "X")
    try:
        X = np.asarray(X)
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported: X must hold real numbers")
        X = X.astype(np.float64, copy=False)
    except TypeError as e:
        raise TypeError(f"X must be a 2-D numeric matrix (n_samples, n_features): {e}") from None
    except ValueError as e:
        if "Complex" in str(e):
            raise
        raise ValueError(f"X must be a 2-D numeric matrix (n_samples, n_features): {e}") from None
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D numeric matrix (n_samples, n_features), got shape {X.shape}. "
                         f"Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for one sample")
    if X.shape[0] == 0:
        raise ValueError("X has no rows")
    if X.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds NaN or infinite values; impute or drop them first")
    return TableColumns(np.ascontiguousarray(X), [ORDINAL] * X.shape[1], [f"x{c}" for c in range(X.shape[1])])
