"""The 2x2x2 ablation (order x capacity control x selection) outside DVC, printed as a table.

    python benchmarks/bench_ablation.py [--workloads digits mnist] [--seeds 0 1 2] [--jobs 2]
                                        [--on capacity=support ...] [--out /tmp/ablation]

The workloads, seeds and "capacity on" overrides default to `ablation=full` in conf/ablation/ (the
`ablation` stage of `dvc repro` runs the same thing into metrics/ablation.json and
reports/ablation.md); --out writes the same files elsewhere.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def main(argv=None) -> int:
    from dataclasses import replace

    from hashtron_lab.ablation import run_ablation, write_outputs
    from hashtron_lab.config_schema import load_config

    a = load_config(["ablation=full"]).ablation
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", nargs="+", default=[w.name for w in a.workloads])
    ap.add_argument("--seeds", type=int, nargs="+", default=a.seeds)
    ap.add_argument("--jobs", type=int, default=a.n_jobs)
    ap.add_argument("--on", nargs="+", default=a.capacity_on, help="overrides of the capacity-on cells")
    ap.add_argument("--out", default=None, help="folder for ablation.json / .md / .html / .png")
    args = ap.parse_args(argv)
    a = replace(a, workloads=[w for w in a.workloads if w.name in args.workloads], seeds=list(args.seeds),
                n_jobs=args.jobs, capacity_on=list(args.on))
    per_seed = run_ablation(a)
    out = args.out or tempfile.mkdtemp(prefix="ablation-")
    write_outputs(per_seed, os.path.join(out, "ablation.json"), os.path.join(out, "ablation.md"), a)
    print(open(os.path.join(out, "ablation.md"), encoding="utf-8").read())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
