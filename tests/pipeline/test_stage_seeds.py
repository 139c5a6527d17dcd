"""The main job's seeds in parallel processes share the cores instead of oversubscribing them (D30)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _threads(seed: int) -> tuple[int, int]:
    import numba

    return seed, numba.get_num_threads()


def test_seed_processes_split_the_cores(monkeypatch):
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("one core: seeds run in this process")
    monkeypatch.syspath_prepend(str(ROOT / "stages"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "stages"), str(Path(__file__).parent),
                                                      os.environ.get("PYTHONPATH", "")]))
    sys.modules.pop("common", None)
    from common import for_each_seed

    results = for_each_seed(_threads, [0, 1, 2], 2)
    assert [s for s, _ in results] == [0, 1, 2]
    assert all(t == max(1, cores // 2) for _, t in results)
