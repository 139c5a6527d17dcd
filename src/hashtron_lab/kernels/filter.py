"""Quaternary filter kernels (bit-exact with neurlang/quaternary, DESIGN §1).

A filter is a uint8 array of 2-bit cells: 0 empty (answer = parity of the key),
1 false, 2 true, 3 collision (rotate the key right by one and hop again).
Keys here are uint32, so the `high` word of the Go 64-bit key is 0.
"""
import numpy as np
from numba import njit

from .hashing import hash32

MAX_HOPS = 64


@njit(cache=True, inline="always")
def _rotr1(x):
    return np.uint32(((np.uint64(x) >> np.uint64(1)) | (np.uint64(x) << np.uint64(31))) & np.uint64(0xFFFFFFFF))


@njit(cache=True)
def filter_lookup(fbytes, start, length, x):
    """Answer bit of key `x` in the filter stored at fbytes[start:start+length]."""
    x = np.uint32(x)
    if length == 0:
        return np.uint8(x & np.uint32(1))
    cells = np.uint32(4 * length)
    for i in range(MAX_HOPS):
        h = hash32(x, np.uint32(i), cells)
        cell = (fbytes[start + (h >> np.uint32(2))] >> np.uint8(2 * (h & np.uint32(3)))) & np.uint8(3)
        if cell == 0:
            return np.uint8(x & np.uint32(1))
        if cell == 1:
            return np.uint8(0)
        if cell == 2:
            return np.uint8(1)
        x = _rotr1(x)
    return np.uint8(0)
