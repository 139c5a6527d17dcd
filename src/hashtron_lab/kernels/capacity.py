"""The premodulo decision as one compiled step (DESIGN §5): the square law, the clamps, the
throttle and the regime, for one neuron, once per backward update.

It was ~70 lines of Python an update (law, dampening bounds, throttle, rounding, regime) and
Python between kernels runs several times slower than alone; one call replaces them.
`train.capacity` and `train.throttle` hold the configuration and the state; this module only
computes. Which bounds fired comes back as bits (`BIT_NAMES`, in the order they are applied).

`p` (float64) holds the settings at the `P_*` slots. Throttle state is one float64 row per neuron
slot: [number of directions held, α, changes since the last flip, direction 1 … direction
window] (directions ±1, oldest first).
"""
import math

import numpy as np
from numba import njit

UINT32_MAX = 4294967295

CAPACITY_LOW, CAPACITY_HIGH, UINT32, CLAMP, PERCENT_LIMIT, THROTTLE, MIN_PREMODULO = 1, 2, 4, 8, 16, 32, 64
BIT_NAMES = ((CAPACITY_LOW, "capacity_low"), (CAPACITY_HIGH, "capacity_high"), (UINT32, "uint32"),
             (CLAMP, "clamp"), (PERCENT_LIMIT, "percent_limit"), (THROTTLE, "throttle"),
             (MIN_PREMODULO, "min_premodulo"))

UNKNOWN, NOISY, GOLD, COLLAPSED = 0, 1, 2, 3   # the indexes of sum_cache.REGIME_NAMES

(P_CLAMP, P_CLAMP_FACTOR, P_PERCENT, P_PERCENT_LIMIT, P_MIN_PREMODULO, P_EPS, P_TAU,
 P_THROTTLE, P_WINDOW, P_FLIPS, P_SHRINK, P_ALPHA_MIN, P_RECOVER, P_SETTLE) = range(14)
N_PARAMS = 14

S_LEN, S_ALPHA, S_SINCE, S_DIRS = 0, 1, 2, 3   # columns of a throttle state row


@njit(cache=True)
def round_half_up(x):
    return math.floor(x + 0.5)


@njit(cache=True)
def square_law(s, N):
    """(target capacity N/(|s|+1) clamped to [1, N], its square rounded in [1, 2³²−1], bits)."""
    bits = 0
    target = N / (abs(s) + 1.0)
    if target < 1.0:
        target = 1.0
        bits |= CAPACITY_LOW
    elif target > N:
        target = float(N)
        bits |= CAPACITY_HIGH
    raw = round_half_up(target * target)
    if raw > UINT32_MAX:
        raw = UINT32_MAX
        bits |= UINT32
    return target, max(raw, 1), bits


@njit(cache=True)
def regime(s, N, eps_factor, tau_factor):
    """Collapsed if |s| ≥ τ·N (tested first: it wins when the thresholds cross), noisy if
    |s| ≤ ε·√N, else gold."""
    a = abs(s)
    if a >= tau_factor * N:
        return COLLAPSED
    if a <= eps_factor * math.sqrt(N):
        return NOISY
    return GOLD


@njit(cache=True)
def flips(row):
    """Direction changes among the directions a throttle row holds."""
    n = 0
    for i in range(S_DIRS + 1, S_DIRS + int(row[S_LEN])):
        if row[i] != row[i - 1]:
            n += 1
    return n


@njit(cache=True)
def throttle_step(row, previous, proposed, p):
    """(previous·(proposed/previous)^α, α, oscillating) after recording this change in `row`
    (see train.throttle for the rule). No change (proposed = previous) records nothing."""
    step = math.log(proposed) - math.log(previous)
    trigger = int(p[P_FLIPS])
    if step == 0.0:
        return proposed, row[S_ALPHA], flips(row) >= trigger
    d = 1.0 if step > 0 else -1.0
    n = int(row[S_LEN])
    flip = n > 0 and row[S_DIRS + n - 1] != d
    if n == int(p[P_WINDOW]):  # full: the oldest direction leaves
        for i in range(S_DIRS, S_DIRS + n - 1):
            row[i] = row[i + 1]
        row[S_DIRS + n - 1] = d
    else:
        row[S_DIRS + n] = d
        row[S_LEN] = n + 1
    osc = flips(row) >= trigger
    if flip:
        row[S_SINCE] = 0.0
        if osc:
            row[S_ALPHA] = max(p[P_ALPHA_MIN], row[S_ALPHA] * p[P_SHRINK])
    else:
        row[S_SINCE] += 1.0
        if row[S_SINCE] >= p[P_SETTLE]:
            row[S_ALPHA] = min(1.0, row[S_ALPHA] * p[P_RECOVER])
    return math.exp(math.log(previous) + row[S_ALPHA] * step), row[S_ALPHA], osc


@njit(cache=True)
def _inside(final, lo, hi):
    """Keep a rounded value inside the integer hull of [lo, hi] (when it has one)."""
    ilo, ihi = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if ilo <= ihi:
        return min(max(final, ilo), ihi)
    return final


@njit(cache=True)
def decide(s_used, N, previous, has_sum, p, state, slot):
    """(target, raw, final, bits, α, oscillating, regime) of one decision.

    Without a sum (`has_sum` False) the premodulo is N. With `previous` > 0 the enabled bounds
    apply in order (×/÷ clamp factor, ± percent limit, then the throttle on `state[slot]`), and
    the rounded result stays inside the integer hull of each bound, then in
    [min premodulo, 2³²−1]."""
    alpha, osc, bits = 1.0, False, 0
    if not has_sum:
        target, raw, reg = math.sqrt(N), N, UNKNOWN
    else:
        target, raw, bits = square_law(s_used, N)
        reg = regime(s_used, N, p[P_EPS], p[P_TAU])
    value = float(raw)
    final = round_half_up(value)
    if has_sum and previous > 0:
        clo, chi = previous / p[P_CLAMP_FACTOR], previous * p[P_CLAMP_FACTOR]
        plo, phi = previous * (1.0 - p[P_PERCENT_LIMIT]), previous * (1.0 + p[P_PERCENT_LIMIT])
        if p[P_CLAMP] != 0.0 and (value < clo or value > chi):
            value = min(max(value, clo), chi)
            bits |= CLAMP
        if p[P_PERCENT] != 0.0 and (value < plo or value > phi):
            value = min(max(value, plo), phi)
            bits |= PERCENT_LIMIT
        if p[P_THROTTLE] != 0.0 and value > 0.0:
            scaled, alpha, osc = throttle_step(state[slot], float(previous), value, p)
            if alpha < 1.0 and scaled != value:
                bits |= THROTTLE
            value = scaled
        final = round_half_up(value)
        if p[P_CLAMP] != 0.0:
            final = _inside(final, clo, chi)
        if p[P_PERCENT] != 0.0:
            final = _inside(final, plo, phi)
    if final > UINT32_MAX:
        final = UINT32_MAX
        bits |= UINT32
    if final < p[P_MIN_PREMODULO]:
        final = int(p[P_MIN_PREMODULO])
        bits |= MIN_PREMODULO
    return target, raw, final, bits, alpha, osc, reg


@njit(cache=True)
def new_state(rows, window):
    """Throttle state for `rows` neuron slots: no directions, α = 1."""
    st = np.zeros((rows, S_DIRS + window), np.float64)
    st[:, S_ALPHA] = 1.0
    return st
