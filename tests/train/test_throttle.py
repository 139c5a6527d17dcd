"""Throttle: oscillating premodulo proposals are damped, monotone ones pass untouched."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hashtron_lab.kernels import capacity as KC
from hashtron_lab.train.throttle import Throttle as _Throttle
from hashtron_lab.train.throttle import ThrottleConfig


class Throttle(_Throttle):
    """The throttle alone, as the capacity decision drives it (`kernels.capacity.throttle_step`)."""

    def scale(self, layer, pos, previous, proposed):
        """(previous · (proposed/previous)^α, α, oscillating) after recording this change; the
        proposal passes unchanged (α = 1) when disabled or without positive values."""
        if not self.cfg.enabled or not previous > 0 or not proposed > 0:
            return float(proposed), 1.0, False
        p = np.zeros(KC.N_PARAMS)
        self.params_into(p)
        slot = self.slot(layer, pos)
        value, alpha, osc = KC.throttle_step(self.state[slot], float(previous), float(proposed), p)
        return value, alpha, bool(osc)

    def _row(self, layer, pos):
        s = self._slots.get((layer, pos))
        return None if s is None else self.state[s]

    def alpha(self, layer, pos):
        row = self._row(layer, pos)
        return 1.0 if row is None else float(row[KC.S_ALPHA])

    def oscillating(self, layer, pos):
        row = self._row(layer, pos)
        return row is not None and KC.flips(row) >= self.cfg.flips_to_trigger


def _run(th: Throttle, proposals, start=1000.0, key=(1, 0)):
    prev, finals, alphas = start, [], []
    for p in proposals:
        final, alpha, _ = th.scale(*key, prev, p)
        finals.append(final)
        alphas.append(alpha)
        prev = final
    return finals, alphas


def test_alternating_sequence_shrinks_alpha_and_amplitude():
    th = Throttle(ThrottleConfig())
    proposals = [100.0 if t % 2 == 0 else 10000.0 for t in range(24)]  # the law flips every step
    finals, alphas = _run(th, proposals)
    assert alphas[0] == 1.0 and alphas[1] == 1.0          # one flip is not yet oscillation
    assert alphas[2] == 0.5                               # second flip in the window: α × shrink
    assert min(alphas) == pytest.approx(0.05) and alphas[-1] == pytest.approx(0.05)  # floored at alpha_min
    assert th.oscillating(1, 0)
    amp = [abs(math.log(b / a)) for a, b in zip([1000.0] + finals, finals)]
    assert max(amp[-6:]) < 0.05 * max(amp[:3])            # steps shrink from ×100 to about ×1.14
    logs = [math.log(f) for f in finals]
    assert max(logs[-6:]) - min(logs[-6:]) < 0.05 * (max(logs[:3]) - min(logs[:3]))


def test_monotone_sequence_keeps_alpha_one():
    th = Throttle()
    prev = 10.0
    for _ in range(20):
        final, alpha, osc = th.scale(0, 3, prev, prev * 1.7)
        assert alpha == 1.0 and not osc
        assert final == pytest.approx(prev * 1.7)
        prev = final
    # and downwards
    for _ in range(10):
        final, alpha, osc = th.scale(0, 3, prev, prev / 3)
        assert final == pytest.approx(prev / 3)
        prev = final
    assert th.alpha(0, 3) == 1.0 and not th.oscillating(0, 3)


def test_alpha_recovers_after_settling():
    cfg = ThrottleConfig(settle_steps=3, recover=2.0)
    th = Throttle(cfg)
    _run(th, [100.0, 10000.0, 100.0, 10000.0], key=(0, 0))
    a0 = th.alpha(0, 0)
    assert a0 < 1.0
    prev = 5000.0
    alphas = []
    for _ in range(12):
        prev, alpha, _ = th.scale(0, 0, prev, prev * 2)
        alphas.append(alpha)
    assert alphas[0] == a0 and alphas[1] == a0            # not settled yet
    assert alphas[2] == min(1.0, a0 * 2)                  # third change without a flip
    assert alphas[-1] == 1.0
    assert not th.oscillating(0, 0)                       # the flips left the window


def test_neurons_are_independent_and_no_change_is_ignored():
    th = Throttle()
    _run(th, [100.0, 10000.0, 100.0, 10000.0], key=(2, 5))
    assert th.alpha(2, 5) < 1.0 and th.alpha(2, 6) == 1.0
    a = th.alpha(2, 5)
    final, alpha, _ = th.scale(2, 5, 700.0, 700.0)
    assert final == 700.0 and alpha == a


def test_disabled_and_nonpositive_pass_through():
    th = Throttle(ThrottleConfig(enabled=False))
    finals, alphas = _run(th, [100.0, 10000.0] * 5)
    assert finals == [100.0, 10000.0] * 5 and set(alphas) == {1.0}
    assert Throttle().scale(0, 0, 0, 50.0) == (50.0, 1.0, False)


def test_state_round_trip_continues_identically():
    a = Throttle()
    _run(a, [100.0, 10000.0, 100.0], key=(1, 2))
    st = json.loads(json.dumps(a.state_dict()))
    b = Throttle()
    b.load_state_dict(st)
    assert b.state_dict() == a.state_dict()
    ra = _run(a, [10000.0, 100.0, 10000.0], key=(1, 2), start=500.0)
    rb = _run(b, [10000.0, 100.0, 10000.0], key=(1, 2), start=500.0)
    assert ra == rb


def test_many_neurons_keep_separate_state_past_the_first_allocation():
    """The state rows grow when more neurons change than were allocated; each neuron's row is its own."""
    th = Throttle()
    for n in range(40):  # neuron n sees n + 1 alternating proposals
        _run(th, [100.0 if t % 2 == 0 else 10000.0 for t in range(n + 1)], key=(0, n))
    for n in (0, 15, 16, 39):
        alone = Throttle()
        _run(alone, [100.0 if t % 2 == 0 else 10000.0 for t in range(n + 1)], key=(0, n))
        assert th.state_dict()[f"0.{n}"] == alone.state_dict()[f"0.{n}"]
    assert len(th.state_dict()) == 40
    assert th.alpha(0, 39) == pytest.approx(0.05) and th.alpha(0, 0) == 1.0
    loaded = Throttle()
    loaded.load_state_dict(th.state_dict())
    assert loaded.state_dict() == th.state_dict()


def test_a_neuron_without_a_change_is_not_in_the_state():
    th = Throttle()
    th.scale(0, 1, 500.0, 500.0)   # no change: nothing recorded, as before any change
    assert th.state_dict() == {} and th.alpha(0, 1) == 1.0 and not th.oscillating(0, 1)


def test_config_from_dict_and_validation():
    assert ThrottleConfig.from_dict({"window": 8}).window == 8
    with pytest.raises(ValueError, match="'windw'.*valid keys.*window"):
        ThrottleConfig.from_dict({"windw": 8})
    with pytest.raises(ValueError, match="shrink"):
        ThrottleConfig(shrink=1.5)
    with pytest.raises(ValueError, match="flips_to_trigger"):
        ThrottleConfig(window=3, flips_to_trigger=3)
