"""Output integer -> class (model/output_code.py's codes), compiled: prediction decodes every
output, and the acceptance test counts right predictions after every neuron update."""
import numpy as np
from numba import njit

from .tally import _popcount


@njit(cache=True, inline="always")
def decode_one(o, n_classes, codes, mask):
    """Class of output integer `o`: o mod n_classes (n_classes 0: o itself) when `codes` is
    empty, else the index of the code nearest the masked output (ties: the lowest index)."""
    if codes.shape[0] == 0:
        return np.int64(o) % n_classes if n_classes > 0 else np.int64(o)
    o = np.uint32(o & mask)
    pred = 0
    best = 33
    for c in range(codes.shape[0]):
        d = _popcount(o ^ codes[c])
        if d < best:
            best = d
            pred = c
    return np.int64(pred)


@njit(cache=True)
def decode_into(out, n_classes, codes, mask, pred):
    """pred[s] = the class of out[s]."""
    for s in range(out.shape[0]):
        pred[s] = decode_one(out[s], n_classes, codes, mask)


@njit(cache=True)
def count_correct(out, parity, y, n_classes, codes, mask):
    """How many samples decode to their label after the parity word is removed (no decoded array)."""
    right = 0
    for s in range(out.shape[0]):
        if decode_one(np.uint32(out[s] ^ parity[s]), n_classes, codes, mask) == y[s]:
            right += 1
    return right
