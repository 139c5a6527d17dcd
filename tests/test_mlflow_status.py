"""MLflow tells the truth about a run (issue 19 items 7 and 12): a run whose last writes fail is
FAILED, a terminated one KILLED with its metrics, a multirun parent FAILED when a job failed;
the experiment opens as model training, runs read "backward · seed 0", accuracies sort first.
In-process against a throw-away sqlite store; the subprocess versions are in
tests/pipeline/test_mlflow_status_app.py (slow)."""
from __future__ import annotations

import os
import signal

import pytest
from omegaconf import OmegaConf

from hashtron_lab import config_schema as cs
from hashtron_lab.track import mlflow_sink as M
from hashtron_lab.track import signals

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    root = tmp_path_factory.mktemp("mlflow")
    tracking = {"backend": "mlflow", "uri": f"sqlite:///{root / 'mlflow.db'}", "experiment_name": "hashtron-lab"}
    client, exp_id = M.client_and_experiment(tracking, root)
    return tracking, client, exp_id, root


def _cfg(store, *overrides):
    from hashtron_lab.track.mlflow_sink import TrackingConfig

    cfg = cs.load_config(["experiment=quick", "seed=0", *overrides])
    cfg.tracking = TrackingConfig(**store[0])
    return cfg


def test_the_experiment_opens_as_model_training_and_accuracies_sort_first(store):
    tracking, client, exp_id, root = store
    assert client.get_experiment(exp_id).tags[M.EXPERIMENT_KIND[0]] == "custom_model_development"
    client.set_experiment_tag(exp_id, M.EXPERIMENT_KIND[0], "genai_development")  # a user's choice stays
    M.client_and_experiment(tracking, root)
    assert client.get_experiment(exp_id).tags[M.EXPERIMENT_KIND[0]] == "genai_development"
    client.set_experiment_tag(exp_id, *M.EXPERIMENT_KIND)

    run = M.MlflowRun(_cfg(store), run_name=M.run_name("backward", 0), root=root)
    run.log_metrics({"test_accuracy": 0.9, "val_accuracy": 0.8, "train_accuracy": 1.0, "updates": 40})
    run.finish()
    r = client.get_run(run.run_id)
    assert r.info.run_name == "backward · seed 0" and r.info.status == "FINISHED"
    m = r.data.metrics
    assert m["acc/test"] == m["test_accuracy"] == 0.9 and m["acc/val"] == 0.8 and m["acc/train"] == 1.0
    assert sorted(m)[:3] == ["acc/test", "acc/train", "acc/val"]
    url = M.compare_url(["a1", "b2"], exp_id)
    assert url.startswith("http://127.0.0.1:5000/#/compare-runs?runs=") and "a1" in url and exp_id in url


def test_a_run_whose_metrics_cannot_be_written_ends_failed(store, monkeypatch):
    """It used to end FINISHED with 0 metrics."""
    tracking, client, exp_id, root = store
    run = M.MlflowRun(_cfg(store), run_name="flush fails", root=root)
    run.metric("x", 1.0, 0)

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run.client, "log_batch", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run.finish("FINISHED")
    r = client.get_run(run.run_id)
    assert r.info.status == "FAILED" and "disk full" in r.data.tags["hashtron.error"]


def test_every_epoch_is_in_the_store_before_the_run_ends(store):
    """A run killed outright (SIGKILL) keeps every finished epoch: metrics were only written every
    5,000 points before."""
    tracking, client, exp_id, root = store
    run = M.MlflowRun(_cfg(store), run_name="epochs", root=root)
    for u in range(3):
        run("update", {"update": u, "neuron_id": "0.0", "train_accuracy": 0.5, "premodulo": 0, "margin": 0.1,
                       "accepted": True, "duration": 0.001, "S": 1, "N": 4})
    run("epoch", {"epoch": 1, "train_accuracy": 0.5, "val_accuracy": 0.4, "updates": 3, "accepted": 3})
    m = client.get_run(run.run_id).data.metrics
    assert m["epoch/val_accuracy"] == 0.4 and m["update/train_accuracy"] == 0.5
    assert len(client.get_metric_history(run.run_id, "update/train_accuracy")) == 3
    run.finish()


def test_sigterm_during_training_ends_the_run_killed_with_its_metrics(store, monkeypatch, tmp_path):
    """The Hydra app's training under SIGTERM: `Terminated` unwinds it, the run is KILLED and the
    epochs trained so far are in the store (it stayed RUNNING with 0 metrics)."""
    from hashtron_lab import cli
    from hashtron_lab.train import run as R

    tracking, client, exp_id, root = store
    old = signal.getsignal(signal.SIGTERM)
    original = R.Run.end_epoch

    def end_epoch(self):
        original(self)
        if self.epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(R.Run, "end_epoch", end_epoch)
    try:
        assert signals.raise_on_sigterm()
        with pytest.raises(signals.Terminated) as err:
            cli.train_and_save(_cfg(store, "budget.max_updates=400", "tracking=mlflow"),
                               tmp_path / "out", group="g", source="test", tracking_root=root)
        assert err.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, old)
        signals.received.clear()
    [r] = client.search_runs([exp_id], filter_string="tags.source = 'test'")
    assert r.info.status == "KILLED"
    assert [h.step for h in client.get_metric_history(r.info.run_id, "epoch/train_accuracy")] == [1, 2]


@pytest.fixture(autouse=True)
def _keep_sigterm():
    """MultirunGroup installs the SIGTERM handler of the launching process: not in pytest's."""
    old = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, old)


def _multirun(store, tmp_path):
    from hashtron_lab.cli import MultirunGroup

    tracking, client, exp_id, root = store
    config = OmegaConf.create({"tracking": tracking, "dataset": {"name": "digits"}, "phase": "debug",
                               "hydra": {"sweep": {"dir": str(tmp_path / "sweep")},
                                         "overrides": {"task": ["seed=0,1"]}}})
    cb = MultirunGroup()
    cb.on_multirun_start(config)
    kids = [client.create_run(exp_id, run_name=M.run_name("backward", s),
                              tags={"mlflow.parentRunId": cb.parent}).info.run_id for s in (0, 1)]
    return cb, config, client, kids


def test_a_multirun_ends_failed_when_a_job_aborts_it(store, tmp_path):
    """Hydra raises a failed job's error before `on_multirun_end`: the exit handler closes the
    parent FAILED and the job left RUNNING (its process killed outright) KILLED."""
    cb, config, client, (done, orphan) = _multirun(store, tmp_path)
    parent = cb.parent
    client.set_terminated(done, "FINISHED")
    cb._close_abandoned()
    assert client.get_run(parent).info.status == "FAILED"
    assert client.get_run(orphan).info.status == "KILLED" and client.get_run(done).info.status == "FINISHED"
    cb._close_abandoned()  # once only
    assert client.get_run(parent).info.status == "FAILED"


def test_a_multirun_parent_is_killed_by_sigterm_and_finished_only_when_every_job_is(store, tmp_path):
    cb, config, client, kids = _multirun(store, tmp_path / "a")
    parent = cb.parent
    signals.received.append(signal.SIGTERM)
    try:
        cb._close_abandoned()
    finally:
        signals.received.clear()
    assert client.get_run(parent).info.status == "KILLED"

    cb, config, client, kids = _multirun(store, tmp_path / "b")
    parent = cb.parent
    client.set_terminated(kids[0], "FINISHED")
    client.set_terminated(kids[1], "FAILED")
    cb.on_multirun_end(config)
    assert client.get_run(parent).info.status == "FAILED"

    cb, config, client, kids = _multirun(store, tmp_path / "c")
    parent = cb.parent
    for k in kids:
        client.set_terminated(k, "FINISHED")
    cb.on_multirun_end(config)
    assert client.get_run(parent).info.status == "FINISHED"


def test_capacity_advice_reaches_the_runs_in_mlflow(store, tmp_path):
    """Issue 17 item 5: the compare stage tags each adopted run with its per-layer capacity advice
    and the generalisation-phase epoch, and counts the verdicts on the parent."""
    from hashtron_lab.experiment import run_experiment, save_outputs
    from hashtron_lab.report.runs import RunData
    from hashtron_lab.stages.compare import advice_tags

    cfg = cs.load_config(["experiment=quick", "seed=0", "tracking=none"])
    save_outputs(run_experiment(cfg), tmp_path / "run")
    tags = advice_tags(RunData.load(tmp_path / "run" / "record"))
    layers = [k for k in tags if k.startswith("advice/layer")]
    assert layers, tags
    assert all(tags[k].split(":")[0] in ("ok", "too_small", "too_large") for k in layers)
    assert tags["generalisation_phase"] == "none" or tags["generalisation_phase"].isdigit()

    tracking, client, exp_id, root = store
    child = client.create_run(exp_id, run_name="child").info.run_id
    parent = M.ParentRun(tracking, name="compare test", tags={M.TAG_GROUP: "g"}, root=root)
    parent.adopt(child)
    for k, v in tags.items():
        parent.set_tag(k, v, run_id=child)
    parent.log_metric("advice/ok", 2)
    got = client.get_run(child).data.tags
    assert {k: got[k] for k in tags} == tags
    assert client.get_run(parent.run_id).data.metrics["advice/ok"] == 2
