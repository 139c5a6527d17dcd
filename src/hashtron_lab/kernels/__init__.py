"""numba kernels: plain arrays in, plain arrays out; nothing here imports the API layer.

Where compiled kernels are cached (D42). numba keys its on-disk cache by each source file's path
and checks only that file, but our kernels inline helpers from sibling modules (tally.py inlines
network.py's combiners) and a DVC experiment workspace or a second checkout is a copy at another
path, which recompiled everything (a minute or more). So the kernels of this package are cached
in one directory per content of all kernel sources together: ``<cache>/<digest>/``, where
``<cache>`` is $HASHTRON_LAB_NUMBA_CACHE, else $NUMBA_CACHE_DIR/hashtron_lab, else
~/.cache/hashtron_lab/numba (``$XDG_CACHE_HOME``), else, when none is writable, this package's
__pycache__. Any edit to a kernel source starts a new directory (no stale inlined helper can
run); every copy of the same sources reuses the machine code. The `KEEP_DIGESTS` most recently
used directories are kept.
"""
import hashlib
import os
import shutil
from pathlib import Path

from numba.core import caching as _caching

HERE = Path(__file__).resolve().parent
NOT_KERNELS = ("__init__.py", "threads.py")  # no compiled code: editing them keeps the cache
KEEP_DIGESTS = 8


def sources_digest(here: Path = HERE) -> str:
    """sha256 over every kernel source of the package, in name order."""
    h = hashlib.sha256()
    for p in sorted(here.glob("*.py")):
        if p.name not in NOT_KERNELS:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def cache_roots(env=None) -> list[Path]:
    """Candidate cache roots, first choice first (see the module docstring)."""
    env = os.environ if env is None else env
    roots = []
    if env.get("HASHTRON_LAB_NUMBA_CACHE"):
        roots.append(Path(env["HASHTRON_LAB_NUMBA_CACHE"]))
    if env.get("NUMBA_CACHE_DIR"):
        roots.append(Path(env["NUMBA_CACHE_DIR"]) / "hashtron_lab")
    try:
        base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
        roots.append(base / "hashtron_lab" / "numba")
    except RuntimeError:  # no home directory
        pass
    roots.append(HERE / "__pycache__" / "numba")
    return roots


def prune(root: Path, keep: int = KEEP_DIGESTS) -> None:
    """Drop all but the `keep` most recently used digest directories under `root`."""
    try:
        dirs = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return
    for d in dirs[keep:]:
        shutil.rmtree(d, ignore_errors=True)


def cache_dir(here: Path = HERE, env=None) -> Path | None:
    """This source digest's cache directory in the first writable root (made, and marked used);
    None when no root is writable (numba then finds its own place, if any)."""
    digest = sources_digest(here)[:16]
    for root in cache_roots(env):
        d = root / digest
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe = d / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
            os.utime(d)
        except OSError:
            continue
        prune(root)
        return d
    return None


CACHE_DIR = cache_dir()


class SourcesLocator(_caching._CacheLocator):
    """numba cache locator for this package's kernels: CACHE_DIR, stamped with the sources' digest."""

    def __init__(self, py_func, py_file):
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(CACHE_DIR)

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return CACHE_DIR.name

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if CACHE_DIR is None or Path(py_file).resolve().parent != HERE:
            return None
        return cls(py_func, py_file)


_IMPL = getattr(_caching, "CacheImpl", None) or _caching._CacheImpl  # renamed across numba versions
if SourcesLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes = [SourcesLocator, *_IMPL._locator_classes]


from .threads import share_cores, threads_for  # noqa: E402  (the thread policy, D30/D41)
