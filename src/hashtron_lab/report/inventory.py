"""The training inventory (seed 001): every tracked run, counted and located, as markdown.

    python -m hashtron_lab.report.inventory [--tracking-uri URI] [--runs DIR...] --out reports/inventory.md

Sources: an MLflow tracking store (runs carrying a ``direction`` tag, as the MLflow sink logs
them: tags dataset, direction, seed, phase, model/architecture, git commit; metrics updates,
wall_seconds, test_accuracy, ...) and/or run directories (``run.json`` records, or folders
holding them), so it works with no MLflow store at all. A run found in both (the record's
``mlflow_run_id``) is listed once. mlflow is imported only when a tracking URI is given.

The page: a summary, runs by pipeline / dataset / architecture / phase, runs by pipeline ×
dataset × architecture × seed × phase with neuron updates and wall time, the head-to-head
table (backward vs forward per dataset × architecture × phase, mean ± sample std with ddof=1,
n), and where each run's artifacts are. It is generated: regenerate it, never edit it.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .runs import DIRECTIONS, RunData, find_run_dirs, fmt, fmt_num, fmt_seconds, md_table, mean_std

H2H_METRICS = (("test_accuracy", "test accuracy", 3), ("val_accuracy", "validation accuracy", 3),
               ("train_accuracy", "train accuracy", 3), ("generalization_gap", "generalization gap", 3),
               ("wall_seconds", "wall time (s)", 1), ("updates_per_second", "neuron updates / s", 1),
               ("updates", "neuron updates", 0))
ARTIFACT_FILES = ("model.htl", "sum_cache.bin", "checkpoint.npz")


@dataclass
class Entry:
    """One run as the inventory sees it."""

    pipeline: str
    dataset: str
    architecture: str
    seed: str
    phase: str
    metrics: dict = field(default_factory=dict)
    commit: str = ""
    artifacts: str = ""
    source: str = ""          # "mlflow" | "record"
    run_id: str = ""          # MLflow run id (if any)
    name: str = ""

    @property
    def key(self) -> tuple:
        return (self.pipeline, self.dataset, self.architecture, _seed_key(self.seed), self.phase)


def _seed_key(seed: str):
    try:
        return (0, int(seed), "")
    except (TypeError, ValueError):
        return (1, 0, str(seed))


def _short(commit: str | None) -> str:
    return (commit or "")[:10] if commit and commit != "unknown" else "—"


# -- sources -----------------------------------------------------------------------------
def entries_from_runs(paths: Iterable[str | os.PathLike]) -> list[Entry]:
    out = []
    for d in find_run_dirs(paths):
        r = RunData.load(d)
        git = r.info.get("git") or {}
        commit = r.info.get("git_commit") or (git.get("commit") if isinstance(git, Mapping) else None) or ""
        parent = d.parent
        extras = [f for f in ARTIFACT_FILES if (parent / f).exists()]
        where = str(d) + (f" (beside it in {parent}: {', '.join(extras)})" if extras else "")
        out.append(Entry(r.direction, r.dataset, r.architecture, str(r.seed), r.phase, dict(r.metrics), commit,
                         where, "record", str(r.info.get("mlflow_run_id") or ""), r.name))
    return out


def entries_from_mlflow(tracking_uri: str) -> tuple[list[Entry], int]:
    """Runs with a ``direction`` tag from every experiment of the store; and how many runs were
    left out for having none (multirun parents)."""
    from ..track.mlflow_sink import all_runs

    runs = all_runs(tracking_uri)
    out, skipped = [], 0
    for run in runs:
        t = run.data.tags
        if not t.get("direction"):
            skipped += 1
            continue
        commit = t.get("git_commit") or t.get("git.commit") or t.get("mlflow.source.git.commit") or ""
        out.append(Entry(t["direction"], t.get("dataset", "unknown"), t.get("architecture") or t.get("model") or "custom",
                         str(t.get("seed", "")), t.get("phase", "debug"), dict(run.data.metrics), commit,
                         f"{run.info.artifact_uri} (run {run.info.run_id})", "mlflow", run.info.run_id,
                         run.info.run_name or run.info.run_id[:8]))
    return out, skipped


def collect(tracking_uri: str | None = None, run_dirs: Sequence[str | os.PathLike] | None = None) -> tuple[list[Entry], list[str]]:
    """All entries, MLflow first; a record whose ``mlflow_run_id`` is already listed only adds
    its location. Returns (entries, notes)."""
    notes: list[str] = []
    entries: list[Entry] = []
    if tracking_uri:
        ml, skipped = entries_from_mlflow(tracking_uri)
        entries += ml
        if skipped:
            notes.append(f"{skipped} MLflow run(s) without a `direction` tag (multirun parents) are not listed.")
    if run_dirs:
        by_id = {e.run_id: e for e in entries if e.run_id}
        for e in entries_from_runs(run_dirs):
            if e.run_id and e.run_id in by_id:
                by_id[e.run_id].artifacts += f"; record {e.artifacts}"
            else:
                entries.append(e)
    entries.sort(key=lambda e: (e.key, e.name))
    return entries, notes


# -- the page ------------------------------------------------------------------------------
def _sum(entries: Iterable[Entry], key: str) -> float:
    return sum(float(e.metrics.get(key) or 0) for e in entries)


def _by(entries: Sequence[Entry], attr: str) -> list[list[Any]]:
    groups: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[getattr(e, attr)].append(e)
    return [[k, len(v), fmt_num(int(_sum(v, "updates"))), fmt_seconds(_sum(v, "wall_seconds"))]
            for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def _combo_rows(entries: Sequence[Entry]) -> list[list[Any]]:
    groups: dict[tuple, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.key].append(e)
    rows = []
    for key in sorted(groups):
        es = groups[key]
        test = mean_std(e.metrics.get("test_accuracy") for e in es)
        rows.append([key[0], key[1], key[2], es[0].seed, key[4], len(es), fmt_num(int(_sum(es, "updates"))),
                     fmt_seconds(_sum(es, "wall_seconds")),
                     fmt(test, 3) if test["n"] > 1 else (fmt_num(test["mean"]) if test["n"] else "—")])
    return rows


def _head_to_head(entries: Sequence[Entry]) -> list[str]:
    groups: dict[tuple, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        groups[(e.dataset, e.architecture, e.phase)][e.pipeline].append(e)
    out = []
    for (ds, arch, phase), by_dir in sorted(groups.items()):
        if not all(by_dir.get(d) for d in DIRECTIONS):
            continue
        b, f = by_dir["backward"], by_dir["forward"]
        rows = []
        for key, label, digits in H2H_METRICS:
            sb = mean_std(e.metrics.get(key) for e in b)
            sf = mean_std(e.metrics.get(key) for e in f)
            delta = "—" if sb["mean"] is None or sf["mean"] is None else f"{sb['mean'] - sf['mean']:+.{digits}f}"
            rows.append([label, fmt(sb, digits), fmt(sf, digits), delta])
        seeds_b = sorted({e.seed for e in b}, key=_seed_key)
        seeds_f = sorted({e.seed for e in f}, key=_seed_key)
        out += [f"### {ds} · {arch} · {phase}", "",
                md_table(["", f"backward ({len(b)} runs)", f"forward ({len(f)} runs)", "Δ backward − forward"], rows),
                "", f"Seeds: backward {', '.join(seeds_b)}; forward {', '.join(seeds_f)}.", ""]
    return out


def render(entries: Sequence[Entry], sources: str, command: str, notes: Sequence[str] = (),
           generated: str | None = None) -> str:
    generated = generated or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = ["# Training inventory", "",
         f"Generated: {generated}. Source: {sources}.",
         f"Regenerate with `{command}` — this file is generated; do not edit it by hand.", ""]
    unique = {e.key for e in entries}
    summary = [
        ["**Total training runs**", f"**{len(entries)}**"],
        ["Unique settings (pipeline × dataset × architecture × seed × phase)", len(unique)],
        ["Total neuron updates", fmt_num(int(_sum(entries, "updates")))],
        ["Total wall time", fmt_seconds(_sum(entries, "wall_seconds"))],
        ["Pipelines", ", ".join(sorted({e.pipeline for e in entries})) or "—"],
        ["Datasets", ", ".join(sorted({e.dataset for e in entries})) or "—"],
        ["Architectures", ", ".join(sorted({e.architecture for e in entries})) or "—"],
        ["Phases", ", ".join(sorted({e.phase for e in entries})) or "—"],
        ["Seeds", ", ".join(sorted({e.seed for e in entries}, key=_seed_key)) or "—"],
    ]
    L += ["## Summary", "", md_table(["Dimension", "Count"], summary, align=["l", "l"]), ""]
    L += [f"- {n}" for n in notes] + ([""] if notes else [])
    if not entries:
        L += ["No runs found.", ""]
        return "\n".join(L)
    head = ["Runs", "Neuron updates", "Wall time"]
    for attr, title in (("pipeline", "Pipeline"), ("dataset", "Dataset"), ("architecture", "Architecture"),
                        ("phase", "Phase")):
        L += [f"## By {title.lower()}", "", md_table([title, *head], _by(entries, attr)), ""]
    L += ["## Runs by pipeline × dataset × architecture × seed × phase", "",
          md_table(["Pipeline", "Dataset", "Architecture", "Seed", "Phase", "Runs", "Neuron updates", "Wall time",
                    "Test accuracy"], _combo_rows(entries), align=["l", "l", "l", "r", "l", "r", "r", "r", "r"]), ""]
    h2h = _head_to_head(entries)
    L += ["## Head-to-head: backward vs forward", ""]
    L += h2h or ["No dataset × architecture × phase has runs of both pipelines yet.", ""]
    L += ["## Artifact locations", "",
          md_table(["Run", "Pipeline", "Dataset", "Seed", "Phase", "Commit", "Artifacts"],
                   [[e.name, e.pipeline, e.dataset, e.seed, e.phase, _short(e.commit), e.artifacts] for e in entries],
                   align=["l"] * 7), ""]
    L += ["All ± values use ddof=1 (sample standard deviation with Bessel's correction); n is the number of runs.", ""]
    return "\n".join(L)


def build_inventory(source: str | Sequence[str | os.PathLike] | None = None, out_md: str | os.PathLike | None = None,
                    *, tracking_uri: str | None = None, run_dirs: Sequence[str | os.PathLike] | None = None,
                    generated: str | None = None) -> str:
    """Write the inventory to ``out_md`` (if given) and return its text.

    ``source``: a tracking URI (a string) or run directories (a list); or use the keywords
    (both may be given)."""
    if isinstance(source, (str, bytes)):
        tracking_uri = tracking_uri or str(source)
    elif source is not None:
        run_dirs = list(run_dirs or []) + list(source)
    if not tracking_uri and not run_dirs:
        raise ValueError("give a tracking URI and/or run directories")
    entries, notes = collect(tracking_uri, run_dirs)
    parts, cmd = [], ["python -m hashtron_lab.report.inventory"]
    if tracking_uri:
        parts.append(f"MLflow store `{tracking_uri}`")
        cmd.append(f"--tracking-uri {tracking_uri}")
    if run_dirs:
        parts.append("run records under " + ", ".join(f"`{p}`" for p in run_dirs))
        cmd.append("--runs " + " ".join(str(p) for p in run_dirs))
    cmd.append(f"--out {out_md or 'reports/inventory.md'}")
    text = render(entries, " and ".join(parts), " ".join(cmd), notes, generated)
    if out_md:
        p = Path(out_md)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab.report.inventory", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracking-uri", help="MLflow tracking URI (e.g. sqlite:///mlflow.db)")
    ap.add_argument("--runs", nargs="+", help="run directories (with run.json) or folders holding them")
    ap.add_argument("--out", required=True, help="markdown file to write (e.g. reports/inventory.md)")
    args = ap.parse_args(argv)
    if not args.tracking_uri and not args.runs:
        ap.error("give --tracking-uri and/or --runs")
    text = build_inventory(None, args.out, tracking_uri=args.tracking_uri, run_dirs=args.runs)
    runs = next((line for line in text.splitlines() if line.startswith("| **Total training runs**")), "")
    print(f"wrote {args.out}: {runs.split('|')[2].strip(' *') if runs else 0} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
