"""save_dataset / read_dataset: round trip, reproducible bytes, atomic writes, checksums."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hashtron_lab.data import DatasetError, load_dataset, read_dataset, save_dataset
from hashtron_lab.data import dataset as dataset_module

DIGITS = {"name": "digits", "max_samples": 300, "split": {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True},
          "encoding": {"kind": "byte_picker", "n_features": 16}}


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DIGITS, seed=0, max_output_bits=4)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip(tmp_path, ds):
    save_dataset(ds, tmp_path / "prepared")
    back = read_dataset(tmp_path / "prepared")
    assert back.name == ds.name and back.class_names == ds.class_names and back.meta == ds.meta
    for k, v in ds.arrays().items():
        w = getattr(back, k)
        assert (v is None and w is None) or (np.array_equal(v, w) and v.dtype == w.dtype)
    assert back.n_features == 16 and back.n_classes == 10
    doc = json.loads((tmp_path / "prepared" / "meta.json").read_text())
    assert doc["checksums"]["arrays.npz"] == sha(tmp_path / "prepared" / "arrays.npz")


def test_parity_round_trip(tmp_path):
    d = load_dataset({**DIGITS, "parity": "hash"}, seed=1, max_output_bits=4)
    save_dataset(d, tmp_path / "p")
    assert np.array_equal(read_dataset(tmp_path / "p").parity_val, d.parity_val)


def test_same_data_same_bytes(tmp_path, ds):
    save_dataset(ds, tmp_path / "a")
    save_dataset(load_dataset(DIGITS, seed=0, max_output_bits=4), tmp_path / "b")
    for name in ("arrays.npz", "meta.json"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name)


def test_overwrite_replaces_whole_directory(tmp_path, ds):
    target = tmp_path / "prepared"
    save_dataset(ds, target)
    (target / "stray.txt").write_text("old")
    other = load_dataset(DIGITS, seed=5)
    save_dataset(other, target)
    assert not (target / "stray.txt").exists()
    assert read_dataset(target).meta["content_hash"] == other.meta["content_hash"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]


def test_failed_save_leaves_old_dataset_and_no_temp(tmp_path, ds, monkeypatch):
    target = tmp_path / "prepared"
    save_dataset(ds, target)

    def boom(path, arrays):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(dataset_module, "_write_npz", boom)
    with pytest.raises(OSError, match="disk full"):
        save_dataset(load_dataset(DIGITS, seed=9), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]
    assert read_dataset(target).meta["content_hash"] == ds.meta["content_hash"]
    with pytest.raises(OSError):
        save_dataset(ds, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_damaged_or_missing_files(tmp_path, ds):
    target = tmp_path / "prepared"
    with pytest.raises(DatasetError, match=r"prepared' does not exist.*dvc repro prepare"):
        read_dataset(target)
    save_dataset(ds, target)
    npz = target / "arrays.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"arrays\.npz' is damaged: sha256.*dvc repro prepare"):
        read_dataset(target)
    npz.unlink()
    with pytest.raises(DatasetError, match=r"arrays\.npz' is missing.*dvc repro prepare"):
        read_dataset(target)
    save_dataset(ds, target)
    (target / "meta.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"meta\.json' is damaged.*dvc repro prepare"):
        read_dataset(target)
    save_dataset(ds, target)
    doc = json.loads((target / "meta.json").read_text())
    doc["class_names"][0] = "zero"
    (target / "meta.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=r"do not match content_hash.*dvc repro prepare"):
        read_dataset(target)
