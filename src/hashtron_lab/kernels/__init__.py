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


from .threads import share_cores, threads_for  # noqa: E402  (the thread policy, D30/D36)
