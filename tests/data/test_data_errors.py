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
    path = write(tmp_path, "text.csv", "a,b,label\n1,2,0\n3,4,1\n5,abc,0\n")
    with pytest.raises(DatasetError, match=r"text\.csv': feature column 'b' holds the non-numeric value 'abc' at "
                                           r"data row 3 \(line 4\)\. Fix: list 'b' under dataset.categorical"):
        load_dataset(csv_cfg(path), seed=0)
    ok = load_dataset(csv_cfg(path, categorical=["b"], split={"stratify": False}), seed=0)
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
    ({"train": 1.2, "val": -0.1, "test": -0.1}, r"split.train must be a fraction"),
    ({"train": 0.0, "val": 0.5, "test": 0.5}, "nothing to train on"),
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
    with pytest.raises(DatasetError, match=r"max_samples must be a positive integer"):
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
