"""The gold zone (DESIGN §5, §6): the band of a neuron's vote sum between noise and collapse.

With N training samples and a sum S of the neuron's signed votes, the zone is
ε < |S| < τ with ε = eps_factor·√N (the noise floor) and τ = tau_factor·N (collapse). One
object holds the two factors and answers every question about the band, so selection, the
capacity law's regimes, the sum cache, MLflow and the reports cannot disagree about it:

- `regime(S, N)`: "collapsed" (|S| ≥ τ, tested first: it wins when the bounds cross, as for
  tiny N), "noisy" (|S| ≤ ε), else "gold"; "unknown" without a sum;
- `bounds(N)` and `margin_band(N)` (the bounds as margins |S|/N, for plots);
- `rank(...)`: a layer's neurons, gold ones first by the distance of |S| to the middle of the
  band, then the other moderate ones (0 < |S| < N) — what the gold selection walks;
- `count(sums)`: how many (S, N) pairs are in the zone.

Configured once, as the settings tree's ``gold_zone`` (eps_factor, tau_factor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from ..kernels import capacity as KC
from ..kernels import selection as KS
from ..settings import check_fields, from_mapping, ranged

#: Regimes of a sum, stored as the index in this tuple (the kernels' codes).
REGIME_NAMES: tuple[str, ...] = ("unknown", "noisy", "gold", "collapsed")
REGIME_CODES: dict[str, int] = {name: code for code, name in enumerate(REGIME_NAMES)}


@dataclass
class GoldZone:
    eps_factor: float = ranged(1.0, 0)                # noise floor ε = eps_factor·√N
    tau_factor: float = ranged(0.8, 0, lo_open=True)  # collapse threshold τ = tau_factor·N

    def __post_init__(self):
        check_fields(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "gold_zone") -> "GoldZone":
        return from_mapping(cls, d, where)

    @classmethod
    def of_params(cls, params: Mapping[str, Any] | None) -> "GoldZone":
        """The zone a run record's settings (`info["params"]`) used; defaults when it names none."""
        return cls.from_dict((params or {}).get("gold_zone"))

    def bounds(self, N: float) -> tuple[float, float]:
        """(ε, τ) for N samples."""
        return self.eps_factor * math.sqrt(N), self.tau_factor * N

    def margin_band(self, N: float) -> tuple[float, float]:
        """The bounds as margins |S|/N: (ε/N, τ/N)."""
        return (self.eps_factor * math.sqrt(N) / N if N > 0 else 0.0), self.tau_factor

    def regime_code(self, S: float, N: int) -> int:
        return int(KC.regime(float(S), int(N), float(self.eps_factor), float(self.tau_factor)))

    def regime(self, S: float | None, N: int) -> str:
        """collapsed / noisy / gold of a sum (module docstring); unknown without one."""
        return "unknown" if S is None else REGIME_NAMES[self.regime_code(S, N)]

    def contains(self, S: float, N: float) -> bool:
        eps, tau = self.bounds(N)
        return eps < abs(S) < tau

    def count(self, sums: Iterable[tuple[float, float]]) -> int:
        """How many (S, N) pairs lie in the zone."""
        return sum(1 for S, N in sums if self.contains(S, N))

    def rank(self, positions: np.ndarray, S: np.ndarray, Ns: np.ndarray, width: int, N: int) -> tuple[list[int], int]:
        """(positions, number of gold ones) of a layer ranked for selection: gold neurons by the
        distance of |S| (rescaled to N samples) to the middle of the band, then the other moderate
        ones; ties to the lowest position; positions >= width left out."""
        eps, tau = self.bounds(N)
        ranked, n_gold = KS.zone_rank(positions, S, Ns, width, N, eps, tau)
        return ranked.tolist(), int(n_gold)
