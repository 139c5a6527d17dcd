"""Fixtures for the pipeline tests: a throw-away copy of the project, subprocess runners.

Tests never write into the checkout: DVC and Hydra runs happen in a copy (every tracked or
untracked-but-not-ignored file, like a fresh clone of the working tree, committed into a new
git repository), MLflow stores live in pytest's tmp_path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "HASHTRON_LAB_CONF", "HASHTRON_LAB_FAIL_STAGE")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0",
                "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, check=True, timeout=900, **env) -> subprocess.CompletedProcess:
    """Run a command (list, or a string for the shell), capture output, fail with it shown."""
    shell = isinstance(cmd, str)
    p = subprocess.run(cmd, cwd=cwd, shell=shell, capture_output=True, text=True, env=_env(**env), timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\n--- stdout\n{p.stdout[-6000:]}\n--- stderr\n{p.stderr[-6000:]}")
    return p


def copy_project(dest: Path) -> Path:
    """The working tree's files (tracked + untracked, not ignored), committed in a new repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for rel in ("dvc.lock",):  # a lock from the checkout's own runs does not belong in a fresh copy
        (dest / rel).unlink(missing_ok=True)
    for d in ("data", "runs", "metrics", "plots", "reports", "outputs", "multirun"):
        shutil.rmtree(dest / d, ignore_errors=True)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "copy"], dest)
    return dest


@pytest.fixture
def project(tmp_path):
    """A fresh copy of the project and helpers bound to it."""
    dest = copy_project(tmp_path / "repo")
    py = sys.executable

    def params(*overrides):
        return run([py, "-m", "hashtron_lab", "params", *overrides], dest)

    return SimpleNamespace(root=dest, py=py, run=lambda cmd, **kw: run(cmd, dest, **kw), params=params)


def mlflow_runs(uri: str, experiment: str = "hashtron-lab"):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} in {uri}"
    return client, client.search_runs([exp.experiment_id], max_results=1000)


@pytest.fixture
def helpers():
    return SimpleNamespace(run=run, mlflow_runs=mlflow_runs, root=ROOT, env=_env)
