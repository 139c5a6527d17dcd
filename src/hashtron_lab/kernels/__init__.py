"""numba kernels: plain arrays in, plain arrays out; nothing here imports the API layer.

numba's on-disk cache checks only the source file of the function it compiled, but our kernels
inline helpers from sibling modules (tally.py inlines network.py's combiners): after an edit to
network.py, tally.py's cached machine code would silently run the old combiner. So the cache is
keyed on all kernel sources together: when any of them changed since the cache was written,
every cached kernel of this package is dropped before anything compiles.
"""
import hashlib
import os
from pathlib import Path


HERE = Path(__file__).resolve().parent


def _drop_stale_cache(here: Path = HERE) -> None:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "kernels-sources.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba cannot write its cache there either
        pass


_drop_stale_cache()


def share_cores(side_by_side: int) -> int:
    """Run this process's kernels on its share of the cores when `side_by_side` processes train at
    once (D30): cores // side_by_side threads, at least 1; numba's default takes every core in
    every process and oversubscribes them. Returns the threads asked for."""
    import numba

    threads = max(1, (os.cpu_count() or 1) // max(1, int(side_by_side)))
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threads
