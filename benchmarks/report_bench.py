"""Cost of monitoring and reporting on long runs (synthetic records, no training).

    python benchmarks/report_bench.py [--updates 50000] [--widths 80 20 5] [--runs 4] [--out /tmp/report_bench]

Reports: AlertMonitor events per second (it runs inside the training loop as a sink), the
replay of a record through it, the dashboard of one run (six PNGs + page) and the compare
report over ``--runs`` runs per pipeline. The synthetic run sweeps final → layer 1 like the
backward pipeline, one update per layer and a third of them accepted, with margins drifting.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hashtron_lab.report.compare import build_report
from hashtron_lab.report.dashboard import build_dashboard
from hashtron_lab.track.alerts import AlertMonitor, alerts_from_record, events_of_record
from hashtron_lab.track.records import write_run_record


def synthetic(direction: str, seed: int, updates: int, widths: list[int], n: int = 1000) -> tuple:
    rng = np.random.default_rng(seed)
    layers = list(range(len(widths) - 1, -1, -1)) if direction == "backward" else list(range(len(widths)))
    hist, decs, epochs = [], [], []
    S = {(l, p): int(rng.integers(-n // 2, n // 2)) for l, w in enumerate(widths) for p in range(w)}
    prem: dict = {}
    epoch = 0
    while len(hist) < updates:
        for layer in layers:
            u = len(hist)
            pos = int(rng.integers(0, widths[layer]))
            S[(layer, pos)] += int(rng.integers(-20, 21))
            s = max(-n, min(n, S[(layer, pos)]))
            p = 0 if direction == "forward" else max(1, round((n / (abs(s) + 1)) ** 2))
            acc = 0.2 + 0.5 * (1 - np.exp(-u / (updates / 4)))
            hist.append({"update": u, "epoch": epoch, "layer": layer, "neuron": pos, "neuron_id": f"{layer}.{pos}",
                         "S": s, "N": n, "margin": abs(s) / n, "premodulo": p, "accepted": u % 3 == 0,
                         "train_accuracy": acc, "phase": direction if u >= widths[-1] else "bootstrap"})
            if direction == "backward":
                decs.append({"update": u, "epoch": epoch, "layer": layer, "pos": pos, "neuron_id": f"{layer}.{pos}",
                             "S": s, "S_used": abs(s), "N": n, "margin": abs(s) / n, "final": p, "raw": p,
                             "previous": prem.get((layer, pos), 0), "regime": "gold", "clamps": [], "alpha": 1.0,
                             "oscillating": False})
                prem[(layer, pos)] = p
        epoch += 1
        epochs.append({"epoch": epoch, "updates": len(hist), "train_accuracy": acc, "val_accuracy": acc * 0.8,
                       "wall": len(hist) / 100})
    info = {"dataset": "synthetic", "direction": direction, "seed": seed, "architecture": "bench", "phase": "debug",
            "metrics": {"test_accuracy": 0.5, "val_accuracy": 0.5, "train_accuracy": 0.7, "generalization_gap": 0.2,
                        "wall_seconds": len(hist) / 100, "updates": len(hist), "updates_per_second": 100.0,
                        "epochs": epoch},
            "params": {"model": {"layers": [{"type": "hashtron", "neurons": w} for w in widths]}},
            "sum_cache_records": len(hist), "sum_cache_bytes_per_record": 80.0}
    return info, hist, epochs, decs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=50_000)
    ap.add_argument("--widths", type=int, nargs="+", default=[80, 20, 5])
    ap.add_argument("--runs", type=int, default=4, help="runs per pipeline in the compare report")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="report_bench_"))

    t = time.perf_counter()
    recs = {(d, s): synthetic(d, s, args.updates, args.widths) for d in ("backward", "forward") for s in range(args.runs)}
    print(f"synthetic records: {len(recs)} × {args.updates:,} updates in {time.perf_counter() - t:.1f} s")
    dirs = {k: write_run_record(out / f"{k[0]}{k[1]}", *v) for k, v in recs.items()}

    info, hist, epochs, decs = recs[("backward", 0)]
    events = events_of_record({"info": info, "history": hist, "epochs": epochs, "decisions": decs})
    mon = AlertMonitor()
    t = time.perf_counter()
    for kind, payload in events:
        mon(kind, payload)
    dt = time.perf_counter() - t
    print(f"AlertMonitor: {len(events):,} events in {dt:.2f} s = {len(events) / dt:,.0f} events/s "
          f"({dt / len(hist) * 1e6:.1f} µs per update with its decision), {len(mon.alerts)} alerts")

    t = time.perf_counter()
    n = len(alerts_from_record(dirs[("backward", 0)]))
    print(f"alerts_from_record (read + replay): {time.perf_counter() - t:.2f} s, {n} alerts")

    t = time.perf_counter()
    pngs = build_dashboard(dirs[("backward", 0)], out / "dashboard.html")
    print(f"dashboard (backward, {len(pngs)} plots): {time.perf_counter() - t:.2f} s, "
          f"page {(out / 'dashboard.html').stat().st_size / 1e6:.2f} MB")

    t = time.perf_counter()
    build_report(list(dirs.values()), out / "compare.md", out / "compare.html", out / "compare.json")
    print(f"compare report over {len(dirs)} runs: {time.perf_counter() - t:.2f} s -> {out}")


if __name__ == "__main__":
    main()
