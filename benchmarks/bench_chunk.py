"""Samples per parallel task in the tally and trace kernels (`kernels.network.CHUNK`, D28).

    python benchmarks/bench_chunk.py [--repeats 30] [--chunks 256 128 64 32 16]

The Go MNIST stack on digits' training split of the main job (1,078 rows), trained for 300
forward updates so the filters are not trivial. For each chunk size, interleaved so machine
load hits all alike: the flip-test tally of five neurons per layer, and the trace refresh after
one layer-0 neuron changed (the update path). Prints median µs per call and the ratio to the
first chunk size. The kernels take the chunk size as a trailing argument whose default is
`CHUNK`; results never depend on it (each sample writes only its own slots).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numba
import numpy as np
import yaml

from hashtron_lab.config import Settings
from hashtron_lab.experiment import as_data, prepare_dataset
from hashtron_lab.kernels import network as KN
from hashtron_lab.kernels import tally as KT
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Run, drive

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--chunks", type=int, nargs="+", default=[256, 128, 64, 32, 16])
    a = ap.parse_args(argv)
    model = yaml.safe_load((ROOT / "conf" / "model" / "mnist_stack.yaml").read_text())
    dataset = yaml.safe_load((ROOT / "conf" / "dataset" / "digits.yaml").read_text())
    arch = Architecture.from_spec(model)
    data = as_data(prepare_dataset(Settings.from_dict({"dataset": dataset, "model": model, "seed": 0}), arch))
    run = Run(Network.untrained(arch, np.random.default_rng(1)), data.train, data.val, 10,
              {"budget": {"max_updates": 300}, "run": {"validation": {"every_epochs": 0}, "progress": False}})
    drive(run, ForwardPipeline({}))
    trace, args, targets = run.trace, run.net.pack().args(), run.targets
    n = trace.out.shape[0]
    votes, improving, flipped = np.zeros(n, np.int32), np.zeros(n, np.bool_), np.zeros(n, np.uint32)
    dummy = np.zeros((n, 1), np.uint32)
    picks = {l: list(range(0, w, max(1, w // 5)))[:5] for l, w in enumerate(arch.widths)}

    def tally(c, l):
        for i in picks[l]:
            KT.tally_neuron(l, i, targets, trace.keys, trace.cells, trace.out, votes, improving, flipped, *args, c)
        return len(picks[l])

    def refresh(c, _):
        KN.forward_from(0, 0, dummy, trace.keys, trace.cells, trace.counts, trace.out, *args, c)
        return 1

    cases = [(f"tally, layer {l}", tally, l) for l in range(arch.n_layers)] + [("refresh after a layer-0 update", refresh, 0)]
    for c in a.chunks:  # compile / load outside the measurement
        for _, f, l in cases:
            f(c, l)
    times = {(name, c): [] for name, _, _ in cases for c in a.chunks}
    for _ in range(a.repeats):
        for c in a.chunks:
            for name, f, l in cases:
                t = time.perf_counter()
                k = f(c, l)
                times[(name, c)].append((time.perf_counter() - t) / k)
    print(f"{n} samples, layers {arch.widths}, numba threads {numba.get_num_threads()}, median of {a.repeats} "
          f"(µs per call; in brackets: ratio to chunk {a.chunks[0]}); default CHUNK = {KN.CHUNK}\n")
    print(f"{'':<34}" + "".join(f"{c:>16}" for c in a.chunks))
    for name, _, _ in cases:
        base = statistics.median(times[(name, a.chunks[0])])
        cells = [statistics.median(times[(name, c)]) for c in a.chunks]
        print(f"{name:<34}" + "".join(f"{1e6 * m:>9.1f} ({m / base:.2f})" for m in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
