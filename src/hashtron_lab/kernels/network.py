"""Forward-pass kernels of a hashtron network over a whole sample matrix.

A network arrives as flat arrays (built by `model.network.Network.pack`):

- per layer `l`: `widths[l]`, `first[l]` (global index of its neuron 0),
  `lpremod[l]` (layer premodulo, 0 = none), `ckind[l]` / `cparams[l]` (the
  combiner that follows it; kind 0 = none, which only the last layer may have);
- per neuron `k`: its program `prog_salt/prog_mod[prog_off[k]:prog_off[k+1]]`
  and its filter `filt[filt_off[k]:filt_off[k+1]]`.

`cparams[l]` holds [sub, bias, taps per feature, matrix, ..., cell count] and
`taps[tap_off[l]:]` the cell indices each feature of combiner l reads (precomputed
by `model.architecture.Combiner.taps`, so no integer division runs per sample).
Samples are processed in parallel chunks, each chunk with its own scratch buffers.
"""
import numpy as np
from numba import njit, prange

from .filter import filter_lookup
from .hashing import hash32

K_NONE, K_MAJPOOL2D, K_FULL, K_SUM, K_PARITY, K_ARGMAX = 0, 1, 2, 3, 4, 5
CHUNK = 32  # samples per parallel task: small enough to balance 2+ threads (D28); callers pass it,
# since numba compiles an omitted default argument as a separate specialization
SUB, BIAS, NTAPS, MATRIX, GROUPS, COUNTS, NCELLS = 0, 1, 2, 3, 4, 5, 8
# COUNTS: where an argmax combiner's per-group cell counts start in a trace's `counts` row


@njit(cache=True, inline="always")
def neuron_eval(k, x, prog_off, prog_salt, prog_mod, filt_off, filt):
    """Bit 0 of neuron k on its (already layer-prehashed) input x."""
    x = np.uint32(x)
    for c in range(prog_off[k], prog_off[k + 1]):
        x = hash32(x, prog_salt[c], prog_mod[c])
    return filter_lookup(filt, filt_off[k], filt_off[k + 1] - filt_off[k], x)


@njit(cache=True, inline="always")
def prehash(x, i, premod):
    if premod == 0:
        return np.uint32(x)
    return hash32(np.uint32(x), np.uint32(i), premod)


@njit(cache=True, inline="always")
def combiner_feature(kind, cparams, l, cells, m, taps, tap_off):
    """Feature m of combiner l, folding the cells its precomputed taps name (see Combiner.taps)."""
    nt = cparams[l, NTAPS]
    base = tap_off[l] + m * nt
    o = np.uint32(0)
    if taps[base] < 0:
        return o
    if kind == K_MAJPOOL2D:
        sub = cparams[l, SUB]
        bias = cparams[l, BIAS]
        for blk in range(nt // sub):
            vote = 0
            for t in range(base + blk * sub, base + (blk + 1) * sub):
                vote += 2 * np.int64(cells[taps[t]]) - 1
            o = np.uint32((o << np.uint32(1)) | np.uint32(1 if vote > bias else 0))
    elif kind == K_FULL:
        for t in range(base, base + nt):
            o = np.uint32((o << np.uint32(1)) | np.uint32(cells[taps[t]]))
    elif kind == K_SUM:
        for t in range(base, base + nt):
            o = np.uint32(o + np.uint32(cells[taps[t]]))
    elif kind == K_PARITY:
        for t in range(base, base + nt):
            o = np.uint32(o ^ np.uint32(cells[taps[t]]))
    elif kind == K_ARGMAX:  # taps are 0..n_cells-1 in order: read the cells directly
        groups = cparams[l, GROUPS]
        size = nt // groups
        best = np.uint32(0)
        for g in range(groups):
            count = group_count(cells, g * size, size)
            if g == 0 or count > best:  # strict: ties go to the lowest group
                best = count
                o = np.uint32(g)
    return o


@njit(cache=True, inline="always")
def group_count(cells, start, size):
    """Set cells among cells[start:start + size] (one argmax group)."""
    # uint32 counts over an offset loop vectorise; int64 counts over range(a, b) ran 4x slower
    count = np.uint32(0)
    for j in range(size):
        count += np.uint32(cells[start + j])
    return count


@njit(cache=True, inline="always")
def argmax_recount(cparams, l, cells, counts, s):
    """Count the cells of each group of argmax combiner l into counts[s] and return the winning
    group (strictly most cells; ties go to the lowest group, as `combiner_feature`)."""
    groups = cparams[l, GROUPS]
    size = cparams[l, NTAPS] // groups
    off = cparams[l, COUNTS]
    for g in range(groups):
        counts[s, off + g] = np.int32(group_count(cells, g * size, size))
    return counts_winner(counts, s, off, groups)


@njit(cache=True, inline="always")
def argmax_moved(cparams, l, counts, s, cell, bit):
    """Argmax combiner l after its cell `cell` became `bit` (it was 1 - bit): the cell's group
    count moves by one and the winner is read from the kept counts, not from every cell."""
    groups = cparams[l, GROUPS]
    size = cparams[l, NTAPS] // groups
    off = cparams[l, COUNTS]
    if cell < groups * size:  # cells past the last whole group are not counted
        counts[s, off + cell // size] += np.int32(1) if bit else np.int32(-1)
    return counts_winner(counts, s, off, groups)


@njit(cache=True, inline="always")
def counts_winner(counts, s, off, groups):
    """The group with strictly most cells among counts[s, off:off + groups] (ties: the lowest)."""
    best = counts[s, off]
    o = np.uint32(0)
    for g in range(1, groups):
        if counts[s, off + g] > best:
            best = counts[s, off + g]
            o = np.uint32(g)
    return o


@njit(cache=True)
def features_reading(l, cell, widths, ckind, cparams, taps, tap_off, out):
    """Write the features of combiner l that feed layer l + 1 and whose taps read `cell` into
    out[:k]; return k. A changed cell can change only these features: the kernels recompute
    them alone instead of every feature of the next layer (a -1 row, the constant 0, reads nothing).
    -1 when there is no such per-neuron feature list: l is the last layer, or layer l + 1 is a
    direct output layer (all its neurons read feature 0)."""
    L = widths.shape[0]
    if l >= L - 1 or (l == L - 2 and ckind[L - 1] == K_NONE):
        return -1
    nt = cparams[l, NTAPS]
    k = 0
    for m in range(widths[l + 1]):
        base = tap_off[l] + m * nt
        if taps[base] < 0:
            continue
        for t in range(base, base + nt):
            if taps[t] == cell:
                out[k] = m
                k += 1
                break
    return k


@njit(cache=True, inline="always")
def combiner_disregards(kind, cparams, l, cells, n):
    """True when cell n's value cannot change any feature (only majpool2d ever says so):
    the vote of its sub block stays on the same side of the bias either way."""
    if kind != K_MAJPOOL2D:
        return False
    sub = cparams[l, SUB]
    matrix = cparams[l, MATRIX]
    block = (n // matrix) * matrix + ((n % matrix) // sub) * sub
    others = 0
    for j in range(block, block + sub):
        if j != n and j < cparams[l, NCELLS]:
            others += 2 * np.int64(cells[j]) - 1
    bias = cparams[l, BIAS]
    return ((others + 1) > bias) == ((others - 1) > bias)


@njit(cache=True, inline="always")
def _output_from(l, cells, widths, ckind, cparams, taps, tap_off):
    """Network output from the cells of the last layer l."""
    c = widths[l]
    nbits = c if c < 16 else 16
    out = np.uint32(0)
    if ckind[l] == K_NONE:
        for j in range(nbits):
            out = np.uint32(out | (np.uint32(cells[j]) << np.uint32(j)))
        return out
    for j in range(nbits):
        f = combiner_feature(ckind[l], cparams, l, cells, j, taps, tap_off)
        out = np.uint32((np.uint64(out) + (np.uint64(f) << np.uint64(j))) & np.uint64(0xFFFFFFFF))
    return out


@njit(cache=True, inline="always")
def run_tail(l, s, cells_a, cells_b, keys, cells, out, widths, first, lpremod, ckind, cparams, taps, tap_off,
             prog_off, prog_salt, prog_mod, filt_off, filt, feats, n_feats):
    """Output of sample s when layer l's cells are those in cells_a (both buffers are clobbered).

    Memoised against the recorded trace (keys/cells/out of sample s): a neuron whose input key
    is unchanged keeps its recorded bit without a filter lookup, and once a whole layer is
    unchanged the recorded output is returned. Exact, and most flips touch few neurons.
    `feats[:n_feats]` (n_feats >= 0): the only features of combiner l that can differ from the
    trace (those reading the changed cell, `features_reading`); n_feats < 0: any may.
    """
    L = widths.shape[0]
    cur = cells_a
    nxt_buf = cells_b
    while l < L - 1:
        nxt = l + 1
        wn = widths[nxt]
        fn = first[nxt]
        direct = ckind[nxt] == K_NONE and nxt == L - 1  # every neuron reads feature 0
        changed = False
        partial = n_feats >= 0  # never for a direct output layer (see features_reading)
        if partial:  # every other neuron of the next layer keeps its recorded input and bit
            for j in range(wn):
                nxt_buf[j] = cells[s, fn + j]
        for q in range(n_feats if partial else wn):
            j = feats[q] if partial else q
            f = combiner_feature(ckind[l], cparams, l, cur, 0 if direct else j, taps, tap_off)  # one inlined copy
            key = prehash(f, j, lpremod[nxt])
            if key == keys[s, fn + j]:
                nxt_buf[j] = cells[s, fn + j]
            else:
                nxt_buf[j] = neuron_eval(fn + j, key, prog_off, prog_salt, prog_mod, filt_off, filt)
                if nxt_buf[j] != cells[s, fn + j]:
                    changed = True
        if not changed:
            return out[s]
        n_feats = -1  # the changed cells of later layers are not tracked: all their features
        if ckind[nxt] != K_NONE:
            nxt_buf[wn:cparams[nxt, NCELLS]] = 0
        tmp = cur
        cur = nxt_buf
        nxt_buf = tmp
        l = nxt
    return _output_from(l, cur, widths, ckind, cparams, taps, tap_off)


@njit(cache=True)
def scratch_size(widths, ckind, cparams):
    n = 1
    for l in range(widths.shape[0]):
        if widths[l] > n:
            n = widths[l]
        if ckind[l] != K_NONE and cparams[l, NCELLS] > n:
            n = cparams[l, NCELLS]
    return n


@njit(cache=True, inline="always")
def _finish_output(s, buf, cells, out, widths, first, ckind, cparams, taps, tap_off):
    L = widths.shape[0]
    lf = first[L - 1]
    w = widths[L - 1]
    buf[:w] = cells[s, lf:lf + w]
    if ckind[L - 1] != K_NONE:
        buf[w:cparams[L - 1, NCELLS]] = 0
    out[s] = _output_from(L - 1, buf, widths, ckind, cparams, taps, tap_off)


@njit(cache=True, parallel=True)
def forward_from(l0, only, X, keys, cells, counts, out, widths, first, lpremod, ckind, cparams, taps, tap_off,
                 prog_off, prog_salt, prog_mod, filt_off, filt, chunk):
    """Recompute the recorded keys/cells of layers >= l0 and the outputs, in place.

    keys[s, first[l] + i] is neuron i's input after the layer premodulo; cells[s, k]
    is neuron k's bit; counts[s, cparams[l, COUNTS] + g] the cells of group g of an argmax
    combiner l that feeds a layer. With l0 == 0 layer-0 keys come from X; otherwise keys of
    layer l0 are taken as recorded. `only` >= 0 recomputes just that neuron of l0
    (the others' cells are unchanged), which is all a single-neuron update needs; an argmax
    combiner after it then moves one count instead of recounting every cell.

    Every helper is inlined at one call site only (the first layer, a single neuron and the
    layers after it share one loop): each inlined copy cost seconds of compile time (D42).
    """
    n = X.shape[0]
    L = widths.shape[0]
    size = scratch_size(widths, ckind, cparams)
    feats = np.empty(size, dtype=np.int64)  # with `only`: the features of layer l0 + 1 it can change
    n_feats = features_reading(l0, only, widths, ckind, cparams, taps, tap_off, feats) if only >= 0 else -1
    n_chunks = (n + chunk - 1) // chunk
    for ch in prange(n_chunks):
        buf = np.zeros(size, dtype=np.uint8)
        for s in range(ch * chunk, min(n, (ch + 1) * chunk)):
            if l0 == 0 and only < 0:
                direct0 = L == 1 and ckind[0] == K_NONE
                for i in range(widths[0]):
                    x = X[s, 0] if direct0 else X[s, i]
                    keys[s, first[0] + i] = prehash(x, i, lpremod[0])
            memo = only >= 0  # one neuron changed: downstream neurons are unchanged, keys decide
            for l in range(l0, L):
                f0 = first[l]
                w = widths[l]
                kind = ckind[l - 1] if l > l0 else K_NONE
                arg = np.uint32(0)  # an argmax combiner's one feature
                if l > l0:
                    pf = first[l - 1]
                    wp = widths[l - 1]
                    if kind == K_ARGMAX and memo and l == l0 + 1:  # only's cell flipped (else the loop broke)
                        arg = argmax_moved(cparams, l - 1, counts, s, only, cells[s, pf + only])
                    else:
                        buf[:wp] = cells[s, pf:pf + wp]
                        buf[wp:cparams[l - 1, NCELLS]] = 0
                        if kind == K_ARGMAX:
                            arg = argmax_recount(cparams, l - 1, buf, counts, s)
                direct = l == L - 1 and ckind[l] == K_NONE  # every neuron reads feature 0
                partial = l == l0 + 1 and n_feats >= 0  # the others keep their keys
                lo, hi = (only, only + 1) if l == l0 and only >= 0 else (0, n_feats if partial else w)
                changed = l == l0 and only < 0  # a whole recomputed first layer: everything after it
                for q in range(lo, hi):
                    i = feats[q] if partial else q
                    if l > l0:
                        if kind == K_ARGMAX:
                            g = arg
                        else:
                            g = combiner_feature(kind, cparams, l - 1, buf, 0 if direct else i, taps, tap_off)
                        key = prehash(g, i, lpremod[l])
                        if memo and key == keys[s, f0 + i]:
                            continue  # same input, same neuron: same bit
                        keys[s, f0 + i] = key
                    else:  # layer l0: its keys are recorded (or were just computed from X)
                        key = keys[s, f0 + i]
                    c = neuron_eval(f0 + i, key, prog_off, prog_salt, prog_mod, filt_off, filt)
                    if c != cells[s, f0 + i]:
                        changed = True
                    cells[s, f0 + i] = c
                if memo and not changed:
                    break  # nothing downstream can change for this sample
            else:
                _finish_output(s, buf, cells, out, widths, first, ckind, cparams, taps, tap_off)


@njit(cache=True, parallel=True)
def hashtron_forward_batch(xs, salts, mods, filt, bits, out):
    """A standalone (possibly multi-bit) hashtron over a uint32 array: bit j reads x | (j << 16)."""
    length = filt.shape[0]
    for s in prange(xs.shape[0]):
        acc = np.uint32(0)
        for j in range(bits):
            x = np.uint32(xs[s] | np.uint32(j << 16))
            for c in range(salts.shape[0]):
                x = hash32(x, salts[c], mods[c])
            acc = np.uint32(acc | (np.uint32(filter_lookup(filt, 0, length, x)) << np.uint32(j)))
        out[s] = acc
