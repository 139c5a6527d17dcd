"""`dvc repro` end to end in a copy of the project, on a tiny config.

Fast (default): no-op second run (but the params check), a stale params.yaml stops the run,
evaluation-only change reruns evaluate + compare only, a
pass change reruns that pass and what follows, a crashed stage resumes from the last
completed one, `dvc dag` / `dvc metrics show` / `dvc plots show` work.
Slow (-m slow): the same job with MLflow tracking (parent + children in the project's store),
`dvc exp run -S`, a queued sweep, `dvc exp show`.
"""
from __future__ import annotations

import json
import re
import time

import pytest

TINY = ["experiment=quick", "main.seeds=[0]", "main.n_jobs=1", "tracking=none", "dataset.max_samples=200",
        "budget.max_updates=24", "ablation.seeds=[0]", "ablation.n_jobs=1",
        "ablation.workloads=[{name:tiny,experiment:ntuple_breast_cancer,overrides:['budget.max_updates=24']}]"]
TRAINING = {"prepare", "bootstrap", "backward@pass1", "backward@pass2", "backward@last", "train_forward"}
ALL = TRAINING | {"evaluate@backward", "evaluate@forward", "compare", "ablation"}


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def skipped(output: str) -> set[str]:
    return set(re.findall(r"Stage '([^']+)' didn't change, skipping", output))


def test_dvc_repro_end_to_end(project):
    """Crash mid-chain, resume, no-op, evaluation-only change, and the commands that read results."""
    project.params(*TINY)
    crash = project.run(["dvc", "repro"], check=False, HASHTRON_LAB_FAIL_STAGE="backward@pass2")
    assert crash.returncode != 0 and "injected failure" in crash.stdout + crash.stderr
    assert {"prepare", "bootstrap", "backward@pass1", "backward@pass2"} <= ran(crash.stdout)

    # a stage that crashed reruns from the last completed one
    first = project.run(["dvc", "repro"])
    assert {"prepare", "bootstrap", "backward@pass1"} <= skipped(first.stdout), first.stdout
    assert {"backward@pass2", "backward@last", "evaluate@backward", "evaluate@forward", "compare"} <= ran(first.stdout)
    metrics = json.loads((project.root / "metrics" / "backward.json").read_text())
    assert set(metrics) == {"test_acc", "test_std", "val_acc", "val_std", "train_acc", "seeds"}
    assert 0.0 <= metrics["test_acc"] <= 1.0 and metrics["seeds"] == 1 and metrics["test_std"] is None  # ddof=1
    per_seed = json.loads((project.root / "reports" / "backward" / "per_seed.json").read_text())
    assert per_seed["mean"]["test_accuracy"] == metrics["test_acc"] and set(per_seed["per_seed"]) == {"0"}
    compare = json.loads((project.root / "reports" / "compare.json").read_text())
    assert "digits" in compare and "success" in compare
    diff = json.loads((project.root / "metrics" / "compare.json").read_text())
    forward = json.loads((project.root / "metrics" / "forward.json").read_text())
    assert diff["test_acc"] == pytest.approx(metrics["test_acc"] - forward["test_acc"])
    assert diff["backward_wins"] == (diff["test_acc"] > 0.0)
    for f in ("plots/backward/accuracy.csv", "plots/backward/premodulo.csv", "plots/forward/accuracy.csv",
              "plots/backward/confusion.csv", "reports/compare.md", "reports/compare.html",
              "runs/backward/last/seed0/model.htl", "runs/backward/last/seed0/sum_cache.bin",
              "runs/backward/bootstrap/seed0/checkpoint.npz", "runs/forward/seed0/record/run.json"):
        assert (project.root / f).is_file(), f
    boot = json.loads((project.root / "runs/backward/bootstrap/seed0/record/run.json").read_text())
    p1 = json.loads((project.root / "runs/backward/pass1/seed0/record/run.json").read_text())
    p2 = json.loads((project.root / "runs/backward/pass2/seed0/record/run.json").read_text())
    assert boot["metrics"]["epochs"] == 1 and p2["metrics"]["updates"] >= p1["metrics"]["updates"]
    assert p2["resumed_from"].endswith("runs/backward/pass1/seed0/checkpoint.npz")

    second = project.run(["dvc", "repro"])
    assert ran(second.stdout) == {"params"}, second.stdout  # the check stage only (it always runs)

    # conf/ edited without regenerating params.yaml: the first stage stops the run and says how
    alerts = project.root / "conf" / "alerts" / "default.yaml"
    original = alerts.read_text()
    alerts.write_text(original + "stagnation_epochs: 4\n")
    stale = project.run(["dvc", "repro"], check=False)
    assert stale.returncode != 0 and ran(stale.stdout) == {"params"}, stale.stdout
    assert f"python -m hashtron_lab params {' '.join(TINY)} && dvc repro" in stale.stdout + stale.stderr
    alerts.write_text(original)

    # an evaluation-only parameter: only evaluate@* and compare rerun (alerts are evaluation only)
    project.params(*TINY, "alerts.train_accuracy_max=0.01")
    third = project.run(["dvc", "repro"])
    assert ran(third.stdout) == {"params", "evaluate@backward", "evaluate@forward", "compare"}, third.stdout
    assert TRAINING <= skipped(third.stdout)

    # the commands the docs give for reading the result
    assert "backward@pass1" in project.run(["dvc", "dag"]).stdout
    dag = project.run(["dvc", "dag", "--dot"]).stdout
    for a, b in (("prepare", "bootstrap"), ("bootstrap", "backward@pass1"), ("backward@pass1", "backward@pass2"),
                 ("backward@last", "evaluate@backward"), ("train_forward", "evaluate@forward"),
                 ("evaluate@forward", "compare")):
        assert f'"{a}" -> "{b}"' in dag, (a, b, dag)
    shown = project.run(["dvc", "metrics", "show", "--json"]).stdout
    assert "test_acc" in shown and "metrics/backward.json" in shown
    table = project.run(["dvc", "metrics", "show"]).stdout  # a terminal can show it (was 3,300 characters)
    assert "metrics/compare.json" in table and max(map(len, table.splitlines())) <= 120, table
    plots = project.run(["dvc", "plots", "show", "--json"]).stdout
    assert "compare_curves" in plots and "compare_r2" in plots and "confusion" in plots
    project.run(["dvc", "plots", "show", "-o", "dvc_plots"])
    page = (project.root / "dvc_plots" / "index.html").read_text()
    # offline: every plot is an image (a Vega spec needs Vega from a CDN and rendered blank)
    images = re.findall(r"<img [^>]*src=", page)
    assert len(images) >= 4 + 2 + 2 and "vegaEmbed(" not in page, page[:3000]


@pytest.mark.slow
def test_changing_one_pass_reruns_it_and_what_follows_only(project):
    project.params(*TINY)
    project.run(["dvc", "repro"])
    project.params(*TINY, "main.passes.pass2.epochs=3")
    out = project.run(["dvc", "repro"])
    assert ran(out.stdout) == {"params", "backward@pass2", "backward@last", "evaluate@backward", "compare"}, out.stdout


@pytest.mark.slow
def test_dvc_repro_tracks_every_run_in_mlflow_grouped_under_one_parent(project, helpers):
    project.params("experiment=quick", "main.n_jobs=2", "dataset.max_samples=200", "budget.max_updates=24")
    project.run(["dvc", "repro"])
    _, runs = helpers.mlflow_runs(f"sqlite:///{project.root / 'mlflow.db'}")
    parents = [r for r in runs if r.data.tags.get("kind") == "compare"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4          # 2 directions x 2 seeds
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert {(r.data.tags["direction"], r.data.tags["seed"]) for r in children} == \
        {("backward", "0"), ("backward", "1"), ("forward", "0"), ("forward", "1")}
    assert all(r.data.tags["source"] == "dvc" and "test_accuracy" in r.data.metrics for r in children)


@pytest.mark.slow
def test_dvc_experiments_set_params_queue_a_sweep_and_show_them(project):
    """The documented `dvc exp` commands: -S composes conf/, --queue + `dvc queue start -j 2`
    runs a sweep, `dvc exp show` lists params and metrics."""
    project.params(*TINY)
    project.run(["git", "add", "-A"])
    project.run(["git", "commit", "-qm", "tiny"])
    project.run(["dvc", "exp", "run", "-S", "main.evaluate.success_margin=0.01", "-n", "margin01"])
    assert "success_margin: 0.01" in (project.root / "params.yaml").read_text()
    project.run(["dvc", "exp", "run", "--queue", "-S", "capacity.clamp_factor=5,20"])
    project.run(["dvc", "queue", "start", "-j", "2"])
    deadline = time.time() + 1800
    while True:
        status = project.run(["dvc", "queue", "status"]).stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        assert time.time() < deadline, status
        time.sleep(5)
    assert "Failed" not in status, status
    shown = json.loads(project.run(["dvc", "exp", "show", "--json"]).stdout)
    text = json.dumps(shown)
    assert "margin01" in text and "clamp_factor" in text and "test_accuracy" in text
    clamps = {c.rstrip("0").rstrip(".") for c in re.findall(r'"clamp_factor": ([0-9.]+)', text)}
    assert {"5", "20"} <= clamps, clamps
    table = project.run(["dvc", "exp", "show", "--csv"]).stdout   # plain `dvc exp show` fits the terminal width
    assert "capacity.clamp_factor" in table and "test_accuracy" in table
