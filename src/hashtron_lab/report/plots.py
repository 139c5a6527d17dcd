"""The report and dashboard figures (matplotlib, no display needed).

Figures are built with ``matplotlib.figure.Figure`` and saved by the Agg canvas: pyplot is never
imported, so no backend is switched, no window opens and nothing global changes. Each function
draws one figure from run data and writes it as a PNG to ``path``; it returns the path.
Layers are numbered from 0 as in the neuron ids ``layer.position``.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from .runs import RunData

DIRECTION_COLORS = {"backward": "#1f6fb4", "forward": "#d9711c"}
REGIME_COLORS = {"unknown": "#9e9e9e", "noisy": "#e15759", "gold": "#d4a000", "collapsed": "#4e79a7"}
GOLD_BAND = "#f3d36b"
DPI = 110


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _sqrt(x):
    return np.sqrt(np.clip(x, 0, None))


def _layer_label(layer: int, widths: Sequence[int]) -> str:
    final = " (final)" if widths and layer == len(widths) - 1 else ""
    w = f", {widths[layer]} neurons" if widths and layer < len(widths) else ""
    return f"layer {layer}{final}{w}"


def plot_timeline(run: RunData, path: str | Path) -> Path:
    """Which layer each update trained (accepted / undone), the last update starred and named."""
    fig = _figure(9, 3.4)
    ax = fig.add_subplot()
    hist = run.history
    widths = run.widths
    if not hist:
        _empty(ax, "no neuron updates recorded")
        return _save(fig, path)
    u = np.array([h.get("update", i) for i, h in enumerate(hist)])
    layer = np.array([h["layer"] for h in hist])
    acc = np.array([bool(h.get("accepted")) for h in hist])
    ax.scatter(u[~acc], layer[~acc], marker="|", s=40, color="#b0b0b0", linewidths=0.8, label="undone", rasterized=True)
    ax.scatter(u[acc], layer[acc], marker="o", s=16, color="#2a9d55", label="accepted", zorder=3, rasterized=True)
    last = hist[-1]
    ax.scatter([u[-1]], [layer[-1]], marker="*", s=260, color="#d62728", edgecolor="black", zorder=5,
               label="last update")
    ax.annotate(f"last: neuron {last.get('neuron_id', '?')} (update {u[-1]}, epoch {last.get('epoch')}, "
                f"{'accepted' if last.get('accepted') else 'undone'})",
                (u[-1], layer[-1]), xytext=(-10, 14), textcoords="offset points", ha="right", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#d62728"})
    n_layers = len(widths) if widths else int(layer.max()) + 1
    ax.set_yticks(range(n_layers), [_layer_label(i, widths) for i in range(n_layers)])
    ax.set_ylim(-0.6, n_layers - 0.4 + 0.5)
    ax.set_xlabel("neuron update")
    ax.set_title(f"Training position: layer trained at each update ({acc.sum()} of {len(hist)} accepted)")
    ax.legend(loc="lower left", fontsize=8, ncols=3, framealpha=0.9)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def latest_per_neuron(history: Sequence[Mapping]) -> dict[str, Mapping]:
    latest: dict[str, Mapping] = {}
    for h in history:
        if h.get("margin") is not None:
            latest[h.get("neuron_id") or f"{h['layer']}.{h['neuron']}"] = h
    return latest


def plot_margin_hist(run: RunData, path: str | Path) -> Path:
    """Per layer: the latest margin |S|/N of each tallied neuron, bins splitting the gold zone,
    stacked by regime; the gold zone (ε/N, τ/N) shaded."""
    widths = run.widths
    zone = run.zone
    latest = latest_per_neuron(run.history)
    by_layer: dict[int, list[Mapping]] = defaultdict(list)
    for h in latest.values():
        by_layer[int(h["layer"])].append(h)
    n_layers = len(widths) or (max(by_layer) + 1 if by_layer else 1)
    fig = _figure(max(4.0 * n_layers, 6), 3.4)
    axes = fig.subplots(1, n_layers, squeeze=False)[0]
    for layer, ax in enumerate(axes):
        recs = by_layer.get(layer, [])
        ax.set_title(_layer_label(layer, widths), fontsize=10)
        if not recs:
            _empty(ax, "no neuron tallied yet")
            continue
        N = float(np.median([r["N"] for r in recs]))
        lo, hi = zone.margin_band(N)
        edges = np.unique(np.concatenate([[0.0, lo], np.linspace(lo, hi, 11), [hi, 1.0]]))
        groups = {g: [min(1.0, float(r["margin"])) for r in recs if zone.regime(r["S"], r["N"]) == g]
                  for g in ("noisy", "gold", "collapsed")}
        ax.axvspan(lo, hi, color=GOLD_BAND, alpha=0.35, lw=0, label="gold zone")
        ax.hist([groups["noisy"], groups["gold"], groups["collapsed"]], bins=edges, stacked=True,
                color=[REGIME_COLORS[g] for g in ("noisy", "gold", "collapsed")],
                label=[f"{g} ({len(groups[g])})" for g in ("noisy", "gold", "collapsed")], edgecolor="white", lw=0.5)
        for x in (lo, hi):
            ax.axvline(x, color="#8a6d00", ls="--", lw=0.8)
        ax.set_xscale("function", functions=(_sqrt, np.square))
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0], ["0", ".01", ".05", ".1", ".2", ".4", ".6", ".8", "1"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"margin |S|/N, √ scale   (ε/N={lo:.3f}, τ/N={hi:.2f})", fontsize=9)
        w = widths[layer] if widths and layer < len(widths) else "?"
        ax.set_title(f"{_layer_label(layer, widths)}: {len(recs)} of {w} tallied", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set_ylabel("neurons")
    fig.suptitle("Margin distribution per layer (latest tally of each neuron)", fontsize=11)
    return _save(fig, path)


def plot_premodulo(run: RunData, path: str | Path, per_layer: int = 6) -> Path:
    """Premodulo trajectory of the most-trained neurons of each layer: dots coloured by regime,
    × where a clamp bound changed the value, ▽ where the throttle scaled it (α < 1)."""
    widths = run.widths
    decisions = run.decisions
    if not decisions:
        return _plot_premodulo_history(run, path)
    by_neuron: dict[str, list[Mapping]] = defaultdict(list)
    for d in decisions:
        by_neuron[d.get("neuron_id") or f"{d['layer']}.{d['pos']}"].append(d)
    layers = sorted({int(d["layer"]) for d in decisions}, reverse=True)
    fig = _figure(9.5, 2.5 * len(layers) + 0.8)
    axes = fig.subplots(len(layers), 1, squeeze=False, sharex=True)[:, 0]
    cmap = mpl.colormaps["tab10"]
    for ax, layer in zip(axes, layers):
        nids = [n for n in by_neuron if int(n.split(".")[0]) == layer]
        nids.sort(key=lambda n: (-len(by_neuron[n]), int(n.split(".")[1])))
        shown = nids[:per_layer]
        for i, nid in enumerate(shown):
            ds = by_neuron[nid]
            x = np.array([d.get("update", j) for j, d in enumerate(ds)])
            y = np.array([max(1, int(d["final"])) for d in ds], float)
            ax.scatter(x, y, c=[REGIME_COLORS.get(d.get("regime"), "#000") for d in ds], s=22, zorder=2, lw=0,
                       alpha=0.8)
            ax.plot(x, y, color=cmap(i % 10), lw=1.3, label=f"{nid} ({len(ds)})", drawstyle="steps-post", zorder=3)
            cl = np.array([bool([c for c in (d.get("clamps") or []) if c != "throttle"]) for d in ds])
            th = np.array([("throttle" in (d.get("clamps") or [])) or float(d.get("alpha", 1.0)) < 1.0 for d in ds])
            if cl.any():
                ax.scatter(x[cl], y[cl], marker="x", s=36, color="black", lw=1.2, zorder=4)
            if th.any():
                ax.scatter(x[th], y[th], marker="v", s=22, facecolor="none", edgecolor="#7b2cbf", lw=0.8, zorder=4)
        ax.set_yscale("log")
        ax.set_ylabel("premodulo")
        more = f", {len(shown)} of {len(nids)} neurons shown" if len(nids) > len(shown) else ""
        ax.set_title(f"{_layer_label(layer, widths)}{more}", fontsize=10, loc="left")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), title="neuron (decisions)",
                  title_fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("neuron update")
    handles = [Line2D([], [], marker="o", ls="", color=c, label=r) for r, c in REGIME_COLORS.items()]
    handles += [Line2D([], [], marker="x", ls="", color="black", label="clamped"),
                Line2D([], [], marker="v", ls="", markerfacecolor="none", color="#7b2cbf", label="throttled (α<1)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=6, fontsize=8)
    fig.suptitle("Premodulo trajectory per neuron: line = neuron, dots = regime of the sum the law used", fontsize=11)
    return _save(fig, path)


def _plot_premodulo_history(run: RunData, path: str | Path) -> Path:
    fig = _figure(9, 3.2)
    ax = fig.add_subplot()
    hist = run.history
    if not hist:
        _empty(ax, "no neuron updates recorded")
        return _save(fig, path)
    x = np.array([h.get("update", i) for i, h in enumerate(hist)])
    y = np.array([int(h.get("premodulo", 0)) for h in hist])
    ax.plot(x, y, color=DIRECTION_COLORS.get(run.direction, "#333"), lw=1, drawstyle="steps-post")
    if y.max() > 0:
        ax.set_yscale("symlog", linthresh=1)
    else:
        ax.text(0.5, 0.6, "premodulo 0 at every update: no premodulo step (the forward default)",
                transform=ax.transAxes, ha="center", color="#555")
    ax.set_xlabel("neuron update")
    ax.set_ylabel("premodulo (0 = none)")
    ax.set_title(f"{run.direction} pipeline: one global premodulo per step, no per-neuron capacity decisions "
                 f"(range {y.min()}..{y.max()})", fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def gold_counts(run: RunData) -> tuple[list[int], dict[int, list[int]]]:
    """Epochs (as completed-epoch numbers, like epochs.jsonl) and, per layer, how many neurons'
    latest tally was in the gold zone at the end of each epoch."""
    zone = run.zone
    widths = run.widths
    n_layers = len(widths) or (max((h["layer"] for h in run.history), default=-1) + 1)
    latest: dict[tuple[int, int], tuple[float, float]] = {}
    by_epoch: dict[int, list[Mapping]] = defaultdict(list)
    for h in run.history:
        by_epoch[int(h.get("epoch", 0))].append(h)
    xs: list[int] = []
    counts: dict[int, list[int]] = {layer: [] for layer in range(n_layers)}
    for e in range(0, (max(by_epoch) + 1) if by_epoch else 0):
        for h in by_epoch.get(e, []):
            if h.get("S") is not None and h.get("N"):
                latest[(int(h["layer"]), int(h.get("neuron", 0)))] = (float(h["S"]), float(h["N"]))
        xs.append(e + 1)
        tally = Counter(layer for (layer, _), (S, N) in latest.items() if zone.contains(S, N))
        for layer in counts:
            counts[layer].append(tally.get(layer, 0))
    return xs, counts


def plot_gold_counts(run: RunData, path: str | Path) -> Path:
    """Gold-zone neurons per layer at the end of each epoch (by each neuron's latest tally)."""
    fig = _figure(9, 3.4)
    ax = fig.add_subplot()
    xs, counts = gold_counts(run)
    widths = run.widths
    if not xs:
        _empty(ax, "no neuron updates recorded")
        return _save(fig, path)
    cmap = mpl.colormaps["tab10"]
    for layer, ys in counts.items():
        ax.plot(xs, ys, drawstyle="steps-post", color=cmap(layer % 10), lw=1.6, label=_layer_label(layer, widths))
    ax.set_xlabel("epoch")
    ax.set_ylabel("neurons in the gold zone")
    ax.set_ylim(bottom=0)
    ax.set_title("Gold-zone neuron count per layer over epochs (ε < |S| < τ on each neuron's latest tally)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def divergence_start(epochs: Sequence[int], train: Sequence[float], val: Sequence[float],
                     threshold: float) -> int | None:
    """The first epoch from which train − validation stays above ``threshold`` to the end."""
    start = None
    for e, t, v in zip(epochs, train, val):
        if t - v > threshold:
            start = e if start is None else start
        else:
            start = None
    return start


def plot_accuracy(run: RunData, path: str | Path, gap_threshold: float = 0.05, memorization: float = 0.95) -> Path:
    """Train and validation accuracy per epoch; the gap shaded red where it exceeds
    ``gap_threshold`` (divergence), the best validation epoch and the final test accuracy marked."""
    fig = _figure(9, 3.8)
    ax = fig.add_subplot()
    eps = [e for e in run.epochs if e.get("train_accuracy") is not None]
    if not eps:
        _empty(ax, "no epochs recorded")
        return _save(fig, path)
    x = np.array([e["epoch"] for e in eps], float)
    tr = np.array([e["train_accuracy"] for e in eps], float)
    ax.axhspan(0.6, 0.8, color="#2a9d55", alpha=0.07, lw=0, label="seed-000 train band 60–80 %")
    ax.axhline(memorization, color="#d62728", ls=":", lw=1, label=f"memorization alert {memorization:.0%}")
    ax.plot(x, tr, color="#333", lw=1.5, label="train")
    has_val = all(e.get("val_accuracy") is not None for e in eps)
    title = "Train vs validation accuracy"
    if has_val:
        va = np.array([e["val_accuracy"] for e in eps], float)
        ax.plot(x, va, color="#1f6fb4", lw=1.5, label="validation")
        gap = tr - va
        ax.fill_between(x, va, tr, where=gap > gap_threshold, color="#d62728", alpha=0.28, lw=0, interpolate=True,
                        label=f"divergence: train − val > {gap_threshold * 100:.0f} pp")
        ax.fill_between(x, va, tr, where=gap <= gap_threshold, color="#999", alpha=0.15, lw=0, interpolate=True)
        best = int(np.argmax(va))
        ax.axvline(x[best], color="#1f6fb4", ls="--", lw=0.8)
        ax.annotate(f"best val {va[best]:.3f}\n(epoch {int(x[best])})", (x[best], va[best]), xytext=(6, -28),
                    textcoords="offset points", fontsize=8, color="#1f6fb4")
        start = divergence_start(x, tr, va, gap_threshold)
        title += (f": diverging since epoch {int(start)} (gap now {gap[-1] * 100:.1f} pp)" if start is not None
                  else f": no lasting divergence (gap now {gap[-1] * 100:.1f} pp)")
    else:
        title += " (no validation recorded)"
    test = run.metrics.get("test_accuracy")
    if test is not None:
        ax.scatter([x[-1]], [test], marker="D", color="#7b2cbf", zorder=5, label=f"final test {test:.3f}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _cell_layout(widths: Sequence[int], rows_max: int) -> tuple[dict[tuple[int, int], tuple[float, float]], list[tuple[float, float]]]:
    """Centre of every cell (layer, pos) and the x-span of every layer's block."""
    rows = min(rows_max, max(widths))
    centres: dict[tuple[int, int], tuple[float, float]] = {}
    spans = []
    x0 = 0.0
    for layer, w in enumerate(widths):
        cols = math.ceil(w / rows)
        per_col = math.ceil(w / cols)
        pitch = rows / per_col   # a narrow layer spreads over the whole height
        for pos in range(w):
            c, r = divmod(pos, per_col)
            centres[(layer, pos)] = (x0 + c + 0.5, rows - (r + 0.5) * pitch)
        spans.append((x0, x0 + cols))
        x0 += cols + 3.0
    return centres, spans


def plot_flow(run: RunData, path: str | Path, steps: int = 14, rows_max: int = 20) -> Path:
    """The training order through the network: layers as columns (input left, final right),
    neurons as cells shaded by how often they were trained; numbered arrows follow the first
    ``steps`` updates (left panel) and the last ``steps`` (right panel)."""
    widths = run.widths
    hist = run.history
    panels = [("first", hist[:steps], 1)]
    if len(hist) > steps:
        panels.append(("last", hist[-steps:], len(hist) - steps + 1))
    rad = 0.18
    if not widths or not hist:
        fig = _figure(7, 3)
        _empty(fig.add_subplot(), "no neuron updates recorded")
        return _save(fig, path)
    centres, spans = _cell_layout(widths, rows_max)
    rows = min(rows_max, max(widths))
    scale = 6.0 / (rows + 3.6)
    fig = _figure(max(len(panels) * (spans[-1][1] + 3.0) * scale + 0.6, 6.5), 6.0 + 1.3)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    count = Counter((int(h["layer"]), int(h.get("neuron", 0))) for h in hist)
    norm = Normalize(0, max(count.values()))
    cmap = mpl.colormaps["Blues"]
    for ax, (which, seq, first_no) in zip(axes, panels):
        # one collection for the cells: thousands of single patches took ~20 s per figure
        shades = [count.get(key, 0) for key in centres]
        ax.add_collection(PatchCollection(
            [Rectangle((cx - 0.45, cy - 0.45), 0.9, 0.9) for cx, cy in centres.values()],
            facecolors=[cmap(0.08 + 0.85 * norm(n)) if n else "white" for n in shades], edgecolors="#999",
            linewidths=0.4))
        for layer, (a, b) in enumerate(spans):
            final = " (final)" if layer == len(widths) - 1 else ""
            ax.text((a + b) / 2, rows + 0.8, f"layer {layer}{final}\n{widths[layer]} neurons", ha="center",
                    va="bottom", fontsize=8)
        pts = [centres.get((int(h["layer"]), int(h.get("neuron", 0)))) for h in seq]
        for i, (h, p) in enumerate(zip(seq, pts)):
            if p is None:
                continue
            ax.add_patch(Rectangle((p[0] - 0.45, p[1] - 0.45), 0.9, 0.9, fill=False,
                                   edgecolor="#2a9d55" if h.get("accepted") else "#d62728", lw=1.6, zorder=4))
        repeats: Counter = Counter()
        for i in range(len(pts)):
            no = first_no + i
            p = pts[i]
            if p is None:
                continue
            if i == 0:
                lx, ly = p[0], p[1] + 0.9
            else:
                q = pts[i - 1]
                if q is not None and q != p and abs(q[0] - p[0]) < 1e-9 and abs(q[1] - p[1]) <= 1.01:
                    # neighbours in one column (the bootstrap walks the final layer): straight, label beside
                    ax.add_patch(FancyArrowPatch(q, p, arrowstyle="-|>", mutation_scale=9, lw=1.0, color="#444",
                                                 shrinkA=3, shrinkB=3, zorder=5))
                    lx, ly = p[0] + 0.95, (q[1] + p[1]) / 2
                elif q is not None and q != p:
                    k = repeats[(q, p)]   # the same hop again bends further, so labels do not overlap
                    repeats[(q, p)] += 1
                    r = rad + 0.3 * k
                    ax.add_patch(FancyArrowPatch(q, p, arrowstyle="-|>", mutation_scale=11, lw=1.1, color="#444",
                                                 connectionstyle=f"arc3,rad={r}", shrinkA=5, shrinkB=5, zorder=5))
                    # the midpoint of the quadratic Bézier arc3 draws (equal aspect: data ~ display)
                    lx = (q[0] + p[0]) / 2 + 0.5 * r * (p[1] - q[1])
                    ly = (q[1] + p[1]) / 2 - 0.5 * r * (p[0] - q[0])
                else:
                    lx, ly = p[0] + 0.9, p[1] + 0.6
            ax.text(lx, ly, str(no), fontsize=7, ha="center", va="center", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "#fff8d0", "ec": "#444", "lw": 0.6})
        ax.set_xlim(-1.5, spans[-1][1] + 1.5)
        ax.set_ylim(-1.0, rows + 2.6)
        ax.set_aspect("equal")
        ax.axis("off")
        label = (f"updates {first_no}–{first_no + len(seq) - 1}" + (" (start of the run)" if which == "first"
                                                                      else " (most recent)"))
        ax.set_title(label, fontsize=10)
    handles = [Patch(facecolor="white", edgecolor="#2a9d55", lw=1.6, label="trained, accepted"),
               Patch(facecolor="white", edgecolor="#d62728", lw=1.6, label="trained, undone"),
               Patch(facecolor=cmap(0.6), edgecolor="#999", label=f"shade: updates of the neuron (max {max(count.values())})")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(f"Training flow ({run.direction}): input side left, final layer right; "
                 "numbered arrows follow the order of updates", fontsize=11)
    return _save(fig, path)


# -- compare report: many runs ---------------------------------------------------------
def _by_dataset_direction(runs: Sequence[RunData]) -> dict[str, dict[str, list[RunData]]]:
    out: dict[str, dict[str, list[RunData]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        out[r.dataset][r.direction].append(r)
    return out


def plot_compare_metrics(summary: Mapping[str, Any], runs: Sequence[RunData], path: str | Path,
                         metrics: Sequence[tuple[str, str]], title: str) -> Path:
    """Bars of mean ± sample std (ddof=1) per dataset and direction, every run a dot, n under the bar."""
    datasets = [d for d in summary if d != "success"]
    groups = _by_dataset_direction(runs)
    fig = _figure(max(3.4 * len(metrics), 6), 3.8)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    dirs = ["backward", "forward"]
    width = 0.38
    for ax, (key, label) in zip(axes, metrics):
        for j, d in enumerate(dirs):
            xs = np.arange(len(datasets)) + (j - 0.5) * width
            for x, ds in zip(xs, datasets):
                s = summary[ds][d].get(key) or {}
                if s.get("mean") is None:
                    ax.text(x, 0, "no runs", rotation=90, ha="center", va="bottom", fontsize=7, color="#777")
                    continue
                ax.bar(x, s["mean"], width * 0.95, color=DIRECTION_COLORS[d], alpha=0.75,
                       yerr=s["std"] if s.get("std") is not None else None, capsize=4,
                       label=d if x == xs[0] else None)
                vals = [r.metrics.get(key) for r in groups[ds][d] if r.metrics.get(key) is not None]
                jitter = np.linspace(-width * 0.25, width * 0.25, len(vals)) if len(vals) > 1 else [0.0]
                ax.scatter(np.full(len(vals), x) + jitter, vals, s=12, color="black", zorder=3)
                ax.annotate(f"n={s['n']}", (x, 0), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7, color="white")
        ax.set_xticks(range(len(datasets)), datasets)
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles = [Patch(color=DIRECTION_COLORS[d], alpha=0.75, label=d) for d in dirs]
    handles.append(Line2D([], [], marker="o", ls="", color="black", markersize=4, label="one run"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(title + " — mean ± sample std (ddof=1)", fontsize=11)
    return _save(fig, path)


def plot_compare_curves(runs: Sequence[RunData], path: str | Path, points: int = 200) -> Path:
    """Validation (solid) and train (dashed) accuracy against neuron updates, mean over seeds with
    a ± sample-std band, per dataset and direction (epochs differ between pipelines; updates do not)."""
    groups = _by_dataset_direction(runs)
    datasets = sorted(groups)
    fig = _figure(max(4.8 * len(datasets), 7), 4.0)
    axes = fig.subplots(1, max(1, len(datasets)), squeeze=False)[0]
    for ax, ds in zip(axes, datasets):
        drawn = False
        for d in ("backward", "forward"):
            rs = [r for r in groups[ds].get(d, []) if r.epochs]
            if not rs:
                continue
            hi = min(max(e["updates"] for e in r.epochs) for r in rs)
            grid = np.linspace(0, hi, points)
            for key, ls in (("val_accuracy", "-"), ("train_accuracy", "--")):
                curves = []
                for r in rs:
                    eps = [e for e in r.epochs if e.get(key) is not None]
                    if len(eps) >= 2:
                        curves.append(np.interp(grid, [e["updates"] for e in eps], [e[key] for e in eps]))
                if not curves:
                    continue
                c = np.array(curves)
                m = c.mean(axis=0)
                ax.plot(grid, m, ls=ls, color=DIRECTION_COLORS[d], lw=1.5,
                        label=f"{d} {key.split('_')[0]} (n={len(curves)})")
                if len(curves) >= 2:
                    s = c.std(axis=0, ddof=1)
                    ax.fill_between(grid, m - s, m + s, color=DIRECTION_COLORS[d], alpha=0.15, lw=0)
                drawn = True
        if not drawn:
            _empty(ax, "no epoch records")
            continue
        ax.set_title(ds, fontsize=10)
        ax.set_xlabel("neuron updates")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Accuracy over training (solid: validation, dashed: train;\nband: ± sample std over seeds)",
                 fontsize=10)
    return _save(fig, path)


def plot_r2(points: Mapping[str, np.ndarray], fit: tuple[float, float, float] | None, path: str | Path,
            target: float = 0.7) -> Path:
    """log premodulo against log margin over the decisions, by regime, with the least-squares line."""
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot()
    x, y, reg = points["log_margin"], points["log_premodulo"], points["regime"]
    if len(x) == 0:
        _empty(ax, "no premodulo decisions with a margin > 0")
        return _save(fig, path)
    for name, color in REGIME_COLORS.items():
        m = reg == name
        if m.any():
            ax.scatter(x[m], y[m], s=7, alpha=0.35, color=color, lw=0, label=f"{name} ({m.sum()})", rasterized=True)
    if fit is not None:
        a, b, r2 = fit
        xx = np.linspace(x.min(), x.max(), 50)
        ax.plot(xx, a + b * xx, color="black", lw=1.4,
                label=f"fit: slope {b:.2f}, R² = {r2:.3f} ({'≥' if r2 > target else '<'} {target})")
    ax.set_xlabel("ln margin (S_used / N)")
    ax.set_ylabel("ln premodulo (final)")
    ax.set_title(f"Capacity adaptation over {len(x):,} decisions (backward runs)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(actual: Sequence[str], predicted: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Counts of (actual, predicted) test labels as a heat map, classes in sorted order (labels the
    model invented, e.g. an undecodable output, get their own column)."""
    rows = sorted({str(a) for a in actual})
    cols = rows + sorted({str(p) for p in predicted} - set(rows))
    m = np.zeros((len(rows), len(cols)), dtype=np.int64)
    r_of, c_of = {c: i for i, c in enumerate(rows)}, {c: i for i, c in enumerate(cols)}
    for a, p in zip(actual, predicted, strict=True):
        m[r_of[str(a)], c_of[str(p)]] += 1
    fig = _figure(1.6 + 0.42 * len(cols), 1.2 + 0.4 * len(rows))
    ax = fig.add_subplot()
    if not m.size:
        _empty(ax, "no test predictions")
        return _save(fig, path)
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=90 if max(map(len, cols)) > 3 else 0)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    right = int(np.trace(m[:, :len(rows)]))
    ax.set_title(f"{title}{': ' if title else ''}{right} of {int(m.sum())} right ({right / max(1, m.sum()):.3f})",
                 fontsize=9)
    return _save(fig, path)
