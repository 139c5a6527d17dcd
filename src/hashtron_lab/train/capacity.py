"""Capacity control (DESIGN §5): a neuron's next premodulo from its recent sums.

The law ("square")::

    target_capacity = N / (|S_used| + 1), clamped to [1, N]       ("capacity_low" / "capacity_high")
    raw             = round(target_capacity²), clamped to [1, 2³²−1]              ("uint32")

``S_used`` is the magnitude the law works on: |last S|, or with ``"moving_average"``
the weighted mean of the last ``ma_k`` |S| (a stale sum weighs ``stale_weight``), and
with ``"exp_smoothing"`` an EMA of those values kept per neuron in the controller (a
stale value enters with ``ema_alpha · stale_weight``; with both options the EMA runs over
the moving averages). Magnitudes, not signed sums, are averaged: the law only uses |S|,
and a sum whose sign flips between trainings is not noise.

Dampening relative to the neuron's current premodulo ``previous`` (when > 0), in this
order, each optional: ``"clamp"`` keeps the value within [previous / clamp_factor,
previous · clamp_factor]; ``"percent_limit"`` within previous · (1 ± percent_limit); then
the throttle (if given) scales the remaining change by α in log space. The result is
rounded (half up) and kept an integer in [min_premodulo, 2³²−1] and inside the bounds of
the options that fired. Every bound that changed the value is named in
the decision's ``clamps``.

Regime of ``S_used`` (with the current N) in the run's gold zone (`train.gold_zone`). With no
sum yet (``recent`` empty) the decision is premodulo N, as for the final neuron in phase 0, and
the regime is "unknown".

A sum is *stale* when it is more than ``stale_epochs`` epochs older than the decision;
the decision's ``stale`` says whether a stale sum entered ``S_used``.

The support law ("support", docs/decisions.md) sizes a hidden neuron by the keys its tally
holds instead of by |S| (under local credit S is fixed by the class prior and says nothing of
the neuron): with D distinct input keys, D₊ of them voted 1 by n₊ samples,

    premodulo = ceil(load_factor · D)   (Bloom-style: buckets per stored key; none when null)
    threshold = max(1, floor(bleach · n₊ / D₊))   (bleaching: a key answers 1 only with that
                                                   many votes for 1; 1 = WiSARD's rule)

so a neuron that sees the same addresses over and over (a saturated RAM) needs more support per
key, and the table shrinks with the keys it must hold. Neurons of the output layer keep
``fixed_premodulo`` and threshold 1: their few keys are codes that must not collide.

With ``enabled: false`` (the capacity ablation) no law decides: every trained neuron uses
``fixed_premodulo`` (0 = no premodulo step) and threshold 1; the decisions are still logged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import math

import numpy as np

from ..kernels import capacity as KC
from ..settings import SettingError, check_fields, from_mapping, one_of, ranged
from .gold_zone import REGIME_NAMES, GoldZone
from .throttle import Throttle, ThrottleConfig

UINT32_MAX = KC.UINT32_MAX
LAWS = ("square", "support")
DAMPENING = ("clamp", "moving_average", "exp_smoothing", "percent_limit")
#: names of the bounds that fired, for each bit pattern the compiled decision returns
_CLAMPS = tuple(tuple(name for bit, name in KC.BIT_NAMES if bits & bit) for bits in range(2 * KC.MIN_PREMODULO))


@dataclass
class CapacityConfig:
    enabled: bool = True                # False: every neuron trains with `fixed_premodulo` (ablation)
    fixed_premodulo: int = ranged(0, 0, UINT32_MAX, integer=True, note="0 = no premodulo step")
    law: str = one_of("square", LAWS)
    dampening: list[str] = field(default_factory=lambda: ["clamp"])
    clamp_factor: float = ranged(10.0, 1, lo_open=True)     # "clamp": at most ×/÷ this per step
    ma_k: int = ranged(3, 1, integer=True)                   # "moving_average": sums averaged
    ema_alpha: float = ranged(0.5, 0, 1, lo_open=True)      # "exp_smoothing": weight of the newest value
    percent_limit: float = ranged(0.5, 0, lo_open=True)     # "percent_limit": max relative change per step
    stale_epochs: int = ranged(5, 0, integer=True)           # a sum older than this many epochs is stale
    stale_weight: float = ranged(0.5, 0, 1, lo_open=True)   # weight of a stale sum in the averages
    min_premodulo: int = ranged(1, 1, UINT32_MAX, integer=True)
    load_factor: float | None = ranged(None, 0, lo_open=True, optional=True)  # "support": premodulo = ceil(load_factor · distinct keys); None = none
    bleach: float = ranged(0.0, 0)     # "support": threshold = max(1, floor(bleach · votes for 1 per supported key)); 0 = 1
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)  # square law: damp oscillating changes

    def __post_init__(self):
        if isinstance(self.dampening, str):
            self.dampening = [self.dampening]
        self.dampening = list(self.dampening)
        for name in self.dampening:
            if name not in DAMPENING:
                raise SettingError("dampening", name, "a list of " + ", ".join(DAMPENING), problem="is unknown")
        if len(set(self.dampening)) != len(self.dampening):
            raise SettingError("dampening", self.dampening, "each option at most once", problem="lists an option twice")
        check_fields(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "capacity") -> "CapacityConfig":
        return from_mapping(cls, d, where)


class CapacityController:
    """Decides each neuron's premodulo (see module docstring); keeps per-neuron EMA state.

    `throttle` is an optional :class:`~hashtron_lab.train.throttle.Throttle` shared by
    all neurons (its state is saved with the controller's); `zone` names the regimes.
    """

    def __init__(self, cfg: CapacityConfig | Mapping[str, Any] | None = None, throttle: Throttle | None = None,
                 zone: GoldZone | None = None):
        self.cfg = cfg if isinstance(cfg, CapacityConfig) else CapacityConfig.from_dict(cfg)
        self.zone = zone or GoldZone()
        d = self.cfg.dampening  # read once: `decide` runs on every backward update
        self._clamp, self._percent = "clamp" in d, "percent_limit" in d
        self._average, self._smooth = "moving_average" in d, "exp_smoothing" in d
        self._history = self._average or self._smooth
        self.throttle = throttle
        self._params = np.zeros(KC.N_PARAMS)   # the settings as the compiled decision reads them
        p, c = self._params, self.cfg
        p[KC.P_CLAMP], p[KC.P_CLAMP_FACTOR] = float(self._clamp), c.clamp_factor
        p[KC.P_PERCENT], p[KC.P_PERCENT_LIMIT] = float(self._percent), c.percent_limit
        p[KC.P_MIN_PREMODULO], p[KC.P_EPS], p[KC.P_TAU] = c.min_premodulo, self.zone.eps_factor, self.zone.tau_factor
        if throttle is not None:
            throttle.params_into(p)
        self._no_state = KC.new_state(1, 1)
        # (layer, pos) -> [ema value, S of newest entry folded in, epoch of it]
        self._ema: dict[tuple[int, int], list] = {}

    @property
    def history_needed(self) -> int:
        """How many recent sums `decide` looks at (pass at least this many)."""
        return self.cfg.ma_k if self._average else 1

    @property
    def reads_history(self) -> bool:
        """Whether `decide` reads sums older than the newest one (averaging or smoothing); when
        not, a caller need not fetch them (a cache query per update saved)."""
        return self._history

    def _is_stale(self, entry_epoch: int, epoch: int) -> bool:
        return epoch - entry_epoch > self.cfg.stale_epochs

    def _value_at(self, recent: Sequence[tuple[int, int]], i: int, epoch: int) -> tuple[float, bool]:
        """|S| (or its moving average) ending at recent[i], and whether a stale sum entered it."""
        cfg = self.cfg
        if not self._average:
            s, e = recent[i]
            return abs(float(s)), self._is_stale(e, epoch)
        lo = max(0, i - cfg.ma_k + 1)
        num = den = 0.0
        stale = False
        for s, e in recent[lo:i + 1]:
            st = self._is_stale(e, epoch)
            w = cfg.stale_weight if st else 1.0
            stale |= st
            num += w * abs(float(s))
            den += w
        return num / den, stale

    def _s_used(self, key: tuple[int, int], recent: Sequence[tuple[int, int]], epoch: int) -> tuple[float, bool]:
        cfg = self.cfg
        if not self._smooth:
            return self._value_at(recent, len(recent) - 1, epoch)
        st = self._ema.get(key)
        start, value = 0, None
        if st is not None:
            value = st[0]
            sig = (st[1], st[2])
            for i in range(len(recent) - 1, -1, -1):
                if (recent[i][0], recent[i][1]) == sig:
                    start = i + 1
                    break
        stale_any = False
        if value is None:
            value, stale_any = self._value_at(recent, 0, epoch)
            start = 1
        for i in range(start, len(recent)):
            x, stale = self._value_at(recent, i, epoch)
            a = cfg.ema_alpha * (cfg.stale_weight if stale else 1.0)
            value = a * x + (1.0 - a) * value
            stale_any |= stale
        if start >= len(recent):  # nothing new: the newest value's staleness is what matters
            stale_any = self._is_stale(recent[-1][1], epoch)
        self._ema[key] = [value, recent[-1][0], recent[-1][1]]
        return value, stale_any

    def decision_fields(self, layer: int, pos: int, N: int, recent: Sequence[tuple[int, int]], epoch: int,
                        previous: int) -> dict:
        """The premodulo decision for neuron (layer, pos) about to be trained on N samples, as a new
        dict (the training loop extends it into the decision event): layer, pos, epoch, S (newest
        signed sum or None), S_used (the |S| the law used), N, margin, regime, target_capacity,
        previous, raw (the law's value), final (to train with), clamps (bounds that fired), alpha
        (throttle factor), stale, oscillating.

        `recent`: [(S, epoch), ...] of its last sums, newest last (may be empty);
        `previous`: its current premodulo (0 = none: no dampening).
        """
        N, previous, epoch = int(N), int(previous), int(epoch)
        if N < 1:
            raise ValueError(f"N must be >= 1, got {N}")
        if previous < 0:
            raise ValueError(f"previous premodulo must be >= 0, got {previous}")
        layer, pos = int(layer), int(pos)
        S = s_used = None
        stale = False
        if recent:
            S = int(recent[-1][0])
            if self._history:
                s_used, stale = self._s_used((layer, pos), [(int(s), int(e)) for s, e in recent], epoch)
            else:  # the law reads the newest sum alone (the default): no history to walk
                s_used, stale = abs(float(S)), self._is_stale(int(recent[-1][1]), epoch)
        thr = self.throttle
        if thr is not None and previous > 0 and S is not None:
            slot = thr.slot(layer, pos)  # first: making a slot may replace `thr.state`
            state = thr.state
        else:
            state, slot = self._no_state, 0
        target, raw, final, bits, alpha, osc, reg = KC.decide(
            0.0 if s_used is None else s_used, N, previous, S is not None, self._params, state, slot)
        return {"layer": layer, "pos": pos, "epoch": epoch, "S": S, "S_used": s_used, "N": N,
                "margin": None if s_used is None else s_used / N, "regime": REGIME_NAMES[reg],
                "target_capacity": target, "previous": previous, "raw": raw, "final": final,
                "clamps": list(_CLAMPS[bits]), "alpha": alpha, "stale": stale, "oscillating": osc}

    def support_fields(self, layer: int, pos: int, N: int, S: int, support: tuple[int, int, int], epoch: int,
                       previous: int, output: bool = False) -> dict:
        """The support law's decision (module docstring) for a neuron whose fresh tally has sum S over
        N samples and `support` = (distinct keys, keys with a vote for 1, votes for 1); `output`:
        the neuron is in the output layer (kept at `fixed_premodulo`, threshold 1). Same fields as
        `decision_fields`, plus `threshold`, `distinct_keys` and `load` (votes for 1 per such key)."""
        N, S, epoch, previous = int(N), int(S), int(epoch), int(previous)
        if N < 1:
            raise ValueError(f"N must be >= 1, got {N}")
        distinct, distinct_pos, n_pos = (int(v) for v in support)
        c = self.cfg
        load = n_pos / distinct_pos if distinct_pos else 0.0
        clamps: list[str] = []
        if output or c.load_factor is None:
            raw = final = int(c.fixed_premodulo)
        else:
            raw = max(1, math.ceil(c.load_factor * distinct))
            final = min(UINT32_MAX, max(c.min_premodulo, raw))
            if final != raw:
                clamps.append("min_premodulo" if final > raw else "uint32")
        threshold = 1 if output else max(1, int(math.floor(c.bleach * load)))
        return {"layer": int(layer), "pos": int(pos), "epoch": epoch, "S": S, "S_used": float(abs(S)), "N": N,
                "margin": abs(S) / N, "regime": self.zone.regime(abs(S), N), "target_capacity": float(distinct),
                "previous": previous, "raw": raw, "final": final, "clamps": clamps, "alpha": 1.0, "stale": False,
                "oscillating": False, "threshold": threshold, "distinct_keys": distinct, "load": load}

    def state_dict(self) -> dict:
        """JSON-friendly: {"ema": {"layer.pos": [value, S, epoch]}, "throttle": throttle state or None}."""
        return {
            "ema": {f"{l}.{p}": list(v) for (l, p), v in sorted(self._ema.items())},
            "throttle": None if self.throttle is None else self.throttle.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        ema = {}
        for key, (value, s, e) in state.get("ema", {}).items():
            l, _, p = str(key).partition(".")
            ema[(int(l), int(p))] = [float(value), int(s), int(e)]
        self._ema = ema
        th = state.get("throttle")
        if th is not None:
            if self.throttle is None:
                raise ValueError("the saved controller state has a throttle state but this controller has no throttle")
            self.throttle.load_state_dict(th)
