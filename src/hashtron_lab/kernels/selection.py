"""The gold-zone pick among a layer's neurons by their newest sums (DESIGN §6): once per update
when every neuron of the layer has a record (until then `SumCache.first_untallied` picks).

`ps` (positions, ascending), `S` and `Ns` (their newest sum and sample count) come from
`SumCache.layer_view`; `excluded[p]` marks positions already tried in this layer visit.
"""
import numpy as np
from numba import njit

GOLD, MODERATE, NONE = 1, 2, -1


@njit(cache=True)
def zone_pick(ps, S, Ns, excluded, N, eps, tau):
    """(position, GOLD) of the sum closest to the middle of ε < |S| < τ, else (position, MODERATE)
    of the one closest among 0 < |S| < N, else (-1, NONE); |S| rescaled to N, ties to the lowest."""
    width = excluded.shape[0]
    mid = (eps + tau) / 2.0
    best_g, best_m = -1, -1
    dg, dm = np.inf, np.inf
    for i in range(ps.shape[0]):
        p = ps[i]
        if p >= width or excluded[p]:
            continue
        a = np.float64(abs(S[i])) * (N / np.float64(Ns[i]))
        d = abs(a - mid)
        if eps < a < tau and d < dg:
            best_g, dg = p, d
        if 0.0 < a < N and d < dm:
            best_m, dm = p, d
    if best_g >= 0:
        return best_g, GOLD
    if best_m >= 0:
        return best_m, MODERATE
    return -1, NONE
