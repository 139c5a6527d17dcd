"""load_dataset on the numeric datasets: shapes, dtypes, determinism, splits, caps, encodings."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from dataset_conf import CONF, conf  # tests/data is on sys.path (no __init__.py)

from hashtron_lab.data import DATASETS, Dataset, load_dataset
from hashtron_lab.data.encoders import quantile_thresholds
from hashtron_lab.data.splits import cap_indices, split_indices

NUMERIC = ["digits", "digits_thermometer", "digits_threshold", "breast_cancer", "isalnum", "parity"]


def check_shapes(ds: Dataset) -> None:
    assert ds.n_features == ds.meta["n_features"] and ds.n_classes == ds.meta["n_classes"] == len(ds.class_names)
    for s in ("train", "val", "test"):
        X, y, par = ds.split(s)
        assert X.dtype == np.uint32 and X.ndim == 2 and X.shape[1] == ds.n_features and X.flags.c_contiguous
        assert y.dtype == np.int64 and y.shape == (X.shape[0],)
        assert y.size == 0 or (y.min() >= 0 and y.max() < ds.n_classes)
        assert par is None or (par.dtype == np.uint32 and par.shape == y.shape)
        assert ds.meta["split"]["sizes"][s] == X.shape[0]
    json.dumps(ds.meta)  # JSON-serialisable
    assert len(ds.meta["content_hash"]) == 64


@pytest.mark.parametrize("option", NUMERIC)
def test_configs_load_with_shapes_and_dtypes(option):
    ds = load_dataset(conf(option), seed=0)
    check_shapes(ds)
    total = sum(ds.meta["split"]["sizes"].values())
    assert total == ds.meta["samples"]
    for s, frac in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        assert abs(ds.meta["split"]["sizes"][s] - frac * total) <= ds.n_classes + 1


def test_every_registered_dataset_has_a_config_with_a_literal_name():
    names = set()
    for p in CONF.glob("*.yaml"):
        text = p.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        if text.startswith("# @package _global_"):
            doc = doc["dataset"]
        assert doc["name"] in DATASETS, p.name
        names.add(doc["name"])
    assert names == set(DATASETS)


def test_expected_sizes():
    d = load_dataset(conf("digits"), seed=0)
    assert (d.n_features, d.n_classes, sum(d.meta["split"]["sizes"].values())) == (80, 10, 1797)
    b = load_dataset(conf("breast_cancer"), seed=0)
    assert (b.n_features, b.n_classes, b.meta["samples"]) == (30, 2, 569)
    a = load_dataset(conf("isalnum"), seed=0)
    assert (a.n_features, a.meta["samples"], a.meta["class_counts"]["train"][1] > 0) == (1, 256, True)
    p = load_dataset(conf("parity", bits=4), seed=0)
    assert (p.n_features, p.meta["samples"]) == (4, 16)


@pytest.mark.parametrize("option", NUMERIC)
def test_deterministic_for_a_seed(option):
    a, b = load_dataset(conf(option), seed=7), load_dataset(conf(option), seed=7)
    assert a.meta == b.meta
    for k, v in a.arrays().items():
        assert (v is None and getattr(b, k) is None) or np.array_equal(v, getattr(b, k))
    c = load_dataset(conf(option), seed=8)
    assert c.meta["content_hash"] != a.meta["content_hash"]


def test_split_indices_disjoint_stratified_and_grouped():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=1000)
    (tr, va, te), strat = split_indices(labels, (0.6, 0.2, 0.2), np.random.default_rng(1), True)
    assert strat
    allidx = np.concatenate([tr, va, te])
    assert np.array_equal(np.sort(allidx), np.arange(1000))         # disjoint and covering
    for c in range(5):
        n_c = (labels == c).sum()
        assert abs((labels[tr] == c).sum() - 0.6 * n_c) <= 1
    (tr2, va2, te2), _ = split_indices(labels, (0.6, 0.2, 0.2), np.random.default_rng(1), True)
    assert all(np.array_equal(x, y) for x, y in zip((tr, va, te), (tr2, va2, te2)))
    groups = np.repeat(np.arange(200), 5)
    (tr, va, te), strat = split_indices(labels, (0.6, 0.2, 0.2), np.random.default_rng(1), True, groups)
    assert not strat
    assert not set(groups[tr]) & set(groups[va]) and not set(groups[tr]) & set(groups[te]) \
        and not set(groups[va]) & set(groups[te])
    assert len(set(groups[tr])) == 120
    keep = cap_indices(1000, 103, np.random.default_rng(2), groups)
    assert keep.shape[0] <= 103 and np.all(np.bincount(groups[keep]) % 5 == 0)


def test_split_disjoint_in_the_dataset():
    # parity with raw bits: every row is a distinct pattern, so rows identify samples
    ds = load_dataset(conf("parity", bits=10), seed=3)
    rows = [set(map(bytes, getattr(ds, f"X_{s}"))) for s in ("train", "val", "test")]
    assert sum(map(len, rows)) == 1024 and not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])
    assert np.array_equal(ds.y_train, ds.X_train.sum(axis=1) & 1)


@pytest.mark.parametrize("option", NUMERIC)
def test_size_cap(option):
    ds = load_dataset(conf(option, max_samples=100), seed=0)
    assert sum(ds.meta["split"]["sizes"].values()) == min(100, ds.meta["samples_source"])
    check_shapes(ds)


def test_thermometer_levels_on_pixels():
    ds = load_dataset(conf("digits_thermometer", encoding={"n_features": None}), seed=0)
    assert ds.n_features == 64 and set(np.unique(ds.X_train)) <= {0, 1, 3, 7}
    one = load_dataset(conf("digits_threshold", encoding={"n_features": None}), seed=0)
    assert set(np.unique(one.X_train)) == {0, 1}
    picked = load_dataset(conf("digits_thermometer"), seed=0)
    assert picked.n_features == 80 and picked.meta["encoding"]["bytes_per_column"] == [1] * 64


def test_quantiles_fit_on_training_split_only(tmp_path):
    n = 300
    path = tmp_path / "q.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    path.write_text("id,x,label\n" + "".join(f"{i},{float(x[i])!r},{i % 3}\n" for i in range(n)))
    cfg = conf("csv", path=str(path), encoding={"quantiles": 4})
    ds = load_dataset(cfg, seed=5)
    train_ids = ds.X_train[:, 0]                   # the integer column passes through as itself
    expect = quantile_thresholds(x[train_ids][:, None], 4)[0]
    assert ds.meta["encoding"]["thresholds"]["x"] == pytest.approx(expect.tolist())
    everything = quantile_thresholds(x[:, None], 4)[0]
    assert not np.allclose(expect, everything)


def test_parity_words():
    ds = load_dataset(conf("digits", parity="hash"), seed=0, max_output_bits=4)
    assert ds.meta["parity"]["bits"] == 4
    for s in ("train", "val", "test"):
        par = getattr(ds, f"parity_{s}")
        assert par.dtype == np.uint32 and par.max() < 16 and len(np.unique(par)) > 1


def test_csv_columns(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("a,b,c,label\n" + "".join(f"{i % 7},{i * 0.37},{'xyz'[i % 3]},{'yn'[i % 2]}\n" for i in range(60)))
    ds = load_dataset(conf("csv", path=str(path), categorical=["c"]), seed=0)
    assert ds.class_names == ["n", "y"] and ds.n_features == 3
    kinds = ds.meta["source"]["column_kinds"]
    assert kinds == {"a": "integer", "b": "ordinal", "c": "category"}
    pq = tmp_path / "mixed.parquet"
    import pandas as pd
    pd.read_csv(path).to_parquet(pq)
    ds2 = load_dataset(conf("csv", path=str(pq), categorical=["c"]), seed=0)
    assert np.array_equal(ds.X_train, ds2.X_train)


def test_hydra_composes_every_option_and_the_language_sweep():
    """Each conf/dataset option composes under Hydra (the project's root config: the common keys
    come from the library's defaults, `data.splits.dataset_defaults`) and loads from the DictConfig
    it gives; phonemizer_all sets the multirun sweep over the languages."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from hashtron_lab import config_schema  # noqa: F401  (registers the settings tree with Hydra)
    from hashtron_lab.data.splits import dataset_defaults

    with initialize_config_dir(config_dir=str(CONF.parent), version_base=None):
        for option in NUMERIC:
            cfg = compose("config", overrides=["~experiment", f"dataset={option}", "dataset.max_samples=60"])
            assert load_dataset(cfg.dataset, seed=0).meta["samples"] == 60
        cfg = compose("config", overrides=["~experiment", "dataset=phonemizer_all"], return_hydra_config=True)
        langs = cfg.hydra.sweeper.params["dataset.language"].split(",")
        assert "spa-Latn" in langs and len(langs) >= 25
        base = yaml.safe_load((CONF / "phonemizer.yaml").read_text(encoding="utf-8"))
        expected = {**dataset_defaults(), **base, "split": {**dataset_defaults()["split"], **base["split"]}}
        assert OmegaConf.to_container(cfg.dataset) == expected