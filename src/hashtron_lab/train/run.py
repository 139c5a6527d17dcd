"""The training run shared by both pipelines: budget, acceptance, validation, early stopping,
checkpoints, history and events. A pipeline only decides *which* neuron to train next and
with *which* premodulo; everything else lives here so the two differ in nothing else."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..hashing import hash32
from ..model.network import Network
from ..model.output_code import OutputCode
from ..settings import SettingError, check_fields, from_mapping, one_of, ranged, seed_field
from .checkpoint import CheckpointError, check_identity, read_checkpoint, save_checkpoint
from .events import Hooks
from .tally import TALLY_MODES, Tally, local_credit, tally
from .update import build_neuron, replace_neuron


@dataclass
class Split:
    """One data split: uint32 features, integer labels, optional parity words."""

    X: np.ndarray
    y: np.ndarray
    parity: np.ndarray | None = None

    def __post_init__(self):
        self.X = np.ascontiguousarray(self.X, dtype=np.uint32)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.X.shape[0] != self.y.shape[0]:
            raise ValueError(f"X has {self.X.shape[0]} rows but y has {self.y.shape[0]} labels")
        self._par = np.zeros(self.y.shape[0], np.uint32) if self.parity is None else np.asarray(self.parity, np.uint32)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def targets_for(self, code: OutputCode) -> np.ndarray:
        """Wanted output integers: the label's code, xored with the parity word."""
        return (code.encode(self.y) ^ self._par).astype(np.uint32)

    def count_correct(self, out: np.ndarray, code: OutputCode) -> int:
        """How many of `predict_from_outputs(out, code)` are right, without building the predictions."""
        return code.count_correct(out, self._par, self.y)

    def predict_from_outputs(self, out: np.ndarray, code: OutputCode) -> np.ndarray:
        """Undo parity, then decode the output integer to a class."""
        return code.decode((out ^ self._par).astype(np.uint32))


@dataclass
class Budget:
    """Per run (per seed and direction); the first limit reached ends it."""

    max_updates: int | None = ranged(1500, 0, integer=True, optional=True, note="0 trains nothing")
    max_epochs: int | None = ranged(None, 0, integer=True, optional=True)  # backward: sweeps; forward: branches
    max_seconds: float | None = ranged(None, 0, optional=True)  # wall clock (not reproducible)

    def __post_init__(self):
        check_fields(self)

    @property
    def unbounded(self) -> bool:
        return self.max_updates is None and self.max_epochs is None and self.max_seconds is None


def check_run_ends(budget: Budget, validation: "Validation", has_val: bool = True) -> None:
    """A run needs an end: a budget or early stopping (which needs a validation split)."""
    if budget.unbounded and (validation.patience is None or not validation.every_epochs or not has_val):
        raise SettingError("budget", {"max_updates": None, "max_epochs": None, "max_seconds": None},
                           "at least one budget limit, or early stopping (run.validation.patience and every_epochs "
                           "with a validation split)", absolute=True, problem="never ends the run")


@dataclass
class Acceptance:
    """When a rebuilt neuron is kept (the rest of the run is undone otherwise)."""

    rule: str = one_of("not_worse", ("not_worse", "improve", "always"))
    objective: str = one_of("accuracy", ("accuracy", "hamming"))  # hamming: bits of output distance
    require_improving_vote: bool = True
    reject_revisits: bool = True     # local-minimum detection by hash of the prediction vector
    keep_unvoted: bool = False       # keys without votes keep the neuron's current bit (not in the reference)
    tally: str = one_of("flip", TALLY_MODES)  # flip (reference) | local (hidden neurons of one output bit vote its target)
    # local tally: weight of a vote for 1 (>= samples: WiSARD's "any sample sets it")
    positive_weight: int = ranged(1, 1, integer=True)

    def __post_init__(self):
        check_fields(self)


@dataclass
class Validation:
    every_epochs: int = ranged(1, 0, integer=True, note="0 = never validate")
    # epochs without a better validation accuracy before the run stops
    patience: int | None = ranged(100, 1, integer=True, optional=True, note="null = no early stopping")
    min_delta: float = ranged(0.0, 0.0)
    restore_best: bool = True        # keep the best network on validation

    def __post_init__(self):
        check_fields(self)


@dataclass
class RunConfig:
    """The settings tree's `run` group: what happens around each neuron update."""

    acceptance: Acceptance = field(default_factory=Acceptance)
    validation: Validation = field(default_factory=Validation)
    # neuron updates between checkpoints; 0 = only at the end of a session
    checkpoint_every: int = ranged(0, 0, integer=True, note="0 = only at the end")
    progress: bool | None = None     # progress bar; None: only when stderr is a terminal

    def __post_init__(self):
        check_fields(self)


@dataclass
class RunSetup:
    """What one `Run` reads: the settings tree's seed, budget and `run` group, and where its
    checkpoint goes. Built from a mapping like ``{"seed": 0, "budget": {...}, "run": {...}}``."""

    seed: int = seed_field()
    budget: Budget = field(default_factory=Budget)
    run: RunConfig = field(default_factory=RunConfig)
    checkpoint_path: str | None = None

    def __post_init__(self):
        check_fields(self)
        if self.run.checkpoint_every and not self.checkpoint_path:
            raise SettingError("run.checkpoint_every", self.run.checkpoint_every,
                               "0 when the run has no checkpoint path (no file to write)", absolute=True,
                               problem="asks for checkpoints but no checkpoint_path is set")


class Run:
    """Owns network, data, RNG, counters, history and the best model on validation."""

    def __init__(self, net: Network, train: Split, val: Split | None, n_classes: int | None,
                 config: RunSetup | dict | None = None, hooks: Hooks | None = None):
        self.cfg = from_mapping(RunSetup, config)
        self.budget, self.accept, self.valcfg = self.cfg.budget, self.cfg.run.acceptance, self.cfg.run.validation
        check_run_ends(self.budget, self.valcfg, val is not None)
        self.net = net
        self.train = train
        self.val = val
        self.n_classes = n_classes
        self.code = OutputCode(net.architecture.output_code, n_classes, net.architecture.output_bits)
        self.targets = train.targets_for(self.code)
        self.hooks = hooks or Hooks()
        self.rng = np.random.Generator(np.random.PCG64(self.cfg.seed))
        self.n_updates = 0
        self.n_accepted = 0
        self.epoch = 0
        self.history: list[dict] = []
        self.decisions: list[dict] = []   # premodulo decisions (backward pipeline)
        self.epochs: list[dict] = []
        self.final: dict | None = None    # the end point of the curves (record_final)
        self.seen: set[bytes] = set()
        self.best_val: float = -1.0
        self.best_net: Network | None = None
        self.best_epoch = -1
        self.since_best = 0
        self.stopped: str | None = None
        self.elapsed = 0.0
        self._batch: list[tuple] = []   # (layer, pos, new neuron or None, record) awaiting commit_batch
        self.init: dict | None = None     # where the starting network came from (init_from), part of the identity
        self._val_at: tuple | None = None  # (updates, validation accuracy): val_accuracy's memo; a new net resets it
        from .warm import run_kernel_groups, warm_kernels

        warm_kernels(run_kernel_groups(net, self.accept.tally))  # before the clock starts
        self._t0 = time.perf_counter()
        self.trace = net.trace(train.X)
        self.objective = self._objective()
        self.pred_hash = self._pred_hash()
        self.seen.add(self.pred_hash)

    # -- measures ------------------------------------------------------------------
    def _objective(self, out: np.ndarray | None = None) -> float:
        out = self.trace.out if out is None else out
        if self.accept.objective == "hamming":
            diff = (out ^ self.targets).astype(np.uint32)
            bits = np.unpackbits(diff.view(np.uint8)).sum()
            return -float(bits)
        return float(self.train.count_correct(out, self.code))

    def train_accuracy(self) -> float:
        if self.accept.objective == "accuracy":  # the objective is the count of right predictions, kept current
            return self.objective / len(self.train) if len(self.train) else 0.0
        pred = self.train.predict_from_outputs(self.trace.out, self.code)
        return float(np.mean(pred == self.train.y)) if len(self.train) else 0.0

    def accuracy(self, split: Split, net: Network | None = None) -> float:
        out = (net or self.net).forward(split.X)
        return float(np.mean(split.predict_from_outputs(out, self.code) == split.y)) if len(split) else 0.0

    def val_accuracy(self) -> float:
        """Accuracy on the validation split, measured once per state of the network: the end of
        the last epoch, `finish` and `record_final` often ask about the same network."""
        if self._val_at is None or self._val_at[0] != self.n_updates:
            self._val_at = (self.n_updates, self.accuracy(self.val))
        return self._val_at[1]

    def s_out(self, layer: int, pos: int) -> int:
        """The neuron's output sum over the training samples: ones minus zeros (the sum cache's S_out)."""
        k = int(self.net.first[layer]) + pos
        return 2 * int(self.trace.cells[:, k].sum()) - int(self.trace.cells.shape[0])

    def _pred_hash(self, out: np.ndarray | None = None) -> bytes:
        return hashlib.blake2b((self.trace.out if out is None else out).tobytes(), digest_size=16).digest()

    def wall(self) -> float:
        return self.elapsed + (time.perf_counter() - self._t0)

    # -- budget --------------------------------------------------------------------
    def exhausted(self) -> str | None:
        b = self.budget
        if b.max_updates is not None and self.n_updates >= b.max_updates:
            return "max_updates"
        if b.max_epochs is not None and self.epoch >= b.max_epochs:
            return "max_epochs"
        if b.max_seconds is not None and self.wall() >= b.max_seconds:
            return "max_seconds"
        return None

    # -- one neuron update ---------------------------------------------------------
    def tally(self, layer: int, pos: int) -> Tally:
        return tally(self.net, self.trace, self.targets, layer, pos, self.accept.tally, self.accept.positive_weight)

    def _judge(self, before: float, out: np.ndarray | None = None) -> tuple[bool, str]:
        """Acceptance of a change whose network outputs are `out` (default: the trace's, when the
        change is already applied); a kept change becomes the new reference point (objective,
        prediction hash)."""
        after = self._objective(out)
        if self.accept.rule == "always":
            accepted, reason = True, "always"
        elif self.accept.rule == "improve":
            accepted, reason = after > before, ("improved" if after > before else "not_improved")
        else:
            accepted, reason = after >= before, ("not_worse" if after >= before else "worse")
        if accepted and self.accept.reject_revisits:  # only revisit rejection reads the prediction hashes
            h = self._pred_hash(out)
            if after <= before and h in self.seen and h != self.pred_hash:
                accepted, reason = False, "local_minimum"  # back to an earlier, different prediction vector
            else:
                self.pred_hash = h
                self.seen.add(h)
        if accepted:
            self.objective = after
            self.n_accepted += 1
        return accepted, reason

    def apply(self, layer: int, pos: int, new) -> None:
        """Put `new` in place and refresh the trace (a kept update: no undo snapshot); a subclass
        may refresh only the samples whose bit changes (g2p/credit.py does)."""
        self.net.set_neuron(layer, pos, new)
        self.net.refresh(self.trace, layer, pos)

    def build(self, t: Tally, salt: int, premodulo: int, threshold: int = 1):
        """(new neuron, keys stored) the tally asks for; a subclass may build the same neuron
        faster from what it knows about its network (g2p/credit.py does)."""
        return build_neuron(t, salt, premodulo, self.accept.keep_unvoted, threshold)

    def train_neuron(self, layer: int, pos: int, premodulo: int, t: Tally | None = None,
                     started: float | None = None, threshold: int = 1, **info: Any) -> dict:
        """Tally (unless given), rebuild the neuron under `premodulo`, keep it or undo it; one history record.

        `started`: perf_counter() when the caller began (e.g. before its own tally), so the
        recorded duration covers the same work in both pipelines. `threshold`: the votes for 1 a
        key needs to answer 1 (bleaching; 1 = the plain sign rule)."""
        start = time.perf_counter() if started is None else started
        t = t if t is not None else self.tally(layer, pos)
        before = self.objective
        record = self._record(layer, pos, premodulo, t, threshold)
        if self.accept.require_improving_vote and t.n_improving == 0:
            accepted, reason, keys = False, "no_improving_vote", 0
        else:
            new, keys = self.build(t, self._salt(layer, pos, premodulo), premodulo, threshold)
            out_after = t.outputs_after(new, self.trace.out)
            if out_after is not None:  # judged from the flip test's outputs: a rejected rebuild touches nothing
                accepted, reason = self._judge(before, out_after)
                if accepted:
                    self.apply(layer, pos, new)
            elif self.accept.rule == "always" and not self.accept.reject_revisits:
                self.apply(layer, pos, new)  # kept whatever it does: no undo snapshot to take
                accepted, reason = self._judge(before)
            else:
                up = replace_neuron(self.net, self.trace, layer, pos, new, keys)
                accepted, reason = self._judge(before)
                if not accepted:
                    up.undo(self.net, self.trace)
        record.update({
            "accepted": bool(accepted), "reason": reason, "keys": int(keys),
            "filter_bytes": int(self.net.neuron(layer, pos).filter.shape[0]),
            "S_out": self.s_out(layer, pos),
            "train_accuracy": self.train_accuracy(),
            "duration": time.perf_counter() - start,
            **info,
        })
        self.history.append(record)
        self.n_updates += 1
        self.hooks.emit("update", record)
        return record

    def _record(self, layer: int, pos: int, premodulo: int, t: Tally, threshold: int) -> dict:
        return {
            "update": self.n_updates + len(self._batch), "epoch": self.epoch, "layer": layer, "neuron": pos,
            "neuron_id": f"{layer}.{pos}", "premodulo": int(premodulo), "S": t.S, "N": t.N,
            "margin": t.margin, "votes": t.votes_cast, "improving_votes": t.n_improving, "threshold": int(threshold),
        }

    def _salt(self, layer: int, pos: int, premodulo: int) -> int:
        salt = int(self.rng.integers(0, 2**32))
        return self._tied_salt(layer, pos, salt) if premodulo > 0 else salt

    # -- a batch of independent updates (local credit, every update kept) -------------------------
    def batchable(self, layer: int) -> bool:
        """Whether the neurons of `layer` can be rebuilt one after another against the same trace
        and put in place together: their credit is local (each one's votes read only its own input
        column and the targets, which no neuron of the same layer changes) and every update is kept
        (rule "always", no revisit rejection), so the result — neurons, salts, model bytes — is the
        one-at-a-time result; only the per-update training accuracy is read after the batch."""
        a = self.accept
        return (a.rule == "always" and not a.reject_revisits and a.tally == "local"
                and layer < self.net.architecture.n_layers - 1 and local_credit(self.net, layer))

    def build_batched(self, layer: int, pos: int, premodulo: int, t: Tally, started: float, threshold: int = 1,
                      **info: Any) -> dict:
        """Rebuild neuron (layer, pos) from tally `t` without putting it in place yet (see
        `batchable`; `commit_batch` does): the record it will have, finished by the commit."""
        record = self._record(layer, pos, premodulo, t, threshold)
        if self.accept.require_improving_vote and t.n_improving == 0:
            new, keys, reason = None, 0, "no_improving_vote"
        else:
            new, keys = self.build(t, self._salt(layer, pos, premodulo), premodulo, threshold)
            reason = "always"
        record.update({"accepted": new is not None, "reason": reason, "keys": int(keys),
                       "duration": time.perf_counter() - started, **info})
        self._batch.append((layer, pos, new, record))
        return record

    def commit_batch(self) -> list[dict]:
        """Put every neuron of the batch in place, recompute the trace once from their layer, and
        finish and emit their records in order."""
        if not self._batch:
            return []
        start = time.perf_counter()
        layers = {layer for layer, _, _, _ in self._batch}
        if len(layers) != 1:
            raise ValueError(f"a batch holds neurons of one layer, got layers {sorted(layers)}")
        layer = layers.pop()
        self.net.set_neurons(layer, {pos: new for _, pos, new, _ in self._batch if new is not None})
        if layer == 0:
            self.trace = self.net.trace(self.train.X)
        else:
            self.net.refresh(self.trace, layer)
        self.objective = self._objective()
        accuracy = self.train_accuracy()
        cols = int(self.net.first[layer]) + np.array([pos for _, pos, _, _ in self._batch], dtype=np.int64)
        on = self.trace.cells[:, cols].sum(axis=0, dtype=np.int64)
        n = self.trace.cells.shape[0]
        share = (time.perf_counter() - start) / len(self._batch)
        records = []
        for (_, pos, new, record), ones in zip(self._batch, on):
            record.update({"filter_bytes": int(self.net.neuron(layer, pos).filter.shape[0]),
                           "S_out": int(2 * int(ones) - n), "train_accuracy": accuracy,
                           "duration": record["duration"] + share})
            self.n_accepted += int(new is not None)
            self.history.append(record)
            self.n_updates += 1
            self.hooks.emit("update", record)
            records.append(record)
        self._batch = []
        return records

    def _tied_salt(self, layer: int, pos: int, drawn: int) -> int:
        """The premodulo salt of neuron (layer, pos). Neurons of a layer that feeds an `argmax`
        combiner come in class groups whose neuron r all read input r (n-tuple RAMs): they share
        one salt per r, so a premodulo merges the same addresses in every class's RAM — a coarser
        address, compared alike across classes — instead of adding class-specific collision noise
        (docs/decisions.md). Other neurons keep their drawn salt (the RNG stream is the same)."""
        comb = self.net.architecture.combiners[layer]
        if comb is None or comb.kind != "argmax":
            return drawn
        r = pos % (self.net.architecture.widths[layer] // int(comb.params["groups"]))
        return int(hash32(r, hash32(int(self.cfg.seed) & 0xFFFFFFFF, layer, 0xFFFFFFFF), 0xFFFFFFFF))

    def train_pair(self, layer: int, pos1: int, pos2: int, premodulo: int, **info: Any) -> list[dict]:
        """Two neurons of one layer at a time (the reference's late mode): both rebuilt together,
        kept or undone together; one history record each."""
        from .update import pair_update

        start = time.perf_counter()
        before = self.objective
        salts = (int(self.rng.integers(0, 2**32)), int(self.rng.integers(0, 2**32)))
        ups = pair_update(self.net, self.trace, self.targets, layer, pos1, pos2, salts, premodulo)
        if ups is None:
            accepted, reason = False, "pair_filters_larger"
        else:
            accepted, reason = self._judge(before)
            if not accepted:
                ups[1].undo(self.net, self.trace)
                ups[0].undo(self.net, self.trace)
        records = []
        for i, pos in enumerate((pos1, pos2)):
            rec = {"update": self.n_updates, "epoch": self.epoch, "layer": layer, "neuron": pos,
                   "neuron_id": f"{layer}.{pos}", "premodulo": int(premodulo), "S": 0, "N": len(self.train),
                   "margin": 0.0, "votes": 0, "improving_votes": 0, "accepted": bool(accepted), "reason": reason,
                   "keys": int(ups[i].n_keys) if ups else 0,
                   "filter_bytes": int(self.net.neuron(layer, pos).filter.shape[0]),
                   "S_out": self.s_out(layer, pos),
                   "train_accuracy": self.train_accuracy(), "duration": (time.perf_counter() - start) / 2,
                   "pair": [pos1, pos2], **info}
            self.history.append(rec)
            self.n_updates += 1
            self.hooks.emit("update", rec)
            records.append(rec)
        return records

    def checkpoint_due(self, before: int | None = None) -> bool:
        """Whether the updates since `before` (default: the last one) crossed a multiple of checkpoint_every."""
        every = self.cfg.run.checkpoint_every
        if not (every and self.cfg.checkpoint_path):
            return False
        before = self.n_updates - 1 if before is None else before
        return self.n_updates // every > before // every

    # -- epochs, validation, early stopping ----------------------------------------
    def end_epoch(self) -> None:
        self.epoch += 1
        rec = {"epoch": self.epoch, "updates": self.n_updates, "accepted": self.n_accepted,
               "train_accuracy": self.train_accuracy(), "wall": self.wall()}
        if self.val is not None and self.valcfg.every_epochs and self.epoch % self.valcfg.every_epochs == 0:
            va = self.val_accuracy()
            rec["val_accuracy"] = va
            if va > self.best_val + self.valcfg.min_delta or self.best_net is None:
                self.best_val, self.best_epoch, self.since_best = va, self.epoch, 0
                self.best_net = self.net.copy()
            else:
                self.since_best += 1
                if self.valcfg.patience is not None and self.since_best >= self.valcfg.patience:
                    self.stopped = "early_stopping"
                    self.hooks.emit("early_stop", {"epoch": self.epoch, "best_epoch": self.best_epoch,
                                                   "best_val_accuracy": self.best_val})
        self.epochs.append(rec)
        self.hooks.emit("epoch", rec)

    def finish(self) -> None:
        """Keep the best model on validation (if asked) and recompute the trace for it."""
        self.restored_best = False
        if self.valcfg.restore_best and self.best_net is not None and self.val is not None:
            if self.val_accuracy() < self.best_val:
                self.net = self.best_net.copy()
                self._val_at = None
                self.trace = self.net.trace(self.train.X)
                self.objective = self._objective()
                self.pred_hash = self._pred_hash()
                self.restored_best = True

    def record_final(self) -> dict:
        """The last point of the accuracy curves: the model the run returns, measured where the
        run ended. A budget usually ends a run inside an epoch, whose end is never recorded, and
        `restore_best` may return an earlier model: without this point the curves (epochs.jsonl,
        plots, dashboards, MLflow) stopped short of the tables. Kept as `final` (flagged
        ``final``; `epochs` stays the completed epochs) and emitted as a ``final`` event;
        `epoch` is the epoch the run ended in. `curve()` is both."""
        last = self.epochs[-1]["updates"] if self.epochs else 0
        partial = self.n_updates > last or not self.epochs
        rec = {"epoch": self.epoch + (1 if partial else 0), "updates": self.n_updates, "accepted": self.n_accepted,
               "train_accuracy": self.train_accuracy(), "wall": self.wall(), "final": True,
               "partial": bool(partial), "restored_best": bool(getattr(self, "restored_best", False))}
        if self.val is not None and len(self.val):
            rec["val_accuracy"] = self.val_accuracy()
        self.final = rec
        self.hooks.emit("final", rec)
        return rec

    def curve(self) -> list[dict]:
        """The completed epochs, then the end point (`record_final`): what epochs.jsonl holds."""
        return self.epochs + ([self.final] if self.final else [])

    # -- checkpoints ---------------------------------------------------------------
    def state(self) -> dict:
        """Everything a resumed run needs, as data (see train/checkpoint.py)."""
        seen = np.frombuffer(b"".join(sorted(self.seen)), np.uint8).reshape(len(self.seen), -1) if self.seen \
            else np.zeros((0, 16), np.uint8)
        return {
            "net": self.net.copy(), "best_net": self.best_net.copy() if self.best_net else None,
            "rng": self.rng.bit_generator.state, "n_updates": self.n_updates, "n_accepted": self.n_accepted,
            "epoch": self.epoch, "history": self.history, "decisions": self.decisions, "epochs": self.epochs,
            "seen": seen, "pred_hash": self.pred_hash,
            "best_val": self.best_val, "best_epoch": self.best_epoch, "since_best": self.since_best,
            "elapsed": self.wall(), "stopped": self.stopped, "config": asdict(self.cfg),
        }

    def load_state(self, st: dict) -> None:
        arch = self.net.architecture
        if st["net"].architecture.to_spec() != arch.to_spec():
            raise CheckpointError(f"the checkpoint's network {st['net'].architecture.widths} is not this run's "
                                  f"architecture {arch.widths}")
        self.net = st["net"].copy()
        self._val_at = None
        self.best_net = st["best_net"].copy() if st["best_net"] else None
        self.rng.bit_generator.state = st["rng"]
        for key in ("n_updates", "n_accepted", "epoch", "history", "decisions", "epochs", "best_val", "best_epoch",
                    "since_best", "elapsed", "stopped"):
            setattr(self, key, st[key])
        self.seen = {bytes(row) for row in np.asarray(st["seen"], np.uint8)}
        self.pred_hash = st["pred_hash"]
        if self.stopped != "early_stopping":
            self.stopped = None  # a budget stop ends a session, not the run: a resumed run may have more
        self._t0 = time.perf_counter()
        self.trace = self.net.trace(self.train.X)
        self.objective = self._objective()

    def identity(self, pipeline) -> dict:
        """What makes this run the run it is (a checkpoint continues only the same): seed, model,
        classes, the data, the pipeline and its settings, acceptance and validation. Budgets,
        checkpoint cadence and progress display are left out: a resumed run may change them."""
        settings = getattr(pipeline, "settings", None)
        return {
            "pipeline": getattr(pipeline, "name", type(pipeline).__name__),
            "pipeline_settings": settings() if callable(settings) else {},
            "seed": int(self.cfg.seed),
            "architecture": self.net.architecture.to_spec(),
            "n_classes": self.n_classes,
            "acceptance": asdict(self.accept),
            "validation": asdict(self.valcfg),
            "train_data": _data_digest(self.train),
            "val_data": _data_digest(self.val),
            "init": self.init,
        }

    def save_checkpoint(self, extra: dict, path: str | Path | None = None, identity: dict | None = None) -> None:
        path = path or self.cfg.checkpoint_path
        if not path:
            return
        save_checkpoint(path, {"run": self.state(), **extra}, identity)
        self.hooks.emit("checkpoint", {"path": str(path), "updates": self.n_updates, "epoch": self.epoch})


def _data_digest(split: Split | None) -> dict | None:
    """Rows, features and a short SHA-256 of a split's features, labels and parity words."""
    if split is None:
        return None
    h = hashlib.sha256()
    for a in (split.X, split.y, split._par):
        h.update(np.ascontiguousarray(a).tobytes())
    return {"rows": len(split), "features": int(split.X.shape[1]), "sha256": h.hexdigest()[:16]}


RESUME_MODES = (False, True, "if_exists")


def drive(run: Run, pipeline, resume: bool | str = False, resume_from: str | Path | None = None,
          allow_changes: tuple[str, ...] | list[str] = ()) -> Run:
    """Run `pipeline` steps until the budget, early stopping or the pipeline itself ends the run.

    Resuming reads the state from `resume_from`, else from the run's checkpoint path; the result
    is the same as an uninterrupted run with the same seed (the wall-clock budget aside), and a
    larger budget continues a finished run.

    - `resume=True` or an explicit `resume_from`: the checkpoint must exist (CheckpointError
      otherwise, never a silent fresh start);
    - `resume="if_exists"`: resume when the checkpoint exists, else start the run (for a command
      repeated until it finishes); the first event says which (`resume` or `run_start`).

    The checkpoint must come from the same run: `Run.identity` (seed, model, data, pipeline and
    its settings, acceptance, validation) is compared with the one saved, and any difference is a
    CheckpointError naming it, unless listed (by top-level name, e.g. "train_data") in
    `allow_changes` for a deliberate continuation under other conditions.
    """
    if resume not in RESUME_MODES:
        raise ValueError(f"resume must be one of {RESUME_MODES}, got {resume!r}")
    from .warm import warm_kernels

    run._t0 += warm_kernels(pipeline.kernel_groups())  # compiling is not training time
    run.final = None  # driven again: the previous end is no longer the end
    path = resume_from or run.cfg.checkpoint_path
    identity = run.identity(pipeline) if path else None  # hashing the data only pays when a checkpoint is read or written
    _start(run, pipeline, path, identity, resume, resume_from, allow_changes)
    bar = _progress(run)
    try:
        while True:
            reason = run.stopped or run.exhausted() or pipeline.finished(run)
            if reason:
                run.stopped = reason
                break
            before = run.n_updates
            if pipeline.step(run):
                run.end_epoch()
            if bar is not None:
                bar.update(run.n_updates - before)
                bar.set_postfix(epoch=run.epoch, train=f"{run.train_accuracy():.3f}")
            if run.n_updates != before and run.checkpoint_due(before):
                run.save_checkpoint({"pipeline": pipeline.state()}, identity=identity)
    finally:
        if bar is not None:
            bar.close()
    run.save_checkpoint({"pipeline": pipeline.state()}, identity=identity)
    run.finish()
    run.record_final()
    run.hooks.emit("run_end", {"reason": run.stopped, "updates": run.n_updates, "epochs": run.epoch,
                               "wall": run.wall(), "train_accuracy": run.train_accuracy(),
                               "best_val_accuracy": run.best_val})
    return run


def _start(run: Run, pipeline, path, identity: dict | None, resume, resume_from, allow_changes) -> None:
    """Load the checkpoint into `run` and `pipeline` when resuming (checking it exists and is this
    run's), else announce a fresh start; see `drive`."""
    if resume_from or resume:
        if not path:
            raise CheckpointError("resume needs a checkpoint: set the run's checkpoint_path or pass resume_from")
        exists = Path(path).exists()
        if not exists and (resume_from or resume is True):
            how = f"resume_from={str(resume_from)!r}" if resume_from else "resume=True"
            raise CheckpointError(
                f"{how} but checkpoint {path} does not exist: there is nothing to resume. Fix: check the path, "
                f"start the run without resume, or pass resume='if_exists' to start fresh when no checkpoint exists")
    if (resume_from or resume) and Path(path).exists():
        doc = read_checkpoint(path)
        check_identity(path, doc["identity"], identity, allow_changes)
        st = doc["state"]
        try:
            run.load_state(st["run"])
            pipeline.load_state(st["pipeline"])
        except CheckpointError as e:
            raise CheckpointError(f"checkpoint {path}: {e}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise CheckpointError(f"checkpoint {path} does not hold a state this run can continue "
                                  f"({type(e).__name__}: {e}); delete it to restart the run") from None
        run.hooks.emit("resume", {"path": str(path), "updates": run.n_updates, "epoch": run.epoch,
                                  "config_hash": doc["config_hash"]})
        run._t0 = time.perf_counter()  # reading the checkpoint is not training time
    else:
        run.hooks.emit("run_start", {"pipeline": pipeline.name, "seed": run.cfg.seed,
                                     "n_train": len(run.train), "architecture": run.net.architecture.to_spec()})


def _progress(run: Run):
    import sys

    show = run.cfg.run.progress if run.cfg.run.progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=run.budget.max_updates, initial=run.n_updates, unit="upd", leave=False)
