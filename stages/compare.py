"""Stage `compare`: backward vs forward on the same data, seeds and budget.

    reports/compare.md, reports/compare.html   the report (hashtron_lab.report.compare)
    reports/compare.json                       {dataset: {backward, forward}, success: {...}} (for scripts)
    plots/compare/*.png                        the report's figures (accuracy, cost, curves by updates, R²)
    metrics/compare.json                       backward - forward in test / validation / train accuracy
                                               and whether backward wins by more than
                                               main.evaluate.success_margin (for `dvc metrics show`)

With MLflow tracking it also opens one parent run for this pipeline execution, makes every
run logged by `evaluate@backward` / `evaluate@forward` its child (so the MLflow UI shows and
compares them side by side) and attaches the report to it.
"""
import json
from pathlib import Path

from common import RUNS, group_key, load_params, main_guard, say, seed_dir

DIRECTIONS = ("backward", "forward")
FINAL = {"backward": RUNS / "backward" / "last", "forward": RUNS / "forward"}
OUT_MD, OUT_HTML, OUT_JSON = Path("reports/compare.md"), Path("reports/compare.html"), Path("reports/compare.json")
OUT_METRICS = Path("metrics/compare.json")
OUT_PLOTS = Path("plots/compare")  # the report's figures as PNGs: `dvc plots show` renders them offline


def fallback_report(params: dict, metrics: dict) -> None:
    """Used only while `hashtron_lab.report.compare` does not exist: the same JSON shape, a
    table in markdown and html, nothing more."""
    ds = params["dataset"]["name"]
    margin = params["main"]["evaluate"]["success_margin"]
    b, f = metrics["backward"]["mean"], metrics["forward"]["mean"]
    diff = b["test_accuracy"] - f["test_accuracy"]
    doc = {ds: {d: {"mean": metrics[d]["mean"], "std": metrics[d]["std"]} for d in DIRECTIONS},
           "success": {"test_accuracy_difference": diff, "success_margin": margin,
                       "backward_beats_forward": bool(diff > margin), "seeds": len(metrics["backward"]["per_seed"])}}
    OUT_JSON.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    keys = ["train_accuracy", "val_accuracy", "test_accuracy", "generalization_gap", "updates", "epochs",
            "wall_seconds", "alerts"]
    rows = [f"| {k} | {b.get(k, float('nan')):.4g} | {f.get(k, float('nan')):.4g} |" for k in keys]
    md = [f"# Backward vs forward on {ds}", "", "| metric (mean over seeds) | backward | forward |", "|---|---|---|",
          *rows, "", f"Backward beats forward by more than {margin}: **{diff > margin}** ({diff:+.4f})", ""]
    OUT_MD.write_text("\n".join(md))
    cells = "".join(f"<tr><td>{k}</td><td>{b.get(k, float('nan')):.4g}</td><td>{f.get(k, float('nan')):.4g}"
                    f"</td></tr>" for k in keys)
    OUT_HTML.write_text(f"<!doctype html><meta charset='utf-8'><title>compare {ds}</title><h1>Backward vs forward "
                        f"on {ds}</h1><table border=1><tr><th>metric</th><th>backward</th><th>forward</th></tr>"
                        f"{cells}</table><p>difference in test accuracy: {diff:+.4f}</p>\n")


def link_mlflow(params: dict, metrics: dict) -> None:
    """Parent run for this execution; the evaluate runs become its children."""
    import time

    from hashtron_lab.track.git_info import git_state
    from hashtron_lab.track.mlflow_sink import TAG_GROUP, client_and_experiment, compare_url

    client, exp_id = client_and_experiment(params["tracking"])
    group = group_key()
    git = git_state(Path.cwd())
    # every `dvc repro` that reruns evaluate adds a parent: its name says which commit and when
    commit = git.commit[:7] if git.commit and git.commit != "unknown" else "no commit"
    name = f"compare {params['dataset']['name']} @ {commit}{'+dirty' if git.dirty else ''} " \
           f"{time.strftime('%Y-%m-%d %H:%M')}"
    parent = client.create_run(exp_id, run_name=name,
                               tags={TAG_GROUP: group, "source": "dvc", "dataset": params["dataset"]["name"],
                                     "phase": params["phase"], "kind": "compare", **git.as_tags()})
    pid = parent.info.run_id
    children = []
    for d in DIRECTIONS:
        t = json.loads((Path("reports") / d / "tracking.json").read_text())
        for seed, rid in t.get("runs", {}).items():
            children.append(rid)
            try:
                client.set_tag(rid, "mlflow.parentRunId", pid)
                client.set_tag(rid, TAG_GROUP, group)
            except Exception as e:  # a run logged to another store (e.g. restored from DVC's run cache)
                say(f"MLflow run {rid} ({d} seed {seed}) not linked: {e}")
        for k, v in metrics[d]["mean"].items():
            client.log_metric(pid, f"{d}/{k}", v)
    for p in (OUT_MD, OUT_HTML, OUT_JSON):
        if p.exists():
            client.log_artifact(pid, str(p), "report")
    url = compare_url(children, exp_id)
    client.set_tag(pid, "compare_url", url)
    client.set_terminated(pid, "FINISHED")
    say(f"MLflow parent run '{name}' ({pid}) groups the runs of {group}; side by side (with `mlflow ui` "
        f"running): {url}")


def main() -> None:
    main_guard()
    params = load_params()
    metrics = {d: json.loads((Path("reports") / d / "per_seed.json").read_text()) for d in DIRECTIONS}
    run_dirs = [seed_dir(FINAL[d], s) / "record" for d in DIRECTIONS for s in params["main"]["seeds"]]
    OUT_MD.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    try:
        from hashtron_lab.report.compare import build_report
    except ImportError as e:
        say(f"hashtron_lab.report.compare is not available ({e}); writing the minimal fallback report")
        fallback_report(params, metrics)
    else:
        build_report([str(p) for p in run_dirs], str(OUT_MD), str(OUT_HTML), str(OUT_JSON), str(OUT_PLOTS))
    doc = dvc_metrics(params, metrics)
    OUT_METRICS.parent.mkdir(parents=True, exist_ok=True)
    OUT_METRICS.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if params["tracking"]["backend"] == "mlflow":
        link_mlflow(params, metrics)
    b, f = metrics["backward"]["mean"]["test_accuracy"], metrics["forward"]["mean"]["test_accuracy"]
    say(f"compare {params['dataset']['name']}: test accuracy backward {b:.4f} vs forward {f:.4f}; backward wins "
        f"by more than {params['main']['evaluate']['success_margin']}: {doc['backward_wins']}")


def dvc_metrics(params: dict, metrics: dict) -> dict:
    """metrics/compare.json: backward minus forward under the keys of metrics/<direction>.json, so
    `dvc metrics show` lines the three files up in a few columns."""
    b, f = metrics["backward"]["mean"], metrics["forward"]["mean"]
    diff = {k: b[f"{k}uracy"] - f[f"{k}uracy"] for k in ("test_acc", "val_acc", "train_acc")}
    return {**diff, "seeds": len(params["main"]["seeds"]),
            "backward_wins": bool(diff["test_acc"] > params["main"]["evaluate"]["success_margin"])}


if __name__ == "__main__":
    main()
