"""The A/B report: backward vs forward per dataset over seeds, and the seed-000 success metrics.

    python -m hashtron_lab.report.compare RUN_DIR... --md reports/compare.md \\
        --html reports/compare.html --json reports/compare.json [--plots plots/compare]

A RUN_DIR is a run record (``run.json`` + tables, see ``track/records.py``) or a folder holding
some. Every figure is mean ± sample std (ddof=1) over the runs, with n. ``reports/compare.json``
is read by scripts; its shape is fixed::

    {"<dataset>": {"backward": {<metric>: {"mean", "std", "n"}, ...}, "forward": {...}}, ...,
     "success": {"order_compliance": {"value", "pass", ...},
                 "r2_log_premodulo_log_margin": {...}, "time_ratio_backward_forward": {...},
                 "sum_cache_bytes_per_record": {...}, "generalization": {...}}}

with <metric> at least test_accuracy, val_accuracy, train_accuracy, wall_seconds,
updates_per_second (also generalization_gap, updates, epochs). ``std`` is null for n < 2,
``mean`` null for n = 0 (a direction with no runs); ``pass`` is null when a metric could not be
measured (e.g. no forward run to compare with).

Success metrics (seed 000), computed from the records rather than trusted from the pipeline:

- order compliance: share of backward runs whose first update trained the final layer (in the
  bootstrap) and whose layers never ascend within a sweep; pass = 100 %.
- R² of ln premodulo against ln margin over all decisions of the backward runs (decisions with
  a margin S_used/N > 0; the bootstrap has none); pass = R² > 0.7.
- generalization: in every backward run the train accuracy stays capped (max over epochs
  ≤ 0.80) and the validation accuracy rises (least-squares slope over epochs > 0, mean over runs).
- performance: time ratio = mean backward wall time / mean forward wall time per dataset;
  the value is the worst dataset; pass = ≤ 1.10 everywhere.
- sum cache memory: bytes per record of the backward run holding the most records; pass = a
  million records under 100 MB (< 100 bytes a record).

Informational entries (``pass`` null): ``generalisation_phase`` (share of runs where training
rose after validation peaked, report/advice.py) and ``capacity_advice`` (counts of per-layer
premodulo verdicts: too_small / too_large / ok).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from collections import Counter

from ..jsonable import jsonable
from ..track.alerts import RULES, alerts_from_record
from ..train.backward import order_compliance  # the one definition (also used by the run path)
from . import html as H
from . import plots
from .advice import generalisation_phase, run_advice
from .runs import DIRECTIONS, RunData, fmt, fmt_num, fmt_seconds, linear_fit, load_runs, md_table, mean_std

METRICS = ("test_accuracy", "val_accuracy", "train_accuracy", "wall_seconds", "updates_per_second")
EXTRA_METRICS = ("generalization_gap", "updates", "epochs")
LABELS = {"test_accuracy": "test accuracy", "val_accuracy": "validation accuracy",
          "train_accuracy": "train accuracy", "generalization_gap": "generalization gap (train − test)",
          "wall_seconds": "wall time (s)", "updates_per_second": "neuron updates / s", "updates": "neuron updates",
          "epochs": "epochs"}
ACCURACY = ("test_accuracy", "val_accuracy", "train_accuracy", "generalization_gap")


@dataclass
class Criteria:
    """Seed-000 targets (the defaults are the seed's numbers)."""

    r2_target: float = 0.7               # R² must be above this
    time_ratio_max: float = 1.10         # backward within 10 % of forward
    train_cap: float = 0.80              # train accuracy capped: max over epochs at most this ...
    train_floor: float = 0.60            # ... and the final one at least this (the 60–80 % band)
    cache_budget_mb: float = 100.0       # for ...
    cache_records: int = 1_000_000       # ... this many records


# -- the success metrics, each on plain records (testable on crafted histories) --------
def r2_points(decisions: Iterable[Mapping]) -> dict:
    """ln margin, ln premodulo (final) and regime of the decisions with margin > 0 and premodulo
    > 0; ``excluded`` counts the others (bootstrap decisions have no margin)."""
    lx, ly, reg = [], [], []
    excluded = 0
    for d in decisions:
        m, p = d.get("margin"), d.get("final")
        if m is None or p is None or not (float(m) > 0) or not (float(p) > 0):
            excluded += 1
            continue
        lx.append(math.log(float(m)))
        ly.append(math.log(float(p)))
        reg.append(str(d.get("regime", "unknown")))
    return {"log_margin": np.array(lx), "log_premodulo": np.array(ly), "regime": np.array(reg, dtype=object),
            "excluded": excluded}


def r2_log_premodulo_log_margin(decisions: Iterable[Mapping]) -> dict:
    """``{"value": R² or None, "slope", "decisions", "excluded"}`` of ln premodulo ~ ln margin."""
    pts = r2_points(decisions)
    fit = linear_fit(pts["log_margin"], pts["log_premodulo"])
    return {"value": None if fit is None else fit[2], "slope": None if fit is None else fit[1],
            "decisions": int(len(pts["log_margin"])), "excluded": int(pts["excluded"])}


def generalization(epochs: Sequence[Mapping], train_cap: float = 0.80, train_floor: float = 0.60) -> dict:
    """Train capped in the band (max train accuracy over epochs ≤ ``train_cap`` and the final
    one ≥ ``train_floor``: saturating there, seed 000's "capped at 60–80 %") and validation rising
    (least-squares slope of validation accuracy over epoch, per epoch)."""
    tr = [float(e["train_accuracy"]) for e in epochs if e.get("train_accuracy") is not None]
    pts = [(float(e["epoch"]), float(e["val_accuracy"])) for e in epochs if e.get("val_accuracy") is not None]
    fit = linear_fit([p[0] for p in pts], [p[1] for p in pts]) if pts else None
    return {
        "train_max": max(tr) if tr else None,
        "train_final": tr[-1] if tr else None,
        "train_capped": (max(tr) <= train_cap and tr[-1] >= train_floor) if tr else None,
        "val_first": pts[0][1] if pts else None,
        "val_last": pts[-1][1] if pts else None,
        "val_slope_per_epoch": None if fit is None else fit[1],
        "val_rising": None if fit is None else fit[1] > 0,
    }


# -- aggregation -----------------------------------------------------------------------
def summarize(runs: Sequence[RunData]) -> dict:
    """``{dataset: {direction: {metric: {"mean", "std", "n"}}}}`` for both directions."""
    out: dict[str, dict] = {}
    for ds in sorted({r.dataset for r in runs}):
        if ds == "success":
            raise ValueError("a dataset named 'success' would collide with the success key of compare.json; rename it")
        out[ds] = {}
        for d in DIRECTIONS:
            rs = [r for r in runs if r.dataset == ds and r.direction == d]
            out[ds][d] = {k: mean_std(r.metrics.get(k) for r in rs) for k in METRICS + EXTRA_METRICS}
    return out


def success_metrics(runs: Sequence[RunData], summary: Mapping[str, Any], criteria: Criteria | None = None) -> dict:
    c = criteria or Criteria()
    back = [r for r in runs if r.direction == "backward"]

    per_run = {r.name: order_compliance(r.history, len(r.widths)) for r in back}
    ok = [v["final_first"] and v["backward_order"] for v in per_run.values()]
    order = {"value": (sum(ok) / len(ok)) if ok else None, "pass": (all(ok) if ok else None), "runs": len(ok),
             "final_first": sum(v["final_first"] for v in per_run.values()),
             "backward_order": sum(v["backward_order"] for v in per_run.values()),
             "failing_runs": sorted(n for n, v in per_run.items() if not (v["final_first"] and v["backward_order"]))}

    r2 = r2_log_premodulo_log_margin(d for r in back for d in r.decisions)
    per_run_r2 = {r.name: r2_log_premodulo_log_margin(r.decisions)["value"] for r in back}
    r2.update({"pass": None if r2["value"] is None else r2["value"] > c.r2_target, "target": c.r2_target,
               "per_run": per_run_r2})

    ratios: dict[str, float | None] = {}
    per_update: dict[str, float | None] = {}
    for ds, dd in summary.items():
        b, f = dd["backward"]["wall_seconds"]["mean"], dd["forward"]["wall_seconds"]["mean"]
        ratios[ds] = (b / f) if (b is not None and f) else None
        tb = [r.metrics["wall_seconds"] / r.metrics["updates"] for r in runs
              if r.dataset == ds and r.direction == "backward" and r.metrics.get("updates")]
        tf = [r.metrics["wall_seconds"] / r.metrics["updates"] for r in runs
              if r.dataset == ds and r.direction == "forward" and r.metrics.get("updates")]
        per_update[ds] = (float(np.mean(tb)) / float(np.mean(tf))) if tb and tf and np.mean(tf) > 0 else None
    measured = [v for v in ratios.values() if v is not None]
    time_ratio = {"value": max(measured) if measured else None,
                  "pass": (max(measured) <= c.time_ratio_max) if measured else None, "max": c.time_ratio_max,
                  "per_dataset": ratios, "per_update_per_dataset": per_update}

    with_cache = [r for r in back if r.info.get("sum_cache_bytes_per_record") is not None]
    if with_cache:
        big = max(with_cache, key=lambda r: (r.info.get("sum_cache_records") or 0))
        bpr = float(big.info["sum_cache_bytes_per_record"])
        records = int(big.info.get("sum_cache_records") or 0)
        projected = bpr * c.cache_records / 1e6
        cache = {"value": bpr, "pass": projected < c.cache_budget_mb, "records": records,
                 "projected_mb": projected, "budget_mb": c.cache_budget_mb, "at_records": c.cache_records,
                 "range": [min(float(r.info["sum_cache_bytes_per_record"]) for r in with_cache),
                           max(float(r.info["sum_cache_bytes_per_record"]) for r in with_cache)]}
    else:
        cache = {"value": None, "pass": None, "records": 0}

    gens = {r.name: generalization(r.epochs, c.train_cap, c.train_floor) for r in back}
    slopes = [g["val_slope_per_epoch"] for g in gens.values() if g["val_slope_per_epoch"] is not None]
    capped = [g["train_capped"] for g in gens.values() if g["train_capped"] is not None]
    mean_slope = float(np.mean(slopes)) if slopes else None
    gen = {"value": mean_slope, "pass": (all(capped) and mean_slope > 0) if (capped and slopes) else None,
           "train_band": [c.train_floor, c.train_cap], "runs_capped": sum(capped), "runs": len(gens),
           "val_rising_runs": sum(1 for s in slopes if s > 0), "per_run": gens}

    phases = {r.name: generalisation_phase(r.epochs, r.decisions) for r in runs}
    detected = [n for n, p in phases.items() if p["detected"]]
    phase = {"value": (len(detected) / len(phases)) if phases else None, "pass": None, "runs": len(phases),
             "detected_runs": detected, "per_run": phases}
    advice = {r.name: run_advice(r) for r in runs}
    verdicts = Counter(a["verdict"] for adv in advice.values() for a in adv)
    tuning = {"value": dict(sorted(verdicts.items())), "pass": None, "runs": len(advice), "per_run": advice}

    return {"order_compliance": order, "r2_log_premodulo_log_margin": r2, "time_ratio_backward_forward": time_ratio,
            "sum_cache_bytes_per_record": cache, "generalization": gen, "generalisation_phase": phase,
            "capacity_advice": tuning}


# -- wording ---------------------------------------------------------------------------
def compare_sentence(label: str, b: Mapping, f: Mapping, higher_is_better: bool = True, scale: float = 100.0,
                     unit: str = " pp", digits: int = 1) -> str:
    """One honest sentence: who is ahead, by how much, and whether that exceeds two standard
    errors of the difference (sqrt(s_b²/n_b + s_f²/n_f))."""
    if b.get("mean") is None or f.get("mean") is None:
        who = "backward" if f.get("mean") is None else "forward"
        return f"{label}: only {who} runs exist; nothing to compare."
    diff = b["mean"] - f["mean"]
    if diff == 0:
        return f"{label}: a tie (backward {fmt(b, 3)} vs forward {fmt(f, 3)})."
    ahead = "backward" if (diff > 0) == higher_is_better else "forward"
    behind = "forward" if ahead == "backward" else "backward"
    gap = abs(diff) * scale
    se = None
    if b.get("std") is not None and f.get("std") is not None:
        se = math.sqrt(b["std"] ** 2 / b["n"] + f["std"] ** 2 / f["n"]) * scale
    nums = f"backward {fmt(b, 3)} vs forward {fmt(f, 3)}"
    if se is not None and gap > 2 * se:
        return (f"**{ahead.capitalize()} wins on {label}**: {nums}; {ahead} is {'ahead' if higher_is_better else 'lower'}"
                f" by {gap:.{digits}f}{unit}, more than two standard errors ({2 * se:.{digits}f}{unit}).")
    why = (f"within two standard errors ({2 * se:.{digits}f}{unit})" if se is not None
           else "with too few runs for a standard error (n < 2 on a side)")
    return (f"{label}: {ahead} is {'ahead' if higher_is_better else 'lower'} by {gap:.{digits}f}{unit} ({nums}), "
            f"{why} — not a clear difference from {behind}.")


def _pass_md(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**pass**" if ok else "**FAIL**")


# -- the report ------------------------------------------------------------------------
def build_report(run_dirs: Sequence[str | os.PathLike] | Sequence[RunData], out_md: str | os.PathLike | None,
                 out_html: str | os.PathLike | None, out_json: str | os.PathLike | None,
                 plots_dir: str | os.PathLike | None = None, criteria: Criteria | None = None,
                 alert_config: Mapping[str, Any] | None = None) -> dict:
    """Write the markdown / HTML report and the JSON metrics for the runs; returns the JSON dict."""
    loaded = [r for r in run_dirs if isinstance(r, RunData)]
    runs = loaded + load_runs([p for p in run_dirs if not isinstance(p, RunData)])
    if not runs:
        raise ValueError("no run records found; pass run directories (each with run.json) or folders holding them")
    c = criteria or Criteria()
    ignored = [r for r in runs if r.direction not in DIRECTIONS]
    runs = [r for r in runs if r.direction in DIRECTIONS]
    summary = summarize(runs)
    success = success_metrics(runs, summary, c)
    result = jsonable({**summary, "success": {k: _compact(v) for k, v in success.items()}}, nonfinite_as_none=True)
    alerts = {r.name: alerts_from_record(r.record(), alert_config) for r in runs}

    if out_json:
        p = Path(out_json)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    if out_md or out_html:
        with tempfile.TemporaryDirectory() as tmp:
            pdir = Path(plots_dir) if plots_dir else Path(tmp)
            figs = _figures(runs, summary, success, pdir) if (out_html or plots_dir) else []
            if out_md:
                md = _markdown(runs, summary, success, alerts, figs if plots_dir else None, Path(out_md), c, ignored)
                Path(out_md).parent.mkdir(parents=True, exist_ok=True)
                Path(out_md).write_text(md)
            if out_html:
                Path(out_html).parent.mkdir(parents=True, exist_ok=True)
                Path(out_html).write_text(_html(runs, summary, success, alerts, figs, c, ignored))
    return result


def _compact(v: Mapping) -> dict:
    """The success entry as compare.json holds it: per-run details are dropped except names."""
    return {k: x for k, x in v.items() if k != "per_run"}


def _figures(runs, summary, success, pdir: Path) -> list[tuple[Path, str]]:
    pdir.mkdir(parents=True, exist_ok=True)
    figs = [
        (plots.plot_compare_metrics(summary, runs, pdir / "compare_accuracy.png",
                                    [(k, LABELS[k]) for k in ACCURACY], "Accuracy per dataset"),
         "Test, validation and train accuracy and the generalization gap per dataset: bars are means, whiskers "
         "± sample std (ddof=1), dots single runs."),
        (plots.plot_compare_metrics(summary, runs, pdir / "compare_cost.png",
                                    [("wall_seconds", LABELS["wall_seconds"]),
                                     ("updates_per_second", LABELS["updates_per_second"])], "Cost per dataset"),
         "Wall time and neuron updates per second (shared machine: wall time is noisy)."),
        (plots.plot_compare_curves(runs, pdir / "compare_curves.png"),
         "Validation (solid) and train (dashed) accuracy against neuron updates, mean over seeds ± sample std."),
    ]
    pts = r2_points(d for r in runs if r.direction == "backward" for d in r.decisions)
    fit = linear_fit(pts["log_margin"], pts["log_premodulo"])
    figs.append((plots.plot_r2(pts, fit, pdir / "compare_r2.png", success["r2_log_premodulo_log_margin"]["target"]),
                 "ln premodulo against ln margin over every premodulo decision of the backward runs, by regime."))
    return figs


def _dataset_lines(ds: str, dd: Mapping) -> list[str]:
    b, f = dd["backward"], dd["forward"]
    return [
        compare_sentence("test accuracy", b["test_accuracy"], f["test_accuracy"]),
        compare_sentence("validation accuracy", b["val_accuracy"], f["val_accuracy"]),
        compare_sentence("generalization gap", b["generalization_gap"], f["generalization_gap"], higher_is_better=False),
    ]


def _head_to_head_rows(dd: Mapping) -> list[list[str]]:
    rows = []
    for k in ("test_accuracy", "val_accuracy", "train_accuracy", "generalization_gap"):
        rows.append([LABELS[k], fmt(dd["backward"][k]), fmt(dd["forward"][k])])
    rows.append([LABELS["wall_seconds"], fmt(dd["backward"]["wall_seconds"], 1), fmt(dd["forward"]["wall_seconds"], 1)])
    rows.append([LABELS["updates_per_second"], fmt(dd["backward"]["updates_per_second"], 1),
                 fmt(dd["forward"]["updates_per_second"], 1)])
    rows.append([LABELS["updates"], fmt(dd["backward"]["updates"], 0), fmt(dd["forward"]["updates"], 0)])
    rows.append([LABELS["epochs"], fmt(dd["backward"]["epochs"], 0), fmt(dd["forward"]["epochs"], 0)])
    return rows


def _success_rows(success: Mapping, c: Criteria) -> list[list[str]]:
    o, r2, t, m, g = (success[k] for k in ("order_compliance", "r2_log_premodulo_log_margin",
                                            "time_ratio_backward_forward", "sum_cache_bytes_per_record",
                                            "generalization"))
    rows = [
        ["Training order: final neuron first, layers backward",
         f"{o['value'] * 100:.0f} % of {o['runs']} backward runs (final first {o['final_first']}, "
         f"backward order {o['backward_order']})" if o["value"] is not None else "no backward runs",
         "100 %", o["pass"]],
        ["Capacity adaptation: R² of ln premodulo ~ ln margin",
         f"{r2['value']:.3f} over {r2['decisions']:,} decisions (slope {r2['slope']:.2f}; {r2['excluded']} without "
         f"a margin left out)" if r2["value"] is not None else (f"not computable ({r2['decisions']} decisions with a margin and a premodulo; {r2['excluded']:,} "
               f"left out — premodulo 0 means the capacity law was off, `capacity=fixed`)"),
         f"> {c.r2_target}", r2["pass"]],
        ["Generalization: train capped, validation rising",
         (f"train in the {c.train_floor:.0%}–{c.train_cap:.0%} band in {g['runs_capped']} of {g['runs']} runs "
          f"(final train {_range(g['per_run'], 'train_final')}); validation slope "
          f"{g['value'] * 100:+.3f} pp/epoch (mean; rising in {g['val_rising_runs']} of {g['runs']})")
         if g["value"] is not None else "no validation curve",
         f"train final ≥ {c.train_floor:.0%} and max ≤ {c.train_cap:.0%}; slope > 0", g["pass"]],
        ["Performance: wall time backward / forward",
         (f"{t['value']:.3f} (worst dataset; " + ", ".join(f"{k} {v:.3f}" for k, v in t["per_dataset"].items()
                                                        if v is not None) + ")") if t["value"] is not None
         else "needs both pipelines on a dataset",
         f"≤ {c.time_ratio_max:.2f}", t["pass"]],
        ["Sum cache memory",
         (f"{m['value']:.1f} bytes/record at {m['records']:,} records → {m['projected_mb']:.1f} MB per "
          f"{m['at_records']:,}") if m["value"] is not None else "no sum cache size recorded",
         f"< {c.cache_budget_mb:.0f} MB per {c.cache_records:,}", m["pass"]],
    ]
    return rows


ADVICE_INTRO = ("Phase: the epoch after which training accuracy still rose while validation no longer did "
                "(report/advice.py); advice: one verdict per layer on its premodulo from its decisions' regimes, "
                "buckets per key and the train − validation gap.")
ADVICE_HEADER = ["run", "direction", "phase epoch", "train rise after", "layer advice", "why (first layer advised)"]


def _advice_rows(runs: Sequence[RunData], success: Mapping) -> list[list[Any]]:
    phases = success["generalisation_phase"]["per_run"]
    advice = success["capacity_advice"]["per_run"]
    rows = []
    for r in sorted(runs, key=lambda r: (r.dataset, r.direction, str(r.seed), r.name)):
        p, adv = phases.get(r.name, {}), advice.get(r.name, [])
        flagged = [a for a in adv if a["verdict"] != "ok"]
        rows.append([r.name, r.direction,
                     (f"{p['epoch']}" + (" (detected)" if p.get("detected") else "")) if p.get("epoch") else "—",
                     fmt_num(p.get("train_rise")) if p.get("train_rise") is not None else "—",
                     ", ".join(f"L{a['layer']} {a['verdict']}" for a in adv) or "no decisions",
                     flagged[0]["reason"] if flagged else "—"])
    return rows


def _range(per_run: Mapping[str, Mapping], key: str) -> str:
    vals = [v[key] for v in per_run.values() if v.get(key) is not None]
    if not vals:
        return "—"
    return f"{min(vals):.3f}" if len(vals) == 1 else f"{min(vals):.3f}–{max(vals):.3f}"


def _notes(success: Mapping) -> list[str]:
    notes = []
    m = success["sum_cache_bytes_per_record"]
    if m.get("value") is not None and m["records"] < 100_000:
        notes.append(f"The sum cache figure comes from a run with {m['records']:,} records: it includes the cache's "
                     "initial allocation, so it overstates the per-record cost at scale. "
                     "`benchmarks/bench_sum_cache.py --records 1000000` measures the budget itself.")
    t = success["time_ratio_backward_forward"]
    if t.get("value") is not None:
        notes.append("Wall time is measured on a shared machine; the time per update ratio "
                     "(" + ", ".join(f"{k} {v:.3f}" for k, v in t["per_update_per_dataset"].items() if v is not None)
                     + ") removes differences in the number of updates.")
    o = success["order_compliance"]
    if o.get("failing_runs"):
        notes.append("Runs breaking the training order: " + ", ".join(o["failing_runs"]) + ".")
    return notes


def _alert_rows(runs: Sequence[RunData], alerts: Mapping[str, list]) -> list[list[Any]]:
    rows = []
    for r in runs:
        a = alerts.get(r.name, [])
        counts = [sum(1 for x in a if x["kind"] == k) for k in RULES]
        rows.append([r.name, r.dataset, r.direction, r.seed, *counts])
    return rows


def _first_alerts(runs, alerts, per_run: int = 3) -> list[str]:
    out = []
    for r in runs:
        seen = set()
        for a in alerts.get(r.name, []):
            if a["kind"] in seen:
                continue
            seen.add(a["kind"])
            out.append(f"{r.name}: [{a['kind']}] epoch {a.get('epoch')}: {a['message']}")
            if len(seen) >= per_run:
                break
    return out


def _run_rows(runs: Sequence[RunData]) -> list[list[Any]]:
    rows = []
    for r in sorted(runs, key=lambda r: (r.dataset, r.direction, str(r.seed), r.name)):
        m = r.metrics
        rows.append([r.name, r.dataset, r.direction, r.seed, r.architecture, r.phase, fmt_num(m.get("test_accuracy")),
                     fmt_num(m.get("val_accuracy")), fmt_num(m.get("train_accuracy")),
                     fmt_num(m.get("generalization_gap")), fmt_seconds(m.get("wall_seconds")),
                     fmt_num(m.get("updates")), fmt_num(m.get("updates_per_second"), 1), fmt_num(m.get("epochs")),
                     str(r.path) if r.path else "—"])
    return rows


RUN_HEADER = ["run", "dataset", "direction", "seed", "architecture", "phase", "test", "val", "train", "gap", "wall",
              "updates", "upd/s", "epochs", "record"]


def _mixed(runs: Sequence[RunData]) -> list[str]:
    out = []
    for ds in sorted({r.dataset for r in runs}):
        archs = sorted({r.architecture for r in runs if r.dataset == ds})
        phases = sorted({r.phase for r in runs if r.dataset == ds})
        if len(archs) > 1 or len(phases) > 1:
            out.append(f"{ds} mixes architectures {archs} / phases {phases}: its means pool them.")
    return out


def _markdown(runs, summary, success, alerts, figs, md_path: Path, c: Criteria, ignored) -> str:
    L = ["# Backward vs forward: A/B report", "",
         f"{len(runs)} runs over {len(summary)} dataset(s). Every figure is mean ± sample std (ddof=1) over runs, "
         "with n. Generated by `python -m hashtron_lab.report.compare`; do not edit by hand.", ""]
    L += ["## Success metrics (seed 000)", "",
          md_table(["metric", "measured", "target", "result"],
                   [[a, b, t, _pass_md(p)] for a, b, t, p in _success_rows(success, c)], align=["l", "l", "l", "l"]), ""]
    L += [f"- {n}" for n in _notes(success)] + [""]
    for ds, dd in summary.items():
        L += [f"## {ds}", "", md_table(["", f"backward (n={dd['backward']['test_accuracy']['n']})",
                                        f"forward (n={dd['forward']['test_accuracy']['n']})"], _head_to_head_rows(dd)), ""]
        ratio = success["time_ratio_backward_forward"]["per_dataset"].get(ds)
        lines = _dataset_lines(ds, dd)
        if ratio is not None:
            lines.append(f"time: backward took {ratio:.2f}× the forward wall time "
                         f"({'within' if ratio <= c.time_ratio_max else 'outside'} the {c.time_ratio_max:.2f}× target).")
        L += [f"- {s}" for s in lines] + [""]
    L += ["## Generalisation phase and capacity advice", "", ADVICE_INTRO, "",
          md_table(ADVICE_HEADER, _advice_rows(runs, success)), ""]
    mixed = _mixed(runs)
    if mixed or ignored:
        L += ["## Caveats", ""] + [f"- {m}" for m in mixed]
        L += [f"- {r.name}: direction {r.direction!r} is neither backward nor forward; left out." for r in ignored]
        L += [""]
    L += ["## Alerts", "", "Replayed from each run record through `hashtron_lab.track.alerts.AlertMonitor` "
          "(default thresholds). Counts per rule:", "",
          md_table(["run", "dataset", "direction", "seed", *RULES], _alert_rows(runs, alerts)), ""]
    first = _first_alerts(runs, alerts)
    if first:
        L += ["First alert of each kind:", ""] + [f"- {x}" for x in first] + [""]
    if figs:
        L += ["## Plots", ""]
        for png, cap in figs:
            rel = os.path.relpath(png, md_path.parent)
            L += [f"![{cap}]({rel})", "", f"*{cap}*", ""]
    else:
        L += ["Plots: see the HTML report.", ""]
    L += ["## Runs", "", md_table(RUN_HEADER, _run_rows(runs)), ""]
    return "\n".join(L)


def _md_inline(s: str) -> str:
    """The little markdown the sentences use (**bold**, `code`) → HTML, the rest escaped."""
    parts = H.esc(s).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html(runs, summary, success, alerts, figs, c: Criteria, ignored) -> str:
    B = ["<h1>Backward vs forward: A/B report</h1>",
         f"<p>{len(runs)} runs over {len(summary)} dataset(s). Every figure is mean ± sample std (ddof=1) over runs, "
         "with n. Generated by <code>python -m hashtron_lab.report.compare</code>.</p>",
         "<h2>Success metrics (seed 000)</h2>",
         H.table(["metric", "measured", "target", "result"],
                 [[H.esc(a), H.esc(b), H.esc(t), H.verdict(p)] for a, b, t, p in _success_rows(success, c)], raw=True,
                 left=(0, 1, 2, 3))]
    B += ["<ul>" + "".join(f"<li class='note'>{_md_inline(n)}</li>" for n in _notes(success)) + "</ul>"]
    for ds, dd in summary.items():
        B.append(f"<h2>{H.esc(ds)}</h2>")
        B.append(H.table(["", f"backward (n={dd['backward']['test_accuracy']['n']})",
                          f"forward (n={dd['forward']['test_accuracy']['n']})"], _head_to_head_rows(dd)))
        lines = _dataset_lines(ds, dd)
        ratio = success["time_ratio_backward_forward"]["per_dataset"].get(ds)
        if ratio is not None:
            lines.append(f"time: backward took {ratio:.2f}× the forward wall time "
                         f"({'within' if ratio <= c.time_ratio_max else 'outside'} the {c.time_ratio_max:.2f}× target).")
        B.append("<ul>" + "".join(f"<li>{_md_inline(s)}</li>" for s in lines) + "</ul>")
    mixed = _mixed(runs) + [f"{r.name}: direction {r.direction!r} is neither backward nor forward; left out."
                            for r in ignored]
    if mixed:
        B.append("<h2>Caveats</h2><ul>" + "".join(f"<li>{H.esc(m)}</li>" for m in mixed) + "</ul>")
    B += ["<h2>Generalisation phase and capacity advice</h2>", f"<p>{H.esc(ADVICE_INTRO)}</p>",
          H.table(ADVICE_HEADER, _advice_rows(runs, success), left=(0, 1, 4, 5))]
    B.append("<h2>Plots</h2>")
    B += [H.figure(png, cap) for png, cap in figs]
    B.append("<h2>Alerts</h2><p>Replayed from each run record through the alert monitor (default thresholds). "
             "Counts per rule:</p>")
    B.append(H.table(["run", "dataset", "direction", "seed", *RULES], _alert_rows(runs, alerts), left=(1, 2)))
    first = _first_alerts(runs, alerts)
    if first:
        B.append("<ul>" + "".join(f"<li class='alert'>{H.esc(x)}</li>" for x in first) + "</ul>")
    B += ["<h2>Runs</h2>", H.table(RUN_HEADER, _run_rows(runs), left=(1, 2, 4, 5, 14))]
    return H.page("Backward vs forward: A/B report", "\n".join(B))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab.report.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories (with run.json) or folders holding them")
    ap.add_argument("--md", help="markdown report to write (e.g. reports/compare.md)")
    ap.add_argument("--html", help="self-contained HTML report to write (e.g. reports/compare.html)")
    ap.add_argument("--json", help="metrics JSON to write (e.g. reports/compare.json)")
    ap.add_argument("--plots", help="also keep the PNGs here and link them from the markdown")
    args = ap.parse_args(argv)
    if not (args.md or args.html or args.json):
        ap.error("nothing to write: give --md, --html and/or --json")
    res = build_report(args.runs, args.md, args.html, args.json, plots_dir=args.plots)
    s = res["success"]
    print(", ".join(f"{k}: {'n/a' if v.get('pass') is None else ('pass' if v['pass'] else 'FAIL')}"
                    for k, v in s.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
