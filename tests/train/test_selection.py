"""Neuron selection on crafted caches: untallied first, gold closest to the middle, moderate, random."""
from __future__ import annotations

import numpy as np
import pytest

from hashtron_lab.train.gold_zone import GoldZone
from hashtron_lab.train.selection import RoundRobinState, SelectionConfig, Selector, VisitPicker
from hashtron_lab.train.sum_cache import SumCache


def regime_of(S, N):
    return GoldZone().regime(S, N)


def select_neuron(cache, layer, width, N, rng, cfg=None, state=None):
    """One pick of a fresh visit (the rule of train/selection.py)."""
    return VisitPicker(cfg or SelectionConfig(), cache, layer, width, N, state).pick(rng, set())


def select_neurons(cache, layer, width, N, rng, cfg=None, k=1, state=None):
    """k distinct picks of one visit, best first."""
    if not 1 <= k <= width:
        raise ValueError(f"k must be in [1, width={width}], got {k}")
    picker, taken, out = VisitPicker(cfg or SelectionConfig(), cache, layer, width, N, state), set(), []
    for _ in range(k):
        p, reason = picker.pick(rng, taken)
        out.append((p, reason))
        taken.add(p)
    return out


def select(selector, cache, layer, width, N, rng, exclude=frozenset()):
    return selector.visit(cache, layer, width, N).pick(rng, set(exclude))

N = 100  # ε = 10, τ = 80, middle of the zone 45


def _cache(sums: dict[int, int], layer: int = 1, n: int = N) -> SumCache:
    c = SumCache()
    for pos, S in sums.items():
        c.add(layer, pos, 0, S, n, 0, n, regime_of(S, n), 0.1, True, 0.5, timestamp=0.0)
    return c


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_untallied_first_lowest_index():
    assert select_neuron(SumCache(), 1, 4, N, _rng(), SelectionConfig()) == (0, "untallied")
    c = _cache({0: 45, 1: 45, 3: 45})
    assert select_neuron(c, 1, 4, N, _rng(), SelectionConfig()) == (2, "untallied")
    # records of another layer do not count
    assert select_neuron(c, 0, 4, N, _rng()) == (0, "untallied")


def test_untallied_ignores_positions_past_the_width_and_tried_ones():
    """A cache from a wider layer (positions >= width) still leaves untallied positions to fill; tried
    positions are skipped; with none left the zone rule picks among the rest."""
    c = _cache({0: 45, 5: 45, 6: 45, 7: 45})  # 4 records, width 4: positions 1..3 still untallied
    assert c.first_untallied(1, 4) == 1
    assert select_neuron(c, 1, 4, N, _rng()) == (1, "untallied")
    assert select(Selector(), c, 1, 4, N, _rng(), exclude={1, 2}) == (3, "untallied")
    assert select(Selector(), c, 1, 4, N, _rng(), exclude={1, 2, 3}) == (0, "gold")
    assert _cache({0: 45, 1: 45}).first_untallied(1, 2) == -1


def test_a_full_layer_is_remembered_per_width():
    """Once every position of [0, w) has a record the answer for w is cached; a wider query still
    finds the next gap, and a new record fills it."""
    c = _cache({0: 45, 1: 45, 2: 45})
    assert c.first_untallied(1, 3) == -1
    assert c.first_untallied(1, 2) == -1
    assert c.first_untallied(1, 5) == 3
    c.add(1, 3, 0, 10, N, 0, 4, "gold", 0.1, True, 0.5)
    assert c.first_untallied(1, 5) == 4
    c.add(1, 4, 0, 10, N, 0, 4, "gold", 0.1, True, 0.5)
    assert c.first_untallied(1, 5) == -1
    assert c.first_untallied(0, 1) == 0  # other layers keep their own answer


def test_gold_closest_to_middle_ties_lowest():
    c = _cache({0: 20, 1: -44, 2: 46, 3: 90, 4: 5})
    assert select_neuron(c, 1, 5, N, _rng(), SelectionConfig()) == (1, "gold")   # |−44| and 46 tie → 1
    c = _cache({0: 20, 1: 70, 2: 12, 3: 90})
    assert select_neuron(c, 1, 4, N, _rng()) == (0, "gold")


def test_gold_uses_current_n():
    # recorded with 200 samples: |S| = 90 is margin 0.45 → 45 at N = 100, the exact middle
    c = _cache({0: 30}, n=100)
    c.add(1, 1, 0, 90, 200, 0, 200, "gold", 0.1, True, 0.5)
    assert select_neuron(c, 1, 2, N, _rng()) == (1, "gold")


def test_moderate_when_no_gold():
    c = _cache({0: 0, 1: 5, 2: 100, 3: 95, 4: -100})
    # no gold; margins in (0, 1): 0.05 (distance 40) and 0.95 (distance 50) → position 1
    assert select_neuron(c, 1, 5, N, _rng(), SelectionConfig()) == (1, "moderate")


def test_random_when_every_margin_is_zero_or_one():
    c = _cache({0: 0, 1: 100, 2: -100, 3: 0})
    picks = {select_neuron(c, 1, 4, N, _rng(s))[0] for s in range(40)}
    assert picks == {0, 1, 2, 3}
    assert select_neuron(c, 1, 4, N, _rng(7)) == select_neuron(c, 1, 4, N, _rng(7))
    assert select_neuron(c, 1, 4, N, _rng(7))[1] == "random"


def test_explore_after_untallied():
    cfg = SelectionConfig(explore=1.0)
    assert select_neuron(_cache({0: 45}), 1, 3, N, _rng(), cfg) == (1, "untallied")
    c = _cache({0: 45, 1: 45, 2: 45})
    assert select_neuron(c, 1, 3, N, _rng(), cfg)[1] == "random"
    # explore = 0 draws nothing from the RNG
    rng = _rng(3)
    select_neuron(c, 1, 3, N, rng, SelectionConfig())
    assert rng.random() == _rng(3).random()


def test_rule_random_and_round_robin():
    c = _cache({0: 45})
    p, why = select_neuron(c, 1, 5, N, _rng(), SelectionConfig(rule="random"))
    assert why == "random" and 0 <= p < 5
    sel = Selector({"rule": "round_robin"})
    assert [select(sel, c, 1, 3, N, _rng())[0] for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert select(sel, c, 2, 3, N, _rng()) == (0, "round_robin")          # a counter per layer
    st = sel.state_dict()
    other = Selector({"rule": "round_robin"})
    other.load_state_dict(st)
    assert select(other, c, 1, 3, N, _rng()) == select(sel, c, 1, 3, N, _rng()) == (1, "round_robin")
    with pytest.raises(ValueError, match="RoundRobinState"):
        select_neuron(c, 1, 3, N, _rng(), SelectionConfig(rule="round_robin"))
    state = RoundRobinState()
    assert select_neuron(c, 1, 3, N, _rng(), SelectionConfig(rule="round_robin"), state) == (0, "round_robin")


def test_select_neurons_distinct_by_priority():
    c = _cache({0: 45, 1: 5, 3: 30, 4: 100, 5: 60})
    picks = select_neurons(c, 1, 6, N, _rng(), SelectionConfig(), k=6)
    assert picks[:5] == [(2, "untallied"), (0, "gold"), (3, "gold"), (5, "gold"), (1, "moderate")]
    assert picks[5] == (4, "random")
    assert len({p for p, _ in picks}) == 6
    rr = select_neurons(c, 1, 4, N, _rng(), SelectionConfig(rule="round_robin"), k=4, state=RoundRobinState())
    assert [p for p, _ in rr] == [0, 1, 2, 3]
    rnd = select_neurons(c, 1, 6, N, _rng(), SelectionConfig(rule="random"), k=6)
    assert sorted(p for p, _ in rnd) == list(range(6))
    with pytest.raises(ValueError, match="k must be"):
        select_neurons(c, 1, 3, N, _rng(), k=4)


def _oracle(latest: dict[int, tuple[int, int]], width: int, tried: set[int]) -> tuple[int | None, str]:
    """The rule written out: untallied lowest, then gold closest to the middle, then moderate."""
    for p in range(width):
        if p not in latest and p not in tried:
            return p, "untallied"
    eps, tau = 1.0 * N ** 0.5, 0.8 * N
    mid = (eps + tau) / 2
    scaled = {p: abs(S) * (N / n) for p, (S, n) in latest.items() if p < width and p not in tried}
    for ok, reason in ((lambda a: eps < a < tau, "gold"), (lambda a: 0 < a < N, "moderate")):
        cand = [p for p, a in scaled.items() if ok(a)]
        if cand:
            return min(cand, key=lambda p: (abs(scaled[p] - mid), p)), reason
    return None, "random"


@pytest.mark.parametrize("seed", range(6))
def test_a_visit_walks_the_picks_the_rule_makes_afresh(seed):
    """A VisitPicker ranks once and walks; after every pick the picked neuron gets a new record (as
    in training). Each pick must be what the rule gives on the cache as it is at that moment."""
    rng = np.random.default_rng(seed)
    width = 30
    latest = {}
    c = SumCache()
    for p in rng.choice(width + 5, size=24, replace=False).tolist():  # gaps and positions past the width
        S, n = int(rng.choice([0, 5, 30, 45, -45, 60, 79, 90, 100])), int(rng.choice([N, 2 * N]))
        S = S * n // N
        c.add(1, p, 0, S, n, 0, n, regime_of(S, n), 0.1, True, 0.5, timestamp=0.0)
        latest[p] = (S, n)
    picker = Selector().visit(c, 1, width, N)
    tried: set[int] = set()
    draws = np.random.default_rng(99)
    for _ in range(width):
        want = _oracle(latest, width, tried)
        got = picker.pick(draws, tried)
        assert got[1] == want[1]
        if want[0] is not None:
            assert got[0] == want[0]
        assert got[0] not in tried
        tried.add(got[0])
        S = int(rng.integers(-N, N + 1))  # the trained neuron's new sum: it must not reorder the rest
        c.add(1, got[0], 1, S, N, 0, N, regime_of(S, N), 0.1, True, 0.5, timestamp=0.0)
        latest[got[0]] = (S, N)
    assert tried == set(range(width))


def test_positions_beyond_width_ignored():
    c = _cache({0: 45, 1: 45, 9: 45})
    assert select_neuron(c, 1, 2, N, _rng()) == (0, "gold")


def test_config_from_dict():
    assert SelectionConfig.from_dict({"rule": "random"}).rule == "random"
    with pytest.raises(ValueError) as ei:
        SelectionConfig.from_dict({"rules": "gold"})
    assert "'rules'" in str(ei.value) and "explore" in str(ei.value)
    with pytest.raises(ValueError, match="rule = 'best' is not a valid choice; allowed: one of gold, random"):
        SelectionConfig(rule="best")
    with pytest.raises(ValueError, match=r"^gold_zone.eps_factor = -1 is out of range; allowed: a number >= 0$"):
        GoldZone.from_dict({"eps_factor": -1})
    with pytest.raises(ValueError, match="explore"):
        SelectionConfig(explore=2.0)
