"""The gold-zone ranking of a layer's neurons by their newest sums (DESIGN §6): computed once per
layer visit, when the visit's first pick finds every neuron of the layer tallied (until then
`SumCache.first_untallied` picks).

`ps` (positions, ascending), `S` and `Ns` (their newest sum and sample count) come from
`SumCache.layer_view`.
"""
import numpy as np
from numba import njit

GOLD, MODERATE = 1, 2


@njit(cache=True)
def zone_rank(ps, S, Ns, width, N, eps, tau):
    """(positions, number of gold ones): the gold ones (ε < |S| < τ) by distance of |S| to the
    zone's middle, then the other moderate ones (0 < |S| < N) by the same distance; ties to the
    lowest position, |S| rescaled to N, positions >= width left out. Walking it while skipping
    the positions already tried gives, at every step, the pick closest to the middle among those
    left."""
    n = ps.shape[0]
    mid = (eps + tau) / 2.0
    d = np.empty(n)
    kind = np.zeros(n, np.int8)
    for i in range(n):
        a = np.float64(abs(S[i])) * (N / np.float64(Ns[i]))
        d[i] = abs(a - mid)
        if ps[i] >= width:
            continue
        if eps < a < tau:
            kind[i] = GOLD
        elif 0.0 < a < N:
            kind[i] = MODERATE
    order = np.argsort(d, kind="mergesort")  # stable: equal distances keep ascending positions
    out = np.empty(n, np.int64)
    m = n_gold = 0
    for code in (GOLD, MODERATE):
        for i in order:
            if kind[i] == code:
                out[m] = ps[i]
                m += 1
        if code == GOLD:
            n_gold = m
    return out[:m], n_gold
