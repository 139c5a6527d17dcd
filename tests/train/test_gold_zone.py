"""The gold zone: one object for the band of |S| between noise and collapse, read by selection, the
capacity regimes, the sum cache, MLflow and the reports."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hashtron_lab.train.gold_zone import GoldZone

N = 100  # ε = 10, τ = 80


def test_regime_boundaries():
    z = GoldZone()
    assert z.regime(None, N) == "unknown"
    assert [z.regime(s, N) for s in (0, 10, 11, -79, 80, -90)] == ["noisy", "noisy", "gold", "gold", "collapsed",
                                                                  "collapsed"]
    assert z.regime(1, 1) == "collapsed" and z.regime(0, 1) == "noisy"  # crossed bounds: collapse wins
    assert GoldZone(2.0, 0.5).regime(20, N) == "noisy" and GoldZone(2.0, 0.5).regime(50, N) == "collapsed"


def test_bounds_band_contains_and_count_agree_with_the_regimes():
    z = GoldZone(1.5, 0.7)
    assert z.bounds(400) == (30.0, 280.0) and z.margin_band(400) == (0.075, 0.7)
    sums = [(s, 400) for s in range(-400, 401, 7)]
    assert z.count(sums) == sum(z.regime(s, n) == "gold" for s, n in sums) > 0
    assert all(z.contains(s, n) == (z.regime(s, n) == "gold") for s, n in sums)


def _rank_reference(zone, ps, S, Ns, width, n):
    """Gold first by |S| (rescaled to n) nearest the band's middle, then the other moderate ones."""
    eps, tau = zone.eps_factor * math.sqrt(n), zone.tau_factor * n
    mid = (eps + tau) / 2
    scaled = [(p, abs(s) * n / k) for p, s, k in zip(ps, S, Ns) if p < width]
    gold = sorted((p for p, a in scaled if eps < a < tau), key=lambda p: (abs(dict(scaled)[p] - mid), p))
    moderate = sorted((p for p, a in scaled if not eps < a < tau and 0 < a < n),
                      key=lambda p: (abs(dict(scaled)[p] - mid), p))
    return gold + moderate, len(gold)


@pytest.mark.parametrize("seed", range(5))
def test_rank_matches_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    ps = np.arange(40, dtype=np.int64)
    Ns = rng.choice([100, 200], 40).astype(np.int64)
    S = (rng.integers(-100, 101, 40) * Ns // 100).astype(np.int64)
    zone = GoldZone(float(rng.uniform(0.5, 2)), float(rng.uniform(0.5, 0.9)))
    assert zone.rank(ps, S, Ns, 35, 100) == _rank_reference(zone, ps.tolist(), S.tolist(), Ns.tolist(), 35, 100)


def test_of_params_reads_a_run_records_settings():
    assert GoldZone.of_params({"gold_zone": {"tau_factor": 0.6}}) == GoldZone(1.0, 0.6)
    assert GoldZone.of_params(None) == GoldZone() and GoldZone.of_params({}) == GoldZone()
    with pytest.raises(ValueError, match=r"^gold_zone.tau_factor = 0 is out of range; allowed: a number > 0$"):
        GoldZone.from_dict({"tau_factor": 0})
