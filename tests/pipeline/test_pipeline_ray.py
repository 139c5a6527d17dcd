"""The 2x2 multirun on Hydra's Ray launcher, against a Ray instance started on this machine.

hydra-ray-launcher pins cloudpickle==2.2.1, which the joblib launcher's joblib>=1.6 refuses,
so the `ray` extra lives in its own environment (docs/pipeline.md)::

    python -m venv --system-site-packages .venv-ray
    .venv-ray/bin/pip install -e ".[ray]"
    pytest -m slow tests/pipeline/test_pipeline_ray.py

The test uses, in order: $HASHTRON_LAB_RAY_PYTHON, `.venv-ray/bin/python` in the project,
or this interpreter if it can import ray and the launcher; otherwise it is skipped.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import ray, hydra_plugins.hydra_ray_launcher, hashtron_lab"


def ray_python() -> str | None:
    for cand in (os.environ.get("HASHTRON_LAB_RAY_PYTHON"), str(ROOT / ".venv-ray" / "bin" / "python"),
                 sys.executable):
        if cand and Path(cand).exists():
            if subprocess.run([cand, "-c", PROBE], capture_output=True).returncode == 0:
                return cand
    return None


@pytest.mark.slow
def test_multirun_2x2_on_a_local_ray_instance_logs_four_runs_to_one_store(tmp_path, helpers):
    py = ray_python()
    if py is None:
        pytest.skip("no Python with ray + hydra-ray-launcher (see the module docstring)")
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    helpers.run([py, "-m", "hashtron_lab", "-m", "pipeline=backward,forward", "seed=0,1", "experiment=quick",
                 "hydra/launcher=ray_local", f"hydra.sweep.dir={tmp_path / 'sweep'}"], ROOT,
                MLFLOW_TRACKING_URI=uri, RAY_AUTH_MODE="disabled", timeout=1200)
    _, runs = helpers.mlflow_runs(uri)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4 and len(runs) == 5
    assert {(r.data.tags["direction"], r.data.tags["seed"]) for r in children} == \
        {("backward", "0"), ("backward", "1"), ("forward", "0"), ("forward", "1")}
    assert all(r.info.status == "FINISHED" and "test_accuracy" in r.data.metrics for r in runs if r in children)
    assert len({r.data.tags["hashtron.group"] for r in runs}) == 1
