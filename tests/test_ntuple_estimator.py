"""`NTupleClassifier`: the n-tuple network behind fit / predict / score, on raw numeric columns."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from hashtron_lab import NotFittedError, NTupleClassifier


def split(loader):
    d = loader()
    return train_test_split(d.data, d.target, test_size=0.2, stratify=d.target, random_state=0)


def test_digits_in_three_lines_generalise():
    Xtr, Xte, ytr, yte = split(load_digits)
    clf = NTupleClassifier(window=2, image_shape=(8, 8)).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.93
    assert clf.score(Xtr, ytr) - clf.score(Xte, yte) < 0.06


def test_breast_cancer_with_string_labels_and_the_same_model_for_the_same_seed():
    Xtr, Xte, ytr, yte = split(load_breast_cancer)
    names = np.array(["malignant", "benign"])
    a = NTupleClassifier(n_tuples=300, tuple_size=8, quantiles=15, select_pool=30, seed=1).fit(Xtr, names[ytr])
    b = NTupleClassifier(n_tuples=300, tuple_size=8, quantiles=15, select_pool=30, seed=1).fit(Xtr, names[ytr])
    pred = a.predict(Xte)
    assert set(pred) <= set(names)
    assert np.mean(pred == names[yte]) >= 0.9
    assert np.array_equal(pred, b.predict(Xte))
    assert a.model_.network_ == b.model_.network_


def test_forward_direction_with_a_larger_budget_reaches_the_same_network():
    Xtr, Xte, ytr, _ = split(load_breast_cancer)
    back = NTupleClassifier(n_tuples=50, tuple_size=4, quantiles=3).fit(Xtr, ytr)
    fwd = NTupleClassifier(n_tuples=50, tuple_size=4, quantiles=3, direction="forward", max_updates=2000).fit(Xtr, ytr)
    assert np.array_equal(back.predict(Xte), fwd.predict(Xte))


@pytest.mark.parametrize("X, y, match", [
    ([[1.0, np.nan], [2.0, 3.0]], [0, 1], "NaN or infinite"),
    ([1.0, 2.0], [0, 1], "2-D numeric matrix"),
    ([["a", "b"], ["c", "d"]], [0, 1], "2-D numeric matrix"),
    ([[1.0, 2.0], [2.0, 3.0]], [0, 0], "need at least 2"),
    ([[1.0, 2.0], [2.0, 3.0]], [0, 1, 1], "one label per row"),
])
def test_bad_inputs_are_refused_clearly(X, y, match):
    with pytest.raises(ValueError, match=match):
        NTupleClassifier(n_tuples=4, tuple_size=2).fit(X, y)


def test_unfitted_wrong_width_and_unknown_parameter():
    clf = NTupleClassifier(n_tuples=10, tuple_size=2, quantiles=2)
    with pytest.raises(NotFittedError):
        clf.predict([[1.0, 2.0]])
    with pytest.raises(NotFittedError):
        clf.decision_function([[1.0, 2.0]])
    rng = np.random.default_rng(0)
    clf.fit(rng.random((40, 3)), np.arange(40) % 2)
    with pytest.raises(ValueError, match="fitted with 3"):
        clf.predict(rng.random((5, 4)))
    with pytest.raises(ValueError, match="unknown parameter"):
        clf.set_params(tuple_sise=3)


def test_presets_are_the_experiment_configs():
    """NTupleClassifier's run settings are what conf/experiment/ntuple_*.yaml compose (D26), and
    its defaults are the digits encoding; capacity comes per preset (hashtron_lab.presets)."""
    from hashtron_lab import config_schema as cs
    from hashtron_lab import ntuple

    for experiment in ("ntuple_digits", "ntuple_breast_cancer"):
        cfg = cs.load_config([f"experiment={experiment}"])
        assert {k: getattr(cfg.run.acceptance, k) for k in ntuple.RUN["acceptance"]} == ntuple.RUN["acceptance"]
        assert {k: getattr(cfg.pipeline, k) for k in ntuple.BACKWARD} == ntuple.BACKWARD
        assert cfg.selection.rule == ntuple.SELECTION["rule"]
    assert {k: getattr(cs.load_config(["experiment=ntuple_breast_cancer"]).capacity, k) for k in ntuple.CAPACITY} \
        == ntuple.CAPACITY  # capacity off = NTupleClassifier(load_factor=None, bleach=0)
    digits = cs.load_config(["experiment=ntuple_digits"]).dataset["encoding"]
    defaults = NTupleClassifier()
    assert (defaults.n_tuples, defaults.tuple_size, defaults.quantiles, defaults.select_pool) == (
        digits["n_tuples"], digits["tuple_size"], digits["quantiles"], digits["select_pool"])


def test_scikit_learn_model_selection_works_on_both_estimators():
    """clone / GridSearchCV / cross_val_score: how the breast-cancer encoding was chosen (scripts/ntuple_cv.py)."""
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from hashtron_lab import HashtronClassifier

    Xtr, Xte, ytr, yte = split(load_breast_cancer)
    base = NTupleClassifier(n_tuples=40, tuple_size=4)
    assert is_classifier(base) and clone(base).get_params() == base.get_params()
    gs = GridSearchCV(base, {"quantiles": [1, 7], "select_pool": [1, 5]}, cv=3).fit(Xtr, ytr)
    assert gs.best_params_["quantiles"] == 7   # one threshold per column is clearly worse
    assert gs.score(Xte, yte) >= 0.9
    h = HashtronClassifier(seed=3, budget={"max_updates": 30})
    assert is_classifier(h) and clone(h).get_params() == h.get_params()
    Xd, yd = load_digits(return_X_y=True)
    assert cross_val_score(h, Xd[:300], yd[:300], cv=2).shape == (2,)


def test_decision_function_is_what_the_argmax_compares():
    from sklearn.metrics import roc_auc_score

    Xtr, Xte, ytr, yte = split(load_digits)
    clf = NTupleClassifier(n_tuples=30, window=2, image_shape=(8, 8), select_pool=1).fit(Xtr, ytr)
    votes = clf.decision_function(Xte)
    assert votes.shape == (len(Xte), 10) and votes.min() >= 0 and votes.max() <= 30
    assert np.array_equal(clf.classes_[np.argmax(votes, axis=1)], clf.predict(Xte))   # argmax: first of ties
    Xtr, Xte, ytr, yte = split(load_breast_cancer)
    names = np.array(["malignant", "benign"])
    bc = NTupleClassifier(n_tuples=100, tuple_size=6, quantiles=7).fit(Xtr, names[ytr])
    margin = bc.decision_function(Xte)   # classes_ sorted: "benign" first, so the margin favours "malignant"
    assert margin.shape == (len(Xte),)
    assert np.array_equal(np.where(margin > 0, "malignant", "benign"), bc.predict(Xte))
    assert roc_auc_score(names[yte] == "malignant", margin) > 0.95