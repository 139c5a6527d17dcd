"""The stages of `g2p/dvc.yaml` (run from the repository root, reading its params.yaml):

    g2p_baselines   reports/g2p/baselines/<language>-s<seed>-<baseline>.json  (kept while its words match)
    g2p             runs/g2p/<language>/<direction>-s<seed>/ (model.htl, sum_cache.bin, record/, result.json),
                    runs/g2p/sweep.json (the sweep's wall time), reports/g2p.md / .html, metrics/g2p.json

The lexicon dataset's keys come from ``experiment=g2p`` (params.yaml's `dataset` is the main
job's); the tracked settings (`g2p`, `tracking`, `alerts`, `phase`) from params.yaml.
"""
from __future__ import annotations

import shutil
from pathlib import Path

RUNS, BASELINES = Path("runs/g2p"), Path("reports/g2p/baselines")


def _settings():
    from ..config_schema import load_config
    from ..stages.common import load_params

    params = load_params()
    base = load_config(["experiment=g2p"]).to_dict()
    tracked = params.to_dict()
    for key in ("g2p", "tracking", "alerts", "phase"):
        base[key] = tracked[key]
    return base


def baselines() -> None:
    from ..stages.common import say
    from .sweep import baselines_of

    sm = baselines_of(_settings(), BASELINES)
    say(f"g2p_baselines: {sm['computed']} results computed in {sm['wall_seconds']:.0f} s -> {BASELINES}")


def sweep() -> None:
    from ..stages.common import say
    from .report import write_report
    from .sweep import run_sweep

    base = _settings()
    shutil.rmtree(RUNS, ignore_errors=True)
    sm = run_sweep(base, RUNS)
    say(f"g2p: {sm['points']} runs in {sm['wall_seconds']:.0f} s")
    summary = write_report([RUNS], BASELINES, "reports/g2p.md", "reports/g2p.html", "metrics/g2p.json")
    g = summary["goals"]
    say(f"g2p: beats the best baseline on {g['languages_passed']}/{g['languages_judged']} languages")
