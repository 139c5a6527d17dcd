"""Run records as the reports read them, and the summary statistics they print.

Every ± in the reports is the sample standard deviation (ddof=1) over runs, with n beside
it; one run has no spread (std ``None``, printed "n/a").
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..track.records import read_run_record
from ..train.gold_zone import GoldZone

DIRECTIONS = ("backward", "forward")


@dataclass
class RunData:
    """One run record: ``info`` (run.json) and its three tables."""

    path: Path | None
    info: dict
    history: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "RunData":
        rec = read_run_record(directory)
        return cls(Path(directory), rec["info"], rec["history"], rec["epochs"], rec["decisions"])

    @classmethod
    def of(cls, record: Mapping[str, Any], path: str | os.PathLike | None = None) -> "RunData":
        """From a ``read_run_record``-shaped dict (``info``, ``history``, ``epochs``, ``decisions``)."""
        return cls(Path(path) if path else None, dict(record.get("info", {})), list(record.get("history", [])),
                   list(record.get("epochs", [])), list(record.get("decisions", [])))

    def record(self) -> dict:
        return {"info": self.info, "history": self.history, "epochs": self.epochs, "decisions": self.decisions}

    @property
    def metrics(self) -> dict:
        return self.info.get("metrics") or {}

    @property
    def dataset(self) -> str:
        return str(self.info.get("dataset") or "unknown")

    @property
    def direction(self) -> str:
        return str(self.info.get("direction") or self.metrics.get("direction") or "unknown")

    @property
    def seed(self):
        return self.info.get("seed")

    @property
    def architecture(self) -> str:
        return str(self.info.get("architecture") or "custom")

    @property
    def phase(self) -> str:
        return str(self.info.get("phase") or "debug")

    @property
    def name(self) -> str:
        """The run id the record carries, else its directory's name (the job's, for ``…/record``)."""
        if self.info.get("run_id"):
            return str(self.info["run_id"])
        if self.path is not None:
            return self.path.parent.name if self.path.name == "record" and self.path.parent.name else self.path.name
        return f"{self.direction}-{self.dataset}-s{self.seed}"

    @property
    def widths(self) -> list[int]:
        """Neurons per hashtron layer: from the model in the params, else from the history."""
        model = (self.info.get("params") or {}).get("model") or {}
        spec = model.get("architecture", model) if isinstance(model, Mapping) else model
        items = spec.get("layers", []) if isinstance(spec, Mapping) else (spec or [])
        widths = [int(it["neurons"]) for it in items if isinstance(it, Mapping) and it.get("type") == "hashtron"]
        if widths:
            return widths
        seen: dict[int, int] = {}
        for h in self.history:
            seen[int(h["layer"])] = max(seen.get(int(h["layer"]), 0), int(h.get("neuron", 0)) + 1)
        return [seen.get(layer, 1) for layer in range(max(seen) + 1)] if seen else []

    @property
    def zone(self) -> GoldZone:
        """The gold zone the run used (its settings' ``gold_zone``)."""
        return GoldZone.of_params(self.info.get("params"))


def find_run_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Run directories among ``paths``: a path holding ``run.json`` is one; any other directory is
    searched below for them. Sorted, without duplicates."""
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if (p / "run.json").is_file():
            found.add(p)
        elif p.is_dir():
            found.update(q.parent for q in p.rglob("run.json"))
        else:
            raise ValueError(f"{p} is neither a run directory (with run.json) nor a directory holding some")
    return sorted(found)


def load_runs(paths: Iterable[str | os.PathLike]) -> list[RunData]:
    return [RunData.load(d) for d in find_run_dirs(paths)]


# -- statistics ------------------------------------------------------------------------
def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None or isinstance(v, bool):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def mean_std(values: Iterable[Any]) -> dict:
    """``{"mean", "std", "n"}`` over the finite values: std is the sample std (ddof=1);
    ``None`` when undefined (std with n < 2, mean with n = 0)."""
    xs = _finite(values)
    n = len(xs)
    mean = float(np.mean(xs)) if n else None
    std = float(np.std(xs, ddof=1)) if n >= 2 else None
    return {"mean": mean, "std": std, "n": n}


def fmt(summary: Mapping[str, Any], digits: int = 3, scale: float = 1.0, unit: str = "", n: bool = True) -> str:
    """"0.412 ± 0.012 (n=3)"; "—" without data; "± n/a" for one run."""
    if not summary or summary.get("mean") is None:
        return "—"
    m = summary["mean"] * scale
    s = summary.get("std")
    text = f"{m:.{digits}f}{unit}"
    text += f" ± {s * scale:.{digits}f}{unit}" if s is not None else " ± n/a"
    if n:
        text += f" (n={summary.get('n', 0)})"
    return text


def fmt_num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "—"
    return f"{f:.{digits}f}"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s"


def linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares y = a + b·x: (a, b, R²); None with fewer than 3 points or no spread."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 3 or np.ptp(x) == 0:
        return None
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss_tot if ss_tot > 0 else 0.0
    return float(a), float(b), r2


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A GitHub markdown table; ``align`` holds "l"/"r" per column (default: first l, rest r)."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)
