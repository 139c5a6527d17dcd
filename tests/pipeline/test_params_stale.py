"""Editing conf/ and running `dvc repro` cannot silently reuse a stale params.yaml (issue 19
item 6): the first stage (`python -m hashtron_lab params --stale`) fails with the command that
regenerates it. In-process on a copy of conf/; `dvc repro` itself: test_pipeline_dvc.py."""
from __future__ import annotations

import shutil

import pytest

from hashtron_lab import __main__ as M

from conftest import ROOT


@pytest.fixture
def project(tmp_path, monkeypatch):
    for d in ("conf", "stages"):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("HASHTRON_LAB_CONF", raising=False)
    return tmp_path


def _edit_conf(root):
    p = root / "conf" / "main" / "default.yaml"
    p.write_text(p.read_text() + "seeds: [0, 1]\n")  # the main job's seeds were the default [0, 1, 2]


def test_a_conf_edit_stops_dvc_repro_with_the_command_that_fixes_it(project, capsys):
    assert M.params_command(["--stale", "--ok", str(project / "data" / "params.ok")]) == 0  # a fresh clone
    assert (project / M.STAMP).is_file() and (project / "data" / "params.ok").is_file()
    _edit_conf(project)
    (project / "data" / "params.ok").unlink()
    capsys.readouterr()
    assert M.params_command(["--stale", "--ok", str(project / "data" / "params.ok")]) == 1
    out = capsys.readouterr()
    assert "params.yaml is stale" in out.err and "python -m hashtron_lab params && dvc repro" in out.err
    assert "-  - 2" in out.out or "seeds" in out.out  # the diff shows what changed
    assert not (project / "data" / "params.ok").exists()
    assert M.params_command([]) == 0  # the fix
    assert M.params_command(["--stale"]) == 0
    assert "seeds:\n  - 0\n  - 1\n" in (project / "params.yaml").read_text()


def test_overrides_of_the_last_regeneration_are_kept_and_named(project, capsys):
    assert M.params_command(["budget.max_updates=24"]) == 0
    assert M.params_command(["--stale"]) == 0  # params.yaml differs from conf/ alone, on purpose
    _edit_conf(project)
    capsys.readouterr()
    assert M.params_command(["--stale"]) == 1
    assert "python -m hashtron_lab params budget.max_updates=24 && dvc repro" in capsys.readouterr().err


def test_a_hand_edited_params_yaml_without_a_stamp_is_stale(project, capsys):
    p = project / "params.yaml"
    p.write_text(p.read_text().replace("seed: 0", "seed: 5", 1))
    assert M.params_command(["--stale"]) == 1


def test_dvc_exp_run_composes_params_itself(project, monkeypatch):
    _edit_conf(project)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    assert M.params_command(["--stale"]) == 0
