"""Run records on disk: what one training run leaves for evaluation, reports and the inventory.

A run directory holds `run.json` (identity, params, metrics, skips) and one JSON-lines file
each for `history` (neuron updates), `epochs` and `decisions` (premodulo decisions).
Stages write it, the compare report and the inventory read it; MLflow gets the same data.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..jsonable import jsonable

TABLES = ("history", "epochs", "decisions")


def write_run_record(directory: str | os.PathLike, info: dict, history: list[dict], epochs: list[dict],
                     decisions: list[dict]) -> Path:
    """`info` holds at least dataset, direction, seed, metrics; written atomically file by file."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, rows in zip(TABLES, (history, epochs, decisions)):
        text = "".join(json.dumps(jsonable(r), sort_keys=True) + "\n" for r in rows)
        atomic_write_bytes(d / f"{name}.jsonl", text.encode())
    atomic_write_bytes(d / "run.json", (json.dumps(jsonable(info), indent=2, sort_keys=True) + "\n").encode())
    return d


def read_run_record(directory: str | os.PathLike) -> dict:
    """{"info": run.json, "history": [...], "epochs": [...], "decisions": [...]}; a missing or
    unreadable file raises ValueError naming it."""
    d = Path(directory)
    out: dict[str, Any] = {}
    try:
        out["info"] = json.loads((d / "run.json").read_text())
        for name in TABLES:
            p = d / f"{name}.jsonl"
            out[name] = [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"run record {d} is missing or damaged ({exc}); rerun the stage that wrote it") from exc
    return out


def record_of(result, extra: dict | None = None) -> dict:
    """The `info` part of a run record for an `experiment.RunResult`."""
    pipe, s = result.pipeline, result.settings
    info = {
        "dataset": s.dataset.get("name"),
        "direction": pipe.name,
        "seed": int(s.seed),
        "architecture": s.model.name,
        "phase": s.phase,
        "metrics": result.metrics,
        "skips": getattr(pipe, "skips", []),
        "params": s.to_dict(),
    }
    cache = getattr(pipe, "cache", None)
    if cache is not None and len(cache):
        info["sum_cache_records"] = len(cache)
        info["sum_cache_bytes_per_record"] = cache.bytes_per_record
        info["sum_cache_bytes"] = cache.nbytes
    info.update(extra or {})
    return info
