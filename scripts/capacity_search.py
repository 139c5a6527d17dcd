"""Which capacity setting for the n-tuple networks? Validation accuracy and model bytes per
setting of the support law (and the seed's square law, and off), backward order, over seeds.

    python scripts/capacity_search.py [--workloads digits mnist] [--seeds 0 1 2]

Chooses, per workload, the smallest model whose mean validation accuracy is within `--tolerance`
(0.5 points) of the best setting's: a capacity control earns its place by shrinking the model
at no cost in accuracy. Test accuracy is printed for the record, never used to choose.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

SETTINGS = {
    "off": ["capacity=fixed"],
    "square (seed 000)": ["capacity=square"],
    "support load 4": ["capacity=support", "capacity.load_factor=4.0"],
    "support load 2": ["capacity=support", "capacity.load_factor=2.0"],
    "support load 1": ["capacity=support", "capacity.load_factor=1.0"],
    "support load 0.5": ["capacity=support", "capacity.load_factor=0.5"],
    "support bleach 0.1": ["capacity=support", "capacity.load_factor=null", "capacity.bleach=0.1"],
    "support bleach 0.3": ["capacity=support", "capacity.load_factor=null", "capacity.bleach=0.3"],
}


def main(argv=None) -> int:
    from dataclasses import replace

    from hashtron_lab.ablation import run_cell
    from hashtron_lab.config_schema import load_config

    ablation = load_config(["ablation=full"]).ablation
    workloads = {w.name: w for w in ablation.workloads}
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", nargs="+", default=list(workloads))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tolerance", type=float, default=0.005)
    args = ap.parse_args(argv)
    cell = {"order": "backward", "capacity": "on", "selection": "round_robin"}
    for name in args.workloads:
        rows = []
        for label, overrides in SETTINGS.items():
            # the setting replaces the workload's own capacity_on (which would otherwise win)
            setting = replace(ablation, capacity_on=list(overrides))
            recs = [run_cell(replace(workloads[name], capacity_on=[]), cell, s, setting) for s in args.seeds]
            val = np.array([r["val_accuracy"] for r in recs])
            test = np.array([r["test_accuracy"] for r in recs])
            size = float(np.mean([r["model_bytes"] for r in recs]))
            rows.append((label, val.mean(), val.std(ddof=1), test.mean(), test.std(ddof=1), size))
            print(f"{name:8s} {label:20s} validation {val.mean():.4f} ± {val.std(ddof=1):.4f}  "
                  f"test {test.mean():.4f} ± {test.std(ddof=1):.4f}  model {size / 1e3:.0f} kB", flush=True)
        best = max(r[1] for r in rows)
        ok = [r for r in rows if r[1] >= best - args.tolerance]
        pick = min(ok, key=lambda r: r[5])
        off = next(r for r in rows if r[0] == "off")
        print(f"{name}: choose '{pick[0]}' (validation {pick[1]:.4f}, best {best:.4f}; model "
              f"{pick[5] / off[5]:.2f} of off's)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
