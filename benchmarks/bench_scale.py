"""The synthetic scale series: does accuracy rise with the number of rows?

    python benchmarks/bench_scale.py [--sizes 2000 20000 100000] [--select]

scikit-learn's make_classification(n_samples=N, n_features=64, n_informative=20, n_classes=10,
n_clusters_per_class=2, random_state=0), stratified 80/20 split (random_state 0). For each N the
`tabular` preset (n-tuples over the 20 columns with the most mutual information with the label)
and a random forest (100 trees) on the same split: test accuracy and fit seconds. `--select`
first chooses the preset's column count and tuple size on a validation split carved from the
training rows of N = 20,000 (test rows are never used to choose).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def data(n, seed=0):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=n, n_features=64, n_informative=20, n_classes=10, n_clusters_per_class=2,
                               random_state=0)
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def select() -> None:
    from sklearn.model_selection import train_test_split

    from hashtron_lab.presets import estimator

    Xtr, _, ytr, _ = data(20_000)
    a, b, ya, yb = train_test_split(Xtr, ytr, test_size=0.2, random_state=1, stratify=ytr)
    print("validation on the training rows of N = 20,000")
    for cols, k, q in itertools.product((12, 20, 28, None), (10, 12), (4, 6)):
        acc = estimator("tabular", select_columns=cols, tuple_size=k, quantiles=q).fit(a, ya).score(b, yb)
        print(f"  select_columns {cols} tuple_size {k} quantiles {q}: validation {acc:.4f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    ap.add_argument("--select", action="store_true")
    args = ap.parse_args(argv)
    from sklearn.ensemble import RandomForestClassifier

    from hashtron_lab.presets import estimator

    if args.select:
        select()
    print(f"{'N':>8} {'model':30s} {'test':>7} {'fit s':>7}")
    for n in args.sizes:
        Xtr, Xte, ytr, yte = data(n)
        for name, m in (("hashtron n-tuple (preset tabular)", estimator("tabular")),
                        ("random forest (100 trees)", RandomForestClassifier(n_estimators=100, n_jobs=1,
                                                                             random_state=0))):
            t = time.perf_counter()
            m.fit(Xtr, ytr)
            fit = time.perf_counter() - t
            print(f"{n:>8} {name:30s} {m.score(Xte, yte):7.4f} {fit:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
