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

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

from ..settings import from_mapping


@dataclass
class ThrottleConfig:
    enabled: bool = True
    window: int = 6               # changes remembered per neuron
    flips_to_trigger: int = 2     # flips within the window that make a flip shrink α
    shrink: float = 0.5           # α factor on a triggering flip
    alpha_min: float = 0.05       # α never goes below this
    recover: float = 1.25         # α factor per settled change
    settle_steps: int = 3         # changes without a flip before α recovers

    def __post_init__(self):
        if self.window < 2:
            raise ValueError(f"window must be >= 2 (a flip needs two changes), got {self.window}")
        if not 1 <= self.flips_to_trigger <= self.window - 1:
            raise ValueError(f"flips_to_trigger must be in [1, window-1={self.window - 1}], "
                             f"got {self.flips_to_trigger}")
        if not 0.0 < self.shrink < 1.0:
            raise ValueError(f"shrink must be in (0, 1), got {self.shrink}")
        if not 0.0 < self.alpha_min <= 1.0:
            raise ValueError(f"alpha_min must be in (0, 1], got {self.alpha_min}")
        if not self.recover >= 1.0:
            raise ValueError(f"recover must be >= 1, got {self.recover}")
        if self.settle_steps < 1:
            raise ValueError(f"settle_steps must be >= 1, got {self.settle_steps}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ThrottleConfig":
        return from_mapping(cls, d)


class _NeuronState:
    __slots__ = ("dirs", "alpha", "since_flip")

    def __init__(self, window: int):
        self.dirs: deque[int] = deque(maxlen=window)
        self.alpha = 1.0
        self.since_flip = 0

    def flips(self) -> int:
        n, prev = 0, 0
        for d in self.dirs:  # directions are ±1, so 0 marks "no previous"
            n += prev != 0 and d != prev
            prev = d
        return n


class Throttle:
    """Per-neuron oscillation detector and change scaler (see module docstring)."""

    def __init__(self, cfg: ThrottleConfig | Mapping[str, Any] | None = None):
        self.cfg = cfg if isinstance(cfg, ThrottleConfig) else ThrottleConfig.from_dict(cfg)
        self._st: dict[tuple[int, int], _NeuronState] = {}

    def scale(self, layer: int, pos: int, previous: float, proposed: float) -> tuple[float, float, bool]:
        """(previous · (proposed/previous)^α, α, oscillating) after recording this change.

        With the throttle disabled or without a positive previous/proposed value the
        proposal passes unchanged with α = 1.
        """
        if not self.cfg.enabled or not previous > 0 or not proposed > 0:
            return float(proposed), 1.0, False
        step = math.log(proposed) - math.log(previous)
        st = self._st.get((layer, pos))
        if step == 0.0:
            return float(proposed), (st.alpha if st else 1.0), (self._osc(st) if st else False)
        if st is None:
            st = self._st[(layer, pos)] = _NeuronState(self.cfg.window)
        d = 1 if step > 0 else -1
        flip = bool(st.dirs) and st.dirs[-1] != d
        st.dirs.append(d)
        c = self.cfg
        osc = self._osc(st)
        if flip:
            st.since_flip = 0
            if osc:
                st.alpha = max(c.alpha_min, st.alpha * c.shrink)
        else:
            st.since_flip += 1
            if st.since_flip >= c.settle_steps:
                st.alpha = min(1.0, st.alpha * c.recover)
        final = math.exp(math.log(previous) + st.alpha * step)
        return final, st.alpha, osc

    def _osc(self, st: _NeuronState) -> bool:
        return st.flips() >= self.cfg.flips_to_trigger

    def alpha(self, layer: int, pos: int) -> float:
        st = self._st.get((layer, pos))
        return 1.0 if st is None else st.alpha

    def oscillating(self, layer: int, pos: int) -> bool:
        """True when the neuron's last `window` changes hold at least `flips_to_trigger` flips."""
        st = self._st.get((layer, pos))
        return False if st is None else self._osc(st)

    def state_dict(self) -> dict:
        """JSON-friendly state: {"layer.pos": {"dirs": [...], "alpha": α, "since_flip": n}}."""
        return {f"{l}.{p}": {"dirs": list(st.dirs), "alpha": st.alpha, "since_flip": st.since_flip}
                for (l, p), st in sorted(self._st.items())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        st_all: dict[tuple[int, int], _NeuronState] = {}
        for key, v in state.items():
            l, _, p = str(key).partition(".")
            st = _NeuronState(self.cfg.window)
            st.dirs.extend(int(x) for x in v["dirs"])
            st.alpha = float(v["alpha"])
            st.since_flip = int(v["since_flip"])
            st_all[(int(l), int(p))] = st
        self._st = st_all
