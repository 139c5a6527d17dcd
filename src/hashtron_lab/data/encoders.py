"""Feature encoders: turn a dataset's columns or strings into uint32 features.

Plain functions (`byte_picker`, `thermometer`, `raw_integers`, `string_hash`,
`context_features`) check and convert their inputs once and call the numba kernels in
`hashtron_lab.kernels.encoders`. `make_encoder(cfg)` builds the encoder a dataset
config names (`encoding.kind` plus its parameters); it is fitted on the training split
only (thermometer quantiles) and then applied to every split.

Encodings (`encoding.kind`):

- ``byte_picker`` (``n_features``, ``bytes_per_column``): each integer column becomes
  little-endian bytes (``bytes_per_column`` of them, or as many as its largest value
  needs); feature ``n`` = xor over ``j < 4`` of ``byte[hash(n, j, L)] << 8j`` — the Go
  library's ``ByteSample.Feature``.
- ``thermometer`` (``levels`` or ``quantiles``, ``n_features``): bit ``k`` of an ordinal
  column's feature is ``value >= threshold_k``; thresholds are fixed ``levels`` (e.g.
  pixels ``[4, 8, 12]``) or ``quantiles`` thresholds at training-split quantiles.
  Integer and category columns pass through as their value or code. With
  ``n_features`` set, the packed codes are then byte-picked into that many features.
- ``raw``: integer columns as they are, one feature per column.
- ``context`` (``window``, ``n_features``): for grapheme samples: the grapheme, then
  its left and right contexts of 1..window characters, each a string hash (``h =
  hash(h, codepoint, 0xffffffff)`` from the feature's index); ``2·window + 1``
  features, or byte-picked into ``n_features``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kernels import encoders as K
from .errors import DatasetError

MAX_THRESHOLDS = 32
PAD_CODEPOINT = 0  # what a context reads past the start or end of a word


# ---------------------------------------------------------------------------
# plain encoder functions
# ---------------------------------------------------------------------------
def byte_pick_index(n_features: int, length: int) -> np.ndarray:
    """(n_features, 4) uint32: byte j of feature n is byte hash(n, j, length)."""
    out = np.empty((int(n_features), 4), dtype=np.uint32)
    K.byte_pick_index_into(np.uint32(length), out)
    return out


def byte_picker(bytes_matrix: np.ndarray, n_features: int) -> np.ndarray:
    """uint8 (n, L) -> uint32 (n, n_features): feature n = xor_j byte[hash(n, j, L)] << 8j."""
    data = np.ascontiguousarray(bytes_matrix)
    if data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"byte_picker needs a 2-D uint8 matrix, got {data.dtype} with shape {data.shape}")
    if data.shape[1] == 0:
        raise ValueError("byte_picker needs at least one byte per row, got 0 columns")
    if int(n_features) < 1:
        raise ValueError(f"byte_picker needs n_features >= 1, got {n_features}")
    out = np.empty((data.shape[0], int(n_features)), dtype=np.uint32)
    K.byte_pick_into(data, byte_pick_index(n_features, data.shape[1]), out)
    return out


def thermometer(values: np.ndarray, thresholds, n_features: int | None = None) -> np.ndarray:
    """float (n, d) and one sorted threshold array per column -> uint32 (n, d).

    Bit k of column c's feature is set when ``value >= thresholds[c][k]``; with sorted
    thresholds that is a thermometer code (0, 1, 3, 7, ...). With ``n_features`` the
    codes (one byte per 8 thresholds of a column) are then byte-picked: uint32 (n, n_features).
    """
    vals = np.ascontiguousarray(values, dtype=np.float64)
    if vals.ndim != 2:
        raise ValueError(f"thermometer needs a 2-D matrix, got shape {vals.shape}")
    if len(thresholds) != vals.shape[1]:
        raise ValueError(f"thermometer got {len(thresholds)} threshold arrays for {vals.shape[1]} columns")
    lens = [len(t) for t in thresholds]
    if lens and max(lens) > MAX_THRESHOLDS:
        raise ValueError(f"a uint32 feature holds at most {MAX_THRESHOLDS} thresholds, got {max(lens)}")
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    flat = (np.concatenate([np.asarray(t, dtype=np.float64) for t in thresholds])
            if lens else np.zeros(0, dtype=np.float64))
    out = np.empty(vals.shape, dtype=np.uint32)
    K.thermometer_into(vals, flat, offsets, out)
    if n_features is not None:
        return byte_picker(columns_to_bytes(out, [max(1, -(-k // 8)) for k in lens]), n_features)
    return out


def raw_integers(values: np.ndarray, columns=None) -> np.ndarray:
    """Integer-valued matrix -> uint32 matrix; refuses fractions, negatives and values >= 2**32."""
    vals = np.asarray(values)
    _check_integral(vals, columns)
    return np.ascontiguousarray(vals.astype(np.uint32))


def string_hash(strings, start=0) -> np.ndarray:
    """String hash of each string: ``h = hash(h, codepoint, 0xffffffff)`` from ``start``.

    ``strings`` is a sequence of str, or a pair ``(codepoints uint32, offsets int64)``
    where string i is ``codepoints[offsets[i]:offsets[i+1]]``. ``start`` is one value or
    one per string.
    """
    if isinstance(strings, tuple) and len(strings) == 2 and isinstance(strings[0], np.ndarray):
        codepoints, offsets = strings
        codepoints = np.ascontiguousarray(codepoints, dtype=np.uint32)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    else:
        codepoints, offsets = codepoints_of(list(strings))
    n = offsets.shape[0] - 1
    starts = np.broadcast_to(np.asarray(start, dtype=np.uint32), (n,)).copy()
    out = np.empty(n, dtype=np.uint32)
    K.string_hash_into(codepoints, offsets, starts, out)
    return out


def codepoints_of(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated code points (uint32) and offsets (int64, len n+1) of a list of strings."""
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in strings], out=offsets[1:])
    codepoints = np.frombuffer("".join(strings).encode("utf-32-le"), dtype="<u4").astype(np.uint32)
    return codepoints, offsets


def context_features(text: "TextColumns", window: int) -> np.ndarray:
    """G2P features, uint32 (n, 2·window + 1): grapheme, then (left k, right k) for k = 1..window."""
    out = np.empty((text.n_samples, 2 * int(window) + 1), dtype=np.uint32)
    K.context_hash_into(text.chars, text.word_begin, text.word_end, text.span_begin, text.span_end,
                        int(window), np.uint32(PAD_CODEPOINT), out)
    return out


def row_hash(features: np.ndarray, start=0xFFFFFFFF) -> np.ndarray:
    """String hash of each row of a uint32 matrix (used for parity words)."""
    feats = np.ascontiguousarray(features, dtype=np.uint32)
    out = np.empty(feats.shape[0], dtype=np.uint32)
    K.row_hash_into(feats, np.uint32(start), out)
    return out


def quantile_thresholds(train_values: np.ndarray, n_thresholds: int) -> list[np.ndarray]:
    """Thresholds at quantiles i/(k+1), i = 1..k, of each column of the training rows.

    Repeated thresholds are merged and thresholds every training value passes are
    dropped (they would be constant bits), so a column may get fewer than k.
    """
    vals = np.asarray(train_values, dtype=np.float64)
    qs = np.arange(1, n_thresholds + 1) / (n_thresholds + 1)
    if vals.shape[0] == 0:
        raise ValueError("cannot fit quantile thresholds on an empty training split")
    table = np.quantile(vals, qs, axis=0)  # (k, d)
    lows = vals.min(axis=0)
    return [np.unique(table[:, c][table[:, c] > lows[c]]) for c in range(vals.shape[1])]


def bytes_needed(max_values: np.ndarray) -> np.ndarray:
    """Little-endian bytes needed per column for values up to max_values (at least 1)."""
    mx = np.asarray(max_values, dtype=np.uint64)
    widths = np.ones(mx.shape, dtype=np.int64)
    for w in (1, 2, 3):
        widths[mx >= (np.uint64(1) << np.uint64(8 * w))] = w + 1
    return widths


def columns_to_bytes(features: np.ndarray, widths) -> np.ndarray:
    """uint32 (n, d) -> uint8 (n, sum(widths)): the low widths[c] bytes of column c, little-endian."""
    feats = np.ascontiguousarray(features, dtype="<u4")
    n, d = feats.shape
    select = np.concatenate([4 * c + np.arange(int(w)) for c, w in enumerate(widths)]) if d else np.zeros(0, int)
    return np.ascontiguousarray(feats.view(np.uint8).reshape(n, 4 * d)[:, select])


def _check_integral(vals: np.ndarray, columns=None, what="raw") -> None:
    if vals.size == 0:
        return
    bad = ~np.isfinite(vals) if vals.dtype.kind == "f" else np.zeros(vals.shape, bool)
    if vals.dtype.kind == "f":
        bad |= np.isfinite(vals) & (np.floor(vals) != vals)
    bad |= (vals < 0) | (vals >= 2 ** 32)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        name = columns[c] if columns is not None else f"column {c}"
        raise DatasetError(
            f"encoding '{what}' needs integers in [0, 2**32); {name!s} row {r} holds {vals[r, c]!r}. "
            f"Fix: use encoding.kind=thermometer to quantise it, or declare it categorical.")


# ---------------------------------------------------------------------------
# the dataset-side column containers the encoders read
# ---------------------------------------------------------------------------
ORDINAL, INTEGER, CATEGORY = "ordinal", "integer", "category"


@dataclass
class TableColumns:
    """Numeric columns. ``kinds[c]``: ``ordinal`` (thermometer thresholds apply),
    ``integer`` (used as is) or ``category`` (a code 0..k-1)."""
    values: np.ndarray            # (n, d) float64; integer kinds hold whole numbers
    kinds: list[str]
    names: list[str]

    @property
    def n_samples(self) -> int:
        return self.values.shape[0]

    def take(self, idx: np.ndarray) -> "TableColumns":
        return TableColumns(np.ascontiguousarray(self.values[idx]), self.kinds, self.names)


@dataclass
class TextColumns:
    """Grapheme samples: sample i is ``chars[span_begin[i]:span_end[i]]`` in the word
    ``chars[word_begin[i]:word_end[i]]`` (all positions index the shared ``chars``)."""
    chars: np.ndarray             # uint32 code points of every word, concatenated
    word_begin: np.ndarray        # int64 (n,)
    word_end: np.ndarray
    span_begin: np.ndarray
    span_end: np.ndarray

    @property
    def n_samples(self) -> int:
        return self.span_begin.shape[0]

    def take(self, idx: np.ndarray) -> "TextColumns":
        return TextColumns(self.chars, self.word_begin[idx], self.word_end[idx],
                           self.span_begin[idx], self.span_end[idx])


# ---------------------------------------------------------------------------
# config-driven encoders
# ---------------------------------------------------------------------------
ENCODING_KEYS = {
    "byte_picker": {"kind", "n_features", "bytes_per_column"},
    "thermometer": {"kind", "levels", "quantiles", "n_features"},
    "raw": {"kind", "n_features"},
    "context": {"kind", "window", "n_features"},
}


def _positive_int(value, key, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"encoding.{key} must be a positive integer{' or null' if allow_none else ''}, got {value!r}")
    return int(value)


@dataclass
class Encoder:
    """An encoding chosen by config; ``fit`` on the training split, then ``transform`` any split."""
    kind: str
    params: dict
    fitted: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_config(cls, cfg) -> "Encoder":
        if not isinstance(cfg, dict) or "kind" not in cfg:
            raise DatasetError(f"encoding must be a mapping with a 'kind' key (one of {sorted(ENCODING_KEYS)}), got {cfg!r}")
        kind = cfg["kind"]
        if kind not in ENCODING_KEYS:
            raise DatasetError(f"unknown encoding.kind {kind!r}; valid kinds: {sorted(ENCODING_KEYS)}")
        unknown = set(cfg) - ENCODING_KEYS[kind]
        if unknown:
            raise DatasetError(f"unknown key(s) {sorted(unknown)} for encoding.kind={kind}; "
                               f"valid keys: {sorted(ENCODING_KEYS[kind])}")
        p = {k: cfg.get(k) for k in sorted(ENCODING_KEYS[kind]) if k != "kind"}
        if kind == "byte_picker":
            if p["n_features"] is None:
                raise DatasetError("encoding.kind=byte_picker needs encoding.n_features (the first layer's width)")
            p["n_features"] = _positive_int(p["n_features"], "n_features")
            if p["bytes_per_column"] not in (None, 1, 2, 3, 4):
                raise DatasetError(f"encoding.bytes_per_column must be null (as needed) or 1..4, got {p['bytes_per_column']!r}")
        elif kind == "thermometer":
            if (p["levels"] is None) == (p["quantiles"] is None):
                raise DatasetError("encoding.kind=thermometer needs exactly one of encoding.levels "
                                   "(fixed thresholds, e.g. [4, 8, 12]) or encoding.quantiles (a count)")
            if p["levels"] is not None:
                levels = list(p["levels"]) if not isinstance(p["levels"], (str, bytes)) else None
                if not levels or len(levels) > MAX_THRESHOLDS or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in levels):
                    raise DatasetError(f"encoding.levels must be a list of 1..{MAX_THRESHOLDS} numbers, got {p['levels']!r}")
                p["levels"] = sorted(float(v) for v in levels)
            else:
                q = _positive_int(p["quantiles"], "quantiles")
                if q > MAX_THRESHOLDS:
                    raise DatasetError(f"encoding.quantiles must be at most {MAX_THRESHOLDS}, got {q}")
                p["quantiles"] = q
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        elif kind == "raw":
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        elif kind == "context":
            w = p["window"]
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
                raise DatasetError(f"encoding.window must be an integer >= 0, got {w!r}")
            p["window"] = int(w)
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        return cls(kind, p)

    # -- fitting ---------------------------------------------------------------
    def check_source(self, cols, where: str) -> None:
        text = isinstance(cols, TextColumns)
        if text and self.kind != "context":
            raise DatasetError(f"{where} gives grapheme samples: encoding.kind must be 'context', got {self.kind!r}")
        if not text and self.kind == "context":
            raise DatasetError(f"{where} gives numeric columns: encoding.kind 'context' is for grapheme datasets; "
                               f"use one of byte_picker, thermometer, raw")
        if not text and self.kind in ("raw", "byte_picker"):
            floats = [n for n, k in zip(cols.names, cols.kinds) if k == ORDINAL and not _is_integral(cols.values[:, cols.names.index(n)])]
            if floats:
                raise DatasetError(f"{where}: encoding.kind={self.kind} needs integer columns, but {floats[:5]} hold fractions. "
                                   f"Fix: use encoding.kind=thermometer (quantiles) for float columns.")
            _check_integral(cols.values, cols.names, self.kind)
        if not text and self.kind == "raw" and self.params["n_features"] not in (None, cols.values.shape[1]):
            raise DatasetError(f"{where}: encoding.kind=raw gives one feature per column ({cols.values.shape[1]}), "
                               f"but encoding.n_features={self.params['n_features']}. Fix: set n_features to null, "
                               f"or use byte_picker to get {self.params['n_features']} features.")

    def fit(self, train, full) -> "Encoder":
        """Fit on the training split; ``full`` (every row) only fixes byte widths."""
        if self.kind == "thermometer":
            ordinal = [c for c, k in enumerate(train.kinds) if k == ORDINAL]
            if self.params["levels"] is not None:
                thr = {c: np.asarray(self.params["levels"]) for c in ordinal}
            else:
                fitted = quantile_thresholds(train.values[:, ordinal], self.params["quantiles"]) if ordinal else []
                thr = dict(zip(ordinal, fitted))
            if self.params["quantiles"] is not None:  # fixed levels are already in params
                self.fitted["thresholds"] = {train.names[c]: [float(v) for v in thr[c]] for c in ordinal}
            self.fitted["thresholded_columns"] = len(ordinal)
            self._thr = thr
            if self.params["n_features"] is not None:
                widths = []
                for c, k in enumerate(train.kinds):
                    if k == ORDINAL:
                        widths.append(max(1, -(-len(thr[c]) // 8)))
                    else:
                        widths.append(int(bytes_needed(np.array([full.values[:, c].max(initial=0)]))[0]))
                self.fitted["bytes_per_column"] = widths
        elif self.kind == "byte_picker":
            d = full.values.shape[1]
            if self.params["bytes_per_column"] is None:
                widths = bytes_needed(full.values.max(axis=0, initial=0)).tolist()
            else:
                widths = [self.params["bytes_per_column"]] * d
                limit = 2 ** (8 * self.params["bytes_per_column"])
                too_big = np.nonzero(full.values.max(axis=0, initial=0) >= limit)[0]
                if too_big.size:
                    raise DatasetError(f"column {full.names[too_big[0]]!r} holds values >= {limit}, more than "
                                       f"encoding.bytes_per_column={self.params['bytes_per_column']} bytes. "
                                       f"Fix: set encoding.bytes_per_column to null (as needed) or larger.")
            self.fitted["bytes_per_column"] = [int(w) for w in widths]
        return self

    # -- transforming ---------------------------------------------------------
    def transform(self, cols) -> np.ndarray:
        if self.kind == "context":
            feats = context_features(cols, self.params["window"])
            if self.params["n_features"] is not None:
                feats = byte_picker(columns_to_bytes(feats, [4] * feats.shape[1]), self.params["n_features"])
            return np.ascontiguousarray(feats, dtype=np.uint32)
        if self.kind == "raw":
            return raw_integers(cols.values, cols.names)
        if self.kind == "byte_picker":
            ints = raw_integers(cols.values, cols.names)
            return byte_picker(columns_to_bytes(ints, self.fitted["bytes_per_column"]), self.params["n_features"])
        # thermometer: ordinal columns are coded, integer/category columns pass through
        feats = np.empty(cols.values.shape, dtype=np.uint32)
        ordinal = [c for c, k in enumerate(cols.kinds) if k == ORDINAL]
        other = [c for c, k in enumerate(cols.kinds) if k != ORDINAL]
        if ordinal:
            feats[:, ordinal] = thermometer(cols.values[:, ordinal], [self._thr[c] for c in ordinal])
        if other:
            feats[:, other] = raw_integers(cols.values[:, other], [cols.names[c] for c in other])
        if self.params["n_features"] is not None:
            feats = byte_picker(columns_to_bytes(feats, self.fitted["bytes_per_column"]), self.params["n_features"])
        return np.ascontiguousarray(feats)

    def describe(self) -> dict:
        return {"kind": self.kind, **self.params, **self.fitted}


def _is_integral(col: np.ndarray) -> bool:
    finite = col[np.isfinite(col)]
    return bool(np.all(np.floor(finite) == finite))
