"""Global throttle on premodulo changes (DESIGN §5, seed 004).

Seed 004 scales an SGD update by 0 < α ≤ 1 when training turns unstable. Here the
"update" is a neuron's premodulo change and instability is *oscillation*: the change
keeps flipping direction. Per neuron we keep the directions (sign of log(proposed /
previous)) of its last ``window`` changes:

- a change whose direction differs from the one before is a *flip*; on a flip, when the
  window holds at least ``flips_to_trigger`` flips, α ← max(alpha_min, α · shrink);
- after ``settle_steps`` consecutive changes without a flip, every further change without
  a flip recovers α ← min(1, α · recover);
- the applied value is previous · (proposed / previous)^α — the change scaled in log space,
  so the direction is kept and the step shrinks.

A proposal equal to the previous value is no change: it neither counts nor moves α.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..kernels import capacity as KC
from ..settings import SettingError, check_fields, from_mapping, ranged


@dataclass
class ThrottleConfig:
    enabled: bool = True
    window: int = ranged(6, 2, integer=True, note="a flip needs two changes")  # changes remembered per neuron
    flips_to_trigger: int = ranged(2, 1, integer=True)  # flips within the window that make a flip shrink α
    shrink: float = ranged(0.5, 0, 1, lo_open=True, hi_open=True)  # α factor on a triggering flip
    alpha_min: float = ranged(0.05, 0, 1, lo_open=True)  # α never goes below this
    recover: float = ranged(1.25, 1)                     # α factor per settled change
    settle_steps: int = ranged(3, 1, integer=True)       # changes without a flip before α recovers

    def __post_init__(self):
        check_fields(self)
        if self.flips_to_trigger > self.window - 1:
            raise SettingError("flips_to_trigger", self.flips_to_trigger,
                               f"an integer in [1, window-1 = {self.window - 1}]")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "capacity.throttle") -> "ThrottleConfig":
        return from_mapping(cls, d, where)


class Throttle:
    """Per-neuron oscillation detector and change scaler (see module docstring).

    The state of each neuron that has changed is one row of `state` (layout in
    `kernels.capacity`); `slot` maps (layer, pos) to its row. The capacity controller passes
    the row to its compiled decision, so the rule lives once, in `kernels.capacity`."""

    def __init__(self, cfg: ThrottleConfig | Mapping[str, Any] | None = None):
        self.cfg = cfg if isinstance(cfg, ThrottleConfig) else ThrottleConfig.from_dict(cfg)
        self._slots: dict[tuple[int, int], int] = {}
        self.state = KC.new_state(16, self.cfg.window)

    def params_into(self, p: np.ndarray) -> None:
        """Write this throttle's settings into a decision parameter vector."""
        c = self.cfg
        p[KC.P_THROTTLE] = float(c.enabled)
        p[KC.P_WINDOW], p[KC.P_FLIPS], p[KC.P_SHRINK] = c.window, c.flips_to_trigger, c.shrink
        p[KC.P_ALPHA_MIN], p[KC.P_RECOVER], p[KC.P_SETTLE] = c.alpha_min, c.recover, c.settle_steps

    def slot(self, layer: int, pos: int) -> int:
        """The state row of (layer, pos), made (no directions, α = 1) on first use."""
        key = (layer, pos)
        s = self._slots.get(key)
        if s is None:
            s = self._slots[key] = len(self._slots)
            if s == self.state.shape[0]:
                grown = KC.new_state(2 * s, self.cfg.window)
                grown[:s] = self.state
                self.state = grown
        return s

    def state_dict(self) -> dict:
        """JSON-friendly state: {"layer.pos": {"dirs": [...], "alpha": α, "since_flip": n}} of the
        neurons with at least one recorded change."""
        out = {}
        for (l, p), s in sorted(self._slots.items()):
            row = self.state[s]
            n = int(row[KC.S_LEN])
            if n:
                out[f"{l}.{p}"] = {"dirs": [int(d) for d in row[KC.S_DIRS:KC.S_DIRS + n]],
                                   "alpha": float(row[KC.S_ALPHA]), "since_flip": int(row[KC.S_SINCE])}
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._slots = {}
        self.state = KC.new_state(max(16, len(state)), self.cfg.window)
        for key, v in state.items():
            l, _, p = str(key).partition(".")
            dirs = [int(x) for x in v["dirs"]][-self.cfg.window:]
            slot = self.slot(int(l), int(p))
            row = self.state[slot]
            row[KC.S_LEN], row[KC.S_ALPHA], row[KC.S_SINCE] = len(dirs), float(v["alpha"]), int(v["since_flip"])
            row[KC.S_DIRS:KC.S_DIRS + len(dirs)] = dirs
