"""The `Dataset` every pipeline stage receives, and its on-disk form.

On disk a dataset is a directory with ``arrays.npz`` (uncompressed, byte-for-byte
reproducible: fixed zip timestamps, so an unchanged dataset keeps its DVC hash) and
``meta.json`` (name, class names, meta, sha256 of ``arrays.npz``). It is written into a
temporary sibling directory and renamed into place, so a crash leaves either the old
dataset or the new one, never a mix.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DatasetError

FORMAT = "hashtron-lab-dataset/1"
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
SPLITS = ("train", "val", "test")
ARRAY_KEYS = tuple(f"{a}_{s}" for s in SPLITS for a in ("X", "y", "parity"))
_FIX = "Fix: rerun `dvc repro prepare` to rebuild it."


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray  # uint32 (n, n_features), C-contiguous
    y_train: np.ndarray  # int64 labels in [0, n_classes)
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    parity_train: np.ndarray | None  # uint32 parity words, or None
    parity_val: np.ndarray | None
    parity_test: np.ndarray | None
    class_names: list[str]
    meta: dict

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def arrays(self) -> dict[str, np.ndarray | None]:
        return {k: getattr(self, k) for k in ARRAY_KEYS}

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, y, parity) of 'train', 'val' or 'test'."""
        if which not in SPLITS:
            raise ValueError(f"unknown split {which!r}; valid: {list(SPLITS)}")
        return getattr(self, f"X_{which}"), getattr(self, f"y_{which}"), getattr(self, f"parity_{which}")


def content_hash(arrays: dict[str, np.ndarray | None], class_names: list[str]) -> str:
    """sha256 over every array (name, dtype, shape, bytes, in a fixed order) and the class names."""
    h = hashlib.sha256()
    for key in ARRAY_KEYS:
        a = arrays.get(key)
        if a is None:
            h.update(f"{key}:none;".encode())
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    h.update(json.dumps(list(class_names), ensure_ascii=False).encode())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz numpy can read, with fixed timestamps so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def save_dataset(ds: Dataset, directory) -> None:
    """Write ``ds`` to ``directory`` (npz + meta.json) atomically: temp dir, then rename."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in ds.arrays().items() if v is not None}
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_npz(tmp / ARRAYS_FILE, arrays)
        doc = {
            "format": FORMAT,
            "name": ds.name,
            "class_names": list(ds.class_names),
            "meta": ds.meta,
            "checksums": {ARRAYS_FILE: _file_sha256(tmp / ARRAYS_FILE)},
        }
        with open(tmp / META_FILE, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
            f.write("\n")
        for name in (ARRAYS_FILE, META_FILE):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.rename(target, old)
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_dataset(directory) -> Dataset:
    """Read a dataset written by `save_dataset`, verifying its checksums."""
    d = Path(directory)
    meta_path, npz_path = d / META_FILE, d / ARRAYS_FILE
    if not d.is_dir():
        raise DatasetError(f"dataset directory {str(d)!r} does not exist. {_FIX}")
    for p in (meta_path, npz_path):
        if not p.is_file():
            raise DatasetError(f"dataset file {str(p)!r} is missing. {_FIX}")
    try:
        with open(meta_path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT!r}")
        expected = doc["checksums"][ARRAYS_FILE]
        meta, class_names, name = doc["meta"], doc["class_names"], doc["name"]
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"dataset file {str(meta_path)!r} is damaged ({e}). {_FIX}") from None
    actual = _file_sha256(npz_path)
    if actual != expected:
        raise DatasetError(f"dataset file {str(npz_path)!r} is damaged: sha256 {actual[:12]}… does not match "
                           f"{expected[:12]}… recorded in {META_FILE}. {_FIX}")
    try:
        with zipfile.ZipFile(npz_path) as zf:  # we write stored members: a compressed one could be a bomb
            packed = [i.filename for i in zf.infolist() if i.compress_type != zipfile.ZIP_STORED]
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"dataset file {str(npz_path)!r} cannot be read ({e}). {_FIX}") from None
    if packed:
        raise DatasetError(f"dataset file {str(npz_path)!r} has compressed members {packed[:3]}; this library "
                           f"writes them uncompressed and does not inflate foreign ones (no zip bombs). {_FIX}")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: (z[k] if k in z.files else None) for k in ARRAY_KEYS}
    except Exception as e:  # a zip/npy format error after a matching checksum: a writer bug
        raise DatasetError(f"dataset file {str(npz_path)!r} cannot be read ({e}). {_FIX}") from None
    missing = [k for k in ARRAY_KEYS if not k.startswith("parity") and arrays[k] is None]
    if missing:
        raise DatasetError(f"dataset file {str(npz_path)!r} lacks {missing}. {_FIX}")
    if content_hash(arrays, class_names) != meta.get("content_hash"):
        raise DatasetError(f"dataset {str(d)!r}: arrays do not match content_hash in {META_FILE}. {_FIX}")
    return Dataset(name=name, class_names=list(class_names), meta=meta, **arrays)
