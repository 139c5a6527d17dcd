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


@pytest.mark.parametrize("X, y, error, match", [
    (np.zeros(5, int), np.zeros(5, int), ValueError, "2-D"),
    (np.zeros((4, 2)) + 0.5, [0, 1, 0, 1], TypeError, "integer features"),
    (np.zeros((4, 2), int), [0, 1, 0], ValueError, "one label per row"),
    (np.zeros((4, 2), int), [1, 1, 1, 1], ValueError, "need at least 2"),
    (-np.ones((4, 2), int), [0, 1, 0, 1], ValueError, "uint32"),
    (np.zeros((0, 2), int), [], ValueError, "no rows"),
])
def test_bad_inputs_are_refused_clearly(X, y, error, match):
    with pytest.raises(error, match=match):
        HashtronClassifier().fit(X, y)


def test_unfitted_and_wrong_shape_predict():
    X, y = isalnum_data()
    with pytest.raises(NotFittedError, match="not fitted"):
        HashtronClassifier().predict(X)
    clf = HashtronClassifier(ONE_NEURON, direction="forward", budget={"max_updates": 1}).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.zeros((3, 2), int))


def test_unknown_setting_and_direction():
    with pytest.raises(TypeError, match="unknown setting"):
        HashtronClassifier(budgett={})
    X, y = isalnum_data()
    with pytest.raises(ValueError, match="direction"):
        HashtronClassifier(direction="sideways").fit(X, y)


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
    clf = HashtronClassifier(seed=1, budget={"max_updates": 30}).fit(X, y)
    hl.save_model(clf.network_, tmp_path / "m.htl")
    back = hl.load_model(tmp_path / "m.htl")
    assert np.array_equal(back.forward(X), clf.network_.forward(X))
    hl.export_go_weights(clf.network_, tmp_path / "w.json.zlib")
    go = hl.import_go_weights(tmp_path / "w.json.zlib", clf.architecture_.to_spec())
    assert np.array_equal(go.forward(X), clf.network_.forward(X))
