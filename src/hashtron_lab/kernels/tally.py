"""The tally: per-sample votes for one neuron's bit (DESIGN §3), in parallel, race-free.

Each sample writes only its own slot (`votes[s]`, `improving[s]`, `flipped[s]`), so the
result does not depend on the thread count; reductions happen afterwards, in sample order.
"""
import numpy as np
from numba import njit, prange

from .filter import filter_lookup, make_distinct
from .hashing import hash32
from .network import CHUNK, NCELLS, combiner_disregards, features_reading, run_tail, scratch_size


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


@njit(cache=True)
def output_votes(i, k, targets, cells, out, votes, improving, flipped):
    """The tally of neuron i (global column k) of a direct output layer, whose cell is output bit i:
    every sample votes for its target's bit i; flipped[s] is out[s] with bit i flipped. Returns
    (S, votes cast, improving samples, as `vote_counts`). Its own small serial kernel (a few ns a
    sample), so a network whose flip tallies only reach output neurons (the n-tuple networks)
    never compiles the flip test."""
    n = cells.shape[0]
    reach = np.uint32(1 << i) if i < 16 else np.uint32(0)  # the output holds the first 16 cells
    S = 0
    n_improving = 0
    for s in range(n):
        want = (targets[s] >> np.uint32(i)) & np.uint32(1)
        votes[s] = 1 if want else -1
        S += 1 if want else -1
        improving[s] = cells[s, k] != want
        if improving[s]:
            n_improving += 1
        flipped[s] = out[s] ^ reach
    return S, n, n_improving


@njit(cache=True, parallel=True)
def tally_neuron(l, i, targets, keys, cells, out, votes, improving, flipped, widths, first, lpremod, ckind, cparams,
                 taps, tap_off, prog_off, prog_salt, prog_mod, filt_off, filt, chunk):
    """Fill votes[s] (signed weight), improving[s] and flipped[s] for neuron i of hidden layer l
    (or of a last layer with a combiner; a direct output layer's tally is `output_votes`).

    flipped[s] is the network output of sample s with only this neuron's bit flipped (out[s]
    when the flip cannot reach the output): the flip test computes it anyway, and it tells
    exactly what any rebuild of this neuron would output (`preview_outputs`)."""
    n = cells.shape[0]
    L = widths.shape[0]
    single = widths[L - 1] == 1
    size = scratch_size(widths, ckind, cparams)
    feats = np.empty(size, dtype=np.int64)  # the next layer's features that read cell i: the only ones a flip changes
    n_feats = features_reading(l, i, widths, ckind, cparams, taps, tap_off, feats)
    n_chunks = (n + chunk - 1) // chunk
    for ch in prange(n_chunks):
        a = np.zeros(size, dtype=np.uint8)
        b = np.zeros(size, dtype=np.uint8)
        for s in range(ch * chunk, min(n, (ch + 1) * chunk)):
            f = first[l]
            a[:widths[l]] = cells[s, f:f + widths[l]]
            a[widths[l]:cparams[l, NCELLS]] = 0
            if combiner_disregards(ckind[l], cparams, l, a, i):
                votes[s] = 0
                improving[s] = False
                flipped[s] = out[s]
                continue
            bit = a[i]
            a[i] = 1 - bit
            o_fl = run_tail(l, s, a, b, keys, cells, out, widths, first, lpremod, ckind, cparams, taps, tap_off,
                            prog_off, prog_salt, prog_mod, filt_off, filt, feats, n_feats)
            v, imp = flip_vote(bit, out[s], o_fl, targets[s], single)
            votes[s] = v
            improving[s] = imp
            flipped[s] = o_fl


@njit(cache=True)
def preview_outputs(x_in, current, flipped, out, salts, mods, filt, new_out):
    """Network outputs if one tallied neuron became the hashtron (salts/mods program, filt).

    Exact: a sample whose bit the new neuron keeps keeps out[s]; one whose bit it flips gets
    flipped[s], the flip test's output, since no other neuron changed. Lets a rebuild be
    judged before the network or the trace is touched.
    """
    n = x_in.shape[0]
    length = filt.shape[0]
    for s in range(n):
        x = np.uint32(x_in[s])
        for c in range(salts.shape[0]):
            x = hash32(x, salts[c], mods[c])
        new_out[s] = flipped[s] if filter_lookup(filt, 0, length, x) != current[s] else out[s]


@njit(cache=True)
def key_sums(x_in, votes, current, salt, premod):
    """Sum the votes per key (the neuron input hashed by its new premodulo step).

    Returns (unique keys ascending, per-key vote sums, per-key voting samples, per-key "keep"
    sums, per-key samples voting for 1): the keep sum is Σ ±1 of the neuron's current bit over
    samples that cast no vote, used when the caller keeps unvoted keys' answers; the count of
    votes for 1 is the key's *support*, which a bleaching threshold compares. premod 0 keys on
    x itself.
    """
    n = x_in.shape[0]
    # (key << 32 | sample) sorts by key, then sample: a stable order from one plain uint64 sort,
    # ~2.5x faster than a mergesort argsort of the keys
    packed = np.empty(n, dtype=np.uint64)
    for s in range(n):
        key = np.uint32(x_in[s]) if premod == 0 else hash32(x_in[s], salt, premod)
        packed[s] = (np.uint64(key) << np.uint64(32)) | np.uint64(s)
    packed.sort()
    uk = np.empty(n, dtype=np.uint32)
    us = np.zeros(n, dtype=np.int64)
    uc = np.zeros(n, dtype=np.int64)
    uw = np.zeros(n, dtype=np.int64)
    up = np.zeros(n, dtype=np.int64)
    m = -1
    for t in range(n):
        s = np.int64(packed[t] & np.uint64(0xFFFFFFFF))
        key = np.uint32(packed[t] >> np.uint64(32))
        if m < 0 or key != uk[m]:
            m += 1
            uk[m] = key
        us[m] += votes[s]
        if votes[s] != 0:
            uc[m] += 1
            if votes[s] > 0:
                up[m] += 1
        else:
            uw[m] += 2 * np.int64(current[s]) - 1
    return uk[: m + 1], us[: m + 1], uc[: m + 1], uw[: m + 1], up[: m + 1]


@njit(cache=True)
def support_stats(x_in, votes):
    """(distinct keys, distinct keys with a vote for 1, votes for 1) of a tally, keyed on the
    neuron's input itself (no premodulo): what the support capacity law sizes a neuron by."""
    n = x_in.shape[0]
    packed = np.empty(n, dtype=np.uint64)
    for s in range(n):
        packed[s] = (np.uint64(x_in[s]) << np.uint64(1)) | np.uint64(1 if votes[s] > 0 else 0)
    packed.sort()
    distinct = 0
    distinct_pos = 0
    n_pos = 0
    for t in range(n):
        key = packed[t] >> np.uint64(1)
        pos = (packed[t] & np.uint64(1)) == np.uint64(1)
        if t == 0 or key != (packed[t - 1] >> np.uint64(1)):
            distinct += 1
            if pos:
                distinct_pos += 1
        elif pos and (packed[t - 1] & np.uint64(1)) == np.uint64(0):
            distinct_pos += 1  # the key's first vote for 1 (votes for 0 sort first within a key)
        if pos:
            n_pos += 1
    return distinct, distinct_pos, n_pos


@njit(cache=True)
def vote_counts(votes, improving):
    """(S, votes cast, improving samples) of a tally in one pass, S = the sum of the vote signs:
    one call where numpy took four (sign, sum, two counts) on every update."""
    S = 0
    cast = 0
    n_improving = 0
    for s in range(votes.shape[0]):
        v = votes[s]
        if v != 0:
            cast += 1
            S += 1 if v > 0 else -1
        if improving[s]:
            n_improving += 1
    return S, cast, n_improving


@njit(cache=True)
def local_votes(keys, cells, k, targets, by_bit, value, weight, x_in, votes, improving, current):
    """The local tally of neuron column k in one pass: it wants 1 where targets[s] == value
    (argmax group `value`) or, with `by_bit`, where bit `value` of targets[s] is set. Fills the
    tally's arrays (a vote for 1 weighs `weight`, for 0 -1: every sample votes) and returns
    (S, votes cast, improving samples, largest target) — what five numpy passes and
    `vote_counts` gave before."""
    n = x_in.shape[0]
    S = 0
    n_improving = 0
    top = np.uint32(0)
    for s in range(n):
        t = np.uint32(targets[s])
        if t > top:
            top = t
        want = np.uint8(((t >> np.uint32(value)) & np.uint32(1)) if by_bit else (1 if t == value else 0))
        c = cells[s, k]
        x_in[s] = keys[s, k]
        current[s] = c
        votes[s] = weight if want else -1
        improving[s] = c != want
        S += 1 if want else -1
        if c != want:
            n_improving += 1
    return S, n, n_improving, top


@njit(cache=True)
def voted_map(keys, sums, kept, support, keep_unvoted, threshold):
    """The map a rebuilt filter stores, from `key_sums`' output: a key whose votes sum > 0 answers
    1, < 0 answers 0; a key whose votes cancel is left out (the reference's rule) or, with
    `keep_unvoted`, keeps the neuron's current bit (the sign of its keep sum) unless that is 0
    too. With `threshold` b > 1 (bleaching) a key answers 1 only when at least b samples voted
    for 1 on it, else 0. Keys stay strictly ascending, so `filter_make` needs no sort."""
    m = keys.shape[0]
    out_keys = np.empty(m, dtype=np.uint32)
    out_bits = np.empty(m, dtype=np.uint8)
    n = 0
    for j in range(m):
        w = sums[j] if sums[j] != 0 else (kept[j] if keep_unvoted else 0)
        if w != 0:
            out_keys[n] = keys[j]
            out_bits[n] = 1 if w > 0 and (sums[j] == 0 or support[j] >= threshold) else 0
            n += 1
    return out_keys[:n], out_bits[:n]


@njit(cache=True, parallel=True)
def pair_outputs(l, i1, i2, keys, cells, out, combo_out, widths, first, lpremod, ckind, cparams, taps, tap_off,
                 prog_off, prog_salt, prog_mod, filt_off, filt, chunk):
    """combo_out[s, c] = output of sample s with neuron i1's bit = c >> 1 and i2's bit = c & 1."""
    n = cells.shape[0]
    size = scratch_size(widths, ckind, cparams)
    n_chunks = (n + chunk - 1) // chunk
    f = first[l]
    every = np.zeros(1, dtype=np.int64)  # two cells change: every feature may (n_feats = -1)
    for ch in prange(n_chunks):
        a = np.zeros(size, dtype=np.uint8)
        b = np.zeros(size, dtype=np.uint8)
        for s in range(ch * chunk, min(n, (ch + 1) * chunk)):
            for c in range(4):
                a[:widths[l]] = cells[s, f:f + widths[l]]
                a[widths[l]:cparams[l, NCELLS]] = 0
                a[i1] = (c >> 1) & 1
                a[i2] = c & 1
                if a[i1] == cells[s, f + i1] and a[i2] == cells[s, f + i2]:
                    combo_out[s, c] = out[s]
                else:
                    combo_out[s, c] = run_tail(l, s, a, b, keys, cells, out, widths, first, lpremod, ckind, cparams,
                                               taps, tap_off, prog_off, prog_salt, prog_mod, filt_off, filt,
                                               every, -1)


@njit(cache=True)
def pair_decide(k1, k2, combo_out, targets):
    """Per key, the bits of the first consistent combination making output bit 0 right, samples in order.

    A combination is consistent when it agrees with what earlier samples already decided for
    either key. Returns (keys1, bits1, keys2, bits2) of the decided keys.
    """
    n = k1.shape[0]
    d1 = dict()
    d2 = dict()
    d1[np.uint32(0)] = np.uint8(0)
    d2[np.uint32(0)] = np.uint8(0)
    del d1[np.uint32(0)]
    del d2[np.uint32(0)]
    for s in range(n):
        want = targets[s] & np.uint32(1)
        for c in range(4):
            b1 = np.uint8((c >> 1) & 1)
            b2 = np.uint8(c & 1)
            if k1[s] in d1 and d1[k1[s]] != b1:
                continue
            if k2[s] in d2 and d2[k2[s]] != b2:
                continue
            if (combo_out[s, c] & np.uint32(1)) == want:
                d1[k1[s]] = b1
                d2[k2[s]] = b2
                break
    o1k = np.empty(len(d1), dtype=np.uint32)
    o1b = np.empty(len(d1), dtype=np.uint8)
    o2k = np.empty(len(d2), dtype=np.uint32)
    o2b = np.empty(len(d2), dtype=np.uint8)
    t = 0
    for key, bit in d1.items():
        o1k[t] = key
        o1b[t] = bit
        t += 1
    t = 0
    for key, bit in d2.items():
        o2k[t] = key
        o2b[t] = bit
        t += 1
    return o1k, o1b, o2k, o2b


@njit(cache=True)
def rebuilt_filter(x_in, votes, current, salt, premod, keep_unvoted, threshold):
    """A rebuilt neuron's filter and its key count: `key_sums`, `voted_map` and `filter_make` in
    one call (the three ran as separate calls, with Python between them, on every update)."""
    keys, sums, _, kept, support = key_sums(x_in, votes, current, salt, premod)
    keys, bits = voted_map(keys, sums, kept, support, keep_unvoted, threshold)
    return make_distinct(keys, bits), keys.shape[0]  # distinct, ascending keys: filter_make without its sort
