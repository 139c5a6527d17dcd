"""Quaternary filter construction and lookup speed (DESIGN §1; target: 10^6 keys well under 1 s).

    python benchmarks/bench_filter.py [--sizes 1000,100000,1000000] [--repeat 3] [--lookups 10000000]

Reports the compile cost of the kernels twice: truly cold (a child process with an
empty NUMBA_CACHE_DIR) and the first call here (loads numba's on-disk cache when
present). Then warm `filter_make` times for random maps (keys already sorted and
distinct, as `QuaternaryFilter.build` passes them; and in random order, which adds
the dedup sort), `QuaternaryFilter.build` end to end, and lookup throughput.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def first_calls() -> dict:
    """Seconds for the first call of each public kernel (compile or cache load)."""
    t0 = time.perf_counter()
    from hashtron_lab.kernels.filter import filter_lookup_into, filter_make
    t_import = time.perf_counter() - t0
    keys = np.array([3, 1, 2], dtype=np.uint32)
    bits = np.array([1, 0, 1], dtype=np.uint8)
    t0 = time.perf_counter()
    f = filter_make(keys, bits)
    t_make = time.perf_counter() - t0
    out = np.empty(3, dtype=np.uint8)
    t0 = time.perf_counter()
    filter_lookup_into(f, keys, out)
    t_lookup = time.perf_counter() - t0
    return {"import": t_import, "filter_make": t_make, "filter_lookup_into": t_lookup}


def cold_in_child() -> dict:
    """first_calls() in a fresh process with an empty numba cache: the real compile time."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        r = subprocess.run([sys.executable, __file__, "--child-cold"], env=env,
                           capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def random_map(n: int, seed: int):
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, 2**32, size=n, dtype=np.uint64)).astype(np.uint32)
    while keys.shape[0] < n:  # top up the few birthday collisions
        more = rng.integers(0, 2**32, size=n - keys.shape[0], dtype=np.uint64).astype(np.uint32)
        keys = np.unique(np.concatenate([keys, more]))
    bits = rng.integers(0, 2, size=n).astype(np.uint8)
    return keys, bits, rng.permutation(n)


def best(fn, repeat: int) -> tuple[float, object]:
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return min(times), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=10_000_000)
    ap.add_argument("--child-cold", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_cold:
        print(json.dumps(first_calls()))
        return

    cold = cold_in_child()
    here = first_calls()
    import numba

    from hashtron_lab.kernels.filter import filter_lookup_into, filter_make
    from hashtron_lab.model.filter import QuaternaryFilter

    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads")
    print("\nfirst call (s)        cold, empty cache   this process")
    for k in ("import", "filter_make", "filter_lookup_into"):
        print(f"  {k:<20} {cold[k]:>16.3f}   {here[k]:>12.3f}")

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"\nfilter_make, warm, best of {args.repeat} (ms)")
    print(f"  {'keys':>9} {'bytes':>9} {'sorted':>9} {'shuffled':>9} {'build()':>9} {'ns/key':>7}")
    big = None
    for n in sizes:
        keys, bits, perm = random_map(n, seed=n)
        ks, bs = keys[perm], bits[perm]
        t_sorted, f = best(lambda: filter_make(keys, bits), args.repeat)
        t_shuf, g = best(lambda: filter_make(ks, bs), args.repeat)
        t_build, q = best(lambda: QuaternaryFilter.build(ks, bs), args.repeat)
        assert np.array_equal(f, g) and np.array_equal(f, q.data)
        print(f"  {n:>9} {f.shape[0]:>9} {1e3 * t_sorted:>9.2f} {1e3 * t_shuf:>9.2f} "
              f"{1e3 * t_build:>9.2f} {1e9 * t_sorted / n:>7.0f}")
        big = (q, keys, bits)

    q, keys, bits = big
    rng = np.random.default_rng(1)
    probe = rng.integers(0, 2**32, size=args.lookups, dtype=np.uint64).astype(np.uint32)
    out = np.empty(probe.shape[0], dtype=np.uint8)
    t_kernel, _ = best(lambda: filter_lookup_into(q.data, probe, out), args.repeat)
    t_class, _ = best(lambda: q.lookup(probe), args.repeat)
    t_small, _ = best(lambda: [q.lookup(probe[i:i + 1000]) for i in range(0, 1_000_000, 1000)], args.repeat)
    assert np.array_equal(q.lookup(keys), bits)
    print(f"\nlookup, filter of {len(keys)} keys ({len(q)} bytes), best of {args.repeat}")
    print(f"  {'path':<38} {'Mkeys/s':>9}")
    print(f"  {'filter_lookup_into, ' + str(len(probe)) + ' keys':<38} {len(probe) / t_kernel / 1e6:>9.1f}")
    print(f"  {'QuaternaryFilter.lookup, ' + str(len(probe)) + ' keys':<38} {len(probe) / t_class / 1e6:>9.1f}")
    print(f"  {'QuaternaryFilter.lookup, 1000 x 1000':<38} {1e6 / t_small / 1e6:>9.1f}")


if __name__ == "__main__":
    main()
