"""The thread policy of parallel kernel calls (kernels/threads.py, D41): the choice itself, from
faked load, quotas and affinity — never from wall-clock timings."""
from __future__ import annotations

import numba
import pytest

from hashtron_lab.kernels import threads as T

STAT = """cpu  {a} 0 0 {idle} 0 0 0 0 0 0
cpu0 {a0} 0 0 {idle} 0 0 0 0 0 0
cpu1 {a1} 0 0 {idle} 0 0 0 0 0 0
intr 1 2 3
"""


def stat(a0: int, a1: int, idle: int = 1000) -> str:
    return STAT.format(a=a0 + a1, a0=a0, a1=a1, idle=idle)


@pytest.mark.parametrize("cores,others,ceiling,want", [
    (2, 0.0, 2, 2),    # quiet machine: every core
    (2, 0.1, 2, 2),    # background noise does not cost a core
    (2, 0.6, 2, 1),    # a neighbour busy most of the time takes its core
    (2, 1.0, 2, 1),    # one busy neighbour: one thread (two would wait a time slice per call)
    (2, 3.0, 2, 1),    # an overloaded machine: still one
    (4, 1.0, 4, 3),
    (4, 0.0, 2, 2),    # the ceiling (share, numba's limit) bounds it
    (1, 0.0, 1, 1),
])
def test_free_threads(cores, others, ceiling, want):
    assert T.free_threads(cores, others, ceiling) == want


def test_busy_ticks_counts_only_the_given_cpus_and_not_idle():
    text = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 1 2 3 100 50 4 5 6 0 0\ncpu1 10 0 0 7 0 0 0 1 0 0\n"
    assert T.busy_ticks(text, [0]) == 1 + 2 + 3 + 4 + 5 + 6
    assert T.busy_ticks(text, [1]) == 11
    assert T.busy_ticks(text, None) == 21 + 11
    assert T.busy_ticks(text, [5]) is None


def test_cgroup_quota_v2_v1_and_none(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job\n")
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "cpu.max").write_text("150000 100000\n")
    assert T.cgroup_quota(tmp_path, proc) == 1.5
    (tmp_path / "job" / "cpu.max").write_text("max 100000\n")
    assert T.cgroup_quota(tmp_path, proc) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert T.cgroup_quota(v1, tmp_path / "missing") == 0.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert T.cgroup_quota(v1, tmp_path / "missing") is None


@pytest.fixture
def governor(tmp_path):
    """A governor on a fake /proc/stat of two CPUs, with its own CPU time and the clock faked."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    path = tmp_path / "stat"
    path.write_text(stat(0, 0))
    g = T.Governor(str(path))
    g.cpus, g.cores, g.adaptive = [0, 1], 2, True
    clock = {"own": 0.0}
    g.cpu_time = lambda: clock["own"]
    g.clock = lambda: 0.0  # calls never measure on their own: the test calls _measure
    ticks = T.os.sysconf("SC_CLK_TCK")
    before = numba.get_num_threads()
    numba.set_num_threads(2)

    def window(others: float, own: float, seconds: float = 1.0):
        """Advance the fake machine by `seconds`: others busy `others` cores, this process `own`."""
        old = path.read_text().splitlines()[1].split()
        a0 = int(old[1]) + round((others + own) * seconds * ticks)
        path.write_text(stat(a0, 0))
        clock["own"] += own * seconds

    yield g, window
    numba.set_num_threads(before)


def test_governor_gives_one_thread_next_to_a_busy_neighbour_and_both_when_quiet(governor):
    g, window = governor
    n = T.MIN_PARALLEL
    g._measure(0.0)
    assert g.threads_for(n) == 1                 # not measured yet: one thread
    window(others=1.0, own=1.0)
    g._measure(1.0)
    assert g.others_busy == pytest.approx(1.0, abs=0.05)
    assert g.threads_for(n) == 1 and numba.get_num_threads() == 1
    window(others=0.05, own=1.0)                 # the neighbour left
    g._measure(2.0)
    assert g.threads_for(n) == 2 and numba.get_num_threads() == 2
    window(others=0.0, own=2.0)                  # our own two threads are not "others"
    g._measure(3.0)
    assert g.threads_for(n) == 2
    assert g.threads_for(n - 1) == 1             # below the work threshold: serial
    assert g.threads_for(n) == 2
    window(others=0.9, own=1.1)                  # a neighbour arrives while we run two threads
    g._measure(4.0)
    assert g.threads_for(n) == 1
    assert g.calls[1] >= 3 and g.calls[2] >= 3


def test_governor_keeps_the_callers_thread_count_as_a_cap_and_its_share(governor):
    g, window = governor
    g._measure(0.0)
    window(others=0.0, own=1.0)
    g._measure(1.0)
    assert g.threads_for(T.MIN_PARALLEL) == 2
    numba.set_num_threads(1)                     # the caller asks for one thread: a cap
    assert g.threads_for(T.MIN_PARALLEL) == 1
    assert g.threads_for(10 * T.MIN_PARALLEL) == 1
    g.share = 2                                  # two jobs side by side (D30)
    assert g.ceiling() == 1


def test_fixed_mode_and_pinned_leave_numbas_count_alone(governor):
    g, _ = governor
    g.adaptive = False
    numba.set_num_threads(2)
    assert g.threads_for(1) == 2 and numba.get_num_threads() == 2
    with T.pinned(2):
        assert T.threads_for(1) == 2
    assert T.GOVERNOR.adaptive


def test_no_proc_stat_means_one_thread_for_long_calls(tmp_path):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    g = T.Governor(str(tmp_path / "missing"))
    g.adaptive = True
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        for t in (0.0, 1.0, 2.0):
            g._measure(t)
        assert g.others_busy is None and g.threads_for(10 * T.MIN_PARALLEL) == 1
    finally:
        numba.set_num_threads(before)
