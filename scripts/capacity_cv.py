"""The capacity setting of the digits preset by 5-fold cross-validation on training rows.

    python scripts/capacity_cv.py [--loads off 2 1 0.5 0.35 0.25] [--seeds 0 1 2]

For every seed's 80 % (train + validation rows of `experiment=ntuple_digits`'s split) the
`digits` preset with each support-law load factor is cross-validated (5 stratified folds);
prints mean CV accuracy and model bytes, and the smallest model within --tolerance of the best.
A single 360-row validation split moves by a point between neighbouring settings; five folds
over 1,437 rows are what the choice should rest on.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def main(argv=None) -> int:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from hashtron_lab.model.files import dumps_model
    from hashtron_lab.presets import estimator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", nargs="+", default=["off", "2", "1", "0.5", "0.35", "0.25"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tolerance", type=float, default=0.005)
    args = ap.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    rows = []
    for load in args.loads:
        lf = None if load == "off" else float(load)
        accs, sizes = [], []
        for s in args.seeds:
            Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.2, random_state=s, stratify=y)
            for a, b in StratifiedKFold(5, shuffle=True, random_state=s).split(Xtr, ytr):
                m = estimator("digits", seed=s, load_factor=lf).fit(Xtr[a], ytr[a])
                accs.append(m.score(Xtr[b], ytr[b]))
                sizes.append(len(dumps_model(m.model_.network_)))
        rows.append((load, float(np.mean(accs)), float(np.std(accs, ddof=1)), float(np.mean(sizes))))
        print(f"load {load:>5}: CV accuracy {rows[-1][1]:.4f} ± {rows[-1][2]:.4f}  model {rows[-1][3] / 1e3:.0f} kB",
              flush=True)
    best = max(r[1] for r in rows)
    pick = min((r for r in rows if r[1] >= best - args.tolerance), key=lambda r: r[3])
    off = next((r for r in rows if r[0] == "off"), rows[0])
    print(f"choose load {pick[0]} (CV {pick[1]:.4f}, best {best:.4f}; model {pick[3] / off[3]:.2f} of off's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
