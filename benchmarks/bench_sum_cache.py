"""Sum cache memory and throughput (DESIGN §7 budget: < 100 MB for a million records).

    python benchmarks/bench_sum_cache.py [--records 1000000] [--neurons 1024] [--keep-last 64]

Reports, for an unbounded cache of `--records` records over `--neurons` neurons:
bytes/record from the arrays (`SumCache.nbytes`, allocated, spare room included) and from
tracemalloc (everything the cache holds, index dicts included), adds/s, the rates of the
queries the pipelines make (`recent` sums of a neuron: the newest, the last 3 the capacity law
averages, a history of 64; a layer's gold-zone ranking as the selection makes it, from
`layer_view` and `GoldZone.rank`), save/load time and file size; then adds/s with pruning
(`--keep-last`) and the records it keeps.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

import numpy as np

from hashtron_lab.train.gold_zone import GoldZone
from hashtron_lab.train.sum_cache import SumCache


N = 10_000  # training samples of every record


def fill(cache: SumCache, records: int, neurons: int, width: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    S = rng.integers(-N, N + 1, records).tolist()
    t0 = time.perf_counter()
    add = cache.add
    for i in range(records):
        n = i % neurons
        add(n // width, n % width, i // neurons, S[i], N, S[i] // 2, 4096, "gold", 0.01, True, 0.5, 0.0)
    return time.perf_counter() - t0


def rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--neurons", type=int, default=1024)
    ap.add_argument("--width", type=int, default=256, help="neurons per layer")
    ap.add_argument("--keep-last", type=int, default=64)
    ap.add_argument("--queries", type=int, default=20_000)
    a = ap.parse_args()

    cache = SumCache(keep_last=None, run_id="bench")
    dt = fill(cache, a.records, a.neurons, a.width)
    print(f"records: {len(cache):,} over {a.neurons} neurons (keep_last=None)")
    print(f"adds/s: {a.records / dt:,.0f}  ({dt:.2f} s)")
    print(f"array bytes/record: {cache.nbytes / len(cache):.1f}  (SumCache.nbytes {cache.nbytes / 1e6:.1f} MB, "
          f"capacity {cache._rec.shape[0]:,} rows)")

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    traced = SumCache(keep_last=None, run_id="bench")
    fill(traced, a.records, a.neurons, a.width)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"tracemalloc bytes/record (arrays + index): {held / a.records:.1f}  ({held / 1e6:.1f} MB)")
    del traced

    nq, w, L = a.queries, a.width, max(1, a.neurons // a.width)
    neuron = lambda i: ((i % a.neurons) // w, (i % a.neurons) % w)  # noqa: E731
    zone = GoldZone()

    def ranking(layer: int):
        ps, _, S, Ns, _ = cache.layer_view(layer)
        return zone.rank(ps, S, Ns, w, N)

    ranking(0)  # compile / load the ranking kernel outside the measurement
    print(f"recent(k=1)/s: {rate(lambda i: cache.recent(*neuron(i), 1), nq):,.0f}")
    print(f"recent(k=3)/s: {rate(lambda i: cache.recent(*neuron(i), 3), nq):,.0f}")
    print(f"recent(k=64)/s: {rate(lambda i: cache.recent(*neuron(i), 64), nq):,.0f}")
    print(f"gold-zone ranking(layer)/s: {rate(lambda i: ranking(i % L), max(1, nq // 100)):,.0f}")

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sums.bin")
        t0 = time.perf_counter()
        cache.save(path)
        t1 = time.perf_counter()
        back = SumCache.load(path)
        t2 = time.perf_counter()
        assert len(back) == len(cache)
        print(f"save: {t1 - t0:.2f} s, load (checksum verified): {t2 - t1:.2f} s, "
              f"file {os.path.getsize(path) / 1e6:.1f} MB")

    pruned = SumCache(keep_last=a.keep_last, run_id="bench")
    dt = fill(pruned, a.records, a.neurons, a.width)
    print(f"with keep_last={a.keep_last}: adds/s {a.records / dt:,.0f}, kept {len(pruned):,} records, "
          f"{pruned.nbytes / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
