"""Core throughput on the Go MNIST stack (80 → majpool → 20 → majpool → 5 → full) over
scikit-learn digits (1,437 training rows, byte-picker features), the reference's own setting.

Prints: numba cold start (a fresh process, empty cache) and warm start (cached), tally
throughput for one neuron of each layer, network inference, filter build for 10^6 keys, and
neuron trainings per second (tally + filter build + evaluation, forward pipeline) next to the
Go library's measured 78/s on this machine. Run: python benchmarks/bench_core.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

GO_TRAININGS_PER_SECOND = 78.0
STARTUP = """
import time, numpy as np
t = time.perf_counter()
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.tally import tally
from hashtron_lab.train.update import apply_update
import yaml
a = Architecture.from_spec(yaml.safe_load(open("conf/model/mnist_stack.yaml")))
net = Network.untrained(a, np.random.default_rng(0))
X = np.random.default_rng(1).integers(0, 2**32, (64, 80), dtype=np.uint64).astype(np.uint32)
tr = net.trace(X)
t1 = tally(net, tr, np.zeros(64, np.uint32), 0, 0)
apply_update(net, tr, t1, 1, 0)
print(time.perf_counter() - t)
"""


def startup_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, HASHTRON_LAB_NUMBA_CACHE=cache_dir)
    out = subprocess.run([sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import yaml
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from hashtron_lab.data.encoders import byte_picker
    from hashtron_lab.kernels.filter import filter_make
    from hashtron_lab.model.architecture import Architecture
    from hashtron_lab.model.network import Network
    from hashtron_lab.train.forward import ForwardPipeline
    from hashtron_lab.train.run import Run, Split, drive
    from hashtron_lab.train.tally import tally

    with tempfile.TemporaryDirectory() as cache:
        cold = startup_seconds(cache)
        warm = startup_seconds(cache)

    d = load_digits()
    F = byte_picker(d.data.astype(np.uint8), 80)
    Xtr, Xte, ytr, yte = train_test_split(F, d.target, test_size=0.2, random_state=0)
    arch = Architecture.from_spec(yaml.safe_load(open("conf/model/mnist_stack.yaml")))
    net = Network.untrained(arch, np.random.default_rng(0))
    run = Run(net, Split(Xtr, ytr), None, 10, {"budget": {"max_updates": 300}})
    drive(run, ForwardPipeline({}))  # train a little so filters are non-trivial
    trace = run.trace
    rows = []
    for layer in range(arch.n_layers):
        tally(run.net, trace, run.targets, layer, 0)
        reps = 50
        t = time.perf_counter()
        for _ in range(reps):
            tally(run.net, trace, run.targets, layer, 0)
        dt = (time.perf_counter() - t) / reps
        rows.append((f"tally, layer {layer} neuron", f"{len(Xtr) / dt:,.0f} samples/s", f"{dt * 1e3:.3f} ms/tally"))
    big = np.repeat(Xtr, 20, axis=0)
    run.net.forward(big[:10])
    t = time.perf_counter()
    run.net.forward(big)
    dt = time.perf_counter() - t
    rows.append(("inference (full trace)", f"{len(big) / dt:,.0f} samples/s", f"{len(big)} rows"))
    keys = np.unique(np.random.default_rng(2).integers(0, 2**32, 10**6, dtype=np.uint64).astype(np.uint32))
    bits = (np.random.default_rng(3).random(keys.shape[0]) < 0.5).astype(np.uint8)
    filter_make(keys[:100], bits[:100])
    t = time.perf_counter()
    filter_make(keys, bits)
    rows.append(("filter build, 10^6 keys", f"{time.perf_counter() - t:.3f} s", ""))
    net = Network.untrained(arch, np.random.default_rng(0))
    run = Run(net, Split(Xtr, ytr), None, 10, {"budget": {"max_updates": 2000}})
    t = time.perf_counter()
    drive(run, ForwardPipeline({}))
    rate = run.n_updates / (time.perf_counter() - t)
    rows.append(("neuron trainings (forward pipeline)", f"{rate:,.0f} /s",
                 f"{rate / GO_TRAININGS_PER_SECOND:.1f}x Go's {GO_TRAININGS_PER_SECOND:.0f}/s"))
    rows.append(("numba cold start (empty cache)", f"{cold:.1f} s", "compile all kernels"))
    rows.append(("numba warm start (cached)", f"{warm:.1f} s", "import + load from cache"))
    w = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>22}  {note}")


if __name__ == "__main__":
    main()
