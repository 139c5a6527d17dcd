"""encoding.kind=tuples (n-tuple / WiSARD addresses) against a plain-numpy recomputation."""
from __future__ import annotations

import json

import numpy as np
import pytest
from dataset_conf import conf  # tests/data is on sys.path (no __init__.py)

from hashtron_lab.data import DatasetError, load_dataset
from hashtron_lab.data import encoders as E

ORD = E.ORDINAL


def table(values, kinds=None):
    values = np.ascontiguousarray(values, dtype=np.float64)
    d = values.shape[1]
    return E.TableColumns(values, kinds or [ORD] * d, [f"c{i}" for i in range(d)])


def fitted(cfg, cols, seed=0):
    enc = E.Encoder.from_config(cfg)
    return enc.fit(cols, cols, rng=np.random.default_rng(seed))


def thresholds_of(enc, cols):
    if enc.params["levels"] is not None:
        return [np.asarray(enc.params["levels"])] * cols.values.shape[1]
    return [np.asarray(enc.fitted["thresholds"][n]) for n in cols.names]


def bit_table(enc, cols):
    """Plain numpy: the (column, threshold index) of every flat bit index."""
    pairs = [(c, k) for c, t in enumerate(thresholds_of(enc, cols)) for k in range(len(t))]
    assert len(pairs) == sum(enc.fitted["n_bits"])
    return pairs


def ref_features(enc, cols):
    thr = thresholds_of(enc, cols)
    pairs = bit_table(enc, cols)
    tuples = enc.fitted["tuples"]
    out = np.zeros((cols.values.shape[0], len(tuples)), dtype=np.int64)
    for r, tup in enumerate(tuples):
        for j, b in enumerate(tup):
            c, k = pairs[b]
            out[:, r] |= (cols.values[:, c] >= thr[c][k]).astype(np.int64) << j
    return np.tile(out, (1, enc.params["repeat"]))


def test_packed_features_match_numpy_recomputation():
    rng = np.random.default_rng(1)
    cols = table(rng.normal(size=(300, 7)) * np.arange(1, 8))
    for cfg in ({"kind": "tuples", "quantiles": 5, "tuple_size": 6, "n_tuples": 40},
                {"kind": "tuples", "levels": [-1, 0, 2.5], "tuple_size": 32, "n_tuples": 9, "repeat": 3},
                {"kind": "tuples", "quantiles": 3, "tuple_size": 1, "n_tuples": 5}):
        enc = fitted(cfg, cols)
        X = enc.transform(cols)
        R = cfg["n_tuples"]
        assert X.dtype == np.uint32 and X.flags.c_contiguous and X.shape == (300, R * cfg.get("repeat", 1))
        assert np.array_equal(X.astype(np.int64), ref_features(enc, cols))
        tuples = np.asarray(enc.fitted["tuples"])
        assert tuples.shape == (R, cfg["tuple_size"])
        n_bits = sum(enc.fitted["n_bits"])
        if n_bits >= cfg["tuple_size"]:  # distinct bits whenever there are enough
            assert all(len(set(t)) == len(t) for t in tuples.tolist())
        assert tuples.min() >= 0 and tuples.max() < n_bits
        if cfg["tuple_size"] < 32:
            assert int(X.max()) < 1 << cfg["tuple_size"]
        # not degenerate: the addresses vary over the samples
        assert len(np.unique(X[:, 0])) > 1
        json.dumps(enc.describe())


def test_too_few_bits_draws_with_replacement():
    cols = table(np.arange(40.0).reshape(20, 2))
    enc = fitted({"kind": "tuples", "levels": [10, 20], "tuple_size": 8, "n_tuples": 6}, cols)
    assert sum(enc.fitted["n_bits"]) == 4
    assert all(len(t) == 8 and set(t) <= {0, 1, 2, 3} for t in enc.fitted["tuples"])
    assert np.array_equal(enc.transform(cols).astype(np.int64), ref_features(enc, cols))


def test_constant_columns_give_no_bits():
    rng = np.random.default_rng(2)
    vals = rng.normal(size=(100, 5))
    vals[:, [1, 3]] = 7.0  # constant: every quantile threshold dropped
    cols = table(vals)
    enc = fitted({"kind": "tuples", "quantiles": 4, "tuple_size": 4, "n_tuples": 30}, cols)
    assert enc.fitted["n_bits"][1] == enc.fitted["n_bits"][3] == 0
    used = {bit_table(enc, cols)[b][0] for t in enc.fitted["tuples"] for b in t}
    assert used <= {0, 2, 4}
    assert np.array_equal(enc.transform(cols).astype(np.int64), ref_features(enc, cols))
    vals[:] = 1.0
    with pytest.raises(DatasetError, match="no bits"):
        fitted({"kind": "tuples", "quantiles": 4, "tuple_size": 4, "n_tuples": 3}, table(vals))


@pytest.mark.parametrize("rho", [0, 1, 2])
def test_window_tuples_stay_near_their_centre(rho):
    h, w = 6, 9
    rng = np.random.default_rng(3)
    vals = rng.integers(0, 17, size=(200, h * w)).astype(np.float64)
    vals[:, 0] = 0.0  # a pixel without bits is never a centre
    cols = table(vals)
    enc = fitted({"kind": "tuples", "quantiles": 3, "tuple_size": 5, "n_tuples": 60,
                  "window": rho, "image_shape": [h, w]}, cols)
    pairs = bit_table(enc, cols)
    assert enc.fitted["n_bits"][0] == 0 and 0 not in enc.fitted["centres"]
    for tup, centre in zip(enc.fitted["tuples"], enc.fitted["centres"]):
        pix = np.array([pairs[b][0] for b in tup])
        r, c = pix // w, pix % w
        assert r.max() - r.min() <= 2 * rho and c.max() - c.min() <= 2 * rho  # fits a (2ρ+1)² box
        assert np.all(np.abs(r - centre // w) <= rho) and np.all(np.abs(c - centre % w) <= rho)
        if rho == 0:  # 3 bits per pixel < tuple_size 5: drawn with replacement from the centre's bits
            assert set(pix.tolist()) == {centre}
        else:  # enough candidates: distinct bits
            assert len(set(tup)) == 5
    assert np.array_equal(enc.transform(cols).astype(np.int64), ref_features(enc, cols))


def test_repeat_tiles_exactly():
    rng = np.random.default_rng(4)
    cols = table(rng.normal(size=(50, 10)))
    base = {"kind": "tuples", "quantiles": 6, "tuple_size": 7, "n_tuples": 13}
    one = fitted(base, cols, seed=5).transform(cols)
    many = fitted({**base, "repeat": 4}, cols, seed=5).transform(cols)
    assert many.shape == (50, 52) and many.flags.c_contiguous
    for g in range(4):
        assert np.array_equal(many[:, g * 13:(g + 1) * 13], one)


def test_fit_needs_an_rng():
    enc = E.Encoder.from_config({"kind": "tuples", "quantiles": 2, "tuple_size": 2, "n_tuples": 2})
    cols = table(np.arange(10.0)[:, None])
    with pytest.raises(TypeError, match="needs rng"):
        enc.fit(cols, cols)


def tuples_digits(seed, **enc):
    cfg = conf("digits")
    cfg["encoding"] = {"kind": "tuples", "quantiles": 4, "tuple_size": 8, "n_tuples": 20, "window": 2,
                       "image_shape": [8, 8], "repeat": 10, **enc}
    return load_dataset(cfg, seed=seed)


def test_load_dataset_digits_end_to_end():
    ds = tuples_digits(0)
    X = ds.X_train
    assert X.dtype == np.uint32 and X.shape == (ds.meta["split"]["sizes"]["train"], 200)
    assert int(X.max()) < 256 and len(np.unique(X)) > 20
    for s in ("train", "val", "test"):
        Xs = ds.split(s)[0]
        assert Xs.shape[1] == 200 and Xs.flags.c_contiguous
        for g in range(1, 10):
            assert np.array_equal(Xs[:, g * 20:(g + 1) * 20], Xs[:, :20])
    meta = ds.meta["encoding"]
    assert meta["kind"] == "tuples" and len(meta["tuples"]) == 20 and len(meta["centres"]) == 20
    assert len(meta["thresholds"]) == 64
    json.dumps(ds.meta)
    same = tuples_digits(0)
    assert same.meta["encoding"]["tuples"] == meta["tuples"]
    assert all(np.array_equal(a, b) for a, b in zip((same.X_train, same.X_val, same.X_test),
                                                    (ds.X_train, ds.X_val, ds.X_test)))
    other = tuples_digits(1)
    assert other.meta["encoding"]["tuples"] != meta["tuples"]


def test_same_seed_same_features_different_seed_different_tuples():
    rng = np.random.default_rng(6)
    cols = table(rng.normal(size=(80, 12)))
    cfg = {"kind": "tuples", "quantiles": 5, "tuple_size": 4, "n_tuples": 25}
    a, b, c = fitted(cfg, cols, 7), fitted(cfg, cols, 7), fitted(cfg, cols, 8)
    assert a.fitted["tuples"] == b.fitted["tuples"]
    assert np.array_equal(a.transform(cols), b.transform(cols))
    assert a.fitted["tuples"] != c.fitted["tuples"]


@pytest.mark.parametrize("cfg, msg", [
    ({"tuple_size": 0}, r"tuple_size must be an integer in 1\.\.32.*got 0"),
    ({"tuple_size": 33}, r"tuple_size must be an integer in 1\.\.32.*got 33"),
    ({"tuple_size": True}, r"tuple_size"),
    ({"tuple_size": None}, r"tuple_size"),
    ({"n_tuples": 0}, r"n_tuples must be a positive integer"),
    ({"n_tuples": None}, r"needs encoding.n_tuples"),
    ({"window": -1, "image_shape": [8, 8]}, r"window must be an integer >= 0 or null"),
    ({"window": 2}, r"window=2 needs encoding.image_shape.*Fix"),
    ({"window": 1, "image_shape": [8]}, r"image_shape must be null or two positive integers"),
    ({"window": 1, "image_shape": [8, 0]}, r"image_shape must be null or two positive integers"),
    ({"repeat": 0}, r"repeat must be a positive integer"),
    ({"select_pool": 0}, r"select_pool must be a positive integer"),
    ({"select_pool": 2.5}, r"select_pool must be a positive integer"),
    ({"levels": [4, 8], "quantiles": 3}, r"kind=tuples needs exactly one of encoding.levels.*quantiles"),
    ({"quantiles": None}, r"kind=tuples needs exactly one of"),
    ({"quantiles": 33}, r"at most 32"),
    ({"n_features": 8}, r"unknown key\(s\) \['n_features'\].*valid keys"),
])
def test_bad_configs(cfg, msg):
    full = {"kind": "tuples", "quantiles": 3, "tuple_size": 8, "n_tuples": 4, **cfg}
    with pytest.raises(DatasetError, match=msg):
        E.Encoder.from_config(full)


def test_image_shape_must_match_the_columns():
    with pytest.raises(DatasetError, match=r"image_shape \[7, 8\] has 56 pixels but the dataset has 64 columns.*Fix"):
        tuples_digits(0, image_shape=[7, 8])


def test_non_ordinal_columns_are_refused(tmp_path):
    cfg = conf("isalnum")  # one integer column 'byte'
    cfg["encoding"] = {"kind": "tuples", "quantiles": 3, "tuple_size": 2, "n_tuples": 4}
    with pytest.raises(DatasetError, match=r"needs ordinal.*\['byte'\].*Fix: use encoding.kind=thermometer"):
        load_dataset(cfg, seed=0)
    path = tmp_path / "mixed.csv"
    path.write_text("x,n,colour,label\n" + "".join(f"{i / 3},{i},{'rg'[i % 2]},{i % 2}\n" for i in range(30)),
                    encoding="utf-8")
    cfg = conf("csv", path=str(path), categorical=["colour"])
    cfg["encoding"] = {"kind": "tuples", "quantiles": 3, "tuple_size": 2, "n_tuples": 4}
    with pytest.raises(DatasetError, match=r"needs ordinal.*\['n', 'colour'\]"):
        load_dataset(cfg, seed=0)
    mixed = table(np.zeros((4, 2)), [ORD, E.INTEGER])
    with pytest.raises(DatasetError, match=r"needs ordinal.*\['c1'\]"):
        fitted({"kind": "tuples", "quantiles": 3, "tuple_size": 2, "n_tuples": 4}, mixed)


# -- tuple selection (select_pool > 1, D27) ---------------------------------------------------
def ref_scores(addr, labels):
    """Plain Python: per tuple, mean over rows of [another row of its class shares its address]
    minus [a row of another class does]."""
    n, R = addr.shape
    out = np.zeros(R)
    for r in range(R):
        for s in range(n):
            same = [t for t in range(n) if t != s and addr[t, r] == addr[s, r]]
            own = any(labels[t] == labels[s] for t in same)
            other = any(labels[t] != labels[s] for t in same)
            out[r] += int(own) - int(other)
    return out / n


def test_tuple_scores_on_hand_made_addresses():
    from hashtron_lab.kernels.encoders import tuple_scores_into

    labels = np.array([0, 0, 1, 1], np.int64)
    addr = np.array([[5, 1, 1, 1],     # columns: tuples A (pairs by class), B (one address),
                     [5, 1, 2, 2],     # C (all distinct), D (pairs across classes)
                     [7, 1, 3, 1],
                     [7, 1, 4, 2]], np.uint32)
    out = np.full(4, np.nan)
    tuple_scores_into(addr, labels, 2, out)
    assert out.tolist() == [1.0, 0.0, 0.0, -1.0]


def test_tuple_scores_match_plain_python():
    from hashtron_lab.kernels.encoders import tuple_scores_into

    rng = np.random.default_rng(3)
    addr = rng.integers(0, 6, size=(60, 25)).astype(np.uint32)
    labels = rng.integers(0, 3, size=60).astype(np.int64)
    out = np.zeros(25)
    tuple_scores_into(addr, labels, 3, out)
    assert np.allclose(out, ref_scores(addr, labels), rtol=0, atol=1e-12)


def informative_table(n=200, seed=5):
    """Column 0 decides the label; columns 1..9 are noise."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 10))
    return table(values), (values[:, 0] > 0).astype(np.int64)


def test_selection_keeps_the_best_candidates_in_draw_order():
    cols, y = informative_table()
    base = {"kind": "tuples", "quantiles": 3, "tuple_size": 2, "n_tuples": 12}
    enc = E.Encoder.from_config(base | {"select_pool": 5}).fit(cols, cols, rng=np.random.default_rng(0), labels=y)
    cand = E.Encoder.from_config(base | {"n_tuples": 60}).fit(cols, cols, rng=np.random.default_rng(0))
    # the candidates are the plain draw of 60; the kept 12 are its best by score, in draw order
    thr = [np.asarray(cand.fitted["thresholds"][n]) for n in cols.names]
    keep, scores = E.select_tuples(cols.values, thr, cand._cols, cand._shifts, y, 12)
    assert keep.tolist() == sorted(keep.tolist()) and len(keep) == 12
    assert enc.fitted["tuples"] == np.asarray(cand.fitted["tuples"])[keep].tolist()
    assert scores[keep].min() >= np.delete(scores, keep).max()
    sel = enc.fitted["selection"]
    assert sel["candidates"] == 60 and sel["kept_mean_score"] > sel["mean_score"]
    # the informative column's bits fill the kept tuples far more than a random draw's
    def share(e):
        return float(np.mean(np.asarray(e._cols) == 0))
    assert share(enc) > 2 * share(cand)
    assert np.array_equal(enc.transform(cols), ref_features(enc, cols))


def test_selection_needs_labels_and_pool_one_is_the_plain_draw():
    cols, y = informative_table(40)
    cfg = {"kind": "tuples", "quantiles": 3, "tuple_size": 2, "n_tuples": 5}
    with pytest.raises(TypeError, match="select_pool=3 chooses tuples by the training labels.*labels="):
        fitted(cfg | {"select_pool": 3}, cols)
    one = E.Encoder.from_config(cfg | {"select_pool": 1}).fit(cols, cols, rng=np.random.default_rng(0), labels=y)
    assert one.fitted["tuples"] == fitted(cfg, cols).fitted["tuples"] and "selection" not in one.fitted
    with pytest.raises(ValueError, match="one label per training row"):
        E.Encoder.from_config(cfg | {"select_pool": 2}).fit(cols, cols, rng=np.random.default_rng(0), labels=y[:-1])


def test_load_dataset_selects_with_the_training_labels_only():
    """Same seed, same selected tuples; the selection reads the training split, so the chosen
    tuples score better on it than the candidates on average."""
    a, b = tuples_digits(0, select_pool=4), tuples_digits(0, select_pool=4)
    assert a.meta["encoding"]["tuples"] == b.meta["encoding"]["tuples"]
    assert np.array_equal(a.X_test, b.X_test)
    sel = a.meta["encoding"]["selection"]
    assert sel["candidates"] == 80 and sel["kept_mean_score"] > sel["mean_score"]
    assert a.meta["encoding"]["tuples"] != tuples_digits(0).meta["encoding"]["tuples"]
