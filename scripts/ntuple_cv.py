"""Choose the n-tuple encodings by cross-validation, never by the test rows.

    python scripts/ntuple_cv.py --experiment ntuple_breast_cancer [--seeds 0 1 2] [--folds 5]

A 114-row validation split moves in steps of 0.9 points, and on breast cancer a dozen grid
points tie on it (`scripts/ntuple_search.py`). Here every grid point is scored by stratified
k-fold cross-validation with `NTupleClassifier` on the rows the project's split leaves for
training and validation (the test rows of each seed are never read), averaged over the seeds;
the best mean wins (ties: first in grid order). Then the issue's protocol (80/20,
`random_state=0`): scikit-learn's `GridSearchCV` over the same grid on the 80 % part, refitted,
scored once on the 20 %. Rows go to reports/accuracy/<experiment>_cv.jsonl.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split

from hashtron_lab import NTupleClassifier
from hashtron_lab import config_schema as cs
from hashtron_lab.data.splits import split_indices
from hashtron_lab.experiment import prepare_dataset

SETUPS = {
    "ntuple_breast_cancer": {
        "load": load_breast_cancer,
        "fixed": {"n_tuples": 300},
        "grid": {"quantiles": [3, 7, 15, 31], "tuple_size": [4, 6, 8, 10], "select_pool": [1, 10, 30]},
    },
    "ntuple_digits": {
        "load": load_digits,
        "fixed": {"n_tuples": 100, "image_shape": (8, 8)},
        "grid": {"quantiles": [3, 4, 6], "tuple_size": [8, 10], "window": [1, 2], "select_pool": [1, 10]},
    },
}


def fit_rows(experiment: str, seed: int, y: np.ndarray) -> np.ndarray:
    """Row indices of the seed's training and validation splits, as the project draws them
    (checked against the project's own test labels)."""
    cfg = cs.load_config([f"experiment={experiment}", f"seed={seed}", "tracking=none"])
    split = cfg.dataset["split"]
    (tr, va, te), _ = split_indices(y, (split["train"], split["val"], split["test"]),
                                    np.random.default_rng([seed, 2]), split["stratify"], None)
    ds = prepare_dataset(cfg, cfg.architecture())
    if not np.array_equal(ds.y_test, y[te]):
        raise RuntimeError("the project's split no longer matches split_indices(..., default_rng([seed, 2])): "
                           "update fit_rows to draw it as data/registry.py does")
    return np.sort(np.concatenate([tr, va]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--experiment", choices=sorted(SETUPS), required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    setup = SETUPS[args.experiment]
    X, y = setup["load"](return_X_y=True)
    grid = setup["grid"]
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    rows = {seed: fit_rows(args.experiment, seed, y) for seed in args.seeds}
    out = Path("reports/accuracy") / f"{args.experiment}_cv.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with out.open("a") as fh:
        for knobs in points:
            scores = {}
            for seed, idx in rows.items():
                cv = StratifiedKFold(args.folds, shuffle=True, random_state=seed)
                clf = NTupleClassifier(**setup["fixed"], **knobs, seed=seed)
                scores[seed] = float(np.mean(cross_val_score(clf, X[idx], y[idx], cv=cv)))
            row = {"protocol": "project", "knobs": knobs, "cv": scores, "mean_cv": float(np.mean(list(scores.values())))}
            fh.write(json.dumps(row) + "\n")
            results.append(row)
            print(json.dumps(row), flush=True)
        best = max(results, key=lambda r: r["mean_cv"])  # first of equals: grid order
        print(f"\nproject protocol, chosen by mean {args.folds}-fold CV over seeds {args.seeds}: {best['knobs']} "
              f"(CV {best['mean_cv']:.4f})")

        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
        gs = GridSearchCV(NTupleClassifier(**setup["fixed"]), {k: list(v) for k, v in grid.items()},
                          cv=StratifiedKFold(args.folds, shuffle=True, random_state=0))
        gs.fit(Xtr, ytr)
        issue = {"protocol": "issue (80/20, random_state=0)", "knobs": gs.best_params_, "mean_cv": float(gs.best_score_),
                 "train": float(gs.score(Xtr, ytr)), "test": float(gs.score(Xte, yte))}
        fh.write(json.dumps(issue) + "\n")
        print(f"issue protocol, GridSearchCV on the 80 %: {issue['knobs']} (CV {issue['mean_cv']:.4f}) -> "
              f"train {issue['train']:.3f}, test {issue['test']:.3f}")


if __name__ == "__main__":
    main()
