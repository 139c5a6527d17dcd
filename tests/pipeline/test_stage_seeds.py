"""The main job's seeds in parallel processes share the cores instead of oversubscribing them (D30);
the stages are importable modules of the package (no sys.path edits)."""
from __future__ import annotations

import os
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
    from hashtron_lab.stages.common import for_each_seed

    # the spawned workers import this module to call `_threads`
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))

    results = for_each_seed(_threads, [0, 1, 2], 2)
    assert [s for s, _ in results] == [0, 1, 2]
    assert all(t == max(1, cores // 2) for _, t in results)


def test_every_stage_script_is_a_few_lines_over_an_importable_stage():
    """dvc.yaml's scripts in stages/ only call a function of `hashtron_lab.stages` (or the ablation
    module), which imports without touching sys.path."""
    import ast
    import importlib

    for script in sorted((ROOT / "stages").glob("*.py")):
        tree = ast.parse(script.read_text())
        [imp] = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
        assert imp.module.startswith("hashtron_lab."), script.name
        assert len(script.read_text().splitlines()) <= 8, script.name
        for alias in imp.names:
            assert callable(getattr(importlib.import_module(imp.module), alias.name)), (script.name, alias.name)
