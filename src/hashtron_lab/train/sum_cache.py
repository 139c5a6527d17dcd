"""The sum cache (DESIGN §7): one record per neuron training, in memory, columnar.

Records live in one numpy structured array (:data:`RECORD_DTYPE`, 70 bytes a record)
that grows by a factor (``growth``, amortised O(1) appends), plus one int32 link per
record to the previous record of the same neuron (4 bytes). A dict ``layer -> {pos ->
[newest row, count]}`` finds a neuron's newest record; walking the links gives its
history newest → oldest without scanning the array. So a record costs 74 bytes, at
most ``74 · growth`` with the spare room of the last growth step (< 100 bytes with the
default growth 1.25): 10⁶ records stay under 100 MB. ``benchmarks/bench_sum_cache.py``
measures it.

Pruning: with ``keep_last = k`` only the newest ``k`` records of each neuron are
visible; older rows become garbage at once (queries never see them) and are dropped
for real when the array is full and garbage is at least ``compact_fraction`` of it
(compaction instead of growth), so memory stays bounded and appends stay amortised O(1).

Persistence (:meth:`SumCache.save` / :meth:`SumCache.load`) — the file layout, all
little-endian::

    MAGIC (8 bytes, b"HTSUMC\\x00\\x01")
    header length (uint32) + header (UTF-8 JSON: format, version, run_id, keep_last,
        records, run_ids, dtype)
    records (records × RECORD_DTYPE.itemsize bytes, oldest first)
    SHA-256 of everything above (32 bytes)

Saving writes a temp file beside the target and renames it over (atomic); the file it
replaces, if its checksum is good, is kept as ``<path>.bak`` (the backup). Loading
verifies the checksum; a damaged or unreadable main file falls back to the backup with a
:class:`SumCacheWarning`; when both are bad, :class:`SumCacheError` names both and the fix.
"""
from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import shutil
import struct
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .gold_zone import REGIME_CODES, REGIME_NAMES

FORMAT = "hashtron-sum-cache"
VERSION = 2  # 2: no `stale` column (it was never written)
MAGIC = b"HTSUMC\x00\x01"
_DIGEST = 32  # bytes of SHA-256

#: One record. `run` indexes `SumCache.run_ids`; `regime` indexes `REGIME_NAMES`.
RECORD_DTYPE = np.dtype([
    ("layer", "<i2"),
    ("pos", "<i4"),
    ("run", "<i2"),
    ("epoch", "<i4"),
    ("timestamp", "<f8"),     # seconds since the epoch (time.time())
    ("S", "<i8"),             # Σ sign(vote), in [-N, N]
    ("N", "<i8"),             # training samples
    ("margin", "<f8"),        # |S| / N
    ("S_out", "<i8"),         # Σ (2·bit − 1) of the neuron's outputs after training
    ("premodulo", "<u4"),     # premodulo used (0 = none)
    ("regime", "i1"),
    ("duration", "<f4"),      # training time, seconds
    ("accepted", "?"),        # False: the update was undone
    ("accuracy", "<f8"),      # accuracy after (NaN if not measured)
])

_I16_MAX = int(np.iinfo(np.int16).max)   # plain ints: np.iinfo attributes cost a call each time
_I32_MIN, _I32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)
_I64_MIN, _I64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_U32_MAX = int(np.iinfo(np.uint32).max)


class SumCacheError(ValueError):
    """A sum cache file (and its backup) cannot be used."""


class SumCacheWarning(UserWarning):
    """The sum cache fell back to its backup, or could not keep one."""


def backup_path(path: str | os.PathLike) -> Path:
    """Where :meth:`SumCache.save` keeps the previous file."""
    return Path(str(path) + ".bak")


def _as_int(name: str, v: Any, lo: int, hi: int) -> int:
    if type(v) is int and lo <= v <= hi:  # the common case, checked first: `add` runs once per update
        return v
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {v!r} ({type(v).__name__})") from None
    if not lo <= i <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {i}")
    return i


def _regime_code(regime: str | int) -> int:
    if isinstance(regime, str):
        code = REGIME_CODES.get(regime)
        if code is None:
            raise ValueError(f"unknown regime {regime!r}; valid: {list(REGIME_NAMES)}")
        return code
    code = _as_int("regime", regime, 0, len(REGIME_NAMES) - 1)
    return code


def _sha_ok(data: bytes) -> bool:
    return len(data) >= _DIGEST and hashlib.sha256(data[:-_DIGEST]).digest() == data[-_DIGEST:]


class SumCache:
    """In-memory store of neuron-training records (DESIGN §7).

    Args:
        keep_last: records kept per neuron (older ones are pruned); None = unbounded.
        run_id: run identifier stamped on every record added from now on (settable).
        initial_capacity: rows allocated up front.
        growth: capacity factor when the array is full (> 1).
        compact_fraction: when the array is full and pruned rows are at least this
            fraction of it, compact instead of growing (0 < f < 1).
    """

    def __init__(self, keep_last: int | None = 64, run_id: str = "", *, initial_capacity: int = 1024,
                 growth: float = 1.25, compact_fraction: float = 0.25):
        if keep_last is not None:
            keep_last = _as_int("keep_last", keep_last, 1, _I64_MAX)
        if not growth > 1.0:
            raise ValueError(f"growth must be > 1, got {growth}")
        if not 0.0 < compact_fraction < 1.0:
            raise ValueError(f"compact_fraction must be in (0, 1), got {compact_fraction}")
        self.keep_last = keep_last
        self.initial_capacity = _as_int("initial_capacity", initial_capacity, 1, _I32_MAX)
        self.growth = float(growth)
        self.compact_fraction = float(compact_fraction)
        self._rec = np.zeros(self.initial_capacity, RECORD_DTYPE)
        self._prev = np.full(self.initial_capacity, -1, np.int32)
        self._n = 0             # rows used (live + garbage)
        self._garbage = 0       # pruned rows not yet compacted away
        self._last: dict[int, dict[int, list[int]]] = {}  # layer -> pos -> [newest row, rows of it]
        self._full: dict[int, int] = {}  # layer -> w: every position of [0, w) has a record (neurons never leave)
        # layer -> (positions ascending, their newest rows, S, N, {position: index}): the selection's view
        self._by_layer: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, int]]] = {}
        self._runs: list[str] = []
        self._run_code = 0
        self.run_id = run_id

    # ------------------------------------------------------------------ run ids
    @property
    def run_id(self) -> str:
        return self._runs[self._run_code]

    @run_id.setter
    def run_id(self, value: str) -> None:
        value = str(value)
        if value in self._runs:
            self._run_code = self._runs.index(value)
            return
        if len(self._runs) > _I16_MAX:
            raise SumCacheError(f"too many run ids in one sum cache (max {_I16_MAX + 1})")
        self._runs.append(value)
        self._run_code = len(self._runs) - 1

    @property
    def run_ids(self) -> list[str]:
        """Run id of each `run` code in the records."""
        return list(self._runs)

    # ------------------------------------------------------------------ adding
    def add(self, layer: int, pos: int, epoch: int, S: int, N: int, s_out: int, premodulo: int,
            regime: str | int, duration: float, accepted: bool, accuracy: float,
            timestamp: float | None = None, check: bool = True) -> None:
        """Append one neuron-training record (margin = |S|/N is derived).

        `check=False` skips the type and range checks: for the training loop, whose ints come
        from its own tallies and decisions (it adds a record per update)."""
        if check:
            layer = _as_int("layer", layer, 0, _I16_MAX)
            pos = _as_int("pos", pos, 0, _I32_MAX)
            epoch = _as_int("epoch", epoch, _I32_MIN, _I32_MAX)
            N = _as_int("N", N, 1, _I64_MAX)
            S = _as_int("S", S, -N, N)
            s_out = _as_int("s_out", s_out, _I64_MIN + 1, _I64_MAX)
            premodulo = _as_int("premodulo", premodulo, 0, _U32_MAX)
        code = _regime_code(regime)
        ts = time.time() if timestamp is None else float(timestamp)
        if self._n == self._rec.shape[0]:
            self._make_room()
        i = self._n
        self._rec[i] = (layer, pos, self._run_code, epoch, ts, S, N, abs(S) / N, s_out, premodulo, code,
                        float(duration), bool(accepted), float(accuracy))
        by_pos = self._last.get(layer)
        if by_pos is None:
            by_pos = self._last[layer] = {}
        ent = by_pos.get(pos)
        if ent is None:
            self._prev[i] = -1
            by_pos[pos] = [i, 1]
            self._by_layer.pop(layer, None)  # a new position: `layer_view` rebuilds it on the next query
        else:
            self._prev[i] = ent[0]
            ent[0] = i
            ent[1] += 1
            idx = self._by_layer.get(layer)
            if idx is not None:
                j = idx[4][pos]
                idx[1][j], idx[2][j], idx[3][j] = i, S, N
            if self.keep_last is not None and ent[1] > self.keep_last:
                self._garbage += 1
        self._n += 1

    def _make_room(self) -> None:
        if self._garbage and self._garbage >= self.compact_fraction * self._n:
            self.compact()
            if self._n < self._rec.shape[0]:
                return
        cap = self._rec.shape[0]
        self._resize(max(cap + 1, math.ceil(cap * self.growth)))

    def _resize(self, cap: int) -> None:
        rec = np.zeros(cap, RECORD_DTYPE)
        rec[: self._n] = self._rec[: self._n]
        prev = np.full(cap, -1, np.int32)
        prev[: self._n] = self._prev[: self._n]
        self._rec, self._prev = rec, prev

    # ------------------------------------------------------------------ indexing
    def _live_rows(self) -> np.ndarray:
        """Rows of visible records, oldest first."""
        n = self._n
        if self.keep_last is None or self._garbage == 0:
            return np.arange(n, dtype=np.int64)
        order, start, counts = self._groups(self._rec[:n])
        rank = np.empty(n, np.int64)  # 0 = newest record of its neuron
        ends = np.repeat(start + counts, counts)
        rank[order] = ends - 1 - np.arange(n)
        return np.flatnonzero(rank < self.keep_last)

    @staticmethod
    def _groups(rec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows sorted by neuron (chronological within), and each neuron's start and size in that order."""
        key = (rec["layer"].astype(np.int64) << 32) | rec["pos"].astype(np.int64)
        order = np.argsort(key, kind="stable")
        skey = key[order]
        if len(skey) == 0:
            return order, np.zeros(0, np.int64), np.zeros(0, np.int64)
        start = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
        counts = np.diff(np.r_[start, len(skey)])
        return order, start, counts

    def _reindex(self) -> None:
        """Rebuild links, the newest-row dict and the garbage count from rows [0, n)."""
        n = self._n
        rec = self._rec[:n]
        order, start, counts = self._groups(rec)
        prev = np.full(self._rec.shape[0], -1, np.int32)
        if n:
            same = np.r_[False, np.diff(np.repeat(np.arange(len(start)), counts)) == 0]
            prev[order[same]] = order[np.flatnonzero(same) - 1]
        self._prev = prev
        self._last = {}
        self._full = {}
        self._by_layer = {}
        newest = order[start + counts - 1] if n else np.zeros(0, np.int64)
        for row, c in zip(newest.tolist(), counts.tolist()):
            self._last.setdefault(int(rec["layer"][row]), {})[int(rec["pos"][row])] = [row, c]
        kl = self.keep_last
        self._garbage = 0 if kl is None else int(np.maximum(counts - kl, 0).sum())

    def compact(self) -> None:
        """Drop pruned rows now (otherwise done when the array is full)."""
        live = self._live_rows()
        rec = self._rec[live]
        cap = max(self.initial_capacity, math.ceil(len(live) * self.growth), len(live) + 1)
        self._rec = np.zeros(cap, RECORD_DTYPE)
        self._rec[: len(live)] = rec
        self._n = len(live)
        self._reindex()

    def _row_list(self, layer: int, pos: int, k: int | None = None) -> list[int]:
        """Rows of a neuron's newest min(k, kept) records, oldest first (a list: the backward loop
        reads one to three rows per update, where a list walk costs a fraction of building arrays)."""
        ent = self._last.get(layer, {}).get(pos)
        if ent is None:
            return []
        m = ent[1]
        if self.keep_last is not None:
            m = min(m, self.keep_last)
        if k is not None:
            if k < 0:
                raise ValueError(f"k must be >= 0, got {k}")
            m = min(m, k)
        out = [0] * m
        r = ent[0]
        prev = self._prev
        for j in range(m - 1, -1, -1):
            out[j] = r
            r = int(prev[r])
        return out

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        """Visible records (pruned ones excluded)."""
        return self._n - self._garbage

    def __contains__(self, neuron: tuple[int, int]) -> bool:
        layer, pos = neuron
        return pos in self._last.get(layer, {})

    @property
    def nbytes(self) -> int:
        """Bytes held by the record array and its links (allocated, spare room included)."""
        return int(self._rec.nbytes + self._prev.nbytes)

    @property
    def bytes_per_record(self) -> int:
        """Marginal memory of one record (row + link), the figure the 100 MB / 10^6 budget is about;
        `nbytes / len` of a small cache mostly measures its initial allocation."""
        return int(RECORD_DTYPE.itemsize + self._prev.itemsize)

    def recent(self, layer: int, pos: int, k: int | None = None) -> list[tuple[int, int]]:
        """[(S, epoch), ...] newest last: what `CapacityController.decide` takes as `recent`."""
        S, ep = self._rec["S"], self._rec["epoch"]
        return [(int(S[r]), int(ep[r])) for r in self._row_list(layer, pos, k)]

    def first_untallied(self, layer: int, width: int, exclude=(), start: int = 0) -> int:
        """Lowest position in [start, width) of `layer` with no record and not in `exclude`, or -1.

        Cheap while a layer fills (fewer neurons tallied than its width): the selection asks
        it first, so `layer_view` is rebuilt once the layer is full, not once per new neuron."""
        if width <= self._full.get(layer, 0):
            return -1
        by_pos = self._last.get(layer, {})
        if len(by_pos) >= width and max(by_pos) < width:  # every position of [0, width) has a record
            self._full[layer] = width
            return -1
        for p in range(start, width):
            if p not in by_pos and p not in exclude:
                return p
        return -1

    def layer_view(self, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
        """(positions ascending, newest rows, S, N, {position: index}) of `layer`, without copies:
        the selection reads it once per update and `add` keeps it current. Read only."""
        idx = self._by_layer.get(layer)
        if idx is None:
            by_pos = self._last.get(layer, {})
            ps = np.array(sorted(by_pos), np.int64)
            rows = np.array([by_pos[p][0] for p in ps.tolist()], np.int64)
            idx = self._by_layer[layer] = (ps, rows, self._rec["S"][rows], self._rec["N"][rows],
                                           {p: j for j, p in enumerate(ps.tolist())})
        return idx

    def records(self) -> np.ndarray:
        """Every kept record, oldest first (a copy)."""
        return self._rec[self._live_rows()]

    # ------------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """The kept records in the file layout of the module docstring (checksum included)."""
        rec = self.records()
        header = json.dumps({
            "format": FORMAT, "version": VERSION, "run_id": self.run_id, "keep_last": self.keep_last,
            "records": int(len(rec)), "run_ids": self._runs,
            "dtype": [[name, RECORD_DTYPE[name].str] for name in RECORD_DTYPE.names],
        }, sort_keys=True).encode()
        body = b"".join([MAGIC, struct.pack("<I", len(header)), header, rec.tobytes()])
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "sum cache bytes") -> "SumCache":
        """Inverse of :meth:`to_bytes`; SumCacheError (naming `source`) on any damage."""
        data = bytes(data)
        if len(data) < len(MAGIC) + 4 + _DIGEST or not data.startswith(MAGIC):
            raise SumCacheError(f"{source}: not a {FORMAT} file (bad magic or too short)")
        if not _sha_ok(data):
            raise SumCacheError(f"{source}: checksum mismatch (the file is damaged or truncated)")
        (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
        h0 = len(MAGIC) + 4
        try:
            header = json.loads(data[h0:h0 + hlen].decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SumCacheError(f"{source}: unreadable header ({e})") from None
        if header.get("format") != FORMAT:
            raise SumCacheError(f"{source}: format {header.get('format')!r}, expected {FORMAT!r}")
        if header.get("version") != VERSION:
            raise SumCacheError(f"{source}: version {header.get('version')!r}; this code reads version {VERSION}")
        expected = [[name, RECORD_DTYPE[name].str] for name in RECORD_DTYPE.names]
        if header.get("dtype") != expected:
            raise SumCacheError(f"{source}: record layout {header.get('dtype')} differs from {expected}")
        try:
            count = int(header["records"])
            runs = [str(r) for r in header["run_ids"]]
            run_id, keep_last = str(header["run_id"]), header["keep_last"]
            run_code = runs.index(run_id)
        except (KeyError, TypeError, ValueError) as e:
            raise SumCacheError(f"{source}: incomplete header ({e!r})") from None
        payload = data[h0 + hlen: len(data) - _DIGEST]
        if len(payload) != count * RECORD_DTYPE.itemsize:
            raise SumCacheError(f"{source}: {len(payload)} record bytes for {count} records "
                                f"of {RECORD_DTYPE.itemsize} bytes")
        rec = np.frombuffer(payload, RECORD_DTYPE)
        if count and (int(rec["run"].min()) < 0 or int(rec["run"].max()) >= len(runs)
                      or int(rec["regime"].min()) < 0 or int(rec["regime"].max()) >= len(REGIME_NAMES)):
            raise SumCacheError(f"{source}: records refer to unknown run ids or regimes")
        try:
            cache = cls(keep_last=keep_last, run_id=run_id)
        except (TypeError, ValueError) as e:
            raise SumCacheError(f"{source}: bad header value ({e})") from None
        cache._runs = runs
        cache._run_code = run_code
        cap = max(cache.initial_capacity, math.ceil(count * cache.growth), count + 1)
        cache._rec = np.zeros(cap, RECORD_DTYPE)
        cache._rec[:count] = rec
        cache._n = count
        cache._reindex()
        return cache

    def state(self) -> dict:
        """Plain dict for a training checkpoint: {"format", "version", "blob": bytes}."""
        return {"format": FORMAT, "version": VERSION, "blob": self.to_bytes()}

    @classmethod
    def from_state(cls, state: dict | bytes) -> "SumCache":
        """Inverse of :meth:`state` (also accepts the bare bytes of :meth:`to_bytes`)."""
        if isinstance(state, (bytes, bytearray, memoryview)):
            return cls.from_bytes(bytes(state), "sum cache state")
        if not isinstance(state, dict) or "blob" not in state:
            raise SumCacheError("sum cache state must be the dict returned by SumCache.state()")
        return cls.from_bytes(state["blob"], "sum cache state")

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically; the replaced file (if intact) becomes ``<path>.bak``."""
        path = Path(path)
        bak = backup_path(path)
        data = self.to_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            try:
                ok = _sha_ok(path.read_bytes())
            except OSError:
                ok = False
            if ok:
                tmp = _temp_beside(bak)
                try:
                    os.unlink(tmp)
                    try:
                        os.link(path, tmp)
                    except OSError:
                        shutil.copy2(path, tmp)
                    os.replace(tmp, bak)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            else:
                warnings.warn(f"sum cache {path} is damaged; it was not kept as the backup "
                              f"({bak} left as it was)", SumCacheWarning, stacklevel=2)
        tmp = _temp_beside(path)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SumCache":
        """Read and verify `path`; on damage use ``<path>.bak`` with a warning; both bad → SumCacheError."""
        path = Path(path)
        bak = backup_path(path)
        try:
            return cls.from_bytes(path.read_bytes(), str(path))
        except (OSError, SumCacheError) as e:
            main_err = e
        try:
            cache = cls.from_bytes(bak.read_bytes(), str(bak))
        except (OSError, SumCacheError) as e:
            raise SumCacheError(
                f"cannot load the sum cache: main file {path} ({main_err}) and backup {bak} ({e}) are both "
                f"unusable. Fix: restore {path.name} from the run's artifacts (e.g. `dvc checkout`), or delete "
                f"both files to start with an empty cache (training refills it)."
            ) from e
        warnings.warn(f"sum cache {path} is damaged or unreadable ({main_err}); the backup {bak} was used "
                      f"instead (the state of the save before)", SumCacheWarning, stacklevel=2)
        return cache

    def __repr__(self) -> str:
        return (f"SumCache({len(self)} records, {sum(len(v) for v in self._last.values())} neurons, "
                f"keep_last={self.keep_last}, run_id={self.run_id!r})")


def _temp_beside(path: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp
