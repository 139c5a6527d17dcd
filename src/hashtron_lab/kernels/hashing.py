"""The one hash of the system, bit-exact with neurlang/classifier's `hash.Hash`.

Every step is masked back to 32 bits: inside numba `uint32` shifts and
subtractions widen to 64 bits (see shared/STACK.md), so we compute in uint64
and mask explicitly.
"""
import numpy as np
from numba import njit, prange

MASK32 = np.uint64(0xFFFFFFFF)


@njit("uint32(uint32, uint32, uint32)", cache=True, inline="always")
def hash32(n, s, max_):
    """hash(n, s, max): xor-shift mix of n-s, plus s, then Lemire's multiply-shift into [0, max)."""
    m = (np.uint64(n) - np.uint64(s)) & MASK32
    m ^= (m << np.uint64(2)) & MASK32
    m ^= (m << np.uint64(3)) & MASK32
    m ^= m >> np.uint64(5)
    m ^= m >> np.uint64(7)
    m ^= (m << np.uint64(11)) & MASK32
    m ^= (m << np.uint64(13)) & MASK32
    m ^= m >> np.uint64(17)
    m ^= (m << np.uint64(19)) & MASK32
    m = (m + np.uint64(s)) & MASK32
    return np.uint32((m * np.uint64(max_)) >> np.uint64(32))


@njit(cache=True, parallel=True)
def hash_into(n, s, max_, out):
    """Broadcast-free batched hash over equal-length 1-D arrays into a preallocated `out`."""
    for i in prange(out.shape[0]):
        out[i] = hash32(n[i], s[i], max_[i])


@njit(cache=True, parallel=True)
def hash_scalar_salt_into(n, s, max_, out):
    """Batched hash of an array with one salt and one modulus (the common case)."""
    for i in prange(out.shape[0]):
        out[i] = hash32(n[i], s, max_)
