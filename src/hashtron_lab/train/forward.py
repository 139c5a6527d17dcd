"""The forward pipeline (the baseline users have today, DESIGN §4 "Forward").

Neurons are visited input → output: while training accuracy is below `threshold`, a random
*branch* (one random neuron per layer, layer 1 to the final layer); above it, a random layer's
neurons in shuffled order (optionally two at a time, `pairs`). Premodulo is one global value per step: fixed, or scheduled from the
success rate as P = (100 - succ)² · (min - max) / 2500 + max, at least 2. No sum cache.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..settings import UINT32_MAX, SettingError, check_fields, from_mapping, ranged
from .run import Run


@dataclass
class ForwardConfig:
    # fixed premodulo; 0 = no premodulo step
    premodulo: int = ranged(0, 0, UINT32_MAX, integer=True, note="0 = no premodulo step")
    schedule: bool = False             # schedule premodulo from the success rate instead
    premodulo_min: int = ranged(2, 2, UINT32_MAX, integer=True)
    premodulo_max: int = ranged(65536, 2, UINT32_MAX, integer=True)
    threshold: float = ranged(0.9, 0, 1)  # below: random branches; above: a random layer, shuffled
    pairs: bool = False                # above the threshold, two neurons of the layer at a time

    def __post_init__(self):
        check_fields(self)
        if self.premodulo_max < self.premodulo_min:
            raise SettingError("premodulo_max", self.premodulo_max,
                               f"an integer >= premodulo_min ({self.premodulo_min})")


def scheduled_premodulo(success_percent: float, pmin: int, pmax: int) -> int:
    """P = (100 - succ)² (min - max) / 2500 + max, at least 2 (the reference's schedule)."""
    p = (100.0 - success_percent) ** 2 * (pmin - pmax) / 2500.0 + pmax
    return int(max(2, round(p)))


class ForwardPipeline:
    name = "forward"

    def __init__(self, config: dict | ForwardConfig | None = None):
        self.cfg = config if isinstance(config, ForwardConfig) else from_mapping(ForwardConfig, config, "pipeline")
        self.plan: list[tuple[int, int]] = []
        self.idx = 0
        from .warm import warm_kernels

        warm_kernels(self.kernel_groups())  # before a run's clock starts

    def kernel_groups(self) -> set[str]:
        """The kernel groups this pipeline calls beside the run's (train/warm.py)."""
        return {"pairs"} if self.cfg.pairs else set()

    def premodulo(self, run: Run) -> int:
        if self.cfg.schedule:
            return scheduled_premodulo(100.0 * run.train_accuracy(), self.cfg.premodulo_min, self.cfg.premodulo_max)
        return self.cfg.premodulo

    def _new_plan(self, run: Run) -> list[tuple[int, int]]:
        widths = run.net.architecture.widths
        if run.train_accuracy() < self.cfg.threshold:
            return [(l, int(run.rng.integers(0, w))) for l, w in enumerate(widths)]
        layer = int(run.rng.integers(0, len(widths)))
        order = run.rng.permutation(widths[layer])
        return [(layer, int(p)) for p in order]

    def finished(self, run: Run) -> str | None:
        return None

    def step(self, run: Run) -> bool:
        """Train one neuron (or a pair); True when the current plan (an epoch) is done."""
        if self.idx >= len(self.plan):
            self.plan, self.idx = self._new_plan(run), 0
        layer, pos = self.plan[self.idx]
        self.idx += 1
        nxt = self.plan[self.idx] if self.idx < len(self.plan) else None
        room = run.budget.max_updates is None or run.n_updates + 2 <= run.budget.max_updates
        if (self.cfg.pairs and room and nxt is not None and nxt[0] == layer
                and run.net.architecture.combiners[layer] is not None):
            self.idx += 1
            run.train_pair(layer, pos, nxt[1], self.premodulo(run), phase="forward")
        else:
            run.train_neuron(layer, pos, self.premodulo(run), phase="forward")
        return self.idx >= len(self.plan)

    def settings(self) -> dict:
        """The settings that make this pipeline's runs what they are."""
        return asdict(self.cfg)

    def state(self) -> dict:
        return {"plan": list(self.plan), "idx": self.idx}

    def load_state(self, st: dict) -> None:
        self.plan, self.idx = [tuple(p) for p in st["plan"]], st["idx"]
