"""The IDX reader and dataset=mnist on tiny files the tests write themselves."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from hashtron_lab.data import load_dataset
from hashtron_lab.data.errors import DatasetError
from hashtron_lab.data.idx import find_pairs, read_idx, write_idx


def _images(n=40, h=6, w=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w), dtype=np.uint8), (np.arange(n) % 4).astype(np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_labels_and_images(tmp_path, gz):
    imgs, labels = _images()
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"images-idx3-ubyte{suffix}", imgs)
    write_idx(tmp_path / f"labels-idx1-ubyte{suffix}", labels)
    raw = (tmp_path / f"labels-idx1-ubyte{suffix}").read_bytes()
    head = gzip.decompress(raw)[:4] if gz else raw[:4]
    assert head == bytes.fromhex("00000801")  # the labels magic; images carry 00000803
    got = read_idx(tmp_path / f"images-idx3-ubyte{suffix}", ndim=3)
    assert got.dtype == np.uint8 and np.array_equal(got, imgs)
    assert np.array_equal(read_idx(tmp_path / f"labels-idx1-ubyte{suffix}", ndim=1), labels)


def test_reads_the_published_header_layout(tmp_path):
    """Bytes written by hand as in LeCun's description: magic 0x00000803, big-endian dims."""
    data = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 2, 3) + bytes(range(12))
    (tmp_path / "x").write_bytes(data)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), np.arange(12, dtype=np.uint8).reshape(2, 2, 3))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_is_refused(tmp_path, gz):
    imgs, _ = _images()
    full = bytes([0, 0, 8, 3]) + struct.pack(">III", *imgs.shape) + imgs.tobytes()
    cut = full[:-7]
    p = tmp_path / "images-idx3-ubyte"
    p.write_bytes(gzip.compress(cut) if gz else cut)
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(p)
    p.write_bytes(gzip.compress(full[:10]) if gz else full[:10])
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(p)


@pytest.mark.parametrize("data,match", [
    (bytes([1, 0, 8, 1]) + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\x00\x00\x00\x00", "type code 0x0d"),
    (bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + b"\x00\x01\x02", "past the 2"),
    (bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 28, 28) + b"\x00", "damaged"),
])
def test_damaged_headers_are_refused(tmp_path, data, match):
    p = tmp_path / "f"
    p.write_bytes(data)
    with pytest.raises(DatasetError, match=match):
        read_idx(p)


def test_a_header_larger_than_deflate_can_produce_is_refused_before_inflating(tmp_path):
    """A bomb: 100 MB declared in a tiny gzip stream is refused from the header alone."""
    body = bytes([0, 0, 8, 3]) + struct.pack(">III", 100_000, 1000, 1) + bytes(5000)
    p = tmp_path / "images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(body))
    with pytest.raises(DatasetError, match="deflate"):
        read_idx(p)


def test_wrong_dimension_count_is_named(tmp_path):
    imgs, labels = _images()
    write_idx(tmp_path / "a", labels)
    with pytest.raises(DatasetError, match="1 dimensions, expected 3"):
        read_idx(tmp_path / "a", ndim=3)


def _mnist_dir(tmp_path, prefixes=("train-", "t10k-"), n=60):
    for i, prefix in enumerate(prefixes):
        imgs, labels = _images(n, 6, 5, seed=i)
        write_idx(tmp_path / f"{prefix}images-idx3-ubyte.gz", imgs)
        write_idx(tmp_path / f"{prefix}labels-idx1-ubyte.gz", labels)
    return tmp_path


def test_pairs_are_matched_by_prefix(tmp_path):
    _mnist_dir(tmp_path)
    pairs = find_pairs(tmp_path)
    assert [(a.name, b.name) for a, b in pairs] == [
        ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="no matching labels file"):
        find_pairs(tmp_path)


MNIST_CFG = {"name": "mnist", "split": {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True},
             "encoding": {"kind": "tuples", "levels": [1, 128], "tuple_size": 6, "n_tuples": 8, "window": 1,
                          "image_shape": [6, 5], "repeat": 4}}


def test_dataset_mnist_pools_every_pair_and_splits(tmp_path):
    _mnist_dir(tmp_path)
    ds = load_dataset({**MNIST_CFG, "path": str(tmp_path)}, seed=0)
    assert ds.n_classes == 4 and ds.meta["samples"] == 120
    assert sum(ds.meta["split"]["sizes"].values()) == 120
    assert ds.X_train.shape[1] == 8 * 4
    assert ds.meta["source"]["files"][0] == "t10k-images-idx3-ubyte.gz"


@pytest.mark.parametrize("path,match", [(None, "needs dataset.path"), ("/nonexistent/mnist", "does not exist")])
def test_dataset_mnist_without_files_says_where_to_point(tmp_path, path, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset({**MNIST_CFG, "path": path}, seed=0)
    with pytest.raises(DatasetError, match="holds no"):
        load_dataset({**MNIST_CFG, "path": str(tmp_path)}, seed=0)


def test_dataset_mnist_refuses_a_count_mismatch(tmp_path):
    imgs, labels = _images(30)
    write_idx(tmp_path / "images-idx3-ubyte", imgs)
    write_idx(tmp_path / "labels-idx1-ubyte", labels[:29])
    with pytest.raises(DatasetError, match="30 images but"):
        load_dataset({**MNIST_CFG, "path": str(tmp_path)}, seed=0)
