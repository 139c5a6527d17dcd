"""Stage `g2p`: the phonemizer of every installed language, both pipelines, every seed, then the report.

    runs/g2p/<language>/<direction>-s<seed>/   model.htl, sum_cache.bin, record/, result.json
    runs/g2p/sweep.json                        the sweep's wall time (the 15-minute goal)
    reports/g2p.md, reports/g2p.html, metrics/g2p.json
"""
import shutil
from pathlib import Path

from common import load_params, main_guard, say

from hashtron_lab.config_schema import load_config
from hashtron_lab.g2p.report import write_report
from hashtron_lab.g2p.sweep import run_sweep

RUNS, BASELINES = Path("runs/g2p"), Path("reports/g2p/baselines")


def main() -> None:
    main_guard()
    params = load_params()
    base = load_config(["experiment=g2p"])  # the lexicon dataset's keys; the tracked settings come from params.yaml
    for key in ("g2p", "tracking", "alerts", "phase"):
        base[key] = params[key]
    shutil.rmtree(RUNS, ignore_errors=True)
    sm = run_sweep(base, RUNS)
    say(f"g2p: {sm['points']} runs in {sm['wall_seconds']:.0f} s")
    summary = write_report([RUNS], BASELINES, "reports/g2p.md", "reports/g2p.html", "metrics/g2p.json")
    g = summary["goals"]
    say(f"g2p: beats the best baseline on {g['languages_passed']}/{g['languages_judged']} languages")


if __name__ == "__main__":
    main()
