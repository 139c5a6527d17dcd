"""The public API surface and the scikit-learn style estimator."""
import numpy as np
import pytest

import hashtron_lab as hl
from hashtron_lab import HashtronClassifier, NotFittedError


def isalnum_data():
    X = np.arange(256, dtype=np.uint32).reshape(-1, 1)
    y = np.array([chr(i).isalnum() and i < 128 for i in range(256)])
    return X, y


ONE_NEURON = {"layers": [{"type": "hashtron", "neurons": 1}]}


def test_three_lines_train_is_alnum_to_100_percent():
    X, y = isalnum_data()
    clf = HashtronClassifier(ONE_NEURON, direction="forward", budget={"max_updates": 5}).fit(X, y)
    assert clf.score(X, y) == 1.0
    assert set(clf.classes_) == {False, True}
    assert {"layer", "neuron", "premodulo", "accepted"} <= set(clf.history_[0])


def test_backward_run_exposes_sum_cache_and_keeps_string_labels():
    X, y = isalnum_data()
    labels = np.where(y, "alnum", "other")
    clf = HashtronClassifier(ONE_NEURON, direction="backward", budget={"max_updates": 6}).fit(X, labels)
    assert clf.sum_cache_ is not None and len(clf.sum_cache_) == 6
    assert clf.history_[0]["phase"] == "bootstrap" and clf.history_[0]["premodulo"] == 256
    assert set(clf.predict(X)) <= {"alnum", "other"}


def test_same_seed_same_model_bytes():
    from hashtron_lab.model.files import dumps_model
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data[:300].astype(int), d.target[:300]
    a = HashtronClassifier(seed=3, budget={"max_updates": 40}).fit(X, y)
    b = HashtronClassifier(seed=3, budget={"max_updates": 40}).fit(X, y)
    c = HashtronClassifier(seed=4, budget={"max_updates": 40}).fit(X, y)
    assert dumps_model(a.network_) == dumps_model(b.network_)
    assert dumps_model(a.network_) != dumps_model(c.network_)
    assert np.array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("X, y, kw, error, match", [
    (np.zeros(5, int), np.zeros(5, int), {}, ValueError, "2-D"),
    (np.zeros((4, 2)) + 0.5, [0, 1, 0, 1], {"architecture": "ecoc", "encoder": "none"}, TypeError, "integer features"),
    (np.zeros((4, 2), int), [0, 1, 0], {}, ValueError, "one label per row"),
    (np.zeros((4, 2), int), [1, 1, 1, 1], {}, ValueError, "need at least 2"),
    (-np.ones((4, 2), int), [0, 1, 0, 1], {"architecture": "ecoc", "encoder": "none"}, TypeError, "uint32"),
    (np.zeros((0, 2), int), [], {}, ValueError, "no rows"),
    (np.ones((4, 2)), [0.5, 1.5, 0.5, 1.5], {}, ValueError, "Unknown label type"),
    (np.ones((4, 2)), [0, 1, 0, 1], {"encoder": "bins"}, ValueError, "encoder must be one of"),
    (np.ones((4, 2)), [0, 1, 0, 1], {"architecture": "wide"}, ValueError, "architecture must be None, 'ecoc'"),
    (np.random.default_rng(0).random((20, 2)), np.arange(20) % 2, {"capacity": {"enabled": False}}, ValueError,
     "chose the n-tuple network"),
])
def test_bad_inputs_are_refused_clearly(X, y, kw, error, match):
    with pytest.raises(error, match=match):
        HashtronClassifier(**kw).fit(X, y)


def test_unfitted_and_wrong_shape_predict():
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    assert NotFittedError is SklearnNotFitted  # scikit-learn's, re-exported
    X, y = isalnum_data()
    with pytest.raises(NotFittedError, match="not fitted"):
        HashtronClassifier().predict(X)
    clf = HashtronClassifier(ONE_NEURON, direction="forward", budget={"max_updates": 1}).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but HashtronClassifier is expecting 1"):
        clf.predict(np.zeros((3, 2), int))


def test_unknown_setting_and_direction():
    with pytest.raises(TypeError, match="unexpected keyword argument 'budgett'"):
        HashtronClassifier(budgett={})
    X, y = isalnum_data()
    with pytest.raises(ValueError, match="direction"):
        HashtronClassifier(direction="sideways").fit(X, y)


def test_parameters_are_explicit_keywords():
    params = HashtronClassifier().get_params()
    assert set(params) == {"architecture", "direction", "seed", "init_from", "budget", "pipeline", "capacity",
                           "selection", "run", "validation_fraction", "encoder"}
    clf = HashtronClassifier().set_params(budget={"max_updates": 7}, encoder="quantile")
    assert clf.budget == {"max_updates": 7} and clf.encoder == "quantile"


# -- the defaults pick the architecture (issue 18 item 5) ---------------------------------------
def test_defaults_learn_is_alnum_on_all_256_bytes():
    X = np.arange(256).reshape(-1, 1)
    y = np.array([chr(i).isalnum() for i in range(256)])  # Python's: Latin-1 letters count too
    clf = HashtronClassifier().fit(X, y)
    assert clf.kind_ == "direct" and list(clf.architecture_.widths) == [1]
    assert clf.score(X, y) == 1.0


def test_defaults_learn_3_bit_parity():
    X = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    y = X.sum(axis=1) % 2
    clf = HashtronClassifier().fit(X, y)
    assert clf.kind_ == "direct"
    assert clf.score(X, y) == 1.0
    flipped = HashtronClassifier().fit(X, 1 - y)           # not a constant answer: the opposite function too
    assert np.array_equal(flipped.predict(X), 1 - y)


def test_defaults_reach_095_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    clf = HashtronClassifier().fit(Xtr, ytr)
    assert clf.kind_ == "ntuple"
    assert clf.score(Xte, yte) >= 0.95


def test_floats_go_through_the_default_encoder():
    """An explicit architecture on fractional features: `QuantileBins` keeps one feature per
    column (the architecture's width holds) and maps each to its training-quantile bin."""
    from hashtron_lab.estimator import QuantileBins

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    bins = QuantileBins(4).fit(X)
    F = bins.transform(X)
    assert F.dtype == np.uint32 and F.shape == X.shape and set(np.unique(F[:, 0])) == {0, 1, 2, 3}
    assert np.array_equal(F[:, 0] >= 2, X[:, 0] > np.median(X[:, 0]))
    clf = HashtronClassifier(ONE_NEURON, direction="forward", budget={"max_updates": 5}).fit(X[:, :1], y)  # reads feature 0
    assert clf.encoder_ is not None and clf.score(X[:, :1], y) == 1.0
    ints = HashtronClassifier("ecoc", budget={"max_updates": 5}).fit(np.arange(40).reshape(20, 2) % 7,
                                                                        np.arange(20) % 2)
    assert ints.encoder_ is None  # uint32 integers are features as they are


@pytest.mark.parametrize("est", [HashtronClassifier(), hl.NTupleClassifier()], ids=lambda e: type(e).__name__)
def test_check_estimator_passes(est):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    assert len(results) >= 50


def test_public_hash_functions_match_vectors_and_validate():
    rows = [line.split() for line in open("tests/fixtures/hash.tsv").read().splitlines()[1:]]
    n, s, m, h = (np.array([int(r[i]) for r in rows], dtype=np.uint64).astype(np.uint32) for i in range(4))
    assert np.array_equal(hl.hash_array(n, s, m), h)
    assert all(hl.hash32(int(a), int(b), int(c)) == int(d) for a, b, c, d in zip(n[:20], s[:20], m[:20], h[:20]))
    assert hl.hash_array(np.arange(6).reshape(2, 3), 7, 10).shape == (2, 3)
    with pytest.raises(ValueError):
        hl.hash32(-1, 0, 5)
    with pytest.raises(ValueError):
        hl.hash32(2**32, 0, 5)


def test_model_round_trip_through_both_formats(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data[:200].astype(int), d.target[:200]
    clf = HashtronClassifier("ecoc", seed=1, budget={"max_updates": 30}).fit(X, y)
    hl.save_model(clf.network_, tmp_path / "m.htl")
    back = hl.load_model(tmp_path / "m.htl")
    assert np.array_equal(back.forward(X), clf.network_.forward(X))
    hl.export_go_weights(clf.network_, tmp_path / "w.json.zlib")
    go = hl.import_go_weights(tmp_path / "w.json.zlib", clf.architecture_.to_spec())
    assert np.array_equal(go.forward(X), clf.network_.forward(X))
