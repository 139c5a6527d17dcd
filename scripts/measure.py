"""Measure backward vs forward over seeds on composed configs (what the closing notes report).

    python scripts/measure.py [--seeds 0 1 2] [--out reports/measurements.json]

Each row is `conf/` composed with the listed overrides (the same composition as the Hydra app
and `params.yaml`), trained with `experiment.train` for each direction and seed, tracking off.
Prints a markdown table of train / validation / test accuracy (mean ± sample std, ddof=1),
wall seconds and updates per second.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from hashtron_lab import config_schema as cs
from hashtron_lab.experiment import run_experiment

ROWS = {
    "digits, Go MNIST stack (byte picker)": ["~experiment"],
    "digits, acc_digits": ["experiment=acc_digits"],
    "breast cancer, acc_breast_cancer": ["experiment=acc_breast_cancer"],
    "digits, ntuple_digits": ["experiment=ntuple_digits"],
    "breast cancer, ntuple_breast_cancer": ["experiment=ntuple_breast_cancer"],
    "MNIST (5,000-digit sample), ntuple_mnist": ["experiment=ntuple_mnist", "dataset.path=datasets/mnist-dev"],
}
# the backward pipeline option each row's experiment is tuned for (default: `backward`)
BACKWARD = {"experiment=acc_digits": "backward_wide", "experiment=ntuple_digits": "backward_all",
            "experiment=ntuple_breast_cancer": "backward_all", "experiment=ntuple_mnist": "backward_all"}


def fmt(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="reports/measurements.json")
    ap.add_argument("--rows", nargs="+", default=None, help="substrings of the row labels to run (default: all)")
    args = ap.parse_args()
    rows = {k: v for k, v in ROWS.items() if not args.rows or any(r in k for r in args.rows)}
    results = []
    for label, overrides in rows.items():
        for direction in ("backward", "forward"):
            pipe = BACKWARD.get(overrides[0], direction) if direction == "backward" else direction
            for seed in args.seeds:
                cfg = cs.load_config([*overrides, f"pipeline={pipe}", f"seed={seed}", "tracking=none"])
                m = run_experiment(cfg).metrics
                results.append({"row": label, "direction": direction, "seed": seed, **m})
                print(label, direction, seed, {k: round(m[k], 3) for k in ("train_accuracy", "val_accuracy",
                                                                           "test_accuracy", "wall_seconds")}, flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    print("\n| configuration | pipeline | train | validation | test | wall s | updates/s |")
    print("|---|---|---|---|---|---|---|")
    for label in rows:
        for direction in ("backward", "forward"):
            rs = [r for r in results if r["row"] == label and r["direction"] == direction]
            print(f"| {label} | {direction} | {fmt([r['train_accuracy'] for r in rs])} | "
                  f"{fmt([r['val_accuracy'] for r in rs])} | {fmt([r['test_accuracy'] for r in rs])} | "
                  f"{fmt([r['wall_seconds'] for r in rs])} | {fmt([r['updates_per_second'] for r in rs])} |")


if __name__ == "__main__":
    main()
