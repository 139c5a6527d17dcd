"""`QuaternaryFilter`: the learned key -> bit map of a hashtron, as an immutable value.

A thin checked wrapper over the numba kernels in `kernels.filter`: it validates
what callers hand in (the kernels trust their input; a key given with both bits
would never settle there), deduplicates the map and keeps the bytes read-only so
that a filter can be shared and compared safely.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..kernels.filter import MAX_BYTES, filter_lookup_into, filter_make
from ..kernels.threads import threads_for

_U32_MAX = 0xFFFFFFFF


def _describe(a: np.ndarray) -> str:
    return f"dtype {a.dtype}, shape {a.shape}"


def _as_uint32(values, name: str) -> np.ndarray:
    """`values` as a uint32 array of the same shape, or a clear error saying why not."""
    a = np.asarray(values)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.uint32)
    if a.dtype.kind == "O":
        bad = [v for v in a.ravel() if not isinstance(v, numbers.Integral) or isinstance(v, bool)]
        if bad:
            raise TypeError(f"{name} must be integers in [0, 2**32), got {type(bad[0]).__name__} {bad[0]!r}")
        lo, hi = min(int(v) for v in a.ravel()), max(int(v) for v in a.ravel())
    elif a.dtype.kind in "iu":
        lo, hi = int(a.min()), int(a.max())
    else:
        raise TypeError(f"{name} must be integers in [0, 2**32), got an array of {_describe(a)}")
    if lo < 0 or hi > _U32_MAX:
        culprit = lo if lo < 0 else hi
        raise ValueError(f"{name} must be in [0, 2**32), got {culprit}")
    return a.astype(np.uint32)


def _as_bits(values, name: str) -> np.ndarray:
    """`values` as a uint8 array of 0/1 (bools accepted), or a clear error."""
    a = np.asarray(values)
    if a.dtype.kind == "b":
        return a.astype(np.uint8)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.uint8)
    if a.dtype.kind not in "iuO":
        raise TypeError(f"{name} must be 0/1 integers or bools, got an array of {_describe(a)}")
    flat = a.ravel()
    if a.dtype.kind == "O":
        wrong = [v for v in flat if not isinstance(v, numbers.Integral) or int(v) not in (0, 1)]
    else:
        wrong = flat[(flat != 0) & (flat != 1)]
    if len(wrong):
        culprit = wrong[0].item() if isinstance(wrong[0], np.generic) else wrong[0]
        raise ValueError(f"{name} must be 0 or 1, got {culprit!r}")
    return a.astype(np.uint8)


class QuaternaryFilter:
    """Immutable quaternary filter (DESIGN §1), byte-identical with neurlang/quaternary.

    Build it from a map with `build`, or wrap stored bytes with `from_bytes`.
    Keys never inserted answer an arbitrary but fixed bit: that is how a
    hashtron generalises, not an error.
    """

    __slots__ = ("_data",)

    def __init__(self, data: np.ndarray):
        """Wrap a 1-D uint8 array (copied, then frozen). Prefer `build` / `from_bytes`."""
        a = np.asarray(data)
        if a.dtype != np.uint8 or a.ndim != 1:
            raise TypeError(f"filter data must be a 1-D uint8 array, got {_describe(a)}")
        if a.shape[0] > MAX_BYTES:
            raise ValueError(f"filter data must be at most {MAX_BYTES} bytes (cells fit in 32 bits), got {a.shape[0]}")
        a = np.array(a, dtype=np.uint8, copy=True, order="C")
        a.flags.writeable = False
        self._data = a

    @classmethod
    def build(cls, keys, bits) -> "QuaternaryFilter":
        """Filter answering bits[i] for keys[i]; repeated (key, bit) pairs count once.

        Raises ValueError when a key is given with both bits: no filter can hold
        that, and the construction would never settle.
        """
        k = np.asarray(keys)
        b = np.asarray(bits)
        if k.ndim != 1 or b.ndim != 1:
            raise ValueError(f"keys and bits must be 1-D, got shapes {k.shape} and {b.shape}")
        if k.shape[0] != b.shape[0]:
            raise ValueError(f"keys and bits must have the same length, got {k.shape[0]} keys and {b.shape[0]} bits")
        k = _as_uint32(k, "keys")
        b = _as_bits(b, "bits")
        # One sort deduplicates and finds conflicts: (key, bit) pairs packed as 2*key + bit.
        # (Sort by hand: numpy 2's hash-based np.unique is ~10x slower on 10^6 keys.)
        pairs = np.sort(k.astype(np.uint64) * np.uint64(2) + b)
        if pairs.shape[0] > 1:
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        ukeys = pairs >> np.uint64(1)
        clash = ukeys[1:] == ukeys[:-1]
        if clash.any():
            bad = ukeys[1:][clash]
            more = f" (and {bad.shape[0] - 1} more such keys)" if bad.shape[0] > 1 else ""
            raise ValueError(f"key {int(bad[0])} is given with both bit 0 and bit 1{more}; each key needs one bit")
        ukeys = np.ascontiguousarray(ukeys.astype(np.uint32))
        ubits = np.ascontiguousarray((pairs & np.uint64(1)).astype(np.uint8))
        return cls(filter_make(ukeys, ubits))

    @classmethod
    def from_bytes(cls, data) -> "QuaternaryFilter":
        """Filter from its stored bytes (any bytes are a valid filter; empty answers x & 1)."""
        if isinstance(data, np.ndarray):
            return cls(data)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"from_bytes expects bytes, bytearray or memoryview, got {type(data).__name__}")
        return cls(np.frombuffer(bytes(data), dtype=np.uint8))

    def to_bytes(self) -> bytes:
        return self._data.tobytes()

    @property
    def data(self) -> np.ndarray:
        """The filter bytes as a read-only uint8 view (no copy)."""
        return self._data.view()

    def lookup(self, keys) -> np.ndarray:
        """Answer bit (uint8) of each key; the result has the shape of `keys` (0-d for a scalar)."""
        k = _as_uint32(keys, "keys")
        flat = np.ascontiguousarray(k.reshape(-1))
        out = np.empty(flat.shape[0], dtype=np.uint8)
        threads_for(flat.shape[0])
        filter_lookup_into(self._data, flat, out)
        return out.reshape(k.shape)

    def __len__(self) -> int:
        return self._data.shape[0]

    def __eq__(self, other) -> bool:
        if not isinstance(other, QuaternaryFilter):
            return NotImplemented
        return np.array_equal(self._data, other._data)

    def __hash__(self) -> int:
        return hash(self._data.tobytes())

    def __repr__(self) -> str:
        head = self._data[:8].tobytes().hex()
        return f"QuaternaryFilter({len(self)} bytes, {head}{'...' if len(self) > 8 else ''})"
