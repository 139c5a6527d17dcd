"""The 2×2×2 ablation (issue 17): order (backward | forward) × capacity control (on | off) ×
selection (gold zone | round robin), per workload and seed, so the three parts of seed 000's
claim are measured apart.

A cell is a workload's experiment config plus the cell's overrides (`cell_overrides`):

- order: backward = the experiment's own backward pipeline; forward = ``pipeline=forward``;
- capacity on = the workload's `capacity_on` overrides, else the stage's (e.g. ``capacity=support
  capacity.load_factor=0.5``; for forward also ``pipeline.capacity_control=true``: forward then
  asks the same controller per neuron); off = ``capacity=fixed``;
- selection: ``selection=gold`` / ``selection=round_robin`` (for forward also
  ``pipeline.use_selection=true``: a branch's neuron of each layer comes from that rule).

A workload of kind ``g2p`` trains a `g2p.Phonemizer` on one language's lexicon instead
(`g2p/ablation_cell.py`, on the split `g2p.data.prepare` gives: 80/10/10 by word, `n_words`
sampled with the seed): order =
its ``direction``; capacity on = ``capacity=on`` plus the workload's `capacity_on` (Phonemizer
settings as ``key=value``, e.g. ``load_factor=0.5``), off = ``capacity=off``; selection gold =
``selection=gold``, round robin = the phonemizer's own fixed order, ``selection=slot_order``
(backward: layer 1 slot by slot; forward: its uniform branches, today's forward). Its test
accuracy is the test *word* accuracy, its train accuracy the per-letter training accuracy.
A g2p workload whose lexicon package is not installed is skipped, with the message saying how
to install it (`skipped_workloads`; the stage's deps do not include the lexicon packages).

`run_ablation` trains every (workload, cell, seed) — in `n_jobs` processes sharing the cores —
and returns one record per (workload, cell): test accuracy mean ± sample std over seeds, train
accuracy, model bytes, fit seconds. `write_outputs` writes metrics/ablation.json and the
report (reports/ablation.md, .html, .png).
"""
from __future__ import annotations

import itertools
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .settings import SettingError, check_fields, one_of, ranged


KINDS = ("experiment", "g2p")


@dataclass
class Workload:
    name: str = "digits"
    experiment: str = "ntuple_digits"                          # conf/experiment/<name>.yaml (kind experiment)
    overrides: list[str] = field(default_factory=list)         # composed after the experiment (g2p: key=value
    #                                                            Phonemizer settings of every cell)
    capacity_on: list[str] = field(default_factory=list)       # the "on" cells' overrides; [] = the stage's
    #                                                            (g2p: key=value Phonemizer settings)
    kind: str = one_of("experiment", KINDS)                    # g2p: a Phonemizer on `language`'s lexicon
    language: str = ""                                         # g2p: the gruut lexicon's language code
    n_words: int | None = ranged(20000, 3, integer=True, optional=True, note="null = every word")  # g2p

    def __post_init__(self):
        check_fields(self)
        if self.kind == "g2p" and not self.language:
            raise SettingError("language", self.language, "a gruut language code (python -m hashtron_lab.g2p "
                               "languages lists the installed ones)", problem="is empty for a g2p workload")


@dataclass
class AblationConfig:
    """The settings tree's `ablation` group: every workload's experiment with each cell's
    overrides, for every seed (conf/ablation/: digits | full)."""

    workloads: list[Workload] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    capacity_on: list[str] = field(default_factory=lambda: ["capacity=support"])  # for workloads naming none
    forward_budget_factor: float = ranged(3.0, 0, lo_open=True)  # forward cells: this times the update budget
    forward_validation_every: int = ranged(50, 1, integer=True)  # forward cells: validate every this many epochs
    n_jobs: int = ranged(2, 1, integer=True)                     # cells trained in parallel processes

    def __post_init__(self):
        check_fields(self)


ORDERS = ("backward", "forward")
CAPACITY = ("on", "off")
SELECTIONS = ("gold", "round_robin")


def cells() -> list[dict]:
    """The eight cells, in report order."""
    return [{"order": o, "capacity": c, "selection": s} for o, c, s in itertools.product(ORDERS, CAPACITY, SELECTIONS)]


def cell_overrides(cell: Mapping[str, str], capacity_on: Sequence[str]) -> list[str]:
    """Hydra overrides that turn a workload's experiment into `cell`."""
    forward = cell["order"] == "forward"
    out = ["pipeline=forward"] if forward else []
    out += list(capacity_on) if cell["capacity"] == "on" else ["capacity=fixed"]
    out.append(f"selection={cell['selection']}")
    if forward:
        out.append(f"pipeline.capacity_control={'true' if cell['capacity'] == 'on' else 'false'}")
        out.append("pipeline.use_selection=true")
    return out


def cell_config(workload: Workload, cell: Mapping[str, str], seed: int, settings: AblationConfig,
                config_dir: str | None = None):
    """The composed, checked settings of one (workload, cell, seed). Forward cells get
    ``forward_budget_factor`` times the experiment's update budget (a forward branch trains one
    neuron per layer, so the same budget trains fewer of a wide layer's neurons) and validate
    every ``forward_validation_every`` epochs (a forward epoch is one branch: validating after
    each one costs a full pass over the validation rows every two updates)."""
    from .config_schema import load_config

    overrides = [f"experiment={workload.experiment}", *workload.overrides,
                 *cell_overrides(cell, workload.capacity_on or settings.capacity_on), f"seed={int(seed)}",
                 "tracking=none", "run.progress=false"]
    if cell["order"] == "forward":
        overrides.append(f"run.validation.every_epochs={settings.forward_validation_every}")
    cfg = load_config(overrides, config_dir)
    if cell["order"] == "forward" and cfg.budget.max_updates is not None:
        cfg.budget.max_updates = int(math.ceil(cfg.budget.max_updates * settings.forward_budget_factor))
    return cfg


def skipped_workloads(settings: AblationConfig) -> dict[str, str]:
    """{workload name: why it is skipped} for the workloads that cannot run here."""
    from .g2p.ablation_cell import skip_reason

    return {w.name: r for w in settings.workloads if (r := skip_reason(w)) is not None}


def run_cell(workload: Workload, cell: Mapping[str, str], seed: int, settings: AblationConfig,
             config_dir: str | None = None) -> dict:
    """Train one (workload, cell, seed); its measurements."""
    if workload.kind == "g2p":
        from .g2p.ablation_cell import run_g2p_cell

        return run_g2p_cell(workload, cell, seed)
    from .experiment import run_experiment
    from .model.files import dumps_model

    cfg = cell_config(workload, cell, seed, settings, config_dir)
    t0 = time.perf_counter()
    res = run_experiment(cfg)
    m = res.metrics
    premodulos = [h["premodulo"] for h in res.run.history]
    return {"workload": workload.name, **cell, "seed": int(seed),
            "test_accuracy": float(m["test_accuracy"]), "train_accuracy": float(m["train_accuracy"]),
            "val_accuracy": float(m["val_accuracy"]), "model_bytes": len(dumps_model(res.net)),
            "fit_seconds": float(m["wall_seconds"]), "session_seconds": time.perf_counter() - t0,
            "updates": int(m["updates"]), "decisions": len(res.run.decisions),
            "premodulo_median": float(np.median(premodulos)) if premodulos else 0.0}


def _call(args):
    return run_cell(*args)


def _share(n: int) -> None:
    from .kernels import share_cores

    share_cores(n)


def run_ablation(settings: AblationConfig, config_dir: str | None = None, log=print) -> list[dict]:
    """Every (workload, cell, seed) trained, ``n_jobs`` at a time; the per-seed measurements, in a
    fixed order."""
    skipped = skipped_workloads(settings)
    for name, why in skipped.items():
        log(f"ablation: workload {name} {why}")
    jobs = [(w, c, s, settings, config_dir) for w in settings.workloads if w.name not in skipped
            for c in cells() for s in settings.seeds]
    if not jobs:
        return []
    n = max(1, min(settings.n_jobs, len(jobs), os.cpu_count() or 1))
    out: list[dict] = []
    if n == 1:
        for j in jobs:
            out.append(_call(j))
            log(_line(out[-1]))
        return out
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"), initializer=_share, initargs=(n,)) as pool:
        for rec in pool.map(_call, jobs):
            out.append(rec)
            log(_line(rec))
    return out


def stage() -> None:
    """Stage `ablation` (dvc.yaml): the `ablation` settings of params.yaml -> metrics/ablation.json,
    reports/ablation.{md,html,png}. Each cell composes `conf/` (the workload's experiment plus the
    cell's overrides), so the stage depends on conf/ as a whole."""
    from .stages.common import load_params, say

    a = load_params().ablation
    say(f"ablation: {len(a.workloads)} workloads x 8 cells x {len(a.seeds)} seeds")
    doc = write_outputs(run_ablation(a, log=say), "metrics/ablation.json", "reports/ablation.md", a)
    for w, e in doc["effects"].items():
        say(f"{w}: backward-forward {e['backward_minus_forward']:+.4f}, capacity on-off {e['capacity_on_minus_off']:+.4f}, "
            f"gold-round robin {e['gold_minus_round_robin']:+.4f}, bytes on/off {e['capacity_on_bytes_ratio']:.2f}")


def _line(r: Mapping) -> str:
    return (f"{r['workload']:>8} {r['order']:>8} capacity {r['capacity']:>3} {r['selection']:>11} seed {r['seed']}: "
            f"test {r['test_accuracy']:.4f} train {r['train_accuracy']:.4f} {r['model_bytes']} B "
            f"{r['fit_seconds']:.1f} s")


def aggregate(per_seed: Sequence[Mapping]) -> list[dict]:
    """One record per (workload, cell): the schema of metrics/ablation.json."""
    from .report.runs import mean_std

    out = []
    keys = []
    for r in per_seed:
        k = (r["workload"], r["order"], r["capacity"], r["selection"])
        if k not in keys:
            keys.append(k)
    for w, o, c, s in keys:
        rs = [r for r in per_seed if (r["workload"], r["order"], r["capacity"], r["selection"]) == (w, o, c, s)]
        out.append({"workload": w, "order": o, "capacity": c, "selection": s,
                    "test_accuracy": mean_std([r["test_accuracy"] for r in rs]),
                    "train_accuracy": mean_std([r["train_accuracy"] for r in rs]),
                    "val_accuracy": mean_std([r["val_accuracy"] for r in rs]),
                    "model_bytes": mean_std([r["model_bytes"] for r in rs]),
                    "fit_seconds": mean_std([r["fit_seconds"] for r in rs]),
                    "seeds": [r["seed"] for r in rs]})
    return out


def effects(records: Sequence[Mapping]) -> dict:
    """Per workload, each factor's main effect on mean test accuracy (level A minus level B,
    averaged over the other two factors) and capacity on/off's model-bytes ratio."""
    out: dict[str, dict] = {}
    for w in sorted({r["workload"] for r in records}):
        rs = [r for r in records if r["workload"] == w]

        def mean_of(key, level, metric="test_accuracy"):
            vals = [r[metric]["mean"] for r in rs if r[key] == level and r[metric]["mean"] is not None]
            return float(np.mean(vals)) if vals else None

        def diff(key, a, b):
            x, y = mean_of(key, a), mean_of(key, b)
            return None if x is None or y is None else x - y

        on_b, off_b = mean_of("capacity", "on", "model_bytes"), mean_of("capacity", "off", "model_bytes")
        out[w] = {"backward_minus_forward": diff("order", "backward", "forward"),
                  "capacity_on_minus_off": diff("capacity", "on", "off"),
                  "gold_minus_round_robin": diff("selection", "gold", "round_robin"),
                  "capacity_on_bytes_ratio": (on_b / off_b) if on_b and off_b else None}
    return out


def _fmt(ms: Mapping, digits: int = 3, scale: float = 1.0) -> str:
    if ms.get("mean") is None:
        return "—"
    m = ms["mean"] * scale
    if ms.get("std") is None:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {ms['std'] * scale:.{digits}f}"


def table_rows(records: Sequence[Mapping]) -> list[list[str]]:
    return [[r["workload"], r["order"], r["capacity"], r["selection"], _fmt(r["test_accuracy"]),
             _fmt(r["train_accuracy"]), f"{r['model_bytes']['mean'] / 1000:.0f} kB", _fmt(r["fit_seconds"], 1)]
            for r in records]


HEADER = ["workload", "order", "capacity", "selection", "test accuracy", "train accuracy", "model", "fit s"]


def write_outputs(per_seed: Sequence[Mapping], metrics_path: str | os.PathLike, report_md: str | os.PathLike,
                  settings: AblationConfig) -> dict:
    """metrics/ablation.json, reports/ablation.md, .html and .png; returns the JSON written."""
    from .settings import to_mapping

    records = aggregate(per_seed)
    eff = effects(records)
    skipped = skipped_workloads(settings)
    intro = settings_line(settings) + "".join(f" Workload {n} {why}" for n, why in skipped.items())
    doc = {"cells": records, "effects": eff, "settings": to_mapping(settings), "intro": intro,
           "per_seed": list(per_seed), "skipped": skipped}
    mp = Path(metrics_path)
    mp.parent.mkdir(parents=True, exist_ok=True)
    mp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    md = Path(report_md)
    md.parent.mkdir(parents=True, exist_ok=True)
    png = md.with_suffix(".png")
    _plot(records, png)
    md.write_text("\n".join(["# Ablation: order × capacity control × selection", "",
                              *report_lines(doc), "",
                              f"![test accuracy per cell]({png.name})", ""]), encoding="utf-8")
    from .report.html import figure, page

    body = ("<h1>Ablation: order × capacity control × selection</h1>" + report_html(doc)
            + figure(png, "Test accuracy per cell (mean ± sample std over seeds)"))
    md.with_suffix(".html").write_text(page("Ablation", body), encoding="utf-8")
    return doc


def _capacity_on_text(w: Workload, settings: AblationConfig) -> str:
    if w.kind == "g2p":
        return " ".join(["Phonemizer capacity=on", *w.capacity_on]) + f" ({w.language}, test = word accuracy)"
    return " ".join(w.capacity_on or settings.capacity_on)


def settings_line(settings: AblationConfig) -> str:
    return ("Capacity on = " + "; ".join(f"{w.name}: `{_capacity_on_text(w, settings)}`"
                                         for w in settings.workloads)
            + f"; seeds {settings.seeds}; test accuracy and fit seconds as mean ± sample std (ddof = 1) over seeds.")


def _effect_rows(eff: Mapping[str, Mapping]) -> list[list[str]]:
    return [[w, *[("—" if e[k] is None else f"{100 * e[k]:+.2f}") for k in
                  ("backward_minus_forward", "capacity_on_minus_off", "gold_minus_round_robin")],
             "—" if e["capacity_on_bytes_ratio"] is None else f"{e['capacity_on_bytes_ratio']:.2f}"]
            for w, e in eff.items()]


EFFECTS_HEADER = ["workload", "backward − forward", "capacity on − off", "gold − round robin", "model bytes on / off"]


def report_lines(doc: Mapping) -> list[str]:
    """The ablation's markdown body (cells, main effects) from metrics/ablation.json's content:
    its own report and the section the compare report carries."""
    lines = [doc.get("intro", ""), "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(doc["cells"])]
    lines += ["", "Main effects on test accuracy (points, averaged over the other two factors):", "",
              "| " + " | ".join(EFFECTS_HEADER) + " |", "|" + "---|" * len(EFFECTS_HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in _effect_rows(doc["effects"])]
    return lines


def report_html(doc: Mapping) -> str:
    from .report.html import esc, table

    return (f"<p>{esc(doc.get('intro', ''))}</p>" + table(HEADER, table_rows(doc["cells"]))
            + "<h2>Main effects on test accuracy (points)</h2>" + table(EFFECTS_HEADER, _effect_rows(doc["effects"])))


def _plot(records: Sequence[Mapping], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = sorted({r["workload"] for r in records}) or ["(no workload ran)"]
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 3.8), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        rs = [r for r in records if r["workload"] == w]
        if not rs:
            ax.set_title(w)
            continue
        labels = [f"{r['order'][:3]}\n{'cap' if r['capacity'] == 'on' else 'off'}\n{'gold' if r['selection'] == 'gold' else 'rr'}"
                  for r in rs]
        means = [r["test_accuracy"]["mean"] for r in rs]
        errs = [r["test_accuracy"]["std"] or 0.0 for r in rs]
        colors = ["#3465a4" if r["order"] == "backward" else "#c17d11" for r in rs]
        ax.bar(range(len(rs)), means, yerr=errs, color=colors, capsize=3)
        ax.set_xticks(range(len(rs)), labels, fontsize=7)
        lo = min(m - e for m, e in zip(means, errs))
        ax.set_ylim(max(0.0, math.floor(lo * 50) / 50 - 0.02), 1.0)
        ax.set_title(w)
        ax.set_ylabel("test accuracy")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
