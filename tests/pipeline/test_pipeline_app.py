"""`python -m hashtron_lab`: single runs, tracking=none, MLflow content, multirun with joblib."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from hashtron_lab.track.records import read_run_record

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["experiment=quick", "main.seeds=[0]"]

NO_MLFLOW = """
import sys
sys.argv = ["hashtron_lab", *sys.argv[1:]]
from hashtron_lab.cli import main
try:
    main()
except SystemExit as e:
    if e.code not in (0, None):
        raise
print("MLFLOW_IMPORTED", "mlflow" in sys.modules)
"""


def test_tracking_none_imports_no_mlflow_and_writes_the_run(tmp_path, helpers):
    out = tmp_path / "run"
    p = helpers.run([sys.executable, "-c", NO_MLFLOW, *QUICK, "tracking=none", f"hydra.run.dir={out}"], ROOT)
    assert "MLFLOW_IMPORTED False" in p.stdout, p.stdout + p.stderr
    for name in ("model.htl", "sum_cache.bin", "checkpoint.npz", "record/run.json", "record/history.jsonl",
                 "record/decisions.jsonl", "record/epochs.jsonl"):
        assert (out / name).is_file(), name
    info = json.loads((out / "record" / "run.json").read_text())
    assert info["direction"] == "backward" and info["dataset"] == "digits" and info["seed"] == 0
    assert info["git"]["commit"] and info["mlflow_run_id"] is None
    assert not list(tmp_path.rglob("mlflow.db"))


def test_a_tracked_job_logs_its_content_as_the_child_of_its_multirun(tmp_path, helpers):
    """In-process twin of the (slow) joblib multirun below: `train_and_save` as a multirun's job
    logs params, tags, stepped metrics, the decision table and artifacts under its parent."""
    from hashtron_lab import config_schema as cs
    from hashtron_lab.cli import train_and_save
    from hashtron_lab.track.mlflow_sink import client_and_experiment

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client, exp_id = client_and_experiment({"uri": uri}, tmp_path)
    parent = client.create_run(exp_id, run_name="sweep").info.run_id
    cfg = cs.load_config([*QUICK, "seed=1", f"tracking.uri={uri}"])
    train_and_save(cfg, tmp_path / "job", group="multirun:x", source="hydra", parent_run_id=parent,
                   root=ROOT, tracking_root=tmp_path)
    _, runs = helpers.mlflow_runs(uri)
    [child] = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert child.info.status == "FINISHED" and child.info.run_name == "backward · seed 1"
    check_run_content(client, child, tmp_path)


@pytest.mark.slow  # ~40 s of subprocesses; the same content in-process: the test above
def test_multirun_2x2_with_joblib_logs_four_children_of_one_parent_to_one_store(tmp_path, helpers):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    helpers.run([sys.executable, "-m", "hashtron_lab", "-m", "pipeline=backward,forward", "seed=0,1", *QUICK,
                 "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                ROOT, MLFLOW_TRACKING_URI=uri)
    client, runs = helpers.mlflow_runs(uri)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {(r.data.tags["direction"], r.data.tags["seed"]) for r in children} == \
        {("backward", "0"), ("backward", "1"), ("forward", "0"), ("forward", "1")}
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    assert len({r.data.tags["hashtron.group"] for r in runs}) == 1
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all("test_accuracy" in r.data.metrics for r in children)
    threads = max(1, (os.cpu_count() or 1) // 2)  # two jobs side by side split the cores (D30)
    for job in range(4):
        assert (tmp_path / "sweep" / str(job) / "model.htl").is_file()
        assert read_run_record(tmp_path / "sweep" / str(job) / "record")["info"]["numba_threads"] == threads
    check_run_content(client, next(r for r in children if r.data.tags["direction"] == "backward"), tmp_path)


def check_run_content(client, r, tmp_path):
    """What every tracked run logs: params, tags, stepped metrics, the decision table, artifacts."""
    t, m, params = r.data.tags, r.data.metrics, r.data.params
    assert t["dataset"] == "digits" and t["direction"] == "backward" and t["seed"] in ("0", "1")
    assert t["phase"] == "debug" and len(t["git.commit"]) == 40 and t["git.dirty"] in ("true", "false")
    assert t["hashtron.group"].startswith("multirun:")
    assert params["capacity.throttle.window"] == "6" and params["budget.max_updates"] == "40"
    assert params["model.layers.0.type"] == "hashtron" and params["pipeline.direction"] == "backward"
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "update/train_accuracy", "epoch/train_accuracy",
                "epoch/val_accuracy", "decision/final", "decision/raw", "decision/alpha"):
        assert key in m, key
    assert any(k.startswith("premodulo/") for k in m) and any(k.startswith("margin/") for k in m)
    assert any(k.startswith("gold_zone/layer") for k in m) and any(k.startswith("margin_mean/layer") for k in m)
    hist = client.get_metric_history(r.info.run_id, "update/train_accuracy")
    assert len(hist) == 40 and sorted(h.step for h in hist) == list(range(40))
    decisions = client.get_metric_history(r.info.run_id, "decision/final")
    arts = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"tables", "model", "record"} <= arts
    assert {a.path for a in client.list_artifacts(r.info.run_id, "model")} == {"model/model.htl",
                                                                                 "model/sum_cache.bin"}
    table = json.loads(Path(client.download_artifacts(r.info.run_id, "tables/decisions.json", str(tmp_path)))
                       .read_text())
    assert len(table["data"]) == len(decisions) > 0
    assert {"layer", "pos", "regime", "raw", "final", "clamps", "alpha"} <= set(table["columns"])


def test_frozen_phase_refuses_a_dirty_tree_and_records_the_commit(tmp_path, helpers):
    from hashtron_lab.track.git_info import DirtyTreeError, checked_state, git_state

    repo = tmp_path / "repo"
    (repo / "conf").mkdir(parents=True)
    (repo / "conf" / "config.yaml").write_text("seed: 0\n")
    (repo / "notes.md").write_text("x\n")
    helpers.run(["git", "init", "-q"], repo)
    helpers.run(["git", "add", "-A"], repo)
    helpers.run(["git", "commit", "-qm", "c"], repo)
    state = checked_state("frozen", repo)
    assert state.dirty is False and len(state.commit) == 40
    (repo / "notes.md").write_text("outside the inputs: still clean\n")
    assert checked_state("frozen", repo).dirty is False
    (repo / "conf" / "config.yaml").write_text("seed: 1\n")
    with pytest.raises(DirtyTreeError, match="conf/config.yaml"):
        checked_state("frozen", repo)
    assert checked_state("pilot", repo).dirty is True          # recorded, not refused
    (repo / "conf" / "new.yaml").write_text("a: 1\n")
    assert "conf/new.yaml" in git_state(repo).dirty_paths    # untracked inputs count
    plain = tmp_path / "plain"                                  # no git at all: frozen is refused
    plain.mkdir()
    with pytest.raises(DirtyTreeError, match="needs a git checkout"):
        checked_state("frozen", plain)


def test_the_app_refuses_a_frozen_run_in_a_dirty_copy(project):
    (project.root / "conf" / "model" / "tiny.yaml").write_text(
        (project.root / "conf" / "model" / "tiny.yaml").read_text() + "# edited\n")
    p = project.run([project.py, "-m", "hashtron_lab", *QUICK, "tracking=none", "phase=frozen"], check=False)
    assert p.returncode != 0 and "phase=frozen refuses uncommitted inputs" in p.stderr, p.stderr
    assert "conf/model/tiny.yaml" in p.stderr


@pytest.mark.parametrize("mode,n_jobs", [("MULTIRUN", 2), ("MULTIRUN", -1), ("MULTIRUN", None), ("RUN", 2)])
def test_share_cores_splits_them_among_side_by_side_jobs(mode, n_jobs):
    import numba
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from hashtron_lab.cli import share_cores

    cores = os.cpu_count() or 1
    launcher = {"_target_": "x"} if n_jobs is None else {"_target_": "x", "n_jobs": n_jobs}
    hc = OmegaConf.create({"mode": getattr(RunMode, mode), "launcher": launcher})
    before = numba.get_num_threads()
    try:
        got = share_cores(hc)
        if mode == "RUN" or n_jobs is None:  # single runs and launchers without local jobs: untouched
            assert got is None and numba.get_num_threads() == before
        else:
            side = min(cores, n_jobs) if n_jobs > 0 else cores
            assert got == max(1, cores // side) == numba.get_num_threads()
    finally:
        numba.set_num_threads(before)
