"""Every report and dashboard plot renders to a PNG file without a display, on backward,
forward and empty runs; the numbers behind the gold-zone and divergence plots are right."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from hashtron_lab.report import plots
from hashtron_lab.report.runs import RunData

MODEL = {"layers": [{"type": "hashtron", "neurons": 6}, {"type": "parity"}, {"type": "hashtron", "neurons": 2}]}
N = 100   # ε = 10, τ = 80


def backward_run(sweeps: int = 8) -> RunData:
    rng = np.random.default_rng(0)
    hist, decs, epochs = [], [], []
    u = 0

    def add(layer, pos, epoch, phase, S):
        nonlocal u
        prem = max(1, round((N / (abs(S) + 1)) ** 2))
        clamps = ["clamp"] if u % 7 == 3 else (["throttle"] if u % 11 == 5 else [])
        regime = "collapsed" if abs(S) >= 80 else ("noisy" if abs(S) <= 10 else "gold")
        hist.append({"update": u, "epoch": epoch, "layer": layer, "neuron": pos, "neuron_id": f"{layer}.{pos}",
                     "S": S, "N": N, "margin": abs(S) / N, "premodulo": prem, "accepted": bool(u % 3),
                     "train_accuracy": 0.3 + 0.04 * epoch, "phase": phase})
        decs.append({"update": u, "epoch": epoch, "layer": layer, "pos": pos, "neuron_id": f"{layer}.{pos}", "S": S,
                     "S_used": abs(S), "N": N, "margin": None if phase == "bootstrap" else abs(S) / N,
                     "regime": "unknown" if phase == "bootstrap" else regime, "final": prem, "raw": prem,
                     "previous": 0, "clamps": clamps, "alpha": 0.5 if "throttle" in clamps else 1.0,
                     "oscillating": False, "phase": phase})
        u += 1

    add(1, 0, 0, "bootstrap", 90)
    add(1, 1, 0, "bootstrap", 5)
    epochs.append({"epoch": 1, "updates": u, "train_accuracy": 0.3, "val_accuracy": 0.28})
    for e in range(1, sweeps + 1):
        add(1, e % 2, e, "backward", int(rng.integers(-60, 60)))
        for _ in range(2):
            add(0, int(rng.integers(0, 6)), e, "backward", int(rng.integers(-70, 70)))
        epochs.append({"epoch": e + 1, "updates": u, "train_accuracy": min(0.95, 0.3 + 0.08 * e),
                       "val_accuracy": 0.28 + 0.01 * e})
    info = {"dataset": "toy", "direction": "backward", "seed": 0, "architecture": "tiny", "phase": "debug",
            "metrics": {"test_accuracy": 0.33}, "params": {"model": MODEL}}
    return RunData(None, info, hist, epochs, decs)


def forward_run() -> RunData:
    hist = [{"update": i, "epoch": i // 2, "layer": i % 2, "neuron": i % 3, "neuron_id": f"{i % 2}.{i % 3}", "S": 30,
             "N": N, "margin": 0.3, "premodulo": 0, "accepted": i % 2 == 0, "train_accuracy": 0.4, "phase": "forward"}
            for i in range(12)]
    epochs = [{"epoch": e + 1, "updates": 2 * (e + 1), "train_accuracy": 0.4, "val_accuracy": 0.35} for e in range(6)]
    return RunData(None, {"direction": "forward", "dataset": "toy", "params": {"model": MODEL}, "metrics": {}}, hist,
                   epochs, [])


def empty_run() -> RunData:
    return RunData(None, {"direction": "backward", "dataset": "toy", "metrics": {}})


DASHBOARD = [plots.plot_timeline, plots.plot_margin_hist, plots.plot_premodulo, plots.plot_gold_counts,
             plots.plot_accuracy, plots.plot_flow]


def png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("make", [backward_run, forward_run, empty_run], ids=["backward", "forward", "empty"])
@pytest.mark.parametrize("fn", DASHBOARD, ids=lambda f: f.__name__)
def test_dashboard_plots_render(tmp_path, make, fn):
    out = fn(make(), tmp_path / "sub" / "p.png")
    w, h = png_size(out)
    assert w > 300 and h > 150


def test_compare_plots_render(tmp_path):
    runs = [backward_run(), forward_run()]
    for r, seed in zip(runs, (0, 1)):
        r.info["metrics"].update({"test_accuracy": 0.3 + 0.1 * seed, "wall_seconds": 2.0})
    from hashtron_lab.report.compare import r2_points, summarize

    summary = summarize(runs)
    png_size(plots.plot_compare_metrics(summary, runs, tmp_path / "a.png", [("test_accuracy", "test")], "t"))
    png_size(plots.plot_compare_curves(runs, tmp_path / "c.png"))
    pts = r2_points(runs[0].decisions)
    png_size(plots.plot_r2(pts, (1.0, -2.0, 0.9), tmp_path / "r.png"))
    png_size(plots.plot_r2(r2_points([]), None, tmp_path / "r0.png"))


def test_gold_counts_by_hand():
    hist = [{"epoch": 0, "layer": 1, "neuron": 0, "S": 50, "N": N},     # gold
            {"epoch": 0, "layer": 0, "neuron": 0, "S": 5, "N": N},      # noisy
            {"epoch": 1, "layer": 0, "neuron": 0, "S": 40, "N": N},     # now gold
            {"epoch": 1, "layer": 0, "neuron": 1, "S": -30, "N": N},    # gold (|S|)
            {"epoch": 3, "layer": 1, "neuron": 0, "S": 85, "N": N}]     # collapsed
    run = RunData(None, {"params": {"model": MODEL}}, hist)
    xs, counts = plots.gold_counts(run)
    assert xs == [1, 2, 3, 4]
    assert counts == {0: [0, 2, 2, 2], 1: [1, 1, 1, 0]}
    run.info["params"]["gold_zone"] = {"eps_factor": 4.0}   # ε = 40: |S| = 40 and 30 are not above it
    assert plots.gold_counts(run)[1] == {0: [0, 0, 0, 0], 1: [1, 1, 1, 0]}


def test_divergence_start():
    e = [1, 2, 3, 4, 5]
    assert plots.divergence_start(e, [0.5, 0.7, 0.6, 0.8, 0.9], [0.5, 0.5, 0.58, 0.6, 0.6], 0.05) == 4
    assert plots.divergence_start(e, [0.5] * 5, [0.5] * 5, 0.05) is None


def test_renders_headless_without_pyplot(tmp_path):
    """In a fresh interpreter with no display: files written, pyplot never imported."""
    code = (
        "import sys, json\n"
        "from hashtron_lab.report import plots\n"
        "from hashtron_lab.report.runs import RunData\n"
        f"r = RunData(None, {{'params': {{'model': {json.dumps(MODEL)}}}}}, "
        "[{'update': 0, 'epoch': 0, 'layer': 1, 'neuron': 0, 'neuron_id': '1.0', 'S': 40, 'N': 100, 'margin': 0.4,"
        " 'premodulo': 36, 'accepted': True, 'train_accuracy': 0.5}],"
        " [{'epoch': 1, 'updates': 1, 'train_accuracy': 0.5, 'val_accuracy': 0.4}])\n"
        f"for fn in (plots.plot_timeline, plots.plot_flow, plots.plot_accuracy):\n"
        f"    fn(r, {str(tmp_path)!r} + '/' + fn.__name__ + '.png')\n"
        "print(json.dumps({'pyplot': 'matplotlib.pyplot' in sys.modules}))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"pyplot": False}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot_accuracy.png", "plot_flow.png", "plot_timeline.png"]
