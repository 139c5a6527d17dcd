"""Small tables: the `digits` and `breast_cancer` presets beside scikit-learn peers on 5
stratified 80/20 splits (random_state 0..4), test accuracy mean ± sample std (ddof=1).

    python benchmarks/bench_small.py [--splits 5]

The presets' settings were chosen by cross-validation on training rows (docs/accuracy.md);
the test rows here are only measured.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=5)
    args = ap.parse_args(argv)
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hashtron_lab.presets import estimator

    for name, loader in (("digits", load_digits), ("breast_cancer", load_breast_cancer)):
        X, y = loader(return_X_y=True)
        models = {f"hashtron n-tuple (preset {name})": lambda s: estimator(name, seed=s),
                  "logistic regression": lambda s: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                  "random forest (300 trees)": lambda s: RandomForestClassifier(300, n_jobs=1, random_state=s)}
        for label, make in models.items():
            accs, secs = [], []
            for s in range(args.splits):
                Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=s, stratify=y)
                t = time.perf_counter()
                m = make(s).fit(Xtr, ytr)
                secs.append(time.perf_counter() - t)
                accs.append(m.score(Xte, yte))
            a = np.asarray(accs)
            print(f"{name:14s} {label:36s} test {a.mean():.4f} ± {a.std(ddof=1):.4f}  "
                  f"({', '.join(f'{v:.3f}' for v in a)})  fit {np.mean(secs):.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
