"""Stage `compare`: backward vs forward on the same data, seeds and budget.

    reports/compare.md, reports/compare.html   the report (hashtron_lab.report.compare), ending with the
                                               ablation's table when metrics/ablation.json exists
    reports/compare.json                       {dataset: {backward, forward}, success: {...}} (for scripts)
    plots/compare/*.png                        the report's figures (accuracy, cost, curves by updates, R²)
    metrics/compare.json                       backward - forward in test / validation / train accuracy
                                               and whether backward wins by more than
                                               main.evaluate.success_margin (for `dvc metrics show`)

With MLflow tracking it also opens one parent run for this pipeline execution, makes every
run logged by `evaluate@backward` / `evaluate@forward` its child (so the MLflow UI shows and
compares them side by side) and attaches the report to it.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from ..config import Settings
from .common import DIRECTIONS, RUNS, group_key, load_params, say, seed_dir

FINAL = {"backward": RUNS / "backward" / "last", "forward": RUNS / "forward"}
OUT_MD, OUT_HTML, OUT_JSON = Path("reports/compare.md"), Path("reports/compare.html"), Path("reports/compare.json")
OUT_METRICS = Path("metrics/compare.json")
ABLATION = Path("metrics/ablation.json")  # the ablation stage's cells: the report carries their table
OUT_PLOTS = Path("plots/compare")  # the report's figures as PNGs: `dvc plots show` renders them offline


def main() -> None:
    from ..report.compare import build_report
    from ..report.runs import RunData

    settings = load_params()
    metrics = {d: json.loads((Path("reports") / d / "per_seed.json").read_text()) for d in DIRECTIONS}
    runs = {(d, s): RunData.load(seed_dir(FINAL[d], s) / "record") for d in DIRECTIONS for s in settings.main.seeds}
    report = build_report(list(runs.values()), str(OUT_MD), str(OUT_HTML), str(OUT_JSON), str(OUT_PLOTS))
    if ABLATION.exists():
        append_ablation(json.loads(ABLATION.read_text()), OUT_MD, OUT_HTML)
    doc = dvc_metrics(settings, metrics)
    OUT_METRICS.parent.mkdir(parents=True, exist_ok=True)
    OUT_METRICS.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if settings.tracking.backend == "mlflow":
        link_mlflow(settings, metrics, advice_counts(report), runs)
    b, f = metrics["backward"]["mean"]["test_accuracy"], metrics["forward"]["mean"]["test_accuracy"]
    say(f"compare {settings.dataset['name']}: test accuracy backward {b:.4f} vs forward {f:.4f}; backward wins "
        f"by more than {settings.main.evaluate.success_margin}: {doc['backward_wins']}")


def append_ablation(doc: dict, md: Path, html: Path) -> None:
    """The 2×2×2 ablation (order × capacity control × selection, reports/ablation.md) as the
    compare report's last section, so one report answers whether backward and capacity control help."""
    from ..ablation import report_html, report_lines

    title = "The ablation: order × capacity control × selection"
    md.write_text(md.read_text().rstrip("\n") + "\n\n## " + title + "\n\n"
                  + "\n".join(report_lines(doc)) + "\n\nPer cell and plot: [ablation.md](ablation.md).\n")
    page = html.read_text()
    at = page.rindex("</body>")
    html.write_text(page[:at] + f"<h2>{title}</h2>" + report_html(doc)
                    + "<p>Per cell and plot: <a href='ablation.html'>ablation.html</a>.</p>" + page[at:])


def dvc_metrics(settings: Settings, metrics: dict) -> dict:
    """metrics/compare.json: backward minus forward under the keys of metrics/<direction>.json, so
    `dvc metrics show` lines the three files up in a few columns."""
    b, f = metrics["backward"]["mean"], metrics["forward"]["mean"]
    diff = {k: b[f"{k}uracy"] - f[f"{k}uracy"] for k in ("test_acc", "val_acc", "train_acc")}
    return {**diff, "seeds": len(settings.main.seeds),
            "backward_wins": bool(diff["test_acc"] > settings.main.evaluate.success_margin)}


def advice_tags(run) -> dict[str, str]:
    """A loaded run record's (report.runs.RunData) capacity-tuning advice (report/advice.py) as
    MLflow tags: one per layer, ``advice/layer<L>`` = verdict, and ``generalisation_phase`` = the
    epoch it began or "none"."""
    from ..report.advice import generalisation_phase, run_advice

    tags = {f"advice/layer{a['layer']}": f"{a['verdict']}: {a['reason']}"[:500] for a in run_advice(run)}
    phase = generalisation_phase(run.epochs, run.decisions)
    tags["generalisation_phase"] = str(phase["epoch"]) if phase["detected"] else "none"
    return tags


def advice_counts(report: dict) -> dict[str, int]:
    """Per verdict, how many (run, layer) pairs of this comparison got it (the report's success entry)."""
    success = report.get("success", {})
    return {str(k): int(v) for k, v in (success.get("capacity_advice", {}).get("value") or {}).items()}


def link_mlflow(settings: Settings, metrics: dict, verdicts: dict[str, int], runs: dict) -> None:
    """A parent run for this execution; the evaluate runs become its children, each tagged with
    its advice (`runs`: (direction, seed) -> the loaded record the report read)."""
    from ..track.git_info import git_state
    from ..track.mlflow_sink import TAG_GROUP, ParentRun

    git = git_state(Path.cwd())
    group = group_key()
    # every `dvc repro` that reruns evaluate adds a parent: its name says which commit and when
    commit = git.commit[:7] if git.commit and git.commit != "unknown" else "no commit"
    name = f"compare {settings.dataset['name']} @ {commit}{'+dirty' if git.dirty else ''} {time.strftime('%Y-%m-%d %H:%M')}"
    parent = ParentRun(asdict(settings.tracking), name=name,
                       tags={TAG_GROUP: group, "source": "dvc", "dataset": settings.dataset["name"],
                             "phase": settings.phase, "kind": "compare", **git.as_tags()})
    children = []
    for d in DIRECTIONS:
        t = json.loads((Path("reports") / d / "tracking.json").read_text())
        for seed, rid in t.get("runs", {}).items():
            try:
                parent.adopt(rid)
                children.append(rid)
            except Exception as e:  # a run logged to another store (e.g. restored from DVC's run cache)
                say(f"MLflow run {rid} ({d} seed {seed}) not linked: {e}")
                continue
            record = runs.get((d, int(seed)))
            for key, value in (advice_tags(record) if record is not None else {}).items():
                parent.set_tag(key, value, run_id=rid)
        for k, v in metrics[d]["mean"].items():
            parent.log_metric(f"{d}/{k}", v)
    for verdict, count in verdicts.items():
        parent.log_metric(f"advice/{verdict}", count)
    for p in (OUT_MD, OUT_HTML, OUT_JSON):
        parent.log_artifact(p, "report")
    parent.close("FINISHED")
    say(f"MLflow parent run '{name}' ({parent.run_id}) groups the runs of {group}; side by side (with `mlflow ui` "
        f"running): {parent.compare_url(children)}")
