"""The forward pipeline (the baseline users have today, DESIGN §4 "Forward").

Neurons are visited input → output: while training accuracy is below `threshold`, a random
*branch* (one random neuron per layer, layer 1 to the final layer); above it, a random layer's
neurons in shuffled order (optionally two at a time, `pairs`). Premodulo is one global value per step: fixed, or scheduled from the
success rate as P = (100 - succ)² · (min - max) / 2500 + max, at least 2. No sum cache.

For the factorial ablation (order × capacity × selection, docs/accuracy.md) the forward order can
borrow backward's two other parts: ``capacity_control`` decides each neuron's premodulo and
threshold with the capacity group's controller (as backward does, from the fresh tally), and
``use_selection`` picks each branch's neuron of a layer with the selection group's rule
(round robin, or gold zone over a sum cache forward then keeps) instead of a uniform draw.
Both are off by default: the forward pipeline is then the reference's.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..settings import UINT32_MAX, SettingError, check_fields, from_mapping, one_of, ranged
from .capacity import CapacityConfig, CapacityController
from .gold_zone import GoldZone
from .run import Run
from .selection import SelectionConfig, Selector
from .sum_cache import SumCache


@dataclass
class ForwardConfig:
    direction: str = one_of("forward", ("forward",))  # the `pipeline` option's kind (backward: BackwardConfig)
    # fixed premodulo; 0 = no premodulo step
    premodulo: int = ranged(0, 0, UINT32_MAX, integer=True, note="0 = no premodulo step")
    schedule: bool = False             # schedule premodulo from the success rate instead
    premodulo_min: int = ranged(2, 2, UINT32_MAX, integer=True)
    premodulo_max: int = ranged(65536, 2, UINT32_MAX, integer=True)
    threshold: float = ranged(0.9, 0, 1)  # below: random branches; above: a random layer, shuffled
    pairs: bool = False                # above the threshold, two neurons of the layer at a time
    capacity_control: bool = False     # premodulo and threshold per neuron from the capacity controller
    use_selection: bool = False        # a branch's neuron per layer from the selection rule, not uniform

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
    """Takes the same settings as `BackwardPipeline`; reads the capacity law only with
    ``capacity_control`` (without its throttle and its `enabled` switch) and the selection rule
    only with ``use_selection``."""

    name = "forward"

    def __init__(self, config: ForwardConfig | dict | None = None, capacity: CapacityConfig | dict | None = None,
                 selection: SelectionConfig | dict | None = None, zone: GoldZone | dict | None = None,
                 run_id: str = ""):
        self.cfg = from_mapping(ForwardConfig, config, "pipeline")
        self.zone = from_mapping(GoldZone, zone, "gold_zone")
        cap = from_mapping(CapacityConfig, capacity, "capacity")
        sel = from_mapping(SelectionConfig, selection, "selection")
        self.plan: list[tuple[int, int]] = []
        self.idx = 0
        self.controller = self.selector = self.cache = None
        if self.cfg.capacity_control:
            self.controller = CapacityController(cap, None, self.zone)
        if self.cfg.use_selection:
            self.selector = Selector(sel, self.zone)
        if self.controller is not None or self.selector is not None:
            self.cache = SumCache(run_id=run_id)
        self.premodulos: dict[str, int] = {}

    def kernel_groups(self) -> set[str]:
        """The kernel groups this pipeline calls beside the run's (train/warm.py; `drive` warms them)."""
        groups = {"pairs"} if self.cfg.pairs else set()
        if self.cache is not None:
            groups.add("backward")  # the sum cache (and the capacity decision)
        if self.controller is not None and self.controller.cfg.law == "support":
            groups.add("support")
        if self.selector is not None and self.selector.cfg.rule == "gold":
            groups.add("ranking")
        return groups

    def premodulo(self, run: Run) -> int:
        if self.cfg.schedule:
            return scheduled_premodulo(100.0 * run.train_accuracy(), self.cfg.premodulo_min, self.cfg.premodulo_max)
        return self.cfg.premodulo

    def _new_plan(self, run: Run) -> list[tuple[int, int]]:
        widths = run.net.architecture.widths
        if run.train_accuracy() < self.cfg.threshold:
            if self.selector is not None:  # the layer's neuron from the selection rule (fills the cache as it goes)
                return [(l, self.selector.visit(self.cache, l, w, len(run.train)).pick(run.rng, set())[0])
                        for l, w in enumerate(widths)]
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
        elif self.cache is None:
            run.train_neuron(layer, pos, self.premodulo(run), phase="forward")
        else:
            self._train_tracked(run, layer, pos)
        return self.idx >= len(self.plan)

    def _train_tracked(self, run: Run, layer: int, pos: int) -> None:
        """One update whose tally also feeds the capacity controller and/or the sum cache."""
        start = time.perf_counter()
        t = run.tally(layer, pos)
        nid = f"{layer}.{pos}"
        premodulo, threshold, extra = self.premodulo(run), 1, {}
        if self.controller is not None:
            ctl = self.controller
            prev = self.premodulos.get(nid, 0)
            if ctl.cfg.law == "support":
                event = ctl.support_fields(layer, pos, t.N, t.S, t.support(), run.epoch, prev,
                                           output=layer == run.net.architecture.n_layers - 1)
            else:
                event = ctl.decision_fields(layer, pos, t.N, [(t.S, run.epoch)], run.epoch, prev)
            premodulo, threshold = event["final"], event.get("threshold", 1)
            extra = {"regime": event["regime"], "alpha": event["alpha"]}
        record = run.train_neuron(layer, pos, premodulo, t=t, started=start, threshold=threshold, phase="forward",
                                  **extra)
        self.premodulos[nid] = premodulo
        if self.controller is not None:
            event.update(S=t.S, final=premodulo, neuron_id=nid, update=record["update"], phase="forward",
                         accepted=record["accepted"], accuracy_after=record["train_accuracy"])
            run.hooks.emit("decision", event)
            run.decisions.append(event)
        regime = self.zone.regime(t.S, t.N)
        self.cache.add(layer, pos, run.epoch, t.S, t.N, record["S_out"], premodulo, regime, record["duration"],
                       record["accepted"], record["train_accuracy"], check=False)

    def settings(self) -> dict:
        """The settings that make this pipeline's runs what they are (only those it reads)."""
        out = {"pipeline": asdict(self.cfg)}
        if self.controller is not None:
            out["capacity"] = asdict(self.controller.cfg)
        if self.selector is not None:
            out["selection"] = asdict(self.selector.cfg)
        if self.cache is not None:
            out["gold_zone"] = asdict(self.zone)
        return out

    def state(self) -> dict:
        st = {"plan": list(self.plan), "idx": self.idx}
        if self.cache is not None:
            st.update(cache=self.cache.state(), premodulos=dict(self.premodulos),
                      selector=None if self.selector is None else self.selector.state_dict())
        return st

    def load_state(self, st: dict) -> None:
        self.plan, self.idx = [tuple(p) for p in st["plan"]], st["idx"]
        if self.cache is not None and "cache" in st:
            self.cache = SumCache.from_state(st["cache"])
            self.premodulos = dict(st["premodulos"])
            if self.selector is not None and st.get("selector") is not None:
                self.selector.load_state_dict(st["selector"])
