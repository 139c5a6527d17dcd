"""Checkpoint files: a run's full state as data only, never code.

A checkpoint may come from elsewhere (`dvc pull`, a shared run folder), so reading one must
not be able to run anything: no pickle. The file is an uncompressed ``.npz`` (a zip of
``.npy`` members, written and read with ``allow_pickle=False``):

    state.npy     uint8: UTF-8 JSON {"format", "version", "identity", "config_hash", "state"}
    a0.npy, a1.npy, ...   the arrays the JSON tree points to

The state tree is JSON with tagged leaves: ``{"$t": "array", "a": "a3"}`` (a numpy array,
never of object dtype), ``{"$t": "bytes", "a": ...}``, ``{"$t": "tuple", "v": [...]}`` and
``{"$t": "network", ...}`` (architecture spec + the packed neuron arrays). Members must be
stored, not deflated, so a file cannot expand beyond its own size (no zip bombs); every
member's CRC-32 is checked on read, so a damaged file is refused. The ``identity`` (what makes a run that run: seed, model, data, pipeline
and acceptance settings; not budgets, which a resumed run may extend) is compared with the
resuming run's by `check_identity`.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..atomic import atomic_write_bytes

FORMAT = "hashtron-lab-checkpoint"
VERSION = 2
STATE_MEMBER = "state.npy"
_ZIP_MAGIC = b"PK\x03\x04"
_OLD_MAGIC = b"hashtron-lab-checkpoint "   # version 1: a pickle behind a text line; never unpickled
_TAG = "$t"
_PLAIN = frozenset({str, int, float, bool, type(None)})


class CheckpointError(ValueError):
    pass


# -- the state tree <-> JSON + arrays -----------------------------------------------------------
class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _add(self, a: np.ndarray) -> str:
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.ascontiguousarray(a)
        return name

    def encode(self, obj: Any, where: str = "state") -> Any:
        t = type(obj)
        if t in _PLAIN:  # the common case first: a history holds ~20 scalars per update
            return obj
        if t is dict:
            out = {}
            for k, v in obj.items():
                if type(k) is not str or k == _TAG:
                    raise TypeError(f"{where}: checkpoint keys must be strings other than {_TAG!r}, got {k!r}")
                out[k] = v if type(v) in _PLAIN else self.encode(v, f"{where}.{k}")
            return out
        if t is list:
            return [v if type(v) in _PLAIN else self.encode(v, f"{where}[]") for v in obj]
        if isinstance(obj, (bool, str, int, float)):  # subclasses (e.g. numpy's float64)
            return obj.item() if isinstance(obj, np.generic) else obj
        if isinstance(obj, np.generic):
            return self.encode(obj.item(), where)
        if isinstance(obj, Mapping):
            return self.encode(dict(obj), where)
        if isinstance(obj, tuple):
            return {_TAG: "tuple", "v": [self.encode(v, f"{where}[]") for v in obj]}
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {_TAG: "bytes", "a": self._add(np.frombuffer(bytes(obj), np.uint8))}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"{where}: object arrays cannot go into a checkpoint")
            return {_TAG: "array", "a": self._add(obj)}
        from ..model.network import Network

        if isinstance(obj, Network):
            return self._network(obj)
        raise TypeError(f"{where}: a {type(obj).__name__} cannot go into a checkpoint (data only)")

    def _network(self, net) -> dict:
        p = net.pack()
        bits = np.array([h.bits for layer in net.neurons for h in layer], np.uint8)
        return {_TAG: "network", "architecture": net.architecture.to_spec(),
                "prog_off": self._add(p.prog_off), "prog_salt": self._add(p.prog_salt),
                "prog_mod": self._add(p.prog_mod), "filt_off": self._add(p.filt_off), "filt": self._add(p.filt),
                "bits": self._add(bits)}


class _Reader:
    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.arrays = arrays

    def _get(self, name: Any, dtype=None, ndim: int | None = None) -> np.ndarray:
        a = self.arrays.get(name) if isinstance(name, str) else None
        if a is None:
            raise ValueError(f"refers to a missing array {name!r}")
        if dtype is not None and a.dtype != np.dtype(dtype):
            raise ValueError(f"array {name!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
        if ndim is not None and a.ndim != ndim:
            raise ValueError(f"array {name!r} has {a.ndim} dimensions, expected {ndim}")
        return a

    def decode(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        tag = obj.get(_TAG)
        if tag is None:
            return {k: self.decode(v) for k, v in obj.items()}
        if tag == "tuple":
            return tuple(self.decode(v) for v in obj["v"])
        if tag == "bytes":
            return self._get(obj["a"], np.uint8, 1).tobytes()
        if tag == "array":
            return self._get(obj["a"]).copy()
        if tag == "network":
            return self._network(obj)
        raise ValueError(f"unknown tag {tag!r}")

    def _network(self, d: dict):
        from ..model.architecture import Architecture
        from ..model.hashtron import Hashtron
        from ..model.network import Network

        arch = Architecture.from_spec(d["architecture"])
        n = arch.n_neurons
        po, fo = self._get(d["prog_off"], np.int64, 1), self._get(d["filt_off"], np.int64, 1)
        salt, mod = self._get(d["prog_salt"], np.uint32, 1), self._get(d["prog_mod"], np.uint32, 1)
        filt, bits = self._get(d["filt"], np.uint8, 1), self._get(d["bits"], np.uint8, 1)
        for name, off, total in (("prog_off", po, salt.shape[0]), ("filt_off", fo, filt.shape[0])):
            if off.shape[0] != n + 1 or off[0] != 0 or off[-1] != total or np.any(np.diff(off) < 0):
                raise ValueError(f"network {name} does not index {n} neurons")
        if mod.shape != salt.shape or bits.shape[0] != n or np.any((bits < 1) | (bits > 32)):
            raise ValueError("network arrays disagree with its architecture")
        flat = [Hashtron(program=list(zip(salt[po[k]:po[k + 1]].tolist(), mod[po[k]:po[k + 1]].tolist())),
                         filter=filt[fo[k]:fo[k + 1]].copy(), bits=int(bits[k])) for k in range(n)]
        it = iter(flat)
        return Network(arch, [[next(it) for _ in range(w)] for w in arch.widths])


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def config_hash(identity: Mapping[str, Any]) -> str:
    """Short SHA-256 of an identity dict (see `check_identity`)."""
    return hashlib.sha256(_canonical(identity)).hexdigest()[:16]


# -- files ---------------------------------------------------------------------------------------
def dumps_checkpoint(state: Mapping[str, Any], identity: Mapping[str, Any] | None = None) -> bytes:
    """The bytes `save_checkpoint` writes."""
    w = _Writer()
    tree = w.encode(dict(state))
    ident = json.loads(_canonical(identity or {}))
    doc = {"format": FORMAT, "version": VERSION, "identity": ident, "config_hash": config_hash(ident),
           "state": tree}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")  # the tree keeps its key order
    members = {"state": np.frombuffer(text, np.uint8), **w.arrays}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in members.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, b.getvalue())
    return buf.getvalue()


def _read_npy(raw: bytes, path, fix: str) -> np.ndarray:
    """One .npy member, read without pickle and without trusting its header: the declared shape
    must match the bytes present (numpy's own reader would allocate the declared size first)."""
    f = io.BytesIO(raw)
    major, _ = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint {path} holds an object (pickled) array, which is never loaded "
                              f"(it could run code). {fix}")
    data = memoryview(raw)[f.tell():]
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise CheckpointError(f"checkpoint {path} is damaged (an array of shape {shape} with {len(data)} data "
                              f"bytes). {fix}")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def save_checkpoint(path: str | os.PathLike, state: dict, identity: Mapping[str, Any] | None = None) -> None:
    """Write `state` (plus the run's `identity`) atomically: a reader sees the old file or the new one."""
    atomic_write_bytes(path, dumps_checkpoint(state, identity))


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The whole document {"format", "version", "identity", "config_hash", "state"}; CheckpointError
    (naming the file, the problem and the fix) for anything that is not an intact checkpoint."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; start the run without resume")
    data = path.read_bytes()
    fix = "Fix: delete it to restart the run from scratch, or restore it (e.g. `dvc checkout`)"
    if data.startswith(_OLD_MAGIC):
        raise CheckpointError(
            f"checkpoint {path} is in the old pickle format (version 1), which is never loaded because "
            f"unpickling a file can run code; rerun the stage or run that wrote it to get a data-only checkpoint")
    if data[:1] == b"\x80" or data[:2] in (b"(d", b"(l", b"}q", b"]q"):
        raise CheckpointError(f"{path} is a Python pickle, not a hashtron-lab checkpoint; pickles are never "
                              f"loaded (they can run code). Delete it or point resume elsewhere")
    if not data.startswith(_ZIP_MAGIC):
        raise CheckpointError(f"{path} is not a hashtron-lab checkpoint (no npz/zip header); "
                              f"delete it or point resume elsewhere")
    try:
        arrays: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise CheckpointError(f"checkpoint {path}: member {info.filename!r} is compressed; "
                                          f"checkpoints store members uncompressed (a compressed one can expand "
                                          f"without bound). {fix}")
                if not info.filename.endswith(".npy") or "/" in info.filename:
                    raise CheckpointError(f"checkpoint {path}: unexpected member {info.filename!r}. {fix}")
                with zf.open(info) as f:
                    raw = f.read()  # checks the member's CRC-32
                arrays[info.filename[:-4]] = _read_npy(raw, path, fix)
    except CheckpointError:
        raise
    except ValueError as e:
        raise CheckpointError(f"checkpoint {path} is damaged ({e}). {fix}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} is damaged ({type(e).__name__}: {e}). {fix}") from None
    head = arrays.pop("state", None)
    if head is None or head.dtype != np.uint8 or head.ndim != 1:
        raise CheckpointError(f"checkpoint {path} is damaged (no state member). {fix}")
    try:
        doc = json.loads(head.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"checkpoint {path} is damaged (state is not JSON: {e}). {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a hashtron-lab checkpoint; delete it or point resume elsewhere")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"checkpoint {path} is damaged (version {version!r}). {fix}")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer version ({version}); upgrade hashtron-lab")
    if version < VERSION:
        raise CheckpointError(f"checkpoint {path} has the old format version {version}; rerun the run that wrote it")
    ident = doc.get("identity")
    if not isinstance(ident, dict) or doc.get("config_hash") != config_hash(ident):
        raise CheckpointError(f"checkpoint {path} is damaged (its config hash does not match its identity). {fix}")
    try:
        doc["state"] = _Reader(arrays).decode(doc.get("state"))
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
        raise CheckpointError(f"checkpoint {path} is damaged or was not written by hashtron-lab ({e}). {fix}") from None
    if not isinstance(doc["state"], dict):
        raise CheckpointError(f"checkpoint {path} is damaged (state is not a mapping). {fix}")
    return doc


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The state dict saved at `path` (see `read_checkpoint` for the checks)."""
    return read_checkpoint(path)["state"]


# -- identity ------------------------------------------------------------------------------------
def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b[0].c": leaf}: every leaf of nested dicts and lists under its path."""
    if isinstance(d, dict) and d:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(d, list) and d:
        out = {}
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: d}


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def identity_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """'key: checkpoint X, this run Y' for every leaf that differs."""
    a, b = _flat(json.loads(_canonical(saved))), _flat(json.loads(_canonical(current)))
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "<absent>") != b.get(k, "<absent>"):
            out.append(f"{k}: checkpoint {_short(a.get(k, '<absent>'))}, this run {_short(b.get(k, '<absent>'))}")
    return out


def check_identity(path: str | os.PathLike, saved: Mapping[str, Any], current: Mapping[str, Any],
                   allow_changes: Iterable[str] = ()) -> None:
    """Refuse to continue a checkpoint written by another run.

    `saved` / `current`: identity dicts (top-level keys such as seed, pipeline, architecture,
    train_data); `allow_changes` names top-level keys allowed to differ (a deliberate
    continuation on other data, for instance).
    """
    allowed = set(allow_changes)
    if saved.get("pipeline") != current.get("pipeline") and "pipeline" not in allowed:
        raise CheckpointError(
            f"checkpoint {path} was written by the {saved.get('pipeline')} pipeline; this run uses "
            f"{current.get('pipeline')}. A checkpoint continues only the pipeline that wrote it. Fix: resume "
            f"with pipeline={saved.get('pipeline')}, or start the {current.get('pipeline')} run without resume "
            f"(another output directory or checkpoint path)")
    keys = [k for k in sorted(set(saved) | set(current)) if k not in allowed]
    diffs = identity_differences({k: saved.get(k) for k in keys}, {k: current.get(k) for k in keys})
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} was written by another run (config hash {config_hash(saved)}, this run "
            f"{config_hash(current)}); what differs: " + "; ".join(diffs[:8])
            + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
            + ". A checkpoint continues only the run that wrote it (same seed, model, data, pipeline, acceptance "
              "and validation settings; budgets may grow). Fix: resume with the settings it was written with, "
              "or start this run without resume (another output directory or checkpoint path)")
