"""MLflow status under real processes (slow: each starts the Hydra app): a SIGTERM'd job ends
KILLED with the epochs it trained, a SIGKILL'd one keeps them, and a multirun with one failing
job ends its parent FAILED. The same mechanisms in-process: tests/test_mlflow_status.py."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, _env

from hashtron_lab.track.mlflow_sink import client_and_experiment

pytestmark = pytest.mark.slow
QUICK = ["experiment=quick", "main.seeds=[0]"]


def _status(helpers, uri):
    client, runs = helpers.mlflow_runs(uri)
    return client, runs


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, "KILLED"), (signal.SIGKILL, "RUNNING")])
def test_a_signalled_job_keeps_its_epochs(tmp_path, helpers, sig, status):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client_and_experiment({"uri": uri}, tmp_path)  # the tables exist before the test polls the store
    env = _env(MLFLOW_TRACKING_URI=uri)
    proc = subprocess.Popen([sys.executable, "-m", "hashtron_lab", *QUICK, "budget.max_updates=100000",
                             "budget.max_epochs=100000", f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while True:  # until an epoch is in the store (no deadline: a loaded machine is slow, not wrong)
            assert proc.poll() is None, proc.communicate()[0].decode()[-3000:]
            try:
                client, runs = _status(helpers, uri)
                if runs and client.get_metric_history(runs[0].info.run_id, "epoch/train_accuracy"):
                    break
            except AssertionError:  # no experiment yet
                pass
            time.sleep(1)
        proc.send_signal(sig)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (128 + sig if sig == signal.SIGTERM else -sig)
    client, [r] = _status(helpers, uri)
    assert r.info.status == status
    assert client.get_metric_history(r.info.run_id, "epoch/train_accuracy")


def test_a_multirun_with_a_failing_job_ends_its_parent_failed(tmp_path, helpers):
    """digits has 10 classes, which a one-hot code over the tiny model's 4 output bits cannot
    hold: that job fails at run time, breast cancer's succeeds."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    p = helpers.run([sys.executable, "-m", "hashtron_lab", "-m", "experiment=quick", "model.output_code=onehot",
                     "dataset=breast_cancer,digits", f"hydra.sweep.dir={tmp_path / 'sweep'}"], ROOT, check=False,
                    MLFLOW_TRACKING_URI=uri)
    assert p.returncode != 0 and "one output neuron per class" in p.stdout + p.stderr
    client, runs = _status(helpers, uri)
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["dataset"]: r.info.status for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert parent.info.status == "FAILED" and children == {"breast_cancer": "FINISHED", "digits": "FAILED"}
