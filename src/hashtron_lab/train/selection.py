"""Which neuron of a layer to train next (DESIGN §6).

Rule ``"gold"``, in order of priority:

1. ``untallied`` — a neuron with no record in the sum cache: the lowest such position
   (deterministic; that is what fills the cache).
2. ``random`` with probability ``explore`` (a draw is taken from `rng` only when
   ``explore > 0``, so the default leaves the RNG stream untouched).
3. ``gold`` — among neurons whose newest sum is in the run's gold zone ε < |S| < τ
   (`train.gold_zone`), the one whose |S| is closest to the middle (ε + τ) / 2; ties →
   lowest position.
4. ``moderate`` — otherwise the neuron with |S| closest to that middle among those whose
   margin is strictly between 0 and 1; ties → lowest position.
5. ``random`` — otherwise a uniform pick.

Sums are compared at the current dataset size `N`: a record made with N' samples counts
as |S|·N/N' (its margin times N), which is its own |S| when N' = N.

Rule ``"random"``: a uniform pick. Rule ``"round_robin"``: positions 0, 1, …, width−1,
0, … per layer, from a counter kept in a :class:`RoundRobinState` (independent of the
cache; :class:`Selector` holds one and saves it with ``state_dict``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..settings import check_fields, from_mapping, one_of, ranged
from .gold_zone import GoldZone
from .sum_cache import SumCache

RULES = ("gold", "random", "round_robin")
REASONS = ("untallied", "gold", "moderate", "random", "round_robin")


@dataclass
class SelectionConfig:
    rule: str = one_of("gold", RULES)
    explore: float = ranged(0.0, 0, 1)  # probability of a random pick (rule "gold", after untallied neurons)

    def __post_init__(self):
        check_fields(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "selection") -> "SelectionConfig":
        return from_mapping(cls, d, where)


class RoundRobinState:
    """Next position per layer for rule "round_robin"."""

    def __init__(self):
        self.next: dict[int, int] = {}

    def take(self, layer: int, width: int) -> int:
        p = self.next.get(layer, 0) % width
        self.next[layer] = (p + 1) % width
        return p

    def state_dict(self) -> dict:
        return {str(l): p for l, p in sorted(self.next.items())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.next = {int(l): int(p) for l, p in state.items()}


def _random(width: int, exclude: set[int], rng: np.random.Generator) -> int:
    if not exclude:
        return int(rng.integers(width))
    free = [p for p in range(width) if p not in exclude]
    return free[int(rng.integers(len(free)))]


class VisitPicker:
    """The picks of one layer visit, in the order of the rule above.

    Within a visit only the neurons it picks get new records, and a picked neuron is excluded for
    the rest of the visit; so the zone ranking of the others does not change: it is computed once,
    when a pick first needs it, and walked (a 1,000-neuron visit no longer rescans the layer and
    its exclusions for every pick). Untallied positions are scanned from a cursor for the same
    reason. Valid while no other record of the layer is added: make a new one per visit."""

    def __init__(self, cfg: SelectionConfig, cache: SumCache, layer: int, width: int, N: int,
                 state: RoundRobinState | None = None, zone: GoldZone | None = None):
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if N < 1:
            raise ValueError(f"N must be >= 1, got {N}")
        self.cfg, self.cache, self.layer, self.width, self.N, self.state = cfg, cache, layer, width, N, state
        self.zone = zone or GoldZone()
        self._untallied_from = 0
        self._ranked: list[int] | None = None   # zone ranking: gold positions first, then moderate
        self._n_gold = 0
        self._next = 0

    def pick(self, rng: np.random.Generator, exclude: set[int]) -> tuple[int, str]:
        cfg, width = self.cfg, self.width
        if cfg.rule == "random":
            return _random(width, exclude, rng), "random"
        if cfg.rule == "round_robin":
            if self.state is None:
                raise ValueError("rule 'round_robin' keeps a counter: pass state=RoundRobinState() "
                                 "(or use Selector, which holds one)")
            for _ in range(width):
                p = self.state.take(self.layer, width)
                if p not in exclude:
                    return p, "round_robin"
            raise ValueError(f"no position left in layer {self.layer} of width {width}")
        p = self.cache.first_untallied(self.layer, width, exclude, self._untallied_from)
        if p >= 0:
            self._untallied_from = p  # lower positions are tallied or excluded, and stay so
            return p, "untallied"
        if cfg.explore > 0.0 and rng.random() < cfg.explore:  # the draw sits between the untallied and the zone rules
            return _random(width, exclude, rng), "random"
        if self._ranked is None:
            ps, _, S, Ns, _ = self.cache.layer_view(self.layer)
            self._ranked, self._n_gold = self.zone.rank(ps, S, Ns, width, self.N)
        ranked, i = self._ranked, self._next
        while i < len(ranked):
            p = ranked[i]
            i += 1
            if p not in exclude:
                self._next = i
                return p, ("gold" if i <= self._n_gold else "moderate")
        self._next = i
        return _random(width, exclude, rng), "random"


class Selector:
    """The rule, the gold zone and the round-robin counter in one object, with `state_dict` for
    checkpoints."""

    def __init__(self, cfg: SelectionConfig | Mapping[str, Any] | None = None, zone: GoldZone | None = None):
        self.cfg = from_mapping(SelectionConfig, cfg, "selection")
        self.zone = zone or GoldZone()
        self.rr = RoundRobinState()

    def visit(self, cache: SumCache, layer: int, width: int, N: int) -> VisitPicker:
        """A picker for one visit of `layer` (see `VisitPicker`): pass it the visit's tried positions."""
        return VisitPicker(self.cfg, cache, layer, width, N, self.rr, self.zone)

    def state_dict(self) -> dict:
        return {"round_robin": self.rr.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rr.load_state_dict(state.get("round_robin", {}))
