"""Letter-to-phoneme kernels: context keys, the margin credit of the phonemizer's RAMs, edit distance.

Plain arrays in, preallocated arrays out; nothing here imports the API layer
(`hashtron_lab.g2p`), which documents what the arrays mean.
"""
import numpy as np
from numba import njit, prange

from .filter import filter_lookup
from .hashing import hash32
from .network import _finish_output, argmax_moved, neuron_eval, prehash, scratch_size

STRING_HASH_MAX = np.uint32(0xFFFFFFFF)
EVEN = np.uint32(0xFFFFFFFE)


@njit(cache=True, parallel=True)
def context_keys_into(chars, word_off, sample_word, sample_pos, lefts, rights, pad, out):
    """out[s, j]: the key of sample s under window j — the string hash of the characters from
    `lefts[j]` left to `rights[j]` right of the letter (positions outside the word read `pad`),
    started from j + 1 and made even (low bit 0: a filter answers 0 for a key it never stored,
    unless the key lands on a stored 1).

    Sample s is letter `sample_pos[s]` of word `sample_word[s]`, whose characters are
    chars[word_off[w]:word_off[w + 1]]."""
    for s in prange(out.shape[0]):
        w = sample_word[s]
        a, b = word_off[w], word_off[w + 1]
        i = a + sample_pos[s]
        for j in range(lefts.shape[0]):
            h = np.uint32(j + 1)
            for p in range(i - lefts[j], i + rights[j] + 1):
                c = chars[p] if a <= p < b else pad
                h = hash32(h, np.uint32(c), STRING_HASH_MAX)
            out[s, j] = np.uint32(h & EVEN)


@njit(cache=True, parallel=True)
def prefix_counts_into(cells, slot_window, groups, slots, prefix):
    """prefix[s, w, g] = Σ cells[s, g·slots + k] over the slots k whose window is before w: the
    argmax group counts of the first RAM layer restricted to the windows before w (w = 0 …
    n_windows; slots are in window order)."""
    n_win = prefix.shape[1] - 1
    for s in prange(cells.shape[0]):
        for g in range(groups):
            acc = 0
            k = 0
            for w in range(n_win + 1):
                while k < slots and slot_window[k] < w:
                    acc += cells[s, g * slots + k]
                    k += 1
                prefix[s, w, g] = acc


@njit(cache=True, parallel=True)
def move_prefix(rows, bits, window, group, prefix):
    """Sample rows[i]'s RAM of `group` in `window` now answers bits[i] (it answered 1 - bits[i]):
    every prefix that counts that window (w > window) moves by one."""
    n_win = prefix.shape[1] - 1
    for i in prange(rows.shape[0]):
        d = 1 if bits[i] else -1
        for w in range(window + 1, n_win + 1):
            prefix[rows[i], w, group] += d


@njit(cache=True, parallel=True)
def refresh_rows(rows, pos, bits, keys, cells, counts, out, widths, first, lpremod, ckind, cparams, taps, tap_off,
                 prog_off, prog_salt, prog_mod, filt_off, filt):
    """`network.forward_from(0, pos, …)` for the samples `rows` only, whose bit of first-layer
    neuron `pos` became bits[i] (it was 1 - bits[i]); the other samples' bits did not change.
    For a network of two hashtron layers joined by an argmax, the last one the output (the
    phonemizer's): the argmax moves one count, the output neurons read its winner."""
    size = scratch_size(widths, ckind, cparams)
    f1 = first[1]
    for i in prange(rows.shape[0]):
        s = rows[i]
        c = bits[i]
        cells[s, first[0] + pos] = c
        arg = argmax_moved(cparams, 0, counts, s, pos, c)
        for q in range(widths[1]):
            key = prehash(arg, q, lpremod[1])
            if key == keys[s, f1 + q]:
                continue
            keys[s, f1 + q] = key
            cells[s, f1 + q] = neuron_eval(f1 + q, key, prog_off, prog_salt, prog_mod, filt_off, filt)
        buf = np.zeros(size, dtype=np.uint8)
        _finish_output(s, buf, cells, out, widths, first, ckind, cparams, taps, tap_off)


@njit(cache=True, parallel=True)
def unresolved_into(partial, targets, margin, out):
    """out[s] = 1 when sample s is unresolved: its target's count in `partial` leads every other
    group's by at most `margin` (a target no group can give, target >= groups, is never
    unresolved: no RAM can help it). Returns how many are."""
    groups = partial.shape[1]
    count = 0
    for s in prange(targets.shape[0]):
        t = targets[s]
        u = 0
        if t < groups:
            best_other = -2147483647
            for g in range(groups):
                if g != t and partial[s, g] > best_other:
                    best_other = partial[s, g]
            if partial[s, t] - best_other <= margin:
                u = 1
        out[s] = u
        count += u
    return count


@njit(cache=True, parallel=True)
def margin_votes(unresolved, targets, keys_col, cells_col, group, w_pos, w_neg, x_in, votes, improving, current):
    """The margin credit of one RAM in argmax group `group` (see g2p/credit.py), in one pass:
    unresolved samples vote +w_pos when their target is `group`, -w_neg otherwise; resolved
    samples vote -1 (they ask the RAM for silence). Fills the tally's arrays and returns
    (S, votes cast, improving samples)."""
    n = targets.shape[0]
    S = 0
    n_improving = 0
    for s in prange(n):
        x_in[s] = keys_col[s]
        c = cells_col[s]
        current[s] = c
        v = -1
        if unresolved[s]:
            v = w_pos if targets[s] == group else -w_neg
        votes[s] = v
        want = 1 if v > 0 else 0
        improving[s] = c != want
        n_improving += 1 if c != want else 0
        S += 1 if v > 0 else -1
    return S, n, n_improving


@njit(cache=True)
def edit_distances_into(a, a_off, b, b_off, out):
    """out[i] = Levenshtein distance between a[a_off[i]:a_off[i+1]] and b[b_off[i]:b_off[i+1]]
    (unit costs; the phoneme error rate's numerator)."""
    for i in range(out.shape[0]):
        a0, la = a_off[i], a_off[i + 1] - a_off[i]
        b0, lb = b_off[i], b_off[i + 1] - b_off[i]
        row = np.arange(lb + 1)
        for x in range(1, la + 1):
            prev = row[0]
            row[0] = x
            for y in range(1, lb + 1):
                cur = row[y]
                cost = 0 if a[a0 + x - 1] == b[b0 + y - 1] else 1
                best = prev + cost
                if row[y] + 1 < best:
                    best = row[y] + 1
                if row[y - 1] + 1 < best:
                    best = row[y - 1] + 1
                row[y] = best
                prev = cur
        out[i] = row[lb]


@njit(cache=True, parallel=True)
def letter_outputs_into(keys, slot_window, groups, slots, first_out, n_out, premod_out, prog_off, prog_salt,
                        prog_mod, filt_off, filt, out):
    """The phonemizer network's output for every letter straight from its window keys, without
    the input matrix that repeats them for every group: RAM (g, k) = neuron g·slots + k (no
    program) reads keys[s, slot_window[k]]; the argmax takes the group with strictly most 1s
    (ties: the lowest); output neuron q reads the winner (layer premodulo `premod_out`) and
    gives bit q. The same integers as `Network.forward` on the repeated matrix (tested)."""
    for s in prange(keys.shape[0]):
        best = -1
        win = 0
        for g in range(groups):
            c = 0
            for k in range(slots):
                j = g * slots + k
                c += filter_lookup(filt, filt_off[j], filt_off[j + 1] - filt_off[j], keys[s, slot_window[k]])
            if c > best:
                best = c
                win = g
        o = np.uint32(0)
        for q in range(n_out):
            bit = neuron_eval(first_out + q, prehash(np.uint32(win), q, premod_out), prog_off, prog_salt, prog_mod,
                              filt_off, filt)
            o = np.uint32(o | (np.uint32(bit) << np.uint32(q)))
        out[s] = o
