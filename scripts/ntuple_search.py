"""Grid search over the n-tuple experiments' encoding and vote weight, chosen on validation only.

    python scripts/ntuple_search.py --experiment ntuple_breast_cancer [--seeds 0 1 2]

Every grid point is the experiment composed with Hydra overrides, trained with the backward
pipeline for each seed (tracking off). Rows go to reports/accuracy/<experiment>.jsonl; the table
printed at the end is sorted by mean validation accuracy (test is shown, never used to choose).
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
from pathlib import Path

from hashtron_lab import config_schema as cs
from hashtron_lab.experiment import run_experiment

GRIDS = {
    "ntuple_digits": {
        "dataset.encoding.quantiles": [3, 4, 6],
        "dataset.encoding.tuple_size": [6, 8, 10],
        "dataset.encoding.window": [1, 2, 3],
        "run.acceptance.positive_weight": [1000000],
    },
    "ntuple_breast_cancer": {
        "dataset.encoding.quantiles": [3, 7, 15, 31],
        "dataset.encoding.tuple_size": [4, 6, 8, 10],
        "dataset.encoding.select_pool": [1, 10, 30],
        "run.acceptance.positive_weight": [1000000],
    },
}
TUPLES = {"ntuple_digits": (100, 10), "ntuple_breast_cancer": (300, 2)}  # (n_tuples, groups)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", choices=sorted(GRIDS), required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-tuples", type=int, nargs="+", default=None)
    args = ap.parse_args()
    grid = dict(GRIDS[args.experiment])
    n_default, groups = TUPLES[args.experiment]
    grid["dataset.encoding.n_tuples"] = args.n_tuples or [n_default]
    out = Path("reports/accuracy") / f"{args.experiment}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with out.open("a") as fh:
        for values in itertools.product(*grid.values()):
            knobs = dict(zip(grid, values))
            over = [f"{k}={v}" for k, v in knobs.items()]
            over.append(f"model.layers.0.neurons={knobs['dataset.encoding.n_tuples'] * groups}")
            ms = []
            for seed in args.seeds:
                cfg = cs.load_config([f"experiment={args.experiment}", f"seed={seed}", "tracking=none", *over])
                m = run_experiment(cfg).metrics
                ms.append(m)
                fh.write(json.dumps({"knobs": knobs, "seed": seed, **{k: m[k] for k in (
                    "train_accuracy", "val_accuracy", "test_accuracy", "wall_seconds")}}) + "\n")
            row = {"knobs": knobs, **{k: statistics.mean(m[k] for m in ms) for k in (
                "train_accuracy", "val_accuracy", "test_accuracy", "wall_seconds")},
                "test_min": min(m["test_accuracy"] for m in ms)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| knobs | train | val | test (min) | wall s |\n|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["val_accuracy"])[:10]:
        k = ", ".join(f"{a.split('.')[-1]}={b}" for a, b in r["knobs"].items())
        print(f"| {k} | {r['train_accuracy']:.3f} | {r['val_accuracy']:.3f} | "
              f"{r['test_accuracy']:.3f} ({r['test_min']:.3f}) | {r['wall_seconds']:.2f} |")


if __name__ == "__main__":
    main()
