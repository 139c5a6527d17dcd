"""Bad input gives a clear DatasetError naming the file, row or key and the fix."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hashtron_lab.data import DatasetError, load_dataset

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def conf(option: str, **overrides) -> dict:
    cfg = copy.deepcopy(yaml.safe_load((CONF / f"{option}.yaml").read_text(encoding="utf-8")))
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict) and "kind" not in v:
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


def write(tmp_path, name, text):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


def csv_cfg(path, **kw):
    return conf("csv", path=path, **kw)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match=r"nope\.csv' does not exist.*Fix: set dataset.path"):
        load_dataset(csv_cfg(path), seed=0)
    with pytest.raises(DatasetError, match=r"needs dataset.path"):
        load_dataset(csv_cfg(None), seed=0)


def test_unreadable_csv_and_parquet(tmp_path):
    path = write(tmp_path, "bad.csv", 'a,label\n1,"unterminated\n2,x\n')
    with pytest.raises(DatasetError, match=r"cannot read csv file '.*bad\.csv'.*Fix"):
        load_dataset(csv_cfg(path), seed=0)
    path = write(tmp_path, "latin1.csv", "a,label\n1,\xe9\n".encode("latin-1") + b"\xff\xfe\n")
    with pytest.raises(DatasetError, match=r"cannot read csv file '.*latin1\.csv'.*UTF-8"):
        load_dataset(csv_cfg(path), seed=0)
    path = write(tmp_path, "bad.parquet", b"not a parquet file at all")
    with pytest.raises(DatasetError, match=r"cannot read parquet file '.*bad\.parquet'"):
        load_dataset(csv_cfg(path), seed=0)


def test_missing_label_column(tmp_path):
    path = write(tmp_path, "nolabel.csv", "a,b,target\n1,2,0\n3,4,1\n")
    with pytest.raises(DatasetError, match=r"nolabel\.csv' has no label column 'label'; its columns are "
                                           r"\['a', 'b', 'target'\]\. Fix: set dataset.label"):
        load_dataset(csv_cfg(path), seed=0)


def test_labels_that_do_not_fit_the_output_bits(tmp_path):
    path = write(tmp_path, "many.csv", "a,label\n" + "".join(f"{i},{i % 9}\n" for i in range(90)))
    with pytest.raises(DatasetError, match=r"many\.csv' has 9 classes but the network's 3 output bit\(s\) "
                                           r"express only 8\. Fix: give the final layer at least 4 output bits"):
        load_dataset(csv_cfg(path), seed=0, max_output_bits=3)
    assert load_dataset(csv_cfg(path), seed=0, max_output_bits=4).n_classes == 9


def test_more_classes_than_the_architecture_can_express():
    with pytest.raises(DatasetError, match=r"dataset 'digits' has 10 classes.*3 output bit.*at least 4"):
        load_dataset(conf("digits"), seed=0, max_output_bits=3)
    with pytest.raises(DatasetError, match=r"max_output_bits must be an integer in 1..32"):
        load_dataset(conf("digits"), seed=0, max_output_bits=0)


def test_nan_features(tmp_path):
    path = write(tmp_path, "nan.csv", "a,b,label\n1,2,0\n3,,1\n5,6,0\n")
    with pytest.raises(DatasetError, match=r"nan\.csv': feature column 'b' is missing a value \(NaN\) at "
                                           r"data row 2 \(line 3\)\. Fix"):
        load_dataset(csv_cfg(path), seed=0)
    path = write(tmp_path, "nanlabel.csv", "a,label\n1,0\n3,\n")
    with pytest.raises(DatasetError, match=r"label column 'label' is empty at data row 2 \(line 3\)"):
        load_dataset(csv_cfg(path), seed=0)


def test_non_numeric_features(tmp_path):
    path = write(tmp_path, "text.csv", "a,b,label\n1,2,0\n3,4,1\n5,abc,0\n"
                 + "".join(f"{i},{i},{i % 2}\n" for i in range(12)))
    with pytest.raises(DatasetError, match=r"text\.csv': feature column 'b' holds the non-numeric value 'abc' at "
                                           r"data row 3 \(line 4\)\. Fix: list 'b' under dataset.categorical"):
        load_dataset(csv_cfg(path), seed=0)
    ok = load_dataset(csv_cfg(path, categorical=["b"]), seed=0)
    assert ok.meta["source"]["column_kinds"]["b"] == "category"


def test_float_column_with_integer_encoding(tmp_path):
    path = write(tmp_path, "f.csv", "a,label\n" + "".join(f"{i / 3},{i % 2}\n" for i in range(30)))
    with pytest.raises(DatasetError, match=r"encoding.kind=byte_picker needs integer columns.*\['a'\].*thermometer"):
        load_dataset(csv_cfg(path, encoding={"kind": "byte_picker", "n_features": 4}), seed=0)


def test_empty_dataset(tmp_path):
    path = write(tmp_path, "empty.csv", "a,b,label\n")
    with pytest.raises(DatasetError, match=r"empty\.csv' has no data rows \(empty dataset\)"):
        load_dataset(csv_cfg(path), seed=0)
    path = write(tmp_path, "void.csv", "")
    with pytest.raises(DatasetError, match=r"cannot read csv file '.*void\.csv'"):
        load_dataset(csv_cfg(path), seed=0)


def test_single_class(tmp_path):
    path = write(tmp_path, "one.csv", "a,label\n1,yes\n2,yes\n3,yes\n")
    with pytest.raises(DatasetError, match=r"one\.csv' has a single class \('yes'\) in its 3 samples; a classifier "
                                           r"needs at least 2\. Fix"):
        load_dataset(csv_cfg(path), seed=0)


def test_unknown_keys_name_the_key_and_the_valid_ones():
    with pytest.raises(DatasetError, match=r"unknown key\(s\) \['bogus'\] in the config of dataset 'digits'; "
                                           r"valid keys: \['encoding', 'max_samples', 'name', 'parity', 'split'\]"):
        load_dataset(conf("digits", bogus=1), seed=0)
    with pytest.raises(DatasetError, match=r"unknown key\(s\) \['shuffle'\] in split; valid keys"):
        load_dataset(conf("digits", split={"shuffle": True}), seed=0)
    with pytest.raises(DatasetError, match=r"unknown dataset name 'imagenet'; valid names: \[.*'digits'"):
        load_dataset({"name": "imagenet", "encoding": {"kind": "raw"}}, seed=0)
    with pytest.raises(DatasetError, match=r"unknown key\(s\) \['levels'\] for encoding.kind=byte_picker"):
        load_dataset(conf("digits", encoding={"levels": [1]}), seed=0)


@pytest.mark.parametrize("split, msg", [
    ({"train": 0.5, "val": 0.2, "test": 0.2}, "must sum to 1"),
    ({"train": 1.2, "val": -0.1, "test": -0.1}, r"split.train = 1.2 is out of range; allowed: a fraction in \(0, 1\)"),
    ({"train": 0.0, "val": 0.5, "test": 0.5}, r"split.train = 0.0 is out of range"),
    ({"train": 0.8, "val": 0.2, "test": 0.0}, r"split.test = 0.0 is out of range.*every split needs samples"),
    ({"group": "word"}, "needs a grapheme dataset"),
])
def test_bad_split(split, msg):
    with pytest.raises(DatasetError, match=msg):
        load_dataset(conf("digits", split=split), seed=0)


def test_bad_encoding_for_the_data():
    with pytest.raises(DatasetError, match=r"dataset 'digits' gives numeric columns: encoding.kind 'context' is for "
                                           r"grapheme datasets"):
        load_dataset(conf("digits", encoding={"kind": "context", "window": 2, "n_features": None}), seed=0)
    with pytest.raises(DatasetError, match=r"raw gives one feature per column \(64\).*n_features=80"):
        load_dataset(conf("digits", encoding={"kind": "raw", "n_features": 80}), seed=0)
    with pytest.raises(DatasetError, match=r"needs integer columns.*thermometer"):
        load_dataset(conf("breast_cancer", encoding={"kind": "raw", "n_features": None}), seed=0)
    with pytest.raises(DatasetError, match=r"dataset.max_samples = 0 is out of range; allowed: an integer >= 10"):
        load_dataset(conf("digits", max_samples=0), seed=0)
    with pytest.raises(DatasetError, match=r"dataset.bits must be an integer in 1..20"):
        load_dataset(conf("parity", bits=40), seed=0)


def test_errors_write_nothing(tmp_path):
    """load_dataset never writes; a failed save leaves no partial directory."""
    before = set(Path.cwd().iterdir())
    path = write(tmp_path, "one.csv", "a,label\n1,yes\n")
    with pytest.raises(DatasetError):
        load_dataset(csv_cfg(path), seed=0)
    assert set(Path.cwd().iterdir()) == before and sorted(p.name for p in tmp_path.iterdir()) == ["one.csv"]


# -- splits that cannot measure anything (issue 19, item 14) ----------------------------------
def test_a_split_left_empty_is_refused_with_the_sizes(tmp_path):
    """12 rows, 60/20/20 unstratified would leave rows for every split; 10 rows with a tiny
    val fraction leave validation empty: refused, naming the sizes (was: accuracy 0.0)."""
    path = write(tmp_path, "small.csv", "a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    with pytest.raises(DatasetError, match=r"small\.csv': the split leaves val empty \(train 9, val 0, test 1 "
                                           r"samples\)\. Fix: use more samples"):
        load_dataset(csv_cfg(path, split={"train": 0.9, "val": 0.01, "test": 0.09, "stratify": False}), seed=0)


def test_a_class_absent_from_train_is_refused_with_the_sizes(tmp_path):
    """Class 'rare' has one row; unstratified, it lands in test for this seed: never learnable."""
    rows = "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(30)) + "99,rare\n"
    path = write(tmp_path, "rare.csv", "a,label\n" + rows)
    seeds = []
    for seed in range(20):
        try:
            load_dataset(csv_cfg(path, split={"stratify": False}), seed=seed)
        except DatasetError as e:
            assert "class(es) ['rare'] have samples in validation/test but none in train (train 19, val 6, " \
                   "test 6 samples)" in str(e), str(e)
            seeds.append(seed)
    assert seeds, "no seed put the rare class outside train"
    # stratified (the default), a class too small for a split stays in train: accepted
    ds = load_dataset(csv_cfg(path), seed=seeds[0])
    assert "rare" in [ds.class_names[c] for c in set(ds.y_train.tolist())]


def test_a_hand_made_dataset_with_an_empty_test_split_is_refused_before_training():
    """The run path given a Dataset whose test split is empty (e.g. edited on disk)."""
    import numpy as np

    from hashtron_lab import experiment
    from hashtron_lab.data import Dataset

    X = np.arange(40, dtype=np.uint32).reshape(20, 2)
    y = np.arange(20) % 2
    ds = Dataset("toy", X[:16], y[:16], X[16:], y[16:], X[:0], y[:0], None, None, None, ["0", "1"], {})
    with pytest.raises(DatasetError, match=r"dataset 'toy': the split leaves test empty \(train 16, val 4, test 0"):
        experiment.as_data(ds)
