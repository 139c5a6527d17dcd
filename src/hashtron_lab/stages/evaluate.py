"""Stage `evaluate@<direction>`: measure every seed's final model, write metrics and plot data,
and log each run to MLflow (unless tracking=none).

    metrics/<direction>.json     test / validation / train accuracy: mean and sample std over seeds
                                 (a few columns, so `dvc metrics show` fits a terminal)
    reports/<direction>/per_seed.json mean and sample std of every measure, every measure of every
                                 seed, alert names, stop reasons
    plots/<direction>/accuracy.csv    train / validation accuracy per epoch (mean over seeds)
    plots/<direction>/premodulo.csv   every premodulo decision (backward)
    plots/<direction>/confusion.csv   test predictions of every seed (actual, predicted), and
    plots/<direction>/confusion.png   their counts (an image: `dvc plots show` needs no CDN for it)
    reports/<direction>/tracking.json MLflow run ids (the compare stage groups them)
    reports/<direction>/dashboard/seed<k>.html  the run's dashboard (issue 7), its PNGs in
    plots/dashboard/<direction>/seed<k>/        (DVC plots; also logged to the MLflow run)

Accuracies are recomputed here from the saved model and the prepared data, not copied from
training. Alerts (DESIGN §8) come from replaying the run's events through
`track.alerts.AlertMonitor` with the thresholds in `alerts`.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from ..config import Settings
from ..data import read_dataset
from ..model.files import load_model
from ..model.output_code import OutputCode
from ..report.compare import r2_log_premodulo_log_margin
from ..report.dashboard import build_dashboard
from ..report.plots import plot_confusion
from ..report.runs import mean_std
from ..track.alerts import AlertMonitor, events_of_record
from ..track.mlflow_sink import TAG_GROUP
from ..track.records import read_run_record
from ..track.signals import raise_on_sigterm
from ..train.run import Split
from .common import PREPARED, group_key, load_params, run_settings, say, seed_dir

SUMMED = ("train_accuracy", "val_accuracy", "test_accuracy", "generalization_gap", "updates", "accepted_updates",
          "epochs", "wall_seconds", "updates_per_second", "skips", "alerts", "r2_log_premodulo_margin",
          "final_first", "backward_order")


def measure(direction: str, runs: Path, seed: int, alerts_cfg) -> tuple[dict, dict, list]:
    """(metrics, run record, confusion rows) of one seed."""
    d = seed_dir(runs, seed)
    rec = read_run_record(d / "record")
    net = load_model(d / "model.htl")
    ds = read_dataset(seed_dir(PREPARED, seed))
    code = OutputCode(net.architecture.output_code, ds.n_classes, net.architecture.output_bits)
    acc, confusion = {}, []
    for name, X, y, par in (("train", ds.X_train, ds.y_train, ds.parity_train),
                            ("val", ds.X_val, ds.y_val, ds.parity_val),
                            ("test", ds.X_test, ds.y_test, ds.parity_test)):
        split = Split(X, y, par)
        pred = split.predict_from_outputs(net.forward(split.X), code)
        acc[f"{name}_accuracy"] = float(np.mean(pred == split.y)) if len(split) else 0.0
        if name == "test":
            names = ds.class_names
            confusion = [{"actual": names[int(a)], "predicted": names[int(p)] if 0 <= p < len(names) else str(int(p)),
                          "seed": seed} for a, p in zip(split.y, pred, strict=True)]
    monitor = AlertMonitor(alerts_cfg)
    for kind, payload in events_of_record(rec):
        monitor(kind, payload)
    m = rec["info"]["metrics"]
    out = {**acc, "generalization_gap": acc["train_accuracy"] - acc["test_accuracy"],
           "updates": m["updates"], "accepted_updates": m["accepted_updates"], "epochs": m["epochs"],
           "wall_seconds": m["wall_seconds"], "updates_per_second": m["updates_per_second"],
           "skips": len(rec["info"].get("skips", [])), "alerts": len(monitor.alerts),
           "alert_rules": sorted({a["kind"] for a in monitor.alerts}), "stop_reason": m.get("stop_reason")}
    if direction == "backward":
        out["r2_log_premodulo_margin"] = r2_log_premodulo_log_margin(rec["decisions"])["value"]
        out["final_first"] = float(bool(m.get("final_first")))
        out["backward_order"] = float(bool(m.get("backward_order")))
    return out, rec, confusion


def summary(per_seed: dict[str, dict]) -> dict:
    """Mean and sample std (ddof=1, as every report here; null for one seed) of each measure."""
    mean, std = {}, {}
    for key in SUMMED:
        vals = [v[key] for v in per_seed.values() if isinstance(v.get(key), (int, float)) and v[key] is not None]
        if vals:
            ms = mean_std(vals)
            mean[key], std[key] = ms["mean"], ms["std"]
    return {"mean": mean, "std": std}


def dvc_metrics(summ: dict, seeds: int) -> dict:
    """metrics/<direction>.json: the accuracies only, short keys shared with metrics/compare.json."""
    m, s = summ["mean"], summ["std"]
    return {"test_acc": m["test_accuracy"], "test_std": s["test_accuracy"], "val_acc": m["val_accuracy"],
            "val_std": s["val_accuracy"], "train_acc": m["train_accuracy"], "seeds": seeds}


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def accuracy_rows(records: dict[int, dict]) -> list[dict]:
    """Per epoch, the mean over seeds that reached it (and how many did); then one row for the
    end of the runs (each seed's returned model where it stopped, `Run.record_final`): the
    curve ends at the accuracies of metrics/<direction>.json."""
    by_epoch: dict[int, list[dict]] = {}
    finals = []
    for rec in records.values():
        for e in rec["epochs"]:
            if e.get("final"):
                finals.append(e)
            else:
                by_epoch.setdefault(int(e["epoch"]), []).append(e)

    def row(epoch, es, point):
        vals = [e["val_accuracy"] for e in es if e.get("val_accuracy") is not None]
        return {"epoch": epoch, "point": point, "seeds": len(es), "updates": float(np.mean([e["updates"] for e in es])),
                "train_accuracy": float(np.mean([e["train_accuracy"] for e in es])),
                "val_accuracy": float(np.mean(vals)) if vals else ""}

    rows = [row(epoch, es, "epoch") for epoch, es in sorted(by_epoch.items())]
    if finals:
        rows.append(row(max(int(e["epoch"]) for e in finals), finals, "final"))
    return rows


def premodulo_rows(records: dict[int, dict]) -> list[dict]:
    rows = []
    for seed, rec in records.items():
        for d in rec["decisions"]:
            rows.append({"update": d.get("update"), "seed": seed, "neuron_id": d.get("neuron_id"),
                         "layer": d.get("layer"), "epoch": d.get("epoch"), "regime": d.get("regime"),
                         "raw": d.get("raw"), "final": d.get("final"),
                         "log2_premodulo": math.log2(d["final"]) if d.get("final", 0) > 0 else 0.0,
                         "margin": d.get("margin"), "alpha": d.get("alpha"), "accepted": d.get("accepted")})
    return rows


def track(direction: str, runs: Path, settings: Settings, per_seed: dict, records: dict) -> dict:
    """One MLflow run per seed (events replayed, metrics, artifacts); their ids."""
    from ..track.git_info import git_state
    from ..track.mlflow_sink import run_name, run_tags, tracked

    git = git_state(Path.cwd())
    group = group_key()
    ids, tracker = {}, None
    for seed, rec in records.items():
        plain = run_settings(settings, direction, seed).to_dict()
        tags = run_tags(plain, git.as_tags(), **{TAG_GROUP: group, "source": "dvc",
                                                 "dvc.stage": os.environ.get("DVC_STAGE", ""),
                                                 "dvc.exp": os.environ.get("DVC_EXP_NAME"), "run_id": plain["run_id"]})
        # a finished record: full batches, not one write per epoch
        with tracked(plain, run_name=run_name(direction, seed), tags=tags, flush_each_epoch=False) as tracker:
            monitor = AlertMonitor(settings.alerts, emit=tracker)
            for kind, payload in events_of_record(rec):
                tracker(kind, payload)
                monitor(kind, payload)
            values = {k: v for k, v in per_seed[str(seed)].items() if not isinstance(v, list)}
            tracker.log_metrics(values, step=int(values.get("updates") or 0))
            pngs = sorted((Path("plots") / "dashboard" / direction / f"seed{seed}").glob("*.png"))
            for f in [*pngs, Path("reports") / direction / "dashboard" / f"seed{seed}.html"]:
                tracker.log_artifact(f, "dashboard")
            if settings.tracking.log_models:
                d = seed_dir(runs, seed)
                for f in ("model.htl", "sum_cache.bin"):
                    tracker.log_artifact(d / f, "model")
                tracker.log_artifact(d / "record", "record")
        ids[str(seed)] = tracker.run_id
    return {"group": group, "uri": tracker.uri, "experiment_id": tracker.experiment_id, "runs": ids}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--direction", choices=("backward", "forward"), required=True)
    ap.add_argument("--runs", required=True, help="the stage output holding seed<k>/ run folders")
    args = ap.parse_args(argv)
    raise_on_sigterm()
    settings = load_params()
    direction, runs, seeds = args.direction, Path(args.runs), settings.main.seeds
    per_seed, records, confusion = {}, {}, []
    for seed in seeds:
        per_seed[str(seed)], records[seed], conf = measure(direction, runs, seed, settings.alerts)
        confusion += conf
        m = per_seed[str(seed)]
        say(f"{direction} seed {seed}: train {m['train_accuracy']:.4f} val {m['val_accuracy']:.4f} "
            f"test {m['test_accuracy']:.4f}, alerts {m['alert_rules']}")
    summ = summary(per_seed)
    write_json(Path(f"metrics/{direction}.json"), dvc_metrics(summ, len(seeds)))
    out = Path("reports") / direction
    write_json(out / "per_seed.json", {**summ, "dataset": settings.dataset["name"], "direction": direction,
                                       "per_seed": per_seed})
    write_plots(direction, runs, settings, records, confusion)
    tracking = {"backend": settings.tracking.backend}
    if settings.tracking.backend == "mlflow":
        tracking.update(track(direction, runs, settings, per_seed, records))
        say(f"logged {len(seeds)} MLflow runs to {tracking['uri']} (group {tracking['group']})")
    write_json(out / "tracking.json", tracking)
    say(f"{direction}: mean test accuracy {summ['mean']['test_accuracy']:.4f} over {len(seeds)} seeds")


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def write_plots(direction: str, runs: Path, settings: Settings, records: dict, confusion: list) -> None:
    """plots/<direction>/*.csv, the confusion image and every seed's dashboard."""
    plots = Path("plots") / direction
    write_csv(plots / "accuracy.csv", accuracy_rows(records), ["epoch", "point", "updates", "seeds",
                                                               "train_accuracy", "val_accuracy"])
    if direction == "backward":
        write_csv(plots / "premodulo.csv", premodulo_rows(records),
                  ["update", "seed", "neuron_id", "layer", "epoch", "regime", "raw", "final", "log2_premodulo",
                   "margin", "alpha", "accepted"])
    write_csv(plots / "confusion.csv", confusion, ["actual", "predicted", "seed"])
    seeds = settings.main.seeds
    plot_confusion([c["actual"] for c in confusion], [c["predicted"] for c in confusion], plots / "confusion.png",
                   f"{direction}, test rows of {len(seeds)} seed(s)")
    for seed in seeds:
        build_dashboard(seed_dir(runs, seed) / "record", Path("reports") / direction / "dashboard" / f"seed{seed}.html",
                        Path("plots") / "dashboard" / direction / f"seed{seed}", settings.alerts)
