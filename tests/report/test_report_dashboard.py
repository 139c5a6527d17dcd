"""The per-run dashboard: a self-contained page with every plot, from a record on disk or live
from events, logged to MLflow; and both report pages rendered by headless Chromium with every
image decoded and no console errors."""
from __future__ import annotations

import re
import sys
import types

import pytest

from hashtron_lab.report import dashboard
from chromium_check import find_chromium
from hashtron_lab.report.compare import build_report
from hashtron_lab.report.dashboard import PANELS, LiveDashboard, build_dashboard, log_to_mlflow
from hashtron_lab.track.alerts import events_of_record
from hashtron_lab.track.records import read_run_record, write_run_record

MODEL = {"name": "tiny", "layers": [{"type": "hashtron", "neurons": 8}, {"type": "parity"},
                                    {"type": "hashtron", "neurons": 3}]}
N = 200


def record(direction: str, seed: int, sweeps: int = 10) -> tuple[dict, list, list, list]:
    hist, decs, epochs = [], [], []

    def add(layer, pos, epoch, phase, S):
        u = len(hist)
        prem = 0 if direction == "forward" else max(1, round((N / (abs(S) + 1)) ** 2))
        hist.append({"update": u, "epoch": epoch, "layer": layer, "neuron": pos, "neuron_id": f"{layer}.{pos}",
                     "S": S, "N": N, "margin": abs(S) / N, "premodulo": prem, "accepted": u % 3 != 1,
                     "train_accuracy": min(0.97, 0.3 + 0.07 * epoch), "phase": phase, "reason": "not_worse"})
        if direction == "backward":
            decs.append({"update": u, "epoch": epoch, "layer": layer, "pos": pos, "neuron_id": f"{layer}.{pos}",
                         "S": S, "S_used": abs(S), "N": N, "margin": None if phase == "bootstrap" else abs(S) / N,
                         "regime": "unknown" if phase == "bootstrap" else "gold", "final": prem, "raw": prem,
                         "previous": 0, "clamps": ["clamp"] if u % 5 == 0 else [], "alpha": 1.0,
                         "oscillating": u == 9, "phase": phase, "accepted": True})

    if direction == "backward":
        for p in range(3):
            add(1, p, 0, "bootstrap", 150 - 40 * p)
        epochs.append({"epoch": 1, "updates": len(hist), "train_accuracy": 0.3, "val_accuracy": 0.3})
    for e in range(1, sweeps + 1):
        order = (1, 0, 0) if direction == "backward" else (0, 1)
        for i, layer in enumerate(order):
            add(layer, (e + i + seed) % (3 if layer == 1 else 8), e, "backward" if direction == "backward" else "forward",
                20 + 7 * e - 3 * i)
        epochs.append({"epoch": e + 1, "updates": len(hist), "train_accuracy": min(0.97, 0.3 + 0.07 * e),
                       "val_accuracy": 0.3 + 0.01 * e, "wall": 0.1 * e})
    info = {"dataset": "toy", "direction": direction, "seed": seed, "architecture": "tiny", "phase": "debug",
            "metrics": {"train_accuracy": 0.97, "val_accuracy": 0.4, "test_accuracy": 0.38 + 0.01 * seed,
                        "generalization_gap": 0.59, "wall_seconds": 1.0 + seed, "updates": len(hist),
                        "updates_per_second": len(hist) / (1.0 + seed), "epochs": len(epochs),
                        "stop_reason": "max_updates"},
            "skips": [{"epoch": 3, "layer": 0, "attempts": 3, "reason": "no accepted update after 3 attempts",
                       "update": 8}] if direction == "backward" else [],
            "params": {"model": MODEL}, "sum_cache_records": len(hist), "sum_cache_bytes_per_record": 80.0}
    return info, hist, epochs, decs


@pytest.fixture
def runs(tmp_path):
    dirs = {}
    for d in ("backward", "forward"):
        for s in (0, 1):
            dirs[(d, s)] = write_run_record(tmp_path / "runs" / f"{d[0]}{s}", *record(d, s))
    return dirs


def data_uris(html: str) -> list[str]:
    return re.findall(r'src="(data:image/png;base64,[A-Za-z0-9+/=]+)"', html)


def test_build_dashboard(runs, tmp_path):
    pngs = build_dashboard(runs[("backward", 0)], tmp_path / "dash" / "b0.html")
    assert [p.name for p in pngs] == [f"{stem}.png" for stem, _, _ in PANELS]
    assert all(p.parent == tmp_path / "dash" / "b0_plots" and p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    html = (tmp_path / "dash" / "b0.html").read_text()
    assert len(data_uris(html)) == len(PANELS) == 6
    assert "<script" not in html and "http://" not in html and "https://" not in html and 'http-equiv' not in html
    assert "current / last neuron" in html and "0.4 (layer 0)" in html          # the last update (sweep 10: (10+2) % 8)
    assert "memorization_risk" in html and "premodulo_oscillation" in html       # the alerts of this record
    assert "1 forward skip(s)" in html
    # the capacity advice per layer that got decisions (issue 17 item 5), with its verdict
    from hashtron_lab.report.advice import run_advice
    from hashtron_lab.report.runs import RunData

    adv = run_advice(RunData.load(runs[("backward", 0)]))
    assert "<h2>Capacity advice</h2>" in html and adv
    assert all(f"<td>{a['verdict']}</td>" in html for a in adv)


def test_dashboard_plots_dir_and_forward(runs, tmp_path):
    pngs = build_dashboard(runs[("forward", 1)], tmp_path / "f1.html", plots_dir=tmp_path / "png")
    assert all(p.parent == tmp_path / "png" for p in pngs) and len(pngs) == 6
    assert len(data_uris((tmp_path / "f1.html").read_text())) == 6


def test_cli(runs, tmp_path, capsys):
    assert dashboard.main([str(runs[("backward", 1)]), "--out", str(tmp_path / "x.html")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "x_plots" / "flow.png").exists()


def test_live_dashboard_from_events(runs, tmp_path):
    rec = read_run_record(runs[("backward", 0)])
    live = LiveDashboard(tmp_path / "live.html", info={"dataset": "toy"}, every_epochs=6, refresh_seconds=7)
    events = events_of_record(rec)
    written = []
    for kind, payload in events[:-1]:
        live(kind, payload)
        if (tmp_path / "live.html").exists() and not written:
            written.append(len(live.run.epochs))
            assert 'http-equiv="refresh" content="7"' in (tmp_path / "live.html").read_text()
    assert written == [6]
    live(*events[-1])                                # run_end: final page, no auto-refresh
    html = (tmp_path / "live.html").read_text()
    assert len(data_uris(html)) == 6 and "http-equiv" not in html
    assert len(live.run.history) == len(rec["history"]) and live.run.widths == [8, 3]


def test_log_to_mlflow(monkeypatch, tmp_path):
    pngs = [tmp_path / f"{stem}.png" for stem, _, _ in PANELS]
    for p in pngs + [tmp_path / "d.html"]:
        p.write_bytes(b"x")
    logged = []

    class Client:
        def __init__(self, tracking_uri=None):
            self.uri = tracking_uri

        def log_artifact(self, run_id, path, artifact_path):
            logged.append((run_id, path, artifact_path, self.uri))

    fake = types.SimpleNamespace(MlflowClient=Client, active_run=lambda: None,
                                 log_artifact=lambda p, a: logged.append(("active", p, a, None)))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    log_to_mlflow(pngs, tmp_path / "d.html", run_id="abc", tracking_uri="sqlite:///x.db")
    assert [(r, a) for r, _, a, _ in logged] == [("abc", "dashboard")] * 7
    assert {p for _, p, _, _ in logged} == {str(p) for p in pngs} | {str(tmp_path / "d.html")}
    with pytest.raises(ValueError, match="no active MLflow run"):
        log_to_mlflow(pngs)


@pytest.mark.skipif(find_chromium() is None,
                    reason="Chromium not installed (Debian: apt-get install -y chromium); CI installs it")
def test_pages_render_in_headless_chromium(runs, tmp_path):
    """The compare report and two dashboards open in headless Chromium: every plot decoded, no
    console errors, exceptions or failed loads."""
    from chromium_check import check_pages

    build_report([tmp_path / "runs"], tmp_path / "r" / "compare.md", tmp_path / "r" / "compare.html", None)
    build_dashboard(runs[("backward", 0)], tmp_path / "r" / "b0.html")
    build_dashboard(runs[("forward", 1)], tmp_path / "r" / "f1.html")
    pages = [tmp_path / "r" / n for n in ("compare.html", "b0.html", "f1.html")]
    results = check_pages(pages)
    for page, res, n_images in zip(pages, results, (4, 6, 6)):
        assert res.errors == [], f"{page.name}: {res.errors}"
        assert len(res.images) == n_images, page.name
        assert all(i["ok"] and i["width"] > 300 for i in res.images), (page.name, res.images)
        assert res.ok
    assert results[0].title == "Backward vs forward: A/B report"


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed (apt-get install -y chromium)")
def test_chromium_check_catches_broken_pages(tmp_path):
    from chromium_check import check_pages

    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body><img src="missing.png" alt="m">'
                   '<script>console.error("boom")</script></body></html>')
    (res,) = check_pages([bad])
    assert not res.ok and not res.images[0]["ok"]
    assert any("boom" in e for e in res.errors) and any("missing.png" in e for e in res.errors)
