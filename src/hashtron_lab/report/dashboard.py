"""A static dashboard per run: one self-contained HTML page of plots built from its run record.

    python -m hashtron_lab.report.dashboard RUN_DIR --out reports/dashboard/<run>.html \\
        [--plots DIR] [--mlflow-run-id ID [--tracking-uri URI]]

Panels: the current (last) layer and neuron trained and the run's status; training position
per update; margin distribution per layer over the gold-zone band; premodulo trajectory per
neuron with regime colours and clamp markers; gold-zone neuron count per layer over epochs;
train vs validation accuracy with the divergence shaded; the training flow through the network
(layers as columns, neurons as cells, numbered arrows in the order of training); the alerts; the
capacity advice per layer (report/advice.py).

The PNGs are written to ``plots_dir`` (default: ``<out stem>_plots/`` beside the page) so the
same files can be logged to MLflow (:func:`log_to_mlflow`) and declared as DVC plots.
:class:`LiveDashboard` is a Hooks sink that rebuilds the page during a run.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..track.alerts import RULES, alerts_from_record
from . import html as H
from . import plots
from .runs import RunData, fmt_num, fmt_seconds

#: (file stem, plot function, caption) in page order.
PANELS = (
    ("timeline", plots.plot_timeline,
     "Training position: the layer trained at every neuron update (green = accepted, grey = undone); the star is "
     "the last (current) update."),
    ("margins", plots.plot_margin_hist,
     "Margin |S|/N of each neuron's latest tally, per layer: bins split the gold zone (shaded, ε/N to τ/N), bars "
     "stacked by regime (noisy red, gold yellow, collapsed blue)."),
    ("premodulo", plots.plot_premodulo,
     "Premodulo trajectory of the most-trained neurons of each layer: the line follows one neuron, dots give the "
     "regime of the sum the capacity law used, × marks a clamped value, ▽ a throttled one."),
    ("gold_zone", plots.plot_gold_counts,
     "Gold-zone neurons per layer at the end of each epoch (ε < |S| < τ on each neuron's latest tally)."),
    ("accuracy", plots.plot_accuracy,
     "Train vs validation accuracy per epoch; red where train exceeds validation by more than 5 pp (divergence); "
     "dashed: best validation epoch; diamond: final test accuracy."),
    ("flow", plots.plot_flow,
     "Training flow: layers as columns (input left, final right), neurons as cells shaded by how often they were "
     "trained; numbered arrows follow the first and the most recent updates."),
)


def render(run: RunData, out_html: str | os.PathLike, plots_dir: str | os.PathLike | None = None,
           alert_config: Mapping[str, Any] | None = None, refresh_seconds: int | None = None) -> list[Path]:
    """Write the page for an in-memory run; returns the PNG paths."""
    out_html = Path(out_html)
    pdir = Path(plots_dir) if plots_dir else out_html.with_name(out_html.stem + "_plots")
    pdir.mkdir(parents=True, exist_ok=True)
    pngs = [fn(run, pdir / f"{stem}.png") for stem, fn, _ in PANELS]
    alerts = alerts_from_record(run.record(), alert_config)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(out_html.name + ".tmp")
    tmp.write_text(_page(run, pngs, alerts, refresh_seconds))
    os.replace(tmp, out_html)
    return pngs


def build_dashboard(run_dir: str | os.PathLike, out_html: str | os.PathLike,
                    plots_dir: str | os.PathLike | None = None,
                    alert_config: Mapping[str, Any] | None = None) -> list[Path]:
    """The dashboard of the run record in ``run_dir``; returns the PNG paths."""
    return render(RunData.load(run_dir), out_html, plots_dir, alert_config)


def _status(run: RunData) -> str:
    m = run.metrics
    last = run.history[-1] if run.history else {}
    cards = [
        ("current / last neuron", f"{last.get('neuron_id', '—')} (layer {last.get('layer', '—')})"),
        ("last update", f"#{last.get('update', '—')}, epoch {last.get('epoch', '—')}, "
                        f"{'accepted' if last.get('accepted') else 'undone'}" if last else "—"),
        ("premodulo / margin", f"{fmt_num(last.get('premodulo'))} / {fmt_num(last.get('margin'))}" if last else "—"),
        ("updates (accepted)", f"{len(run.history):,} ({sum(1 for h in run.history if h.get('accepted')):,})"),
        ("epochs", fmt_num(sum(1 for e in run.epochs if not e.get("final")))),
        ("train / val / test", " / ".join(fmt_num(m.get(k)) for k in ("train_accuracy", "val_accuracy", "test_accuracy"))),
        ("wall time", fmt_seconds(m.get("wall_seconds") if m.get("wall_seconds") is not None
                                  else (run.epochs[-1].get("wall") if run.epochs else None))),
        ("stop reason", str(m.get("stop_reason") or "running")),
    ]
    return "<div class='cards'>" + "".join(f"<div class='card'>{H.esc(k)}<b>{H.esc(v)}</b></div>" for k, v in cards) + "</div>"


def _advice(run: RunData) -> str:
    """Per layer: premodulo too small / too large / ok, with the reason (report/advice.py), and
    the epoch after which training rose while validation did not."""
    from .advice import generalisation_phase, run_advice

    adv = run_advice(run)
    phase = generalisation_phase(run.epochs, run.decisions)
    when = (f"training kept rising after epoch {phase['epoch']} while validation did not (the generalisation "
            f"phase ended there)" if phase["detected"] else "no epoch after which training rose and validation did not")
    if not adv:
        return f"<p>No capacity decisions in this run; {H.esc(when)}.</p>"
    rows = [[a["layer"], a["verdict"], a["reason"]] for a in adv]
    return H.table(["layer", "premodulo", "why"], rows, left=(2,)) + f"<p class='note'>{H.esc(when)}.</p>"


def _page(run: RunData, pngs: Sequence[Path], alerts: list[dict], refresh_seconds: int | None) -> str:
    title = f"Run {run.name}: {run.direction} on {run.dataset}"
    B = [f"<h1>{H.esc(title)}</h1>",
         f"<p class='note'>seed {H.esc(run.seed)} · architecture {H.esc(run.architecture)} "
         f"({H.esc(' → '.join(str(w) for w in run.widths))} neurons) · phase {H.esc(run.phase)}"
         + (f" · record {H.esc(run.path)}" if run.path else "") + "</p>",
         "<h2>Status</h2>", _status(run)]
    skips = run.info.get("skips") or []
    if skips:
        B.append(f"<p class='note'>{len(skips)} forward skip(s) (a layer with no accepted update after its attempts); "
                 f"last: epoch {H.esc(skips[-1].get('epoch'))}, layer {H.esc(skips[-1].get('layer'))}: "
                 f"{H.esc(skips[-1].get('reason'))}.</p>")
    B.append(f"<h2>Alerts ({len(alerts)})</h2>")
    if alerts:
        counts = [[rule, sum(1 for a in alerts if a["kind"] == rule),
                   next((a["message"] for a in alerts if a["kind"] == rule), "")] for rule in RULES]
        B.append(H.table(["rule", "alerts", "first"], counts, left=(2,)))
        rows = [[a["kind"], a.get("epoch", ""), a.get("neuron_id", a.get("layer", "")), a["message"]] for a in alerts]
        B.append(f"<details><summary>all {len(alerts)} alerts</summary>"
                 + H.table(["rule", "epoch", "where", "message"], rows, left=(3,)) + "</details>")
    else:
        B.append("<p>None.</p>")
    B.append("<h2>Capacity advice</h2>")
    B.append(_advice(run))
    for (stem, _, caption), png in zip(PANELS, pngs):
        B.append(f"<h2>{H.esc(stem.replace('_', ' ').capitalize())}</h2>")
        B.append(H.figure(png, caption))
    return H.page(title, "\n".join(B), refresh_seconds)


def log_to_mlflow(pngs: Sequence[str | os.PathLike], html_path: str | os.PathLike | None = None,
                  run_id: str | None = None, tracking_uri: str | None = None,
                  artifact_path: str = "dashboard") -> None:
    """Log the dashboard PNGs (and the page) as MLflow artifacts under ``artifact_path``: to the
    active run, or to ``run_id`` (through `track.mlflow_sink`, which owns the MLflow calls)."""
    from ..track.mlflow_sink import log_artifacts

    files = [str(p) for p in pngs] + ([str(html_path)] if html_path else [])
    log_artifacts(files, artifact_path, run_id=run_id, tracking_uri=tracking_uri)


class LiveDashboard:
    """A Hooks sink that keeps the run's records in memory and rewrites the page every
    ``every_epochs`` epochs and at run end (the page reloads itself every ``refresh_seconds``)."""

    def __init__(self, out_html: str | os.PathLike, info: Mapping[str, Any] | None = None,
                 plots_dir: str | os.PathLike | None = None, every_epochs: int = 10, refresh_seconds: int = 30,
                 alert_config: Mapping[str, Any] | None = None):
        self.out_html, self.plots_dir = Path(out_html), plots_dir
        self.every, self.refresh, self.alert_config = max(1, int(every_epochs)), refresh_seconds, alert_config
        self.run = RunData(None, dict(info or {}))
        self.pngs: list[Path] = []

    def __call__(self, kind: str, payload: dict) -> None:
        if kind == "update":
            self.run.history.append(dict(payload))
        elif kind == "decision":
            self.run.decisions.append(dict(payload))
        elif kind == "skip":
            self.run.info.setdefault("skips", []).append(dict(payload))
        elif kind == "run_start" and payload.get("architecture"):
            params = self.run.info.setdefault("params", {})
            params.setdefault("model", payload["architecture"])
            self.run.info.setdefault("direction", payload.get("pipeline"))
            self.run.info.setdefault("seed", payload.get("seed"))
        elif kind in ("epoch", "final"):
            self.run.epochs.append(dict(payload))
            if len(self.run.epochs) % self.every == 0:
                self.refresh_page()
        elif kind == "run_end":
            self.refresh_page(final=True)

    def refresh_page(self, final: bool = False) -> list[Path]:
        self.pngs = render(self.run, self.out_html, self.plots_dir, self.alert_config,
                           None if final else self.refresh)
        return self.pngs


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab.report.dashboard", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="a run directory (run.json + history/epochs/decisions .jsonl)")
    ap.add_argument("--out", required=True, help="HTML page to write")
    ap.add_argument("--plots", help="folder for the PNGs (default: <out stem>_plots beside the page)")
    ap.add_argument("--mlflow-run-id", help="also log the PNGs and the page to this MLflow run")
    ap.add_argument("--tracking-uri", help="MLflow tracking URI (with --mlflow-run-id)")
    args = ap.parse_args(argv)
    pngs = build_dashboard(args.run_dir, args.out, args.plots)
    if args.mlflow_run_id:
        log_to_mlflow(pngs, args.out, run_id=args.mlflow_run_id, tracking_uri=args.tracking_uri)
    print(f"wrote {args.out} and {len(pngs)} plots in {Path(pngs[0]).parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
