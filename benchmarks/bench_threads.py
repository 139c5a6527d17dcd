"""Parallel kernels next to a competing CPU-bound process: threads vs one thread (D41, issue 19).

    python benchmarks/bench_threads.py [--rounds 3] [--competitors 1] [--updates 600]

Starts `--competitors` busy processes (a Python spin loop each; stopped at the end), then times
two workloads in fresh processes under three thread settings, interleaved over `--rounds`:

- `1 thread`: NUMBA_NUM_THREADS=1;
- `N adaptive`: numba's default (every core) with the thread policy of `kernels/threads.py`;
- `N fixed`: numba's default with the policy off (HASHTRON_LAB_THREADS=fixed): what it avoids.

Workloads: the default run (`dvc repro`'s main job, experiment ntuple_digits: backward and
forward, seed 0; training seconds as the runs report them, compile excluded) and bench_core's
forward pipeline on the Go MNIST stack (`--updates` neuron trainings/s and the median flip-test
tally per layer). Prints medians and each setting's time over one thread's; the goal is an
adaptive ratio <= 1.1. `--competitors 0` measures the same without a neighbour.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "1 thread": {"NUMBA_NUM_THREADS": "1"},
    "N adaptive": {},
    "N fixed": {"HASHTRON_LAB_THREADS": "fixed"},
}


def worker(updates: int) -> dict:
    """One measurement in this process: main-job run seconds, trainings/s, tally ms per layer."""
    import numba
    import numpy as np
    import yaml
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from hashtron_lab import config_schema, experiment
    from hashtron_lab.data.encoders import byte_picker
    from hashtron_lab.kernels.threads import GOVERNOR
    from hashtron_lab.model.architecture import Architecture
    from hashtron_lab.model.network import Network
    from hashtron_lab.train.forward import ForwardPipeline
    from hashtron_lab.train.run import Run, Split, drive
    from hashtron_lab.train.tally import tally
    from hashtron_lab.train.warm import warm_kernels

    warm_kernels()
    out = {"numba_threads": numba.config.NUMBA_NUM_THREADS}
    params = config_schema.read_params(ROOT / "params.yaml")
    for direction in ("backward", "forward"):
        cfg = params.for_run(direction, seed=0)  # the main job's run of that direction
        out[f"main job {direction} s"] = experiment.run_experiment(cfg).metrics["wall_seconds"]
    d = load_digits()
    F = byte_picker(d.data.astype(np.uint8), 80)
    Xtr, _, ytr, _ = train_test_split(F, d.target, test_size=0.2, random_state=0)
    arch = Architecture.from_spec(yaml.safe_load((ROOT / "conf/model/mnist_stack.yaml").read_text()))
    run = Run(Network.untrained(arch, np.random.default_rng(0)), Split(Xtr, ytr), None, 10,
              {"budget": {"max_updates": updates}})
    t = time.perf_counter()
    drive(run, ForwardPipeline({}))
    out["trainings/s"] = run.n_updates / (time.perf_counter() - t)
    for layer in range(arch.n_layers):
        times = []
        for _ in range(30):
            t = time.perf_counter()
            tally(run.net, run.trace, run.targets, layer, 0)
            times.append(time.perf_counter() - t)
        out[f"tally layer {layer} ms"] = statistics.median(times) * 1e3
    out["calls by threads"] = {str(k): v for k, v in sorted(GOVERNOR.calls.items())}
    return out


def measure(setting: str, updates: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_NUM_THREADS", "HASHTRON_LAB_THREADS")}
    env.update(SETTINGS[setting])
    p = subprocess.run([sys.executable, __file__, "--worker", "--updates", str(updates)], env=env, cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--competitors", type=int, default=1)
    ap.add_argument("--updates", type=int, default=600)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.updates)))
        return 0
    measure("1 thread", 50)  # compile / load the kernels once, outside the timings
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.competitors)]
    results: dict[str, list[dict]] = {s: [] for s in SETTINGS}
    try:
        time.sleep(0.5 if spinners else 0)
        for _ in range(a.rounds):
            for s in SETTINGS:
                results[s].append(measure(s, a.updates))
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    keys = [k for k in results["1 thread"][0] if k not in ("numba_threads", "calls by threads")]
    lower_better = {k: not k.endswith("/s") for k in keys}
    med = {s: {k: statistics.median(r[k] for r in rs) for k in keys} for s, rs in results.items()}
    cores = os.cpu_count()
    print(f"{cores} cores, {a.competitors} competing CPU-bound process(es), median of {a.rounds} rounds; "
          f"ratio = time / time with 1 thread (goal for adaptive: <= 1.1)")
    w = max(map(len, keys))
    print(f"{'':<{w}}  " + "  ".join(f"{s:>22}" for s in SETTINGS))
    for k in keys:
        base = med["1 thread"][k]
        cells = []
        for s in SETTINGS:
            v = med[s][k]
            ratio = (v / base) if lower_better[k] else (base / v)
            cells.append(f"{v:>10.3f} ({ratio:5.2f}x)")
        print(f"{k:<{w}}  " + "  ".join(f"{c:>22}" for c in cells))
    for s in SETTINGS:
        print(f"{s}: numba threads {results[s][-1]['numba_threads']}, kernel calls by threads "
              f"{results[s][-1]['calls by threads']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
