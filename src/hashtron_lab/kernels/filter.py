"""Quaternary filter kernels (bit-exact with neurlang/quaternary, DESIGN §1).

A filter is a uint8 array of 2-bit cells: 0 empty (answer = parity of the key),
1 false, 2 true, 3 collision (rotate the key right by one and hop again).
Keys here are uint32, so the `high` word of the Go 64-bit key is 0.
"""
import numpy as np
from numba import njit, prange

from .hashing import hash32

MAX_HOPS = 64


@njit(cache=True, inline="always")
def _rotr1(x):
    return np.uint32(((np.uint64(x) >> np.uint64(1)) | (np.uint64(x) << np.uint64(31))) & np.uint64(0xFFFFFFFF))


@njit(cache=True, inline="always")
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


# Largest filter whose cell count still fits the uint32 modulus of hash32.
MAX_BYTES = (1 << 30) - 1


@njit(cache=True, inline="always")
def _cell(fbytes, h):
    """2-bit cell `h` of the filter (cell h lives in byte h>>2 at bit 2*(h&3))."""
    return (fbytes[h >> np.uint32(2)] >> np.uint8(2 * (h & np.uint32(3)))) & np.uint8(3)


@njit(cache=True, inline="always")
def _set_cell(fbytes, h, v):
    """Overwrite cell `h` with value `v` (0..3), leaving its three neighbours alone."""
    i = h >> np.uint32(2)
    shift = np.uint32(2 * (h & np.uint32(3)))
    keep = np.uint32(fbytes[i]) & ~(np.uint32(3) << shift)
    fbytes[i] = np.uint8((keep | (np.uint32(v) << shift)) & np.uint32(0xFF))


@njit(cache=True, inline="always")
def _insert(fbytes, x, bit, changed):
    """Insert `x -> bit`: the cells written go to changed[:count].

    Returns (count, exhausted, terminal): `exhausted` is 1 when all 64 hops
    were used, `terminal` the cell where the walk stopped (-1 if exhausted).
    Every cell passed on the way is 3 and stays 3, so whether re-inserting the
    key would change anything depends on its terminal cell alone.
    """
    x = np.uint32(x)
    want = np.uint8(1) if bit else np.uint8(0)
    cells = np.uint32(4 * fbytes.shape[0])
    count = 0
    for i in range(MAX_HOPS):
        h = hash32(x, np.uint32(i), cells)
        cell = _cell(fbytes, h)
        if cell == 0:
            if want != np.uint8(x & np.uint32(1)):
                _set_cell(fbytes, h, want + np.uint8(1))
                changed[count] = h
                count += 1
            return count, 0, np.int64(h)
        if cell == want + np.uint8(1):
            return count, 0, np.int64(h)
        if cell != 3:
            _set_cell(fbytes, h, np.uint8(3))
            changed[count] = h
            count += 1
        x = _rotr1(x)
    return count, 1, np.int64(-1)


@njit(cache=True)
def filter_insert(fbytes, x, bit):
    """Insert `x -> bit` into a non-empty filter in place; return the number of writes.

    The write count is what `filter_make` budgets: a filter that needs too many
    writes (running out of hops counts as one extra write) is too small.
    Cells only ever move upward (0 -> 1|2 -> 3), which is why construction is
    independent of insertion order.
    """
    changed = np.empty(MAX_HOPS, dtype=np.int64)
    count, exhausted, _ = _insert(fbytes, x, bit, changed)
    return count + exhausted


@njit(cache=True, inline="always")
def _grow(k):
    """Growth step of the Go library: k -> (3k+1) div 2."""
    return (3 * k + 1) // 2


@njit(cache=True)
def _fits(fbytes, keys, bits, max_load):
    """Go's insertion passes: True once a pass writes nothing, False when the budget is spent.

    Exactly the same sequence of writes as re-inserting every key in every
    pass, but a key is only re-inserted when that could write: when it ran out
    of hops, or when its terminal cell changed since its last insertion (it is
    then due later in this pass, or in the next one if its turn has passed).
    Keys are chained per terminal cell (head/nxt/prv) to find them.
    Also exact: a pass that only counts exhausted hops leaves the filter as it
    was, so Go would repeat it until the budget runs out; we stop at once.
    """
    n = keys.shape[0]
    head = np.full(4 * fbytes.shape[0], -1, dtype=np.int32)
    nxt = np.full(n, -1, dtype=np.int32)
    prv = np.full(n, -1, dtype=np.int32)
    term = np.full(n, -1, dtype=np.int64)
    due = np.zeros(n, dtype=np.int32)  # key j is inserted in pass due[j]
    changed = np.empty(MAX_HOPS, dtype=np.int64)
    load = 0
    p = 0
    while True:
        pass_writes = 0
        pass_cells = 0
        for j in range(n):
            if due[j] != p:
                continue
            count, exhausted, t = _insert(fbytes, keys[j], bits[j], changed)
            if t != term[j]:
                old = term[j]
                if old >= 0:  # unlink j from its old cell's chain
                    if prv[j] >= 0:
                        nxt[prv[j]] = nxt[j]
                    else:
                        head[old] = nxt[j]
                    if nxt[j] >= 0:
                        prv[nxt[j]] = prv[j]
                if t >= 0:
                    prv[j] = -1
                    nxt[j] = head[t]
                    if head[t] >= 0:
                        prv[head[t]] = j
                    head[t] = j
                term[j] = t
            if exhausted:
                due[j] = p + 1
            for c in range(count):
                k = head[changed[c]]
                while k >= 0:
                    if k != j:
                        due[k] = p if k > j else p + 1
                    k = nxt[k]
            w = count + exhausted
            if w > 0:
                pass_writes += w
                pass_cells += count
                load += w
                if load >= max_load:
                    return False
        if pass_writes == 0:
            return True
        if pass_cells == 0:
            return False
        p += 1


@njit(cache=True)
def _strictly_increasing(keys):
    for j in range(1, keys.shape[0]):
        if keys[j] <= keys[j - 1]:
            return False
    return True


@njit(cache=True)
def _distinct_pairs(keys, bits):
    """The map as sorted distinct (key, bit) pairs; a key with both bits raises ValueError.

    Go builds from a map, so its budget counts distinct keys: duplicates must
    not inflate `n` or the bytes would differ.
    """
    packed = np.empty(keys.shape[0], dtype=np.uint64)
    for j in range(keys.shape[0]):
        packed[j] = (np.uint64(keys[j]) << np.uint64(1)) | np.uint64(1 if bits[j] else 0)
    packed = np.sort(packed)
    m = 0
    for j in range(packed.shape[0]):
        if j > 0 and packed[j] == packed[j - 1]:
            continue
        if j > 0 and (packed[j] >> np.uint64(1)) == (packed[j - 1] >> np.uint64(1)):
            raise ValueError("filter_make: a key is given with both bit 0 and bit 1:", packed[j] >> np.uint64(1))
        packed[m] = packed[j]
        m += 1
    ukeys = np.empty(m, dtype=np.uint32)
    ubits = np.empty(m, dtype=np.uint8)
    for j in range(m):
        ukeys[j] = np.uint32(packed[j] >> np.uint64(1))
        ubits[j] = np.uint8(packed[j] & np.uint64(1))
    return ukeys, ubits


@njit(cache=True)
def make_distinct(keys, bits):
    """Go's `Make` over distinct keys, strictly ascending (see filter_make)."""
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.uint8)
    max_load = n
    size = (_grow(n) + 3) // 4
    while True:
        if size > MAX_BYTES:
            raise ValueError("filter_make: filter would exceed 2**32 cells")
        fbytes = np.zeros(size, dtype=np.uint8)
        if _fits(fbytes, keys, bits, max_load):
            return fbytes
        size = (_grow(4 * size) + 3) // 4
        max_load = _grow(max_load)


@njit(cache=True)
def filter_make(keys, bits):
    """Build the filter for the map keys[i] -> bits[i], byte-identical with Go's `Make`.

    Start with ~1.5 cells per distinct key and a write budget of one write per
    key; when the budget runs out the filter is too crowded: grow it 1.5x, grow
    the budget, start over from zeros.  Repeated (key, bit) pairs count once
    (strictly increasing keys skip that sort); a key with both bits raises.
    """
    if _strictly_increasing(keys):
        return make_distinct(keys, bits)
    ukeys, ubits = _distinct_pairs(keys, bits)
    return make_distinct(ukeys, ubits)


@njit(cache=True, parallel=True)
def filter_lookup_into(fbytes, keys, out):
    """Batched lookup of every key into a preallocated `out`, keys spread over threads."""
    length = fbytes.shape[0]
    for j in prange(keys.shape[0]):
        out[j] = filter_lookup(fbytes, 0, length, keys[j])
