"""Capacity law and controller on hand-computed cases: clamps, bounds, regimes, dampening, staleness."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from hashtron_lab.kernels import capacity as KC
from hashtron_lab.kernels.capacity import round_half_up
from hashtron_lab.train.capacity import _CLAMPS, UINT32_MAX, CapacityConfig
from hashtron_lab.train.capacity import CapacityController as _Controller
from hashtron_lab.train.gold_zone import GoldZone
from hashtron_lab.train.throttle import Throttle, ThrottleConfig


def capacity_law(S, N):
    """The square law alone: (target_capacity, raw premodulo, clamps that fired)."""
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    target, raw, bits = KC.square_law(float(S), int(N))
    return target, int(raw), list(_CLAMPS[bits])


class CapacityController(_Controller):
    """The controller with its decision read by attribute (`decide`)."""

    def decide(self, *args, **kw):
        return SimpleNamespace(**self.decision_fields(*args, **kw))


# ---------------------------------------------------------------- the law
@pytest.mark.parametrize("S,N,target,raw,clamps", [
    (0, 100, 100.0, 10_000, []),                 # noise: capacity N → premodulo N²
    (100, 100, 1.0, 1, ["capacity_low"]),        # collapsed: 100/101 < 1 → 1 → premodulo 1
    (-100, 100, 1.0, 1, ["capacity_low"]),
    (9, 100, 10.0, 100, []),
    (-4, 10, 2.0, 4, []),
    (2, 10, 10 / 3, 11, []),                     # 11.11 rounds to 11
    (1, 3, 1.5, 2, []),                          # 2.25 → 2
    (0, 65_535, 65_535.0, 65_535**2, []),        # the largest N that still fits
    (0, 65_536, 65_536.0, UINT32_MAX, ["uint32"]),
    (0, 70_000, 70_000.0, UINT32_MAX, ["uint32"]),
    (0, 1, 1.0, 1, []),
])
def test_capacity_law(S, N, target, raw, clamps):
    t, r, c = capacity_law(S, N)
    assert t == pytest.approx(target) and r == raw and c == clamps


def test_rounding_is_half_up_and_n_checked():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.49, 6.25)] == [1, 2, 3, 2, 6]  # not banker's
    assert capacity_law(1.5, 4)[1] == 3          # (4/2.5)² = 2.56 → 3; a float |S| (an average) is fine
    with pytest.raises(ValueError):
        capacity_law(0, 0)


# ---------------------------------------------------------------- regimes and phase 0
def _ctl(eps_factor: float = 1.0, tau_factor: float = 0.8, **kw) -> CapacityController:
    return CapacityController(CapacityConfig(**kw), zone=GoldZone(eps_factor, tau_factor))


def test_no_sum_is_phase_zero():
    d = _ctl().decide(3, 0, N=500, recent=[], epoch=0, previous=0)
    assert (d.S, d.S_used, d.margin, d.regime, d.raw, d.final, d.clamps, d.alpha, d.stale) == \
        (None, None, None, "unknown", 500, 500, [], 1.0, False)
    # even with a previous premodulo: phase 0 is premodulo N
    assert _ctl().decide(3, 0, N=500, recent=[], epoch=0, previous=7).final == 500


@pytest.mark.parametrize("S,regime,raw", [
    (0, "noisy", 10_000),
    (10, "noisy", 83),          # |S| = ε = √100 is still noise: (100/11)² = 82.6
    (11, "gold", 69),           # (100/12)² = 69.4
    (-19, "gold", 25),
    (79, "gold", 2),            # (100/80)² = 1.5625
    (80, "collapsed", 2),       # (100/81)² = 1.52
    (90, "collapsed", 1),       # (100/91)² = 1.21
])
def test_regimes(S, regime, raw):
    d = _ctl(dampening=[]).decide(1, 2, N=100, recent=[(S, 4)], epoch=4, previous=0)
    assert d.regime == regime and d.raw == raw and d.final == raw
    assert d.S == S and d.S_used == abs(S) and d.margin == pytest.approx(abs(S) / 100)


def test_regime_thresholds_configurable():
    d = _ctl(dampening=[], eps_factor=2.0, tau_factor=0.5).decide(0, 0, 100, [(20, 0)], 0, 0)
    assert d.regime == "noisy"
    d = _ctl(dampening=[], eps_factor=2.0, tau_factor=0.5).decide(0, 0, 100, [(50, 0)], 0, 0)
    assert d.regime == "collapsed"


# ---------------------------------------------------------------- dampening
def test_clamp_limits_change_to_factor():
    c = _ctl(dampening=["clamp"])
    down = c.decide(0, 0, 100, [(90, 1)], 1, previous=10_000)         # raw 1
    assert (down.raw, down.final, down.clamps) == (1, 1_000, ["clamp"])
    up = c.decide(0, 1, 100, [(0, 1)], 1, previous=10)                 # raw 10 000
    assert (up.raw, up.final, up.clamps) == (10_000, 100, ["clamp"])
    within = c.decide(0, 2, 100, [(9, 1)], 1, previous=50)             # raw 100 ≤ 500
    assert (within.final, within.clamps) == (100, [])
    none = c.decide(0, 3, 100, [(0, 1)], 1, previous=0)                # no previous: no dampening
    assert (none.final, none.clamps) == (10_000, [])
    odd = _ctl(dampening=["clamp"], clamp_factor=3.0).decide(0, 4, 100, [(90, 1)], 1, previous=100)
    assert odd.final == 34 and odd.clamps == ["clamp"]                 # 33.3 rounds into the bound


def test_percent_limit():
    c = _ctl(dampening=["percent_limit"], percent_limit=0.5)
    assert c.decide(0, 0, 100, [(0, 1)], 1, previous=1_000).final == 1_500
    d = c.decide(0, 0, 100, [(90, 1)], 1, previous=1_000)
    assert (d.final, d.clamps) == (500, ["percent_limit"])
    assert c.decide(0, 0, 100, [(9, 1)], 1, previous=90).clamps == []  # 100 within [45, 135]


def test_clamp_and_percent_limit_combined():
    c = _ctl(dampening=["clamp", "percent_limit"])
    d = c.decide(0, 0, 100, [(90, 1)], 1, previous=10_000)
    assert (d.raw, d.final, d.clamps) == (1, 5_000, ["clamp", "percent_limit"])
    d = c.decide(0, 0, 100, [(0, 1)], 1, previous=5_000)             # 10 000 within ×10 but not +50 %
    assert (d.final, d.clamps) == (7_500, ["percent_limit"])


def test_moving_average_of_last_k():
    c = _ctl(dampening=["moving_average"], ma_k=3)
    recent = [(10, 0), (20, 1), (-30, 2), (40, 3)]
    d = c.decide(0, 0, 100, recent, 3, 0)
    assert d.S == 40 and d.S_used == pytest.approx(30.0)           # (20 + 30 + 40) / 3, magnitudes
    assert d.raw == round((100 / 31) ** 2) and not d.stale
    assert c.history_needed == 3 and c.reads_history
    assert not _ctl(dampening=["clamp", "percent_limit"]).reads_history and _ctl(dampening=["exp_smoothing"]).reads_history
    short = c.decide(0, 0, 100, [(40, 3)], 3, 0)
    assert short.S_used == 40.0


def test_stale_sums_weigh_less_and_are_marked():
    c = _ctl(dampening=["moving_average"], ma_k=3, stale_epochs=5, stale_weight=0.5)
    d = c.decide(0, 0, 100, [(10, 2), (40, 8), (40, 9)], epoch=10, previous=0)
    assert d.stale                                                  # epoch 2 is 8 epochs old
    assert d.S_used == pytest.approx((0.5 * 10 + 40 + 40) / 2.5)   # 34
    assert d.raw == round((100 / 35) ** 2)
    fresh = c.decide(0, 0, 100, [(10, 5), (40, 8), (40, 9)], epoch=10, previous=0)
    assert not fresh.stale and fresh.S_used == pytest.approx(30.0)
    # the last-sum law marks a stale newest sum too
    last = _ctl(dampening=[]).decide(0, 0, 100, [(40, 1)], epoch=7, previous=0)
    assert last.stale and last.S_used == 40.0
    assert not _ctl(dampening=[]).decide(0, 0, 100, [(40, 2)], epoch=7, previous=0).stale


def test_exponential_smoothing_state():
    c = _ctl(dampening=["exp_smoothing"], ema_alpha=0.5)
    assert c.decide(0, 0, 100, [(20, 0)], 0, 0).S_used == 20.0
    assert c.decide(0, 0, 100, [(20, 0), (-40, 1)], 1, 0).S_used == 30.0
    assert c.decide(0, 0, 100, [(20, 0), (-40, 1)], 1, 0).S_used == 30.0   # same sums: no double count
    assert c.decide(0, 0, 100, [(0, 2)], 2, 0).S_used == 15.0             # only the new sum passed
    assert c.decide(0, 0, 100, [(-40, 1), (0, 2), (10, 3)], 3, 0).S_used == 12.5
    assert c.decide(0, 1, 100, [(60, 3)], 3, 0).S_used == 60.0            # per neuron
    # a stale value enters with ema_alpha · stale_weight
    s = _ctl(dampening=["exp_smoothing"], ema_alpha=0.5, stale_weight=0.5, stale_epochs=1)
    s.decide(0, 0, 100, [(20, 0)], 0, 0)
    d = s.decide(0, 0, 100, [(20, 0), (60, 1)], 5, 0)
    assert d.S_used == pytest.approx(0.25 * 60 + 0.75 * 20) and d.stale


def test_moving_average_with_exp_smoothing():
    c = _ctl(dampening=["moving_average", "exp_smoothing"], ma_k=2, ema_alpha=0.5)
    d = c.decide(0, 0, 100, [(10, 0), (30, 1), (50, 2)], 2, 0)
    # EMA over the moving averages 10, 20, 40: 10 → 15 → 27.5
    assert d.S_used == pytest.approx(27.5)


def test_min_premodulo_and_uint32_bounds():
    d = _ctl(dampening=[], min_premodulo=4).decide(0, 0, 100, [(100, 0)], 0, 0)
    assert (d.raw, d.final, d.clamps) == (1, 4, ["capacity_low", "min_premodulo"])
    big = _ctl(dampening=[]).decide(0, 0, 70_000, [(0, 0)], 0, 0)
    assert big.final == UINT32_MAX and big.clamps == ["uint32"]
    near = _ctl(dampening=["percent_limit"]).decide(0, 0, 70_000, [(0, 0)], 0, previous=UINT32_MAX - 5)
    assert near.final == UINT32_MAX and "uint32" in near.clamps


def test_throttle_damps_an_oscillating_law():
    ctl = CapacityController(CapacityConfig(dampening=["clamp"]), throttle=Throttle(ThrottleConfig()))
    free = CapacityController(CapacityConfig(dampening=["clamp"]))
    p_t = p_f = 1_000
    traj_t, traj_f, decisions = [], [], []
    for t in range(16):
        S = 0 if t % 2 else 90           # the sum jumps between noise and collapse: the law flips
        d = ctl.decide(1, 0, 100, [(S, t)], t, p_t)
        decisions.append(d)
        p_t = d.final
        p_f = free.decide(1, 0, 100, [(S, t)], t, p_f).final
        traj_t.append(p_t)
        traj_f.append(p_f)
    amp = lambda tr: max(abs(math.log(b / a)) for a, b in zip(tr[-6:], tr[-5:]))  # noqa: E731
    assert amp(traj_t) < 0.25 * amp(traj_f)
    assert decisions[-1].alpha < 1.0 and "throttle" in decisions[-1].clamps and decisions[-1].oscillating
    assert decisions[0].alpha == 1.0 and "throttle" not in decisions[0].clamps
    # every final respects the clamp bounds and is an integer
    prev = 1_000
    for d in decisions:
        assert isinstance(d.final, int) and prev / 10 <= d.final <= prev * 10
        prev = d.final


def test_decision_is_json_serialisable():
    ctl = CapacityController(CapacityConfig(dampening=["clamp", "moving_average"]), throttle=Throttle())
    d = ctl.decision_fields(2, 7, 100, [(12, 0), (30, 1)], 1, 64)
    doc = json.loads(json.dumps(d))
    assert doc["layer"] == 2 and doc["pos"] == 7 and doc["regime"] == "gold" and isinstance(doc["clamps"], list)
    assert doc == d


def test_state_dict_round_trip():
    def make():
        return CapacityController(CapacityConfig(dampening=["exp_smoothing", "clamp"]), throttle=Throttle())

    a = make()
    p = 1_000
    seq = [(0 if t % 2 else 90, t) for t in range(8)]
    for t in range(4):
        p = a.decide(0, 0, 100, seq[: t + 1], t, p).final
    b = make()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    pa = pb = p
    for t in range(4, 8):
        da = a.decide(0, 0, 100, seq[: t + 1], t, pa)
        db = b.decide(0, 0, 100, seq[: t + 1], t, pb)
        assert da == db
        pa, pb = da.final, db.final
    with pytest.raises(ValueError, match="no throttle"):
        CapacityController(CapacityConfig()).load_state_dict(a.state_dict())


def test_config_validation_and_from_dict():
    cfg = CapacityConfig.from_dict({"dampening": ["clamp", "exp_smoothing"], "ema_alpha": 0.3})
    assert cfg.dampening == ["clamp", "exp_smoothing"] and cfg.ema_alpha == 0.3
    assert CapacityConfig.from_dict(None) == CapacityConfig()
    with pytest.raises(ValueError) as ei:
        CapacityConfig.from_dict({"clamp_factr": 5})
    assert "'clamp_factr'" in str(ei.value) and "clamp_factor" in str(ei.value)
    with pytest.raises(ValueError, match="dampening = 'median' is unknown; allowed: a list of clamp, moving_average"):
        CapacityConfig(dampening=["median"])
    with pytest.raises(ValueError, match="law = 'cube' is not a valid choice; allowed: one of square"):
        CapacityConfig(law="cube")
    with pytest.raises(ValueError, match=r"clamp_factor = 1.0 is out of range; allowed: a number > 1"):
        CapacityConfig(clamp_factor=1.0)
    with pytest.raises(ValueError, match=r"^capacity.clamp_factor = 0.5 is out of range; allowed: a number > 1$"):
        CapacityConfig.from_dict({"clamp_factor": 0.5})
    ctl = CapacityController({"dampening": []})
    assert ctl.cfg.dampening == []
    with pytest.raises(ValueError, match="N must be"):
        ctl.decide(0, 0, 0, [], 0, 0)


# ---------------------------------------------------------------- invariants
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    N=st.integers(1, 200_000),
    frac=st.floats(0.0, 1.0),
    previous=st.one_of(st.just(0), st.integers(1, 2**32 - 1)),
    damp=st.lists(st.sampled_from(["clamp", "moving_average", "exp_smoothing", "percent_limit"]), unique=True),
    throttle=st.booleans(),
    min_p=st.integers(1, 1000),
)
def test_final_always_within_bounds(N, frac, previous, damp, throttle, min_p):
    cfg = CapacityConfig(dampening=damp, min_premodulo=min_p)
    ctl = CapacityController(cfg, throttle=Throttle() if throttle else None)
    S = int(round(frac * N))
    d = ctl.decide(0, 0, N, [(S, 0), (-S, 1)], 1, previous)
    assert isinstance(d.final, int) and max(1, min_p) <= d.final <= UINT32_MAX
    assert 1 <= d.raw <= UINT32_MAX and 1.0 <= d.target_capacity <= N
    if previous > 0 and d.final > min_p and d.final < UINT32_MAX:
        if "clamp" in damp:
            assert previous / cfg.clamp_factor - 1 < d.final < previous * cfg.clamp_factor + 1
        if "percent_limit" in damp:
            assert previous * (1 - cfg.percent_limit) - 1 < d.final < previous * (1 + cfg.percent_limit) + 1
    json.dumps(vars(d))


# ---------------------------------------------------------------- the support law
@pytest.mark.parametrize("load_factor,bleach,support,premodulo,threshold", [
    (None, 0.0, (40, 10, 30), 0, 1),        # off: no premodulo, WiSARD's threshold
    (1.0, 0.0, (40, 10, 30), 40, 1),        # one bucket per distinct key
    (0.5, 0.0, (41, 10, 30), 21, 1),        # ceil(20.5)
    (2.0, 0.0, (3, 1, 1), 6, 1),
    (None, 0.3, (40, 10, 30), 0, 1),        # load 3 votes per key: floor(0.9) -> 1
    (None, 0.3, (40, 10, 100), 0, 3),       # load 10: floor(3.0) -> 3
    (None, 1.0, (40, 10, 95), 0, 9),        # load 9.5 -> 9
    (None, 1.0, (40, 0, 0), 0, 1),          # no key voted 1: threshold 1
    (0.25, 0.0, (2, 1, 1), 1, 1),           # ceil(0.5) = 1 bucket (the neuron becomes a constant)
])
def test_support_law(load_factor, bleach, support, premodulo, threshold):
    ctl = CapacityController({"law": "support", "load_factor": load_factor, "bleach": bleach})
    ev = ctl.support_fields(0, 3, 200, -150, support, epoch=2, previous=0)
    assert ev["final"] == premodulo and ev["threshold"] == threshold
    assert ev["distinct_keys"] == support[0] and ev["target_capacity"] == support[0]
    assert ev["load"] == pytest.approx(support[2] / support[1] if support[1] else 0.0)
    assert ev["regime"] == "gold" and ev["margin"] == pytest.approx(0.75)  # 0.75 N < tau = 0.8 N
    assert {"layer", "pos", "S", "N", "raw", "clamps", "alpha"} <= set(ev)


def test_support_law_keeps_output_neurons_exact_and_respects_min_premodulo():
    ctl = CapacityController({"law": "support", "load_factor": 0.1, "bleach": 5.0, "min_premodulo": 16})
    out = ctl.support_fields(2, 0, 100, 10, (10, 5, 50), 1, 0, output=True)
    assert out["final"] == 0 and out["threshold"] == 1
    hid = ctl.support_fields(0, 0, 100, 10, (30, 5, 50), 1, 0)
    assert hid["raw"] == 3 and hid["final"] == 16 and hid["clamps"] == ["min_premodulo"]
    assert hid["threshold"] == 50


@pytest.mark.parametrize("bad", [{"load_factor": 0.0}, {"load_factor": -1.0}, {"bleach": -0.1}, {"law": "cube"}])
def test_support_law_settings_are_checked(bad):
    with pytest.raises(ValueError):
        CapacityConfig.from_dict({"law": "support", **bad})
