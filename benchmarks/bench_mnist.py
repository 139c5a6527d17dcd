"""MNIST at 28x28: the `mnist` preset (n-tuple hashtron network, trained backward) beside a random
forest and k-NN on the same splits.

    python benchmarks/bench_mnist.py [--path datasets/mnist-dev] [--seeds 0 1 2] [--select]

Each seed is its own stratified 80/20 split of the IDX files at --path (the 5,000-digit dev
sample by default: 4,000 to train, 1,000 to test). Prints test accuracy per model as mean ±
sample std (ddof=1) over seeds, and fit seconds. `--select` first re-runs the choice of the
preset's encoding: 5-fold cross-validation on the *training rows* of the first seed over a small
grid (window radius x tuple size); test rows are never used to choose.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def load(path):
    from hashtron_lab.data.idx import find_pairs, read_idx

    pairs = find_pairs(path)
    X = np.concatenate([read_idx(i, 3).reshape(-1, 784) for i, _ in pairs]).astype(np.float64)
    y = np.concatenate([read_idx(l, 1) for _, l in pairs]).astype(np.int64)
    return X, y


def ms(v):
    v = np.asarray(v, float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def select(X, y, seed):
    from sklearn.model_selection import StratifiedKFold

    from hashtron_lab.presets import estimator

    print("5-fold CV on the training rows of seed", seed)
    for window, k in itertools.product((2, 3, 4), (10, 12, 14)):
        accs = [estimator("mnist", window=window, tuple_size=k).fit(X[a], y[a]).score(X[b], y[b])
                for a, b in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y)]
        print(f"  window {window} tuple_size {k}: CV accuracy {ms(accs)}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="datasets/mnist-dev")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--select", action="store_true", help="first choose the encoding by CV on training rows")
    args = ap.parse_args(argv)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    from hashtron_lab.presets import estimator

    X, y = load(args.path)
    print(f"{len(y)} digits from {args.path}; stratified 80/20 splits, seeds {args.seeds}")
    splits = {s: train_test_split(X, y, test_size=0.2, random_state=s, stratify=y) for s in args.seeds}
    if args.select:
        Xtr, _, ytr, _ = splits[args.seeds[0]]
        select(Xtr, ytr, args.seeds[0])
    models = {
        "hashtron n-tuple (preset mnist)": lambda s: estimator("mnist", seed=s),
        "random forest (300 trees)": lambda s: RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=s),
        "3-NN": lambda s: KNeighborsClassifier(3),
    }
    for name, make in models.items():
        accs, secs, size = [], [], None
        for s in args.seeds:
            Xtr, Xte, ytr, yte = splits[s]
            t = time.perf_counter()
            m = make(s).fit(Xtr, ytr)
            secs.append(time.perf_counter() - t)
            accs.append(m.score(Xte, yte))
            if hasattr(m, "model_"):
                from hashtron_lab.model.files import dumps_model

                size = len(dumps_model(m.model_.network_))
        extra = f", model {size / 1e6:.2f} MB" if size else ""
        print(f"{name:34s} test {ms(accs)}  fit {np.mean(secs):.1f} s{extra}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
