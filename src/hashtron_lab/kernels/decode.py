"""Counting right predictions straight from the network outputs (model/output_code.py's decoding
in one pass): the acceptance test counts them after every neuron update."""
import numpy as np
from numba import njit

from .tally import _popcount


@njit(cache=True)
def count_correct(out, parity, y, n_classes, codes, mask):
    """How many samples decode to their label: (out ^ parity) mod n_classes (n_classes 0: the
    integer itself) when `codes` is empty, else the index of the nearest code to the masked
    output (ties: the lowest index)."""
    right = 0
    n_codes = codes.shape[0]
    for s in range(out.shape[0]):
        o = np.uint32(out[s] ^ parity[s])
        if n_codes == 0:
            pred = np.int64(o) % n_classes if n_classes > 0 else np.int64(o)
        else:
            o = np.uint32(o & mask)
            pred = 0
            best = 33
            for c in range(n_codes):
                d = _popcount(o ^ codes[c])
                if d < best:
                    best = d
                    pred = c
        if pred == y[s]:
            right += 1
    return right
