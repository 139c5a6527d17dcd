"""The backward pipeline (seed 000, DESIGN §4–§7).

Phase 0 trains the final layer first with premodulo N: it learns the class prior (the bias).
Phase 1 sweeps final → last hidden → … → layer 1; at each layer it selects a neuron from the
sum cache (gold zone first), tallies it, sets its premodulo by the capacity law from the fresh
sum and the neuron's history, trains it and records the result. One sweep is an epoch. A layer
with no accepted update after `max_attempts` tries is skipped forward once, with the reason
emitted, so a sweep always ends. All state is explicit so a checkpoint can resume mid-sweep.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from ..settings import check_fields, from_mapping, one_of, ranged
from .capacity import CapacityConfig, CapacityController
from .gold_zone import GoldZone
from .run import Run
from .selection import SelectionConfig, Selector, VisitPicker
from .sum_cache import SumCache
from .throttle import Throttle


@dataclass
class BackwardConfig:
    direction: str = one_of("backward", ("backward",))  # the `pipeline` option's kind (forward: ForwardConfig)
    neurons_per_layer: int = ranged(1, 1, integer=True)  # accepted updates wanted per layer per sweep
    # if set: that fraction of each layer's neurons per sweep instead
    layer_fraction: float | None = ranged(None, 0, 1, lo_open=True, optional=True)
    max_attempts: int = ranged(3, 1, integer=True)       # tries without an accepted update before a forward skip
    # optional wall-clock limit per layer visit (not reproducible)
    layer_seconds: float | None = ranged(None, 0, optional=True)
    cache_keep_last: int | None = ranged(64, 1, integer=True, optional=True, note="null = keep every record")

    def __post_init__(self):
        check_fields(self)


class BackwardPipeline:
    """Both pipelines take the same settings: their own (`pipeline`), the capacity law, the
    selection rule and the gold zone — objects, or mappings as in `conf/`."""

    name = "backward"

    def __init__(self, config: BackwardConfig | dict | None = None, capacity: CapacityConfig | dict | None = None,
                 selection: SelectionConfig | dict | None = None, zone: GoldZone | dict | None = None,
                 run_id: str = ""):
        self.cfg = from_mapping(BackwardConfig, config, "pipeline")
        self.zone = from_mapping(GoldZone, zone, "gold_zone")
        cap = from_mapping(CapacityConfig, capacity, "capacity")
        self.controller = CapacityController(cap, Throttle(cap.throttle) if cap.throttle.enabled else None, self.zone)
        self.selector = Selector(selection, self.zone)
        self._cache = SumCache(keep_last=self.cfg.cache_keep_last, run_id=run_id)
        self._pending: list[tuple] = []   # this visit's records, added to the cache when it is next read
        self.phase = 0
        self.boot_pos = 0
        self.plan: list[int] = []
        self.visit: dict | None = None
        self._tried: set[int] = set()       # the visit's "tried" list as a set (a 1,000-RAM visit tries 1,000)
        self._picker: VisitPicker | None = None  # the visit's selection (made on its first pick)
        self._k = 1                               # accepted updates the visit wants (set with the picker)
        self.premodulo: dict[str, int] = {}   # "layer.pos" -> last decided premodulo
        self.skips: list[dict] = []
        self.imported = False  # the run starts from a trained network: the import tally replaces phase 0

    def kernel_groups(self) -> set[str]:
        """The kernel groups this pipeline calls beside the run's (train/warm.py; `drive` warms them)."""
        return ({"backward"} | ({"ranking"} if self.selector.cfg.rule == "gold" else set())
                | ({"support"} if self.controller.cfg.law == "support" else set()))

    def start_from_import(self) -> None:
        """Continue a trained (e.g. imported Go) network instead of bootstrapping an untrained one:
        the first epoch tallies every neuron once, fills the sum cache with those sums (so the
        selection and the capacity law start from the imported state) and trains nothing; the
        bootstrap, which would reset the final layer to the class prior, is skipped."""
        self.imported = True

    @property
    def cache(self) -> SumCache:
        """The sum cache, with every record so far."""
        self._flush()
        return self._cache

    def _flush(self) -> None:
        """Add the pending records. Within a visit nothing reads them (the visit's ranking is made
        before its first training, and each neuron is trained once a visit), so they are added
        together when the next visit starts or someone reads the cache: one warm pass instead of
        a cold add between kernels on every update."""
        if self._pending:
            add, zone = self._cache.add, self.zone
            for ev, rec, when in self._pending:
                S, N = ev["S"], ev["N"]  # the regime is a function of |S| and N: the decision's, when it used |S|
                regime = ev["regime"] if ev["S_used"] == abs(S) else zone.regime(S, N)
                add(ev["layer"], ev["pos"], ev["epoch"], S, N, rec["S_out"], ev["final"], regime, rec["duration"],
                    ev["accepted"], ev["accuracy_after"], when, check=False)
            self._pending.clear()

    # -- the loop ------------------------------------------------------------------
    def finished(self, run: Run) -> str | None:
        return None

    def step(self, run: Run) -> bool:
        """One neuron training (or, for a layer whose neurons learn independently, a batch of the
        visit's picks: `Run.batchable`); True when an epoch (the bootstrap, or a sweep) ends."""
        if self.phase == 0:
            if self.imported:
                return self._import_tally(run)
            return self._bootstrap(run)
        if not self.plan:
            self.plan = list(range(run.net.architecture.n_layers - 1, -1, -1))
            self._start_visit(run)
        layer = self.visit["layer"]
        width = run.net.architecture.widths[layer]
        if self._picker is None:  # the visit's first pick (or a resumed visit: its untried neurons rank as they did)
            self._picker = self.selector.visit(self.cache, layer, width, len(run.train))
            self._k = self._per_layer(width)
        v, k = self.visit, self._k
        if run.batchable(layer) and self.cfg.layer_seconds is None:
            n = min(k - v["accepted"], width - len(v["tried"]), self.cfg.max_attempts * k - v["attempts"])
            if run.budget.max_updates is not None:
                n = min(n, run.budget.max_updates - run.n_updates)
            records = self._train_batch(run, layer, max(1, n))
        else:
            pos, reason = self._picker.pick(run.rng, self._tried)
            records = [self._train(run, layer, pos, phase="backward", selection=reason)]
        for record in records:
            v["attempts"] += 1
            v["tried"].append(record["neuron"])
            self._tried.add(record["neuron"])
            v["accepted"] += int(record["accepted"])
        out_of_time = (self.cfg.layer_seconds is not None
                       and run.wall() - v["started"] > self.cfg.layer_seconds)
        exhausted = len(v["tried"]) >= width or v["attempts"] >= self.cfg.max_attempts * k or out_of_time
        if v["accepted"] >= k or exhausted:
            if v["accepted"] == 0:
                why = ("time limit" if out_of_time else
                       f"no accepted update after {v['attempts']} attempts")
                skip = {"epoch": run.epoch, "layer": layer, "attempts": v["attempts"], "reason": why,
                        "update": run.n_updates}
                self.skips.append(skip)
                run.hooks.emit("skip", skip)
            self.plan.pop(0)
            if not self.plan:
                self.visit = None
                return True
            self._start_visit(run)
        return False

    def _per_layer(self, width: int) -> int:
        if self.cfg.layer_fraction is None:
            return min(self.cfg.neurons_per_layer, width)
        return max(1, min(width, math.ceil(self.cfg.layer_fraction * width)))

    def _start_visit(self, run: Run) -> None:
        self.visit = {"layer": self.plan[0], "attempts": 0, "accepted": 0, "tried": [], "started": run.wall()}
        self._tried = set()
        self._picker = None

    def _import_tally(self, run: Run) -> bool:
        """The imported network's first tally: one sum-cache record per neuron (nothing trained);
        each neuron's current premodulo becomes the `previous` of its first decision."""
        self._flush()
        t0 = time.time()
        for layer, width in enumerate(run.net.architecture.widths):
            for pos in range(width):
                start = time.perf_counter()
                t = run.tally(layer, pos)
                prem = int(run.net.neuron(layer, pos).premodulo)
                self._cache.add(layer, pos, run.epoch, t.S, t.N, run.s_out(layer, pos), prem,
                                self.zone.regime(t.S, t.N), time.perf_counter() - start,
                                False, run.train_accuracy(), t0)
                self.premodulo[f"{layer}.{pos}"] = prem
        run.hooks.emit("import_tally", {"neurons": run.net.architecture.n_neurons, "records": len(self._cache),
                                        "train_accuracy": run.train_accuracy()})
        self.phase = 1
        return True

    def _bootstrap(self, run: Run) -> bool:
        """Phase 0: every neuron of the final layer, premodulo N (heavy collisions: the class prior)."""
        last = run.net.architecture.n_layers - 1
        self._train(run, last, self.boot_pos, phase="bootstrap", selection="bootstrap")
        self.boot_pos += 1
        if self.boot_pos >= run.net.architecture.widths[last]:
            self.phase = 1
            return True
        return False

    def _train(self, run: Run, layer: int, pos: int, phase: str, selection: str) -> dict:
        start = time.perf_counter()
        t = run.tally(layer, pos)
        event, premodulo, threshold = self._decide(run, layer, pos, t, phase)
        record = run.train_neuron(layer, pos, premodulo, t=t, started=start, threshold=threshold, phase=phase,
                                  selection=selection, regime=event["regime"], alpha=event["alpha"])
        self._decided(run, event, record, t, premodulo, phase)
        return record

    def _train_batch(self, run: Run, layer: int, n: int) -> list[dict]:
        """Up to `n` picks of the visit trained as one batch (`Run.batchable`): the same picks, salts,
        decisions and neurons as one at a time, one trace refresh and one repack instead of n."""
        pending, tried = [], set(self._tried)
        for _ in range(n):
            pos, reason = self._picker.pick(run.rng, tried)
            tried.add(pos)
            start = time.perf_counter()
            t = run.tally(layer, pos)
            event, premodulo, threshold = self._decide(run, layer, pos, t, "backward")
            run.build_batched(layer, pos, premodulo, t, start, threshold, phase="backward", selection=reason,
                              regime=event["regime"], alpha=event["alpha"])
            pending.append((pos, event, t, premodulo))
        records = run.commit_batch()
        for (pos, event, t, premodulo), record in zip(pending, records):
            self._decided(run, event, record, t, premodulo, "backward")
        return records

    def _decide(self, run: Run, layer: int, pos: int, t, phase: str) -> tuple[dict, int, int]:
        """The decision event for neuron (layer, pos) from its fresh tally, and the premodulo and
        threshold it trains with."""
        nid = f"{layer}.{pos}"
        ctl = self.controller
        if phase == "bootstrap":
            event = ctl.decision_fields(layer, pos, t.N, [], run.epoch, 0)
        elif ctl.cfg.law == "support":
            event = ctl.support_fields(layer, pos, t.N, t.S, t.support(), run.epoch, self.premodulo.get(nid, 0),
                                       output=layer == run.net.architecture.n_layers - 1)
        else:
            recent = [(t.S, run.epoch)]
            if ctl.reads_history:
                recent = self.cache.recent(layer, pos, ctl.history_needed) + recent
            event = ctl.decision_fields(layer, pos, t.N, recent, run.epoch, self.premodulo.get(nid, 0))
        on = ctl.cfg.enabled
        premodulo = event["final"] if on or phase == "bootstrap" else ctl.cfg.fixed_premodulo
        return event, premodulo, (event.get("threshold", 1) if on else 1)

    def _decided(self, run: Run, event: dict, record: dict, t, premodulo: int, phase: str) -> None:
        """The decision's fields become its event; the sum-cache record is made from both when flushed."""
        nid = record["neuron_id"]
        self.premodulo[nid] = premodulo
        event.update(S=t.S, final=premodulo, neuron_id=nid, update=record["update"], phase=phase,
                     accepted=record["accepted"], accuracy_after=record["train_accuracy"])
        self._pending.append((event, record, time.time()))
        run.hooks.emit("decision", event)
        run.decisions.append(event)

    # -- checkpoints ---------------------------------------------------------------
    def settings(self) -> dict:
        """The resolved settings (defaults filled in) that make this pipeline's runs what they are."""
        return {"pipeline": asdict(self.cfg), "capacity": asdict(self.controller.cfg),
                "selection": asdict(self.selector.cfg), "gold_zone": asdict(self.zone)}

    def state(self) -> dict:
        return {"phase": self.phase, "boot_pos": self.boot_pos, "plan": list(self.plan),
                "visit": dict(self.visit) if self.visit else None, "premodulo": dict(self.premodulo),
                "skips": list(self.skips), "cache": self.cache.state(),
                "controller": self.controller.state_dict(), "selector": self.selector.state_dict(),
                "imported": self.imported}

    def load_state(self, st: dict) -> None:
        self.phase, self.boot_pos, self.plan = st["phase"], st["boot_pos"], list(st["plan"])
        self.visit = dict(st["visit"]) if st["visit"] else None
        self._tried = set(self.visit["tried"]) if self.visit else set()
        self._picker = None
        self.premodulo, self.skips = dict(st["premodulo"]), list(st["skips"])
        self._cache = SumCache.from_state(st["cache"])
        self._pending = []
        self.controller.load_state_dict(st["controller"])
        self.selector.load_state_dict(st["selector"])
        self.imported = bool(st.get("imported", False))



def order_compliance(history: Sequence[Mapping], n_layers: int, imported: bool = False) -> dict:
    """Seed 000's order rules on a backward run's update history (the one definition: the run
    path and the compare report both use it).

    ``final_first``: the first update trained the final layer (``n_layers - 1``), in the bootstrap
    — or, for a run that continues an imported network (no bootstrap), in the first sweep.
    ``backward_order``: bootstrap updates only in the final layer and before any sweep; within each
    sweep (epoch) of the backward phase, layers never ascend; no update of another phase."""
    if not history:
        return {"final_first": False, "backward_order": False}
    final = n_layers - 1
    first = history[0]
    first_phase = "backward" if imported else "bootstrap"
    final_first = int(first["layer"]) == final and first.get("phase", first_phase) == first_phase
    ok, seen_sweep = True, False
    sweeps: dict[int, list[int]] = {}
    for h in history:
        phase = h.get("phase", "backward")
        if phase == "bootstrap":
            ok &= int(h["layer"]) == final and not seen_sweep
        elif phase == "backward":
            seen_sweep = True
            sweeps.setdefault(int(h.get("epoch", 0)), []).append(int(h["layer"]))
        else:
            ok = False  # a forward-pipeline update inside a backward run
    for layers in sweeps.values():
        if any(b > a for a, b in zip(layers, layers[1:])):
            ok = False
    return {"final_first": bool(final_first), "backward_order": bool(ok)}
