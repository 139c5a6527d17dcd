"""The IDX file format of MNIST (LeCun's `*-images-idx3-ubyte`, `*-labels-idx1-ubyte`), plain or gzip.

A file is a 4-byte magic (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in row-major order. Only unsigned bytes
(type 0x08) are read — what MNIST and its relatives (Fashion-MNIST, EMNIST, KMNIST) use.
The header fixes the payload's size, so a file is read to exactly that size: a truncated
file, trailing bytes or a compressed stream that inflates past the header's size (a zip
bomb) are refused before anything larger than the declared array is held in memory.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DatasetError

UBYTE = 0x08
MAX_DIMS = 4
MAX_INFLATION = 1032  # deflate's largest expansion ratio: a header declaring more is damaged or hostile
GZIP_MAGIC = b"\x1f\x8b"


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == GZIP_MAGIC else open(path, "rb")


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """The uint8 array an IDX file holds (gzip or plain, detected from the first bytes).

    `ndim`: the number of dimensions the caller expects (1 = labels, 3 = images), checked
    against the header. Raises DatasetError naming the file and what is wrong.
    """
    p = Path(path)
    where = f"IDX file {str(p)!r}"
    if not p.is_file():
        raise DatasetError(f"{where} does not exist")
    try:
        with _open(p) as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise DatasetError(f"{where} is truncated: {len(magic)} header bytes, need 4")
            if magic[0] != 0 or magic[1] != 0:
                raise DatasetError(f"{where} is not an IDX file: magic {magic.hex()} does not start with 0000")
            code, dims = magic[2], magic[3]
            if code != UBYTE:
                raise DatasetError(f"{where} holds type code 0x{code:02x}; only unsigned bytes (0x08) are read")
            if not 1 <= dims <= MAX_DIMS or (ndim is not None and dims != ndim):
                want = f"{ndim}" if ndim is not None else f"1..{MAX_DIMS}"
                raise DatasetError(f"{where} has {dims} dimensions, expected {want} "
                                   f"(labels: magic 00000801, images: 00000803)")
            raw = f.read(4 * dims)
            if len(raw) < 4 * dims:
                raise DatasetError(f"{where} is truncated inside its header")
            shape = struct.unpack(f">{dims}I", raw)
            size = int(np.prod(shape, dtype=np.int64))
            on_disk = p.stat().st_size
            if size > MAX_INFLATION * on_disk + 4096:
                raise DatasetError(f"{where} declares shape {shape} ({size} bytes) but holds {on_disk} bytes: "
                                   f"more than deflate can expand; the header is damaged")
            payload = f.read(size)
            if len(payload) < size:
                raise DatasetError(f"{where} is truncated: the header declares shape {shape} ({size} bytes), "
                                   f"the file holds {len(payload)}")
            if f.read(1):
                raise DatasetError(f"{where} holds bytes past the {size} its header declares (shape {shape})")
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"cannot read {where}: {type(e).__name__}: {e}") from None
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as IDX (gzip when `compress`, or when the name ends in .gz)."""
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8 or not 1 <= a.ndim <= MAX_DIMS:
        raise ValueError(f"write_idx needs a uint8 array of 1..{MAX_DIMS} dimensions, got {a.dtype} {a.shape}")
    data = bytes([0, 0, UBYTE, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    p = Path(path)
    gz = p.name.endswith(".gz") if compress is None else compress
    p.write_bytes(gzip.compress(data, mtime=0) if gz else data)


def find_pairs(directory: str | Path) -> list[tuple[Path, Path]]:
    """(images, labels) file pairs in `directory`, matched by the prefix before
    `images-idx3-ubyte` / `labels-idx1-ubyte` (e.g. `train-`, `t10k-`, or none), sorted by prefix."""
    d = Path(directory)
    found: dict[str, dict[str, Path]] = {}
    for p in sorted(d.iterdir()) if d.is_dir() else []:
        for kind, stem in (("images", "images-idx3-ubyte"), ("labels", "labels-idx1-ubyte")):
            name = p.name[:-3] if p.name.endswith(".gz") else p.name
            if name.endswith(stem):
                prefix = name[: -len(stem)]
                if kind in found.setdefault(prefix, {}):
                    raise DatasetError(f"{str(d)!r} holds two {kind} files for prefix {prefix!r}: "
                                       f"{found[prefix][kind].name} and {p.name}; keep one")
                found[prefix][kind] = p
    pairs = []
    for prefix, files in sorted(found.items()):
        if set(files) != {"images", "labels"}:
            missing = ({"images", "labels"} - set(files)).pop()
            raise DatasetError(f"{str(d)!r}: {files[next(iter(files))].name} has no matching {missing} file "
                               f"({prefix}{'images-idx3-ubyte' if missing == 'images' else 'labels-idx1-ubyte'}[.gz])")
        pairs.append((files["images"], files["labels"]))
    return pairs
