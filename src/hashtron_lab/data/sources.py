"""Dataset loaders for numeric data: scikit-learn's digits and breast cancer, the toy
tasks (is-alnum, parity) and a user's CSV / Parquet file.

A loader takes its own parameters (its signature is the config schema) and returns a
`Source`: raw columns, labels and class names. Capping, splitting, encoding and the
output-bit checks happen once, in `hashtron_lab.data.registry.load_dataset`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from .encoders import CATEGORY, INTEGER, ORDINAL, TableColumns, TextColumns
from .errors import DatasetError


@dataclass
class Source:
    columns: TableColumns | TextColumns
    labels: np.ndarray                 # int64 ids into class_names
    class_names: list[str]
    where: str                         # names the data in error messages ("csv file 'x.csv'")
    info: dict = field(default_factory=dict)
    groups: np.ndarray | None = None   # e.g. word id per grapheme sample (split by word)
    open_classes: bool = False         # True: classes past the output bits go to "other"

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    def take(self, idx: np.ndarray) -> "Source":
        return Source(self.columns.take(idx), self.labels[idx], self.class_names, self.where, self.info,
                      None if self.groups is None else self.groups[idx], self.open_classes)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------
# scikit-learn sets (shipped inside the package: no download)
# ---------------------------------------------------------------------------
def digits() -> Source:
    """8x8 handwritten digits, pixels 0..16, 10 classes (1,797 samples)."""
    from sklearn.datasets import load_digits
    d = load_digits()
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    cols = TableColumns(np.ascontiguousarray(d.data, dtype=np.float64), [ORDINAL] * 64, names)
    return Source(cols, d.target.astype(np.int64), [str(n) for n in d.target_names], "dataset 'digits'",
                  {"origin": "sklearn.datasets.load_digits", "scikit-learn": package_version("scikit-learn")})


def breast_cancer() -> Source:
    """Wisconsin breast cancer, 30 float features, binary (569 samples)."""
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer()
    cols = TableColumns(np.ascontiguousarray(d.data, dtype=np.float64), [ORDINAL] * d.data.shape[1],
                        [str(n) for n in d.feature_names])
    return Source(cols, d.target.astype(np.int64), [str(n) for n in d.target_names], "dataset 'breast_cancer'",
                  {"origin": "sklearn.datasets.load_breast_cancer", "scikit-learn": package_version("scikit-learn")})


def _given_path(path: str | None, dataset: str, needs: str, kind: str, exists, fix: str) -> Path:
    """`path` expanded, or a DatasetError saying the dataset needs one (`needs`) or that it does
    not exist (`exists(path)` false) and how to fix it."""
    if not path:
        raise DatasetError(f"dataset {dataset!r} needs dataset.path: {needs}")
    p = Path(str(path)).expanduser()
    if not exists(p):
        raise DatasetError(f"{kind} {str(p)!r} does not exist (resolved to {str(p.resolve())!r}). Fix: {fix}.")
    return p


def mnist(path: str | None = None) -> Source:
    """MNIST-style digits from IDX files in the directory ``path``: every pair of
    ``<prefix>images-idx3-ubyte[.gz]`` and ``<prefix>labels-idx1-ubyte[.gz]`` (e.g. ``train-`` and
    ``t10k-`` of the full 70,000, or a sample without a prefix), pooled in prefix order and split
    by ``dataset.split`` like any other dataset. Pixels are ordinal columns 0..255, row-major."""
    from .idx import find_pairs, read_idx

    d = _given_path(path, "mnist", "a directory holding *-images-idx3-ubyte[.gz] and *-labels-idx1-ubyte[.gz] "
                    "files, e.g. dataset.path=/data/mnist", "mnist directory", Path.is_dir,
                    "set dataset.path to the directory holding the IDX files")
    pairs = find_pairs(d)
    if not pairs:
        raise DatasetError(f"mnist directory {str(d)!r} holds no *images-idx3-ubyte[.gz] / *labels-idx1-ubyte[.gz] "
                           f"pair. Fix: point dataset.path at the directory of the MNIST IDX files.")
    images, labels = [], []
    for img_path, lab_path in pairs:
        img, lab = read_idx(img_path, ndim=3), read_idx(lab_path, ndim=1)
        if img.shape[0] != lab.shape[0]:
            raise DatasetError(f"{img_path.name} holds {img.shape[0]} images but {lab_path.name} "
                               f"{lab.shape[0]} labels")
        if images and img.shape[1:] != images[0].shape[1:]:
            raise DatasetError(f"{img_path.name} holds {img.shape[1]}x{img.shape[2]} images, "
                               f"{pairs[0][0].name} {images[0].shape[1]}x{images[0].shape[2]}")
        images.append(img)
        labels.append(lab)
    X = np.concatenate(images).reshape(sum(i.shape[0] for i in images), -1)
    y = np.concatenate(labels).astype(np.int64)
    h, w = images[0].shape[1:]
    names = [f"pixel_{r}_{c}" for r in range(h) for c in range(w)]
    classes = [str(c) for c in range(int(y.max()) + 1)]
    cols = TableColumns(np.ascontiguousarray(X, dtype=np.float64), [ORDINAL] * X.shape[1], names)
    return Source(cols, y, classes, f"mnist directory {str(d)!r}",
                  {"origin": "IDX files", "files": [p.name for pair in pairs for p in pair],
                   "image_shape": [int(h), int(w)]})


# ---------------------------------------------------------------------------
# toy tasks
# ---------------------------------------------------------------------------
def isalnum() -> Source:
    """The 256 byte values; label: ASCII letter or digit (the Go library's isalnum set)."""
    b = np.arange(256)
    label = (((b >= ord("a")) & (b <= ord("z"))) | ((b >= ord("A")) & (b <= ord("Z")))
             | ((b >= ord("0")) & (b <= ord("9"))))
    cols = TableColumns(b.astype(np.float64)[:, None], [INTEGER], ["byte"])
    return Source(cols, label.astype(np.int64), ["other", "alnum"], "dataset 'isalnum'", {"origin": "generated"})


MAX_PARITY_BITS = 20


def parity(bits: int = 8) -> Source:
    """Every ``bits``-bit pattern, one feature per bit; label: xor of the bits (bits=2 is XOR)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_PARITY_BITS:
        raise DatasetError(f"dataset.bits must be an integer in 1..{MAX_PARITY_BITS}, got {bits!r}")
    n = np.arange(1 << bits, dtype=np.int64)
    matrix = (n[:, None] >> np.arange(bits)) & 1
    cols = TableColumns(matrix.astype(np.float64), [INTEGER] * bits, [f"bit_{i}" for i in range(bits)])
    return Source(cols, (matrix.sum(axis=1) & 1).astype(np.int64), ["even", "odd"], "dataset 'parity'",
                  {"origin": "generated", "bits": int(bits)})


# ---------------------------------------------------------------------------
# a user's CSV / Parquet file
# ---------------------------------------------------------------------------
PARQUET_SUFFIXES = {".parquet", ".pq"}


def _row_ref(row: int, parquet: bool) -> str:
    return f"row {row}" if parquet else f"data row {row + 1} (line {row + 2})"


def csv(path: str | None = None, label: str = "label", features: list[str] | None = None,
        categorical: list[str] | None = None, sep: str = ",") -> Source:
    """A CSV (or Parquet, by suffix) file with a header row: ``features`` columns (all but
    the label when null) and a ``label`` column. Integer columns are used as integers,
    ``categorical`` columns (and text/bool columns declared so) as category codes, float
    columns are quantised by the encoding."""
    import pandas as pd

    p = _given_path(path, "csv", "set it to a .csv or .parquet file, e.g. dataset.path=/data/train.csv",
                    "csv file", Path.is_file, "set dataset.path to an existing .csv or .parquet file")
    parquet = p.suffix.lower() in PARQUET_SUFFIXES
    where = f"{'parquet' if parquet else 'csv'} file {str(p)!r}"
    try:
        df = pd.read_parquet(p) if parquet else pd.read_csv(p, sep=sep)
    except Exception as e:  # pandas/pyarrow raise many types for a bad file
        raise DatasetError(f"cannot read {where}: {type(e).__name__}: {e}. Fix: check that it is a "
                           f"{'Parquet' if parquet else f'UTF-8 text file separated by {sep!r} with a header row'}"
                           f"{'' if parquet else ' (set dataset.sep otherwise)'}.") from None
    if df.shape[0] == 0:
        raise DatasetError(f"{where} has no data rows (empty dataset). Fix: point dataset.path at a file with samples.")
    cols = [str(c) for c in df.columns]
    df.columns = cols
    if label not in cols:
        raise DatasetError(f"{where} has no label column {label!r}; its columns are {cols}. "
                           f"Fix: set dataset.label to the column holding the class.")
    feats = [c for c in cols if c != label] if features is None else [str(f) for f in features]
    missing = [f for f in feats if f not in cols]
    if missing:
        raise DatasetError(f"{where} has no column(s) {missing} listed in dataset.features; its columns are {cols}.")
    if label in feats:
        raise DatasetError(f"dataset.features of {where} includes the label column {label!r}; remove it.")
    if not feats:
        raise DatasetError(f"{where} has no feature columns besides {label!r}. Fix: add feature columns.")
    cats = [] if categorical is None else [str(c) for c in categorical]
    stray = [c for c in cats if c not in feats]
    if stray:
        raise DatasetError(f"dataset.categorical names {stray}, which are not feature columns of {where}.")

    # labels
    lab = df[label]
    if lab.isna().any():
        r = int(np.nonzero(lab.isna().to_numpy())[0][0])
        raise DatasetError(f"{where}: label column {label!r} is empty at {_row_ref(r, parquet)}. "
                           f"Fix: fill in the label or drop the row.")
    try:
        classes = sorted(lab.unique().tolist())
    except TypeError:  # mixed types: order as text
        classes = sorted(lab.unique().tolist(), key=str)
    index = {c: i for i, c in enumerate(classes)}
    labels = lab.map(index).to_numpy(dtype=np.int64)

    # features
    values = np.empty((df.shape[0], len(feats)), dtype=np.float64)
    kinds, info_cats = [], {}
    for j, name in enumerate(feats):
        col = df[name]
        if col.isna().any():
            r = int(np.nonzero(col.isna().to_numpy())[0][0])
            raise DatasetError(f"{where}: feature column {name!r} is missing a value (NaN) at {_row_ref(r, parquet)}. "
                               f"Fix: fill or drop rows with missing values, or leave the column out of dataset.features.")
        if name in cats or col.dtype == bool or isinstance(col.dtype, pd.CategoricalDtype):
            levels = sorted(col.astype(str).unique().tolist())
            values[:, j] = col.astype(str).map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=np.float64)
            kinds.append(CATEGORY)
            info_cats[name] = levels
            continue
        if not pd.api.types.is_numeric_dtype(col.dtype):
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna().to_numpy()
            if bad.any():
                r = int(np.nonzero(bad)[0][0])
                raise DatasetError(f"{where}: feature column {name!r} holds the non-numeric value {col.iloc[r]!r} at "
                                   f"{_row_ref(r, parquet)}. Fix: list {name!r} under dataset.categorical, "
                                   f"or clean the value.")
            col = num
        v = col.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(v)):
            r = int(np.nonzero(~np.isfinite(v))[0][0])
            raise DatasetError(f"{where}: feature column {name!r} holds {v[r]!r} at {_row_ref(r, parquet)}. "
                               f"Fix: replace infinite values.")
        values[:, j] = v
        kinds.append(INTEGER if pd.api.types.is_integer_dtype(col.dtype) else ORDINAL)
    info = {"path": str(p), "format": "parquet" if parquet else "csv", "rows": int(df.shape[0]),
            "label": label, "features": feats, "column_kinds": dict(zip(feats, kinds)), "categories": info_cats}
    return Source(TableColumns(values, kinds, feats), labels, [str(c) for c in classes], where, info)
