"""Feature-encoding kernels: plain arrays in, preallocated arrays out, batched over rows.

The API layer (`hashtron_lab.data.encoders`) validates and converts inputs once and
calls these; nothing here imports from it. Every uint32 step goes through `hash32`,
which is bit-exact with the Go library's `hash.Hash`.

Also here: the letter-to-phoneme EM aligner used for CMUdict (its inner loops are the
same kind of per-sample hot loop).
"""
import numpy as np
from numba import njit, prange

from .hashing import hash32

STRING_HASH_MAX = np.uint32(0xFFFFFFFF)


# ---------------------------------------------------------------------------
# byte picker: feature n = xor over j<4 of byte[hash(n, j, L)] << 8j
# ---------------------------------------------------------------------------
@njit(cache=True)
def byte_pick_index_into(length, out):
    """out[n, j] = hash(n, j, length): which byte feature n takes for its byte j."""
    for n in range(out.shape[0]):
        for j in range(4):
            out[n, j] = hash32(np.uint32(n), np.uint32(j), np.uint32(length))


@njit(cache=True, parallel=True)
def byte_pick_into(data, index, out):
    """data uint8 (n, L); index uint32 (F, 4) from `byte_pick_index_into`; out uint32 (n, F)."""
    n_features = index.shape[0]
    for i in prange(data.shape[0]):
        for f in range(n_features):
            v = np.uint32(0)
            for j in range(4):
                v ^= np.uint32(data[i, index[f, j]]) << np.uint32(8 * j)
            out[i, f] = v


# ---------------------------------------------------------------------------
# thermometer: bit k of column c's feature = value >= thresholds[c][k]
# ---------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def thermometer_into(values, thresholds, offsets, out):
    """values float64 (n, d); thresholds float64 flat, column c owns
    thresholds[offsets[c]:offsets[c+1]] (at most 32); out uint32 (n, d)."""
    d = values.shape[1]
    for i in prange(values.shape[0]):
        for c in range(d):
            v = values[i, c]
            code = np.uint32(0)
            for k in range(offsets[c + 1] - offsets[c]):
                if v >= thresholds[offsets[c] + k]:
                    code |= np.uint32(1) << np.uint32(k)
            out[i, c] = code


# ---------------------------------------------------------------------------
# n-tuples: feature r = sum over j of bit(cols[r, j], shifts[r, j]) << j
# ---------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def tuple_pack_into(codes, cols, shifts, out):
    """codes uint32 (n, d) thermometer codes; cols int32 (R, K) and shifts uint32 (R, K),
    K <= 32; out uint32 (n, R): out[s, r] = OR_j ((codes[s, cols[r, j]] >> shifts[r, j]) & 1) << j."""
    for s in prange(codes.shape[0]):
        for r in range(cols.shape[0]):
            v = np.uint32(0)
            for j in range(cols.shape[1]):
                bit = (codes[s, cols[r, j]] >> shifts[r, j]) & np.uint32(1)
                v |= np.uint32(bit << np.uint32(j))
            out[s, r] = v


@njit(cache=True, parallel=True)
def tuple_scores_into(addr, labels, n_classes, out):
    """Leave-one-out discrimination of each tuple on the training rows.

    addr uint32 (n, R): tuple r's address for row s; labels int64 (n,) in [0, n_classes).
    out[r] = mean over rows of [another row of the row's class has its address] minus
    [a row of another class has its address]: how often tuple r's RAMs, trained WiSARD-style
    without the row itself, would vote for the row's class and not for another one.
    """
    n = addr.shape[0]
    for r in prange(addr.shape[1]):
        order = np.argsort(addr[:, r], kind="mergesort")
        counts = np.zeros(n_classes, np.int64)
        total = 0.0
        a = 0
        while a < n:
            b = a
            key = addr[order[a], r]
            while b < n and addr[order[b], r] == key:
                counts[labels[order[b]]] += 1
                b += 1
            group = b - a
            for t in range(a, b):
                own = counts[labels[order[t]]]
                total += (1.0 if own >= 2 else 0.0) - (1.0 if group - own >= 1 else 0.0)
            for t in range(a, b):
                counts[labels[order[t]]] = 0
            a = b
        out[r] = total / n if n else 0.0


# ---------------------------------------------------------------------------
# string hash: h = hash(h, codepoint, 0xffffffff), from a start value
# ---------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def string_hash_into(codepoints, offsets, starts, out):
    """String i is codepoints[offsets[i]:offsets[i+1]]; its hash starts from starts[i]."""
    for i in prange(out.shape[0]):
        h = starts[i]
        for p in range(offsets[i], offsets[i + 1]):
            h = hash32(h, codepoints[p], STRING_HASH_MAX)
        out[i] = h


@njit(cache=True, parallel=True)
def row_hash_into(features, start, out):
    """out[i] = string hash of row i's features (each uint32 taken as one 'code point')."""
    for i in prange(features.shape[0]):
        h = np.uint32(start)
        for c in range(features.shape[1]):
            h = hash32(h, features[i, c], STRING_HASH_MAX)
        out[i] = h


@njit(cache=True, parallel=True)
def context_hash_into(chars, word_begin, word_end, span_begin, span_end, window, pad, out):
    """Grapheme-with-context features for G2P, one row per sample.

    Sample i is the grapheme chars[span_begin[i]:span_end[i]] inside the word
    chars[word_begin[i]:word_end[i]]. Feature 0 hashes the grapheme; features
    2k-1 and 2k (k = 1..window) hash the k characters left of it and the k characters
    right of it, read left to right, positions outside the word read as `pad`.
    Feature f starts its string hash from f (as the Go library's `StringHash(n, s)`).
    """
    for i in prange(out.shape[0]):
        h = np.uint32(0)
        for p in range(span_begin[i], span_end[i]):
            h = hash32(h, chars[p], STRING_HASH_MAX)
        out[i, 0] = h
        for k in range(1, window + 1):
            h = np.uint32(2 * k - 1)
            for p in range(span_begin[i] - k, span_begin[i]):
                c = chars[p] if p >= word_begin[i] else pad
                h = hash32(h, c, STRING_HASH_MAX)
            out[i, 2 * k - 1] = h
            h = np.uint32(2 * k)
            for p in range(span_end[i], span_end[i] + k):
                c = chars[p] if p < word_end[i] else pad
                h = hash32(h, c, STRING_HASH_MAX)
            out[i, 2 * k] = h


# ---------------------------------------------------------------------------
# letter -> {nothing, one phoneme, two phonemes} EM alignment (CMUdict)
# Emission id of a letter: 0 = silent, 1 + p = phoneme p, 1 + P + p*P + q = "p q".
# ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _logaddexp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + np.log1p(np.exp(b - a))
    return b + np.log1p(np.exp(a - b))


@njit(cache=True)
def _emission(ph, pos, width, n_phones):
    if width == 0:
        return 0
    if width == 1:
        return 1 + ph[pos]
    return 1 + n_phones + ph[pos] * n_phones + ph[pos + 1]


@njit(cache=True)
def align_em_counts(letters, letter_off, phones, phone_off, logp, n_phones, counts):
    """One E-step over all words: add expected emission counts to counts (n_letters, E).

    logp (n_letters, E) holds log emission probabilities. Returns the total
    log-likelihood. Words that cannot be aligned (more than two phonemes per letter)
    must be filtered out by the caller.
    """
    total = 0.0
    for w in range(letter_off.shape[0] - 1):
        lo, ln = letter_off[w], letter_off[w + 1] - letter_off[w]
        po, pn = phone_off[w], phone_off[w + 1] - phone_off[w]
        ph = phones[po:po + pn]
        fwd = np.full((ln + 1, pn + 1), -np.inf)
        bwd = np.full((ln + 1, pn + 1), -np.inf)
        fwd[0, 0] = 0.0
        for i in range(ln):
            lt = letters[lo + i]
            for j in range(pn + 1):
                if fwd[i, j] == -np.inf:
                    continue
                for width in range(3):
                    if j + width > pn:
                        break
                    e = _emission(ph, j, width, n_phones)
                    fwd[i + 1, j + width] = _logaddexp(fwd[i + 1, j + width], fwd[i, j] + logp[lt, e])
        z = fwd[ln, pn]
        if z == -np.inf:
            continue
        total += z
        bwd[ln, pn] = 0.0
        for i in range(ln - 1, -1, -1):
            lt = letters[lo + i]
            for j in range(pn, -1, -1):
                acc = -np.inf
                for width in range(3):
                    if j + width > pn:
                        break
                    if bwd[i + 1, j + width] == -np.inf:
                        continue
                    e = _emission(ph, j, width, n_phones)
                    term = logp[lt, e] + bwd[i + 1, j + width]
                    acc = _logaddexp(acc, term)
                    if fwd[i, j] != -np.inf:
                        counts[lt, e] += np.exp(fwd[i, j] + term - z)
                bwd[i, j] = acc
    return total


@njit(cache=True)
def align_viterbi_into(letters, letter_off, phones, phone_off, logp, n_phones, out):
    """Best alignment: out[letter position] = emission id (-1 if the word cannot be aligned)."""
    for w in range(letter_off.shape[0] - 1):
        lo, ln = letter_off[w], letter_off[w + 1] - letter_off[w]
        po, pn = phone_off[w], phone_off[w + 1] - phone_off[w]
        ph = phones[po:po + pn]
        best = np.full((ln + 1, pn + 1), -np.inf)
        back = np.zeros((ln + 1, pn + 1), dtype=np.int64)
        best[0, 0] = 0.0
        for i in range(ln):
            lt = letters[lo + i]
            for j in range(pn + 1):
                if best[i, j] == -np.inf:
                    continue
                for width in range(3):
                    if j + width > pn:
                        break
                    s = best[i, j] + logp[lt, _emission(ph, j, width, n_phones)]
                    if s > best[i + 1, j + width]:
                        best[i + 1, j + width] = s
                        back[i + 1, j + width] = width
        if best[ln, pn] == -np.inf:
            for i in range(ln):
                out[lo + i] = -1
            continue
        j = pn
        for i in range(ln, 0, -1):
            width = back[i, j]
            j -= width
            out[lo + i - 1] = _emission(ph, j, width, n_phones)
