"""The tally: per-sample votes for one neuron's bit (DESIGN §3), in parallel, race-free.

Each sample writes only its own slot (`votes[s]`, `improving[s]`), so the result
does not depend on the thread count; reductions happen afterwards, in sample order.
"""
import numpy as np
from numba import njit, prange

from .hashing import hash32
from .network import CHUNK, K_NONE, NCELLS, combiner_disregards, run_tail, scratch_size


@njit(cache=True, inline="always")
def _popcount(x):
    x = np.uint32(x)
    c = 0
    while x:
        x = np.uint32(x & np.uint32(x - np.uint32(1)))
        c += 1
    return c


@njit(cache=True, inline="always")
def flip_vote(bit, o_as, o_fl, target, single):
    """Signed vote (+w for true, -w for false) and whether flipping would help."""
    if single:
        if o_as == o_fl:
            return 0, False
        if o_as == target:
            return (1 if bit else -1), False
        if o_fl == target:
            return (-1 if bit else 1), True
        return 0, False
    d_as = _popcount(o_as ^ target)
    d_fl = _popcount(o_fl ^ target)
    if d_as == 0:
        return (1 if bit else -1), False
    if d_as == d_fl:
        return 0, False
    w = d_as - d_fl if d_as > d_fl else d_fl - d_as
    if d_fl < d_as:
        return (-w if bit else w), True
    return (w if bit else -w), False


@njit(cache=True, parallel=True)
def tally_neuron(l, i, targets, keys, cells, out, votes, improving, widths, first, lpremod, ckind, cparams, taps, tap_off,
                 prog_off, prog_salt, prog_mod, filt_off, filt):
    """Fill votes[s] (signed weight) and improving[s] for neuron i of layer l."""
    n = cells.shape[0]
    L = widths.shape[0]
    k = first[l] + i
    if l == L - 1 and ckind[l] == K_NONE:
        for s in prange(n):
            want = (targets[s] >> np.uint32(i)) & np.uint32(1)
            votes[s] = 1 if want else -1
            improving[s] = cells[s, k] != want
        return
    single = widths[L - 1] == 1
    size = scratch_size(widths, ckind, cparams)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        a = np.zeros(size, dtype=np.uint8)
        b = np.zeros(size, dtype=np.uint8)
        for s in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            f = first[l]
            for j in range(widths[l]):
                a[j] = cells[s, f + j]
            for j in range(widths[l], cparams[l, NCELLS]):
                a[j] = 0
            if combiner_disregards(ckind[l], cparams, l, a, i):
                votes[s] = 0
                improving[s] = False
                continue
            bit = a[i]
            a[i] = 1 - bit
            o_fl = run_tail(l, s, a, b, keys, cells, out, widths, first, lpremod, ckind, cparams, taps, tap_off,
                            prog_off, prog_salt, prog_mod, filt_off, filt)
            v, imp = flip_vote(bit, out[s], o_fl, targets[s], single)
            votes[s] = v
            improving[s] = imp


@njit(cache=True)
def key_sums(x_in, votes, current, salt, premod):
    """Sum the votes per key (the neuron input hashed by its new premodulo step).

    Returns (unique keys ascending, per-key vote sums, per-key voting samples, per-key "keep"
    sums): the keep sum is Σ ±1 of the neuron's current bit over samples that cast no vote,
    used when the caller keeps unvoted keys' answers. premod 0 keys on x itself.
    """
    n = x_in.shape[0]
    keys = np.empty(n, dtype=np.uint32)
    for s in range(n):
        keys[s] = x_in[s] if premod == 0 else hash32(x_in[s], salt, premod)
    order = np.argsort(keys, kind="mergesort")
    uk = np.empty(n, dtype=np.uint32)
    us = np.zeros(n, dtype=np.int64)
    uc = np.zeros(n, dtype=np.int64)
    uw = np.zeros(n, dtype=np.int64)
    m = -1
    for t in range(n):
        s = order[t]
        if m < 0 or keys[s] != uk[m]:
            m += 1
            uk[m] = keys[s]
        us[m] += votes[s]
        if votes[s] != 0:
            uc[m] += 1
        else:
            uw[m] += 2 * np.int64(current[s]) - 1
    return uk[: m + 1], us[: m + 1], uc[: m + 1], uw[: m + 1]
