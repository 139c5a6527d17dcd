"""How many threads a parallel kernel call gets (D41).

A parallel kernel ends every call by waiting for its slowest thread. When another busy process
shares the cores, one of our threads is descheduled for a whole time slice on nearly every call:
a 0.1 ms tally took a flat 8 ms with two threads next to one busy neighbour (issue 19), 31x fewer
neuron trainings a second than with one thread. Threads pay only for calls long enough to split,
on cores nobody else is using. So each call asks `threads_for(n_samples)`, which gives

- 1 thread below `MIN_PARALLEL` samples (a parallel launch would cost more than it saves);
- otherwise the cores this process may use — numba's limit or the caller's
  `numba.set_num_threads`, the CPU affinity, a cgroup CPU quota, its share when jobs train side
  by side (`share_cores`, D30) — less the cores other processes kept busy over the last
  `LOAD_WINDOW` seconds (from /proc/stat of those CPUs minus this process's own CPU time). Until
  the first window is measured, and where /proc/stat is missing, a call gets 1 thread.

``HASHTRON_LAB_THREADS=fixed`` turns both rules off (numba's count as set: for benchmarks that
show what the rules avoid). Results never depend on the thread count: every sample writes only
its own slot.
"""
from __future__ import annotations

import math
import os
import threading
from contextlib import contextmanager
import time
from pathlib import Path

MIN_PARALLEL = 512        # samples below which a call runs on one thread
LOAD_WINDOW = 0.25        # seconds between two load measurements
SLACK = 0.25              # a core counts as free when others leave at least 1 - SLACK of it idle
MODE_ENV = "HASHTRON_LAB_THREADS"


def affinity_cpus() -> list[int] | None:
    """The CPUs this process may run on, or None where the OS does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def cgroup_quota(root: str | os.PathLike = "/sys/fs/cgroup", proc_cgroup: str | os.PathLike = "/proc/self/cgroup"
                 ) -> float | None:
    """Cores a cgroup CPU quota allows this process (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`),
    or None without a quota."""
    root = Path(root)
    own = ""
    try:
        for line in Path(proc_cgroup).read_text().splitlines():
            if line.startswith("0::"):
                own = line[3:].strip().lstrip("/")
    except OSError:
        pass
    for base in dict.fromkeys([root / own, root]):
        try:
            quota, period = (base / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        except (OSError, ValueError):
            pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def busy_ticks(stat: str, cpus: list[int] | None) -> int | None:
    """Clock ticks the given CPUs (None: all) spent busy, from the text of /proc/stat: every
    column but idle and iowait (steal counts: a hypervisor's other guests took the core)."""
    total = 0
    found = False
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        v = [int(x) for x in rest.split()]
        total += sum(v[:8]) - v[3] - v[4]  # user nice system idle iowait irq softirq steal
        found = True
    return total if found else None


def free_threads(cores: int, others_busy: float, ceiling: int) -> int:
    """Threads for a long call: the cores others leave free (a core counts when at least
    1 - SLACK of it is idle), within [1, ceiling]."""
    return max(1, min(ceiling, math.floor(cores - others_busy + SLACK)))


class Governor:
    """The per-process thread policy (see the module docstring); `threads_for` is its use."""

    def __init__(self, stat_path: str = "/proc/stat"):
        self.stat_path = stat_path
        self.clock, self.cpu_time = time.monotonic, time.process_time  # (tests fake both)
        self.share = 1
        self.cpus = affinity_cpus()
        quota = cgroup_quota()
        n = len(self.cpus) if self.cpus else (os.cpu_count() or 1)
        self.cores = max(1, min(n, math.floor(quota)) if quota else n)
        self.adaptive = os.environ.get(MODE_ENV, "adaptive") != "fixed"
        self.load_threads = 1   # for long calls, from the last load measurement
        self.others_busy: float | None = None
        self._last: tuple[float, int, float] | None = None
        self._next = 0.0
        self._local = threading.local()
        self.calls: dict[int, int] = {}  # threads -> calls given them (run records report it)

    def ceiling(self) -> int:
        """The most threads any call gets: cores, this process's share, numba's limit."""
        import numba

        return max(1, min(self.cores // max(1, self.share), numba.config.NUMBA_NUM_THREADS))

    def _measure(self, now: float) -> None:
        self._next = now + LOAD_WINDOW
        try:
            with open(self.stat_path) as f:
                busy = busy_ticks(f.read(), self.cpus)
        except OSError:
            busy = None
        if busy is None:
            return
        own = self.cpu_time()
        if self._last is not None:
            t0, busy0, own0 = self._last
            wall = now - t0
            if wall > 0:
                ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
                self.others_busy = max(0.0, ((busy - busy0) / ticks - (own - own0)) / wall)
                self.load_threads = free_threads(self.cores, self.others_busy, self.ceiling())
        self._last = (now, busy, own)

    def threads_for(self, n_samples: int) -> int:
        """Set numba's thread count for a parallel call over `n_samples` samples; returns it."""
        import numba

        cur = numba.get_num_threads()
        if not self.adaptive:
            return cur
        local = self._local
        if getattr(local, "set", None) != cur:  # first call, or the caller set a count: it is a cap
            local.cap = cur
        now = self.clock()
        if now >= self._next:
            self._measure(now)
        want = 1 if n_samples < MIN_PARALLEL else min(self.load_threads, local.cap)
        if want != cur:
            numba.set_num_threads(want)
        local.set = want
        self.calls[want] = self.calls.get(want, 0) + 1
        return want


GOVERNOR = Governor()


def threads_for(n_samples: int) -> int:
    """Threads for a parallel kernel call over `n_samples` samples (set in numba; returned)."""
    return GOVERNOR.threads_for(n_samples)


def share_cores(side_by_side: int) -> int:
    """Run this process's kernels on its share of the cores when `side_by_side` processes train at
    once (D30): cores // side_by_side threads at most, at least 1; numba's default takes every core
    in every process and oversubscribes them. Returns that ceiling."""
    import numba

    GOVERNOR.share = max(1, int(side_by_side))
    threads = GOVERNOR.ceiling()
    numba.set_num_threads(threads)
    return threads


@contextmanager
def pinned(n: int):
    """Exactly `n` numba threads for every call inside (the policy off): for tests and
    benchmarks that compare thread counts."""
    import numba

    before, adaptive = numba.get_num_threads(), GOVERNOR.adaptive
    GOVERNOR.adaptive = False
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)
        GOVERNOR.adaptive = adaptive
