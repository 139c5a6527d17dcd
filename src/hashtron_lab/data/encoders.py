"""Feature encoders: turn a dataset's columns or strings into uint32 features.

Plain functions (`byte_picker`, `thermometer`, `raw_integers`, `string_hash`,
`context_features`) check and convert their inputs once and call the numba kernels in
`hashtron_lab.kernels.encoders`. `make_encoder(cfg)` builds the encoder a dataset
config names (`encoding.kind` plus its parameters); it is fitted on the training split
only (thermometer quantiles, tuples' thresholds and random tuples) and then applied to
every split.

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
- ``tuples`` (``levels`` or ``quantiles``, ``tuple_size``, ``n_tuples``, ``window``,
  ``image_shape``, ``repeat``): n-tuple (WiSARD) addresses. Every (ordinal) column gives
  thermometer bits as above; ``n_tuples`` tuples of ``tuple_size`` bits are drawn at fit
  time (seeded), from all bits or, with ``window`` ρ and ``image_shape`` [h, w], from
  the pixels within Chebyshev distance ρ of a random centre pixel; feature r is the
  ``tuple_size``-bit address ``sum_j bit(tuple[r][j]) << j``. The features are tiled
  ``repeat`` times (column ``c·n_tuples + r`` is tuple r), one copy per discriminator.
  With ``select_pool`` k > 1, k·n_tuples candidates are drawn and the n_tuples that
  discriminate the training labels best (leave-one-out) are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kernels import encoders as K
from ..kernels.threads import threads_for
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
    threads_for(data.shape[0])
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
    threads_for(vals.shape[0])
    K.thermometer_into(vals, flat, offsets, out)
    if n_features is not None:
        return byte_picker(columns_to_bytes(out, [max(1, -(-k // 8)) for k in lens]), n_features)
    return out


def tuple_features(values: np.ndarray, thresholds, cols: np.ndarray, shifts: np.ndarray,
                   repeat: int = 1) -> np.ndarray:
    """n-tuple (WiSARD) addresses: float (n, d) -> uint32 (n, R·repeat).

    Bit ``(c, k)`` is ``value[c] >= thresholds[c][k]`` (the `thermometer` code of column
    c); tuple r reads bit ``(cols[r, j], shifts[r, j])`` for j < K (``cols``/``shifts``
    (R, K), K <= 32) and its feature is ``sum_j bit << j``. The R features are then tiled
    ``repeat`` times, column ``g·R + r`` = tuple r: a network with ``repeat`` groups of R
    neurons, one group per class, gives every class's group the same tuples — WiSARD's
    per-class discriminators all share one input-to-RAM mapping, so their RAMs compare
    the same addresses and only the learned contents differ.
    """
    codes = thermometer(values, thresholds)
    cols = np.ascontiguousarray(cols, dtype=np.int32)
    shifts = np.ascontiguousarray(shifts, dtype=np.uint32)
    if cols.ndim != 2 or cols.shape != shifts.shape or cols.shape[1] > 32:
        raise ValueError(f"tuple_features needs cols and shifts of one shape (R, K <= 32), got {cols.shape} and {shifts.shape}")
    out = np.empty((codes.shape[0], cols.shape[0]), dtype=np.uint32)
    threads_for(codes.shape[0])
    K.tuple_pack_into(codes, cols, shifts, out)
    if int(repeat) != 1:
        out = np.tile(out, (1, int(repeat)))
    return np.ascontiguousarray(out, dtype=np.uint32)


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
    threads_for(n)
    K.string_hash_into(codepoints, offsets, starts, out)
    return out


def codepoints_of(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated code points (uint32) and offsets (int64, len n+1) of a list of strings."""
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in strings], out=offsets[1:])
    codepoints = np.frombuffer("".join(strings).encode("utf-32-le"), dtype="<u4").astype(np.uint32)
    return codepoints, offsets


def context_features(text: TextColumns, window: int) -> np.ndarray:
    """G2P features, uint32 (n, 2·window + 1): grapheme, then (left k, right k) for k = 1..window."""
    out = np.empty((text.n_samples, 2 * int(window) + 1), dtype=np.uint32)
    threads_for(text.n_samples)
    K.context_hash_into(text.chars, text.word_begin, text.word_end, text.span_begin, text.span_end,
                        int(window), np.uint32(PAD_CODEPOINT), out)
    return out


def row_hash(features: np.ndarray, start=0xFFFFFFFF) -> np.ndarray:
    """String hash of each row of a uint32 matrix (used for parity words)."""
    feats = np.ascontiguousarray(features, dtype=np.uint32)
    out = np.empty(feats.shape[0], dtype=np.uint32)
    threads_for(feats.shape[0])
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

    def take(self, idx: np.ndarray) -> TableColumns:
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

    def take(self, idx: np.ndarray) -> TextColumns:
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
    "tuples": {"kind", "levels", "quantiles", "tuple_size", "n_tuples", "window", "image_shape", "repeat",
               "select_pool", "select_columns"},
}


def _positive_int(value, key, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"encoding.{key} must be a positive integer{' or null' if allow_none else ''}, got {value!r}")
    return int(value)


def _window(w, allow_none=False):
    if w is None and allow_none:
        return None
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
        raise DatasetError(f"encoding.window must be an integer >= 0{' or null' if allow_none else ''}, got {w!r}")
    return int(w)


def _check_thresholds(p: dict, kind: str) -> None:
    """Exactly one of ``levels`` (sorted into floats) or ``quantiles`` (a count), in place."""
    if (p["levels"] is None) == (p["quantiles"] is None):
        raise DatasetError(f"encoding.kind={kind} needs exactly one of encoding.levels "
                           f"(fixed thresholds, e.g. [4, 8, 12]) or encoding.quantiles (a count)")
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


def _check_tuples(p: dict) -> None:
    """tuple_size, n_tuples, window, image_shape and repeat of encoding.kind=tuples, in place."""
    k = p["tuple_size"]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 32:
        raise DatasetError(f"encoding.tuple_size must be an integer in 1..32 (the bits of a uint32 address), got {k!r}")
    p["tuple_size"] = int(k)
    if p["n_tuples"] is None:
        raise DatasetError("encoding.kind=tuples needs encoding.n_tuples (how many tuples, one feature each)")
    p["n_tuples"] = _positive_int(p["n_tuples"], "n_tuples")
    p["window"] = _window(p["window"], allow_none=True)
    shape = p["image_shape"]
    if shape is not None:
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2 or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in shape):
            raise DatasetError(f"encoding.image_shape must be null or two positive integers [height, width], got {shape!r}")
        p["image_shape"] = [int(v) for v in shape]
    if p["window"] is not None and p["image_shape"] is None:
        raise DatasetError(f"encoding.window={p['window']} needs encoding.image_shape [height, width] to place the "
                           f"columns on a grid. Fix: set encoding.image_shape (e.g. [8, 8] for digits), "
                           f"or set encoding.window to null (tuples from all bits).")
    p["repeat"] = 1 if p["repeat"] is None else _positive_int(p["repeat"], "repeat")
    p["select_pool"] = 1 if p["select_pool"] is None else _positive_int(p["select_pool"], "select_pool")
    p["select_columns"] = _positive_int(p["select_columns"], "select_columns", allow_none=True)


def draw_tuples(n_bits_per_column, tuple_size: int, n_tuples: int, rng: np.random.Generator,
                window: int | None = None, image_shape=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Random n-tuples over the thermometer bits: int64 (n_tuples, tuple_size) flat bit indices.

    Bit ``b`` is column ``c``'s threshold ``k`` for ``b = sum(n_bits_per_column[:c]) + k``.
    Without ``window`` each tuple is ``tuple_size`` distinct bits drawn from all bits; with
    ``window`` ρ and ``image_shape`` (h, w) (column ``c`` is pixel ``(c // w, c % w)``) a
    centre pixel is drawn among the pixels with bits, and the tuple from the bits of the
    pixels within Chebyshev distance ρ of it. Bits repeat within a tuple only when fewer
    than ``tuple_size`` candidates exist. Returns the tuples and the centres (or None).
    """
    counts = np.asarray(n_bits_per_column, dtype=np.int64)
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    tuples = np.empty((int(n_tuples), int(tuple_size)), dtype=np.int64)
    if window is None:
        n_bits = int(offsets[-1])
        for r in range(n_tuples):
            tuples[r] = rng.choice(n_bits, size=tuple_size, replace=n_bits < tuple_size)
        return tuples, None
    rows, cols = np.divmod(np.arange(counts.shape[0]), int(image_shape[1]))
    with_bits = np.nonzero(counts > 0)[0]
    centres = rng.choice(with_bits, size=n_tuples)
    for r, c in enumerate(centres):
        near = np.nonzero((np.abs(rows - rows[c]) <= window) & (np.abs(cols - cols[c]) <= window) & (counts > 0))[0]
        cand = np.concatenate([np.arange(offsets[p], offsets[p + 1]) for p in near])
        tuples[r] = cand[rng.choice(cand.shape[0], size=tuple_size, replace=cand.shape[0] < tuple_size)]
    return tuples, centres


def column_information(values: np.ndarray, thresholds, labels: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between each column's thermometer level (how many of its
    thresholds the value passes) and the label, on the training rows: float (d,).

    Tuples drawn from every column of a wide table mostly address uninformative columns; ranking
    columns by what their levels say about the label keeps the tuples on the ones that matter
    (docs/decisions.md, the tabular scale series)."""
    vals = np.asarray(values, dtype=np.float64)
    y = np.ascontiguousarray(labels, dtype=np.int64)
    C = int(y.max(initial=0)) + 1
    n = y.shape[0]
    py = np.bincount(y, minlength=C) / max(n, 1)
    out = np.zeros(vals.shape[1], dtype=np.float64)
    for c, thr in enumerate(thresholds):
        t = np.asarray(thr, dtype=np.float64)
        if t.shape[0] == 0 or n == 0:
            continue
        level = np.searchsorted(t, vals[:, c], side="right")  # thresholds passed (sorted thresholds)
        joint = np.bincount(level * C + y, minlength=(t.shape[0] + 1) * C).reshape(-1, C) / n
        px = joint.sum(axis=1, keepdims=True)
        nz = joint > 0
        out[c] = float(np.sum(joint[nz] * np.log(joint[nz] / (px * py[None, :])[nz])))
    return out


def select_tuples(values: np.ndarray, thresholds, cols: np.ndarray, shifts: np.ndarray, labels: np.ndarray,
                  n_keep: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices ascending, scores): the ``n_keep`` candidate tuples that discriminate best on the
    training rows, and every candidate's score.

    A tuple's score is the leave-one-out agreement of its class RAMs with the labels (see
    `kernels.encoders.tuple_scores_into`): the share of rows whose address another row of their
    class also has, minus the share whose address a row of another class has. Random tuples over
    weak columns mostly address noise; keeping the best of a larger draw trades a few points of
    training fit for fewer such RAMs (docs/decisions.md D27). Ties keep the earlier draw.
    """
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.shape[0] != values.shape[0]:
        raise ValueError(f"select_tuples needs one label per training row: {values.shape[0]} rows, "
                         f"labels of shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"select_tuples needs class indices >= 0, got {int(labels.min())}")
    addr = tuple_features(values, thresholds, cols, shifts)
    scores = np.zeros(addr.shape[1], dtype=np.float64)
    threads_for(addr.shape[0] * addr.shape[1])  # one task per tuple, each over every row
    K.tuple_scores_into(addr, labels, int(labels.max(initial=0)) + 1, scores)
    best = np.argsort(-scores, kind="stable")[:int(n_keep)]
    return np.sort(best), scores


@dataclass
class Encoder:
    """An encoding chosen by config; ``fit`` on the training split, then ``transform`` any split."""
    kind: str
    params: dict
    fitted: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_config(cls, cfg) -> Encoder:
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
            _check_thresholds(p, kind)
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        elif kind == "raw":
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        elif kind == "context":
            p["window"] = _window(p["window"])
            p["n_features"] = _positive_int(p["n_features"], "n_features", allow_none=True)
        elif kind == "tuples":
            _check_thresholds(p, kind)
            _check_tuples(p)
        return cls(kind, p)

    # -- fitting ---------------------------------------------------------------
    def check_source(self, cols, where: str) -> None:
        text = isinstance(cols, TextColumns)
        if text and self.kind != "context":
            raise DatasetError(f"{where} gives grapheme samples: encoding.kind must be 'context', got {self.kind!r}")
        if not text and self.kind == "context":
            raise DatasetError(f"{where} gives numeric columns: encoding.kind 'context' is for grapheme datasets; "
                               f"use one of byte_picker, thermometer, raw, tuples")
        if not text and self.kind == "tuples":
            _check_ordinal(cols, where)
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

    def fit(self, train, full, rng: np.random.Generator | None = None, labels: np.ndarray | None = None) -> Encoder:
        """Fit on the training split; ``full`` (every row) only fixes byte widths.

        ``rng`` draws the random tuples of encoding.kind=tuples (required for that kind;
        `load_dataset` passes one derived from its seed); the other kinds ignore it.
        ``labels`` (class indices of the training rows) are read only by tuples with
        ``select_pool`` > 1, which keep the candidate tuples that discriminate best.
        """
        if self.kind == "tuples":
            self._fit_tuples(train, rng, labels)
        elif self.kind == "thermometer":
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

    def _fit_tuples(self, train, rng, labels) -> None:
        """Thresholds (as thermometer) and ``n_tuples`` random tuples of their bits (the best
        ``n_tuples`` of ``select_pool · n_tuples`` drawn, by `select_tuples`, when the pool is > 1).

        ``fitted["tuples"]`` holds flat bit indices (see `draw_tuples`): bit ``b`` is column
        ``c``'s threshold ``k`` for ``b = sum(n_bits[:c]) + k``, with ``fitted["n_bits"]``
        the bits per column (threshold counts).
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError("encoding.kind=tuples draws its tuples at random: Encoder.fit needs "
                            "rng=np.random.Generator (load_dataset passes np.random.default_rng([seed, 3])), "
                            f"got {rng!r}")
        _check_ordinal(train, "the training split")
        d = train.values.shape[1]
        if self.params["levels"] is not None:
            thr = [np.asarray(self.params["levels"], dtype=np.float64) for _ in range(d)]
        else:
            thr = quantile_thresholds(train.values, self.params["quantiles"]) if d else []
            self.fitted["thresholds"] = {train.names[c]: [float(v) for v in thr[c]] for c in range(d)}
        n_bits = [len(t) for t in thr]
        if sum(n_bits) == 0:
            raise DatasetError("encoding.kind=tuples found no bits: every column is constant on the training split, "
                               "so every quantile threshold was dropped. Fix: check the data, or set encoding.levels.")
        window, shape = self.params["window"], self.params["image_shape"]
        if window is not None and shape[0] * shape[1] != d:
            raise DatasetError(f"encoding.image_shape {shape} has {shape[0] * shape[1]} pixels but the dataset has "
                               f"{d} columns. Fix: set encoding.image_shape to [height, width] with "
                               f"height * width = {d}.")
        pool, n_tuples, top = self.params["select_pool"], self.params["n_tuples"], self.params["select_columns"]
        if (pool > 1 or top is not None) and labels is None:
            what = f"select_pool={pool} chooses tuples" if pool > 1 else f"select_columns={top} chooses columns"
            raise TypeError(f"encoding.{what} by the training labels: Encoder.fit needs "
                            "labels= (class indices of the training rows; load_dataset passes them)")
        if top is not None and top < d:
            info = column_information(train.values, thr, labels)
            keep_cols = np.sort(np.argsort(-info, kind="stable")[:top])
            n_bits = [b if c in set(keep_cols.tolist()) else 0 for c, b in enumerate(n_bits)]
            self.fitted["columns"] = {"kept": [train.names[c] for c in keep_cols],
                                      "information": [float(info[c]) for c in keep_cols]}
            if sum(n_bits) == 0:
                raise DatasetError(f"encoding.select_columns={top} kept only constant columns: no bits to draw. "
                                   f"Fix: raise select_columns or check the data.")
        tuples, centres = draw_tuples(n_bits, self.params["tuple_size"], pool * n_tuples, rng, window, shape)
        offsets = np.zeros(d + 1, dtype=np.int64)
        np.cumsum(n_bits, out=offsets[1:])
        col = np.searchsorted(offsets, tuples, side="right") - 1
        shifts = tuples - offsets[col]
        if pool > 1:
            keep, scores = select_tuples(train.values, thr, col, shifts, labels, n_tuples)
            tuples, col, shifts = tuples[keep], col[keep], shifts[keep]
            centres = None if centres is None else centres[keep]
            self.fitted["selection"] = {"candidates": int(scores.shape[0]), "mean_score": float(scores.mean()),
                                        "kept_mean_score": float(scores[keep].mean())}
        self._thr = thr
        self._cols = np.ascontiguousarray(col, dtype=np.int32)
        self._shifts = np.ascontiguousarray(shifts, dtype=np.uint32)
        self.fitted["n_bits"] = n_bits
        self.fitted["tuples"] = tuples.tolist()
        if centres is not None:
            self.fitted["centres"] = [int(c) for c in centres]

    # -- transforming ---------------------------------------------------------
    def transform(self, cols) -> np.ndarray:
        if self.kind == "tuples":
            return tuple_features(cols.values, self._thr, self._cols, self._shifts, self.params["repeat"])
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


def _check_ordinal(cols: TableColumns, where: str) -> None:
    other = [n for n, k in zip(cols.names, cols.kinds) if k != ORDINAL]
    if other:
        raise DatasetError(f"{where}: encoding.kind=tuples needs ordinal (thresholded) columns, but {other[:10]}"
                           f"{f' and {len(other) - 10} more' if len(other) > 10 else ''} are integer or category "
                           f"columns. Fix: use encoding.kind=thermometer (it passes such columns through).")


def _is_integral(col: np.ndarray) -> bool:
    finite = col[np.isfinite(col)]
    return bool(np.all(np.floor(finite) == finite))
