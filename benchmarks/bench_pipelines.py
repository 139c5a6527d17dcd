"""Backward vs forward pipeline: wall time for the same number of neuron updates (DESIGN §8,
seed 000 "performance within 10 % of the current pipeline") and sum-cache memory per record.

    python benchmarks/bench_pipelines.py [--updates 1000] [--repeats 5] [--dataset digits]
        [--seed 0] [--threads N] [--experiment ntuple_digits]

Digits (`conf/dataset/<dataset>.yaml`, default the byte-picker encoding) on the Go MNIST stack
(`conf/model/mnist_stack.yaml`). Every pipeline row trains a fresh untrained network for exactly
`--updates` neuron updates (validation and early stopping off, no checkpoints), `--repeats`
times, interleaved so machine load hits all rows alike, in a new (seeded) order every repeat so
no row always runs after the same one (a run leaves its heap and caches to the next); the table
shows the median. Numba
kernels are compiled by a short warm-up first. Rows:

- forward, premodulo 0 (the reference default: no premodulo step, the filter keys on the
  whole input);
- forward, scheduled premodulo (P from the success rate, min 2, max 65536);
- backward (capacity law, clamp, throttle, gold-zone selection: the defaults);
- backward with the capacity law off (premodulo 0, as forward): what order, selection and the
  sum cache cost without the law's premodulo step;
- backward replayed: the neurons, premodulos and epoch ends of one backward run trained again
  with none of backward's bookkeeping (selection, decisions, sum cache, events) — backward's
  time over this row's (paired per repeat, printed below the table) is what the bookkeeping costs.

With `--experiment NAME` the model, dataset and run settings come from `conf/` composed with
`experiment=NAME` instead, and the rows are that experiment's forward and backward pipelines
(`pipeline=forward` and the experiment's own backward option), plus the backward replay.

Columns: median wall seconds, updates/s, ms per update; the share of wall time in tallies, in
neuron rebuild + trace refresh + evaluation (+ undo), and in everything else (the pipeline's own
bookkeeping: selection, capacity decisions, sum cache, epoch ends); updates per layer, accepted
updates and final train accuracy of the last repeat; the ratio of each row's wall time to
the forward (premodulo 0) row's, measured in the same process (and, below the table, the
median of the per-repeat ratios, whose rows ran back to back); and wall time per *rebuilt*
neuron (an update whose tally offers no improving vote ends there, without building a neuron,
so equal update counts can be unequal work) with its ratio to the forward row's. Below the table,
each row's median ms per update by layer (tally + rebuild + evaluation as recorded per update).
Then the sum cache of the last backward run: records, bytes per record as stored
(record dtype + link), as allocated (`SumCache.nbytes` / records), and as serialised into a
checkpoint (`SumCache.to_bytes`).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import yaml

from hashtron_lab.config import Settings
from hashtron_lab.experiment import as_data, prepare_dataset
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.backward import BackwardPipeline
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Run, drive
from hashtron_lab.train.sum_cache import RECORD_DTYPE

ROOT = Path(__file__).resolve().parents[1]

ROWS = {
    "forward (premodulo 0)": lambda: ForwardPipeline({}),
    "forward (scheduled)": lambda: ForwardPipeline({"schedule": True}),
    "backward (defaults)": lambda: BackwardPipeline({}),
    "backward (law off)": lambda: BackwardPipeline(capacity={"enabled": False, "fixed_premodulo": 0}),
}
BASE = "forward (premodulo 0)"
SKIPPED = ("no_improving_vote", "pair_filters_larger")  # updates that end before building a neuron


def load(dataset: str, seed: int):
    model = yaml.safe_load((ROOT / "conf" / "model" / "mnist_stack.yaml").read_text())
    dcfg = yaml.safe_load((ROOT / "conf" / "dataset" / f"{dataset}.yaml").read_text())
    arch = Architecture.from_spec(model)
    ds = prepare_dataset(Settings.from_dict({"dataset": dcfg, "model": model, "seed": seed}), arch)
    return arch, ds


class TimedRun(Run):
    """Run that adds up the time of tallies and of neuron rebuild + evaluation (+ undo)."""

    t_tally = 0.0
    t_update = 0.0

    def tally(self, layer, pos):
        t0 = time.perf_counter()
        try:
            return super().tally(layer, pos)
        finally:
            self.t_tally += time.perf_counter() - t0

    def train_neuron(self, *args, **kwargs):
        t0, nested = time.perf_counter(), self.t_tally
        try:
            return super().train_neuron(*args, **kwargs)
        finally:
            self.t_update += (time.perf_counter() - t0) - (self.t_tally - nested)


class Replay:
    """Trains the neurons a backward run trained, in its order, with its premodulos and its epoch
    ends, and none of its bookkeeping (no selection, capacity decision, sum cache or decision
    events): backward's time over this row's is what that bookkeeping costs."""

    name = "replay"

    def __init__(self, script: list[tuple[int, int, int, bool]]):
        self.script, self.i = script, 0

    def finished(self, run):
        return None

    def kernel_groups(self) -> set[str]:
        return set()  # only the run's own kernels

    def step(self, run) -> bool:
        layer, pos, premodulo, ends = self.script[self.i]
        self.i += 1
        run.train_neuron(layer, pos, premodulo, phase="replay")
        return ends

    def state(self) -> dict:
        return {"i": self.i}

    @classmethod
    def of(cls, run: Run) -> list[tuple[int, int, int, bool]]:
        """(layer, position, premodulo, ends an epoch) of each update of a finished run."""
        h = run.history
        epochs = [r["epoch"] for r in h] + [run.epoch]
        return [(r["layer"], r["neuron"], r["premodulo"], epochs[i + 1] != epochs[i]) for i, r in enumerate(h)]


def experiment_rows(name: str, seed: int):
    """(arch, dataset, rows, `run` group) of a composed experiment: its forward and backward pipelines."""
    from hashtron_lab import config_schema as cs
    from hashtron_lab.experiment import build_pipeline

    cfg = cs.load_config([f"experiment={name}", f"seed={seed}", "tracking=none"])
    fwd = cs.load_config([f"experiment={name}", f"seed={seed}", "tracking=none", "pipeline=forward"])
    arch = cfg.architecture()
    rows = {"forward": lambda: build_pipeline(fwd), "backward": lambda: build_pipeline(cfg)}
    return arch, prepare_dataset(cfg, arch), rows, cfg.to_dict()["run"]


def one(arch, ds, make_pipeline, updates: int, seed: int, run_cfg: dict | None = None,
        keep_run: bool = False) -> dict:
    """One timed run; `run_cfg` is the settings tree's `run` group (acceptance etc.; None: defaults)."""
    data = as_data(ds)
    net = Network.untrained(arch, np.random.default_rng(np.random.SeedSequence([seed, 1])))
    run = TimedRun(net, data.train, data.val, ds.n_classes,
                   {"seed": seed, "budget": {"max_updates": updates},
                    "run": {**(run_cfg or {}), "validation": {"patience": None, "restore_best": False, "every_epochs": 0},
                            "progress": False}})
    pipe = make_pipeline()
    t0 = time.perf_counter()
    drive(run, pipe)
    wall = time.perf_counter() - t0
    assert run.n_updates == updates, (run.n_updates, run.stopped)
    layers = [h["layer"] for h in run.history]
    by_layer = np.bincount(layers, minlength=arch.n_layers)
    seconds = np.bincount(layers, weights=[h["duration"] for h in run.history], minlength=arch.n_layers)
    rebuilt = sum(h["reason"] not in SKIPPED for h in run.history)
    return {"wall": wall, "tally": run.t_tally, "update": run.t_update, "accepted": run.n_accepted, "rebuilt": rebuilt,
            "run": run if keep_run else None,
            "train_accuracy": run.train_accuracy(), "pipeline": pipe, "by_layer": by_layer.tolist(),
            "layer_seconds": seconds.tolist()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--experiment", default=None, help="bench conf/experiment/<name>.yaml's pipelines instead")
    ap.add_argument("--threads", type=int, default=None,
                    help="numba threads (default: numba's); on cores shared with other processes 1 is "
                         "steadier and often faster, the parallel kernels wait on busy threads")
    a = ap.parse_args(argv)
    import numba

    if a.threads:
        numba.set_num_threads(a.threads)

    t0 = time.perf_counter()
    if a.experiment:
        arch, ds, rows, run_cfg = experiment_rows(a.experiment, a.seed)
        base_name, bwd, what = "forward", "backward", f"experiment {a.experiment}"
    else:
        arch, ds = load(a.dataset, a.seed)
        rows, run_cfg, base_name, bwd, what = ROWS, None, BASE, "backward (defaults)", f"dataset {a.dataset}"
    print(f"{what}: {ds.X_train.shape[0]} training samples, {ds.n_features} features, "
          f"{ds.n_classes} classes; layers {arch.widths}; loaded in {time.perf_counter() - t0:.1f} s; "
          f"numba threads {numba.get_num_threads()}")
    for make in rows.values():  # compile the kernels outside the measurement
        one(arch, ds, make, 10, a.seed, run_cfg)
    script = Replay.of(one(arch, ds, rows[bwd], a.updates, a.seed, run_cfg, keep_run=True)["run"])
    replayed = f"{bwd.split(' (')[0]} replayed"
    rows = {**rows, replayed: lambda: Replay(script)}

    results: dict[str, list[dict]] = {name: [] for name in rows}
    order = np.random.default_rng(a.seed)
    for _ in range(a.repeats):  # shuffled: no row always runs after the same one (a run leaves its heap and caches)
        for name in order.permutation(list(rows)).tolist():
            results[name].append(one(arch, ds, rows[name], a.updates, a.seed, run_cfg))

    base = statistics.median(r["wall"] for r in results[base_name])
    per_rebuilt = {n: statistics.median(r["wall"] / max(r["rebuilt"], 1) for r in rs) for n, rs in results.items()}
    print(f"\n{a.updates} neuron updates per run, median of {a.repeats} (interleaved)\n")
    head = (f"{'pipeline':<24}{'wall s':>8}{'min s':>7}{'upd/s':>7}{'ms/upd':>8}{'tally':>7}{'update':>8}{'other':>7}"
            f"{'updates by layer':>18}{'rebuilt':>9}{'accepted':>10}{'train acc':>10}{'wall/fwd':>10}"
            f"{'ms/rebuilt':>11}{'/fwd':>6}")
    print(head)
    print("-" * len(head))
    for name, rs in results.items():
        wall = statistics.median(r["wall"] for r in rs)
        tal = statistics.median(r["tally"] / r["wall"] for r in rs)
        upd = statistics.median(r["update"] / r["wall"] for r in rs)
        layers = "/".join(str(x) for x in rs[-1]["by_layer"])
        best = min(r["wall"] for r in rs)
        print(f"{name:<24}{wall:>8.2f}{best:>7.2f}{a.updates / wall:>7.0f}{1000 * wall / a.updates:>8.2f}{tal:>7.0%}{upd:>8.0%}"
              f"{1 - tal - upd:>7.0%}{layers:>18}{rs[-1]['rebuilt']:>9}{rs[-1]['accepted']:>10}"
              f"{rs[-1]['train_accuracy']:>10.3f}{wall / base:>10.2f}{1000 * per_rebuilt[name]:>11.2f}"
              f"{per_rebuilt[name] / per_rebuilt[base_name]:>6.2f}")
    print("tally = flip-test tallies; update = rebuild, refresh, evaluate, undo; other = the pipeline's own "
          "bookkeeping (selection, capacity decisions, sum cache, epoch ends)")
    print("rebuilt = updates that built a new neuron (the rest end at the tally: no sample would gain from a "
          "flip); ms/rebuilt = wall / rebuilt, and /fwd its ratio to the forward row: the cost of the same work")
    print("ms per update by layer (median):")
    for name, rs in results.items():
        ms = np.median([np.divide(r["layer_seconds"], np.maximum(r["by_layer"], 1)) for r in rs], axis=0) * 1000
        print(f"  {name:<24}" + " ".join(f"{m:6.3f}" for m in ms))
    walls = {n: statistics.median(r["wall"] for r in rs) for n, rs in results.items()}
    mins = {n: min(r["wall"] for r in rs) for n, rs in results.items()}
    print(f"(fastest repeats: {bwd} / {base_name} = {mins[bwd] / mins[base_name]:.2f}; "
          "numba kernels slow down a lot when other processes hold the cores, so compare rows of one run)")
    print(f"\n{bwd} / {base_name} wall-time ratio: {walls[bwd] / walls[base_name]:.2f}"
          + (f"   {bwd} / forward (scheduled): {walls[bwd] / walls['forward (scheduled)']:.2f}"
             if "forward (scheduled)" in walls else ""))
    # rows of one repeat ran back to back: their ratio cancels the machine's slow drifts
    paired = [b["wall"] / f["wall"] for b, f in zip(results[bwd], results[base_name])]
    q1, med, q3 = np.percentile(paired, [25, 50, 75])
    print(f"paired per repeat: median {med:.2f} (quartiles {q1:.2f}–{q3:.2f}; "
          f"{sum(r <= 1.10 for r in paired)} of {len(paired)} repeats within 1.10)")
    same = [r["accepted"] for r in results[replayed]] == [r["accepted"] for r in results[bwd]]
    book = [b["wall"] / r["wall"] for b, r in zip(results[bwd], results[replayed])]
    q1, med, q3 = np.percentile(book, [25, 50, 75])
    print(f"{bwd} / {replayed} (the same trainings without selection, decisions, sum cache and events), "
          f"paired per repeat: median {med:.2f} (quartiles {q1:.2f}–{q3:.2f})"
          + ("" if same else "  WARNING: the replay did not accept the same updates: not the same work"))

    cache = results[bwd][-1]["pipeline"].cache
    n = len(cache)
    print(f"\nsum cache after one backward run: {n} records "
          f"(keep_last={cache.keep_last})")
    per = getattr(cache, "bytes_per_record", RECORD_DTYPE.itemsize + 4)
    per = int(per() if callable(per) else per)
    print(f"  stored      {per:>8} B/record (record {RECORD_DTYPE.itemsize} B + {per - RECORD_DTYPE.itemsize} B link)")
    print(f"  allocated   {cache.nbytes / n:>8.1f} B/record ({cache.nbytes} B incl. spare room)")
    blob = cache.to_bytes()
    print(f"  serialised  {len(blob) / n:>8.1f} B/record ({len(blob)} B in a checkpoint)")
    print(f"  => 1,000,000 records ~ {per * 1e6 / 2**20:.0f} MiB stored "
          f"(DESIGN §7 budget: < 100 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
