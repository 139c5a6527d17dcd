"""`reports/g2p.md` / `.html` / `metrics/g2p.json`: one row per language, our phonemizer beside
every baseline, mean ± sample std (ddof = 1) over seeds, on the test words.

Inputs: the job directories of a sweep (any tree holding `result.json` files: the DVC sweep's
`runs/g2p/<language>/<direction>-s<seed>/` or a Hydra multirun's `<n>/`) and the baseline files
(`sweep.run_baselines`). Goal per language: our backward word accuracy (mean over seeds) at
least the best baseline's, CRF included; gruut's shipped CRF is shown apart (trained on the
whole lexicon, test words included) and is not part of the goal.
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..jsonable import jsonable
from ..report.runs import mean_std
from .baselines import BASELINES

GOAL_SHARE = 0.8          # languages where we match or beat the best baseline
GOAL_MODEL_BYTES = 2_000_000
GOAL_PREDICT_SECONDS = 1.0
GOAL_SWEEP_SECONDS = 15 * 60
FAIR = tuple(b for b in BASELINES if b != "gruut_crf")   # what the goal compares against
OPTIMISTIC = "gruut_crf"
LABELS = {"most_frequent": "most frequent", "backoff": "backoff ±3…0", "decision_tree": "decision tree",
          "crf": "CRF (retrained)", "gruut_crf": "gruut CRF (shipped, optimistic)"}


def _summary(values: list[float]) -> dict:
    """`report.runs.mean_std` (sample std, ddof 1) with NaN where it says None: the report's cells
    and metrics/g2p.json read NaN as "not measured"."""
    return {k: float("nan") if v is None else v for k, v in mean_std(values).items()}


def read_jobs(runs: list[str | os.PathLike]) -> list[dict]:
    out = []
    for root in runs:
        for p in sorted(Path(root).rglob("result.json")):
            info = json.loads(p.read_text())
            if info.get("workload") == "g2p":
                info["path"] = str(p.parent)
                out.append(info)
    return out


def read_baselines(directory: str | os.PathLike | None) -> list[dict]:
    if directory is None or not Path(directory).is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))]


def summarize(jobs: list[dict], baselines: list[dict], part: str = "test", sweep: dict | None = None) -> dict:
    """Per language and model: mean/std/n of word accuracy, PER, letter accuracy, fit seconds,
    model bytes (and, for ours, predict seconds of 1,000 words); the goal verdicts."""
    per: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for j in jobs:
        m, lang, model = j["metrics"], j["language"], f"hashtron_{j['direction']}"
        for k in ("word_accuracy", "per", "letter_accuracy"):
            per[lang][model][k].append(m.get(f"{part}_{k}"))
        for k in ("fit_seconds", "model_bytes", "predict_1000_seconds"):
            per[lang][model][k].append(m.get(k))
        per[lang][model]["seeds"].append(j["seed"])
    for b in baselines:
        lang, model = b["language"], b["model"]
        if lang not in per:
            continue
        for k in ("word_accuracy", "per", "letter_accuracy"):
            per[lang][model][k].append(b[part].get(k))
        for k in ("fit_seconds", "model_bytes"):
            per[lang][model][k].append(b.get(k))
        per[lang][model]["seeds"].append(b["seed"])
    langs = {}
    for lang in sorted(per):
        models = {}
        for model, vals in per[lang].items():
            models[model] = {k: _summary(v) for k, v in vals.items() if k != "seeds"}
            models[model]["seeds"] = sorted(vals["seeds"])
        ours = models.get("hashtron_backward", {}).get("word_accuracy", {}).get("mean", float("nan"))
        fair = {b: models[b]["word_accuracy"]["mean"] for b in FAIR if b in models}
        best = max(fair, key=fair.get) if fair else None
        langs[lang] = {"models": models, "best_baseline": best,
                       "best_baseline_word_accuracy": fair.get(best, float("nan")) if best else float("nan"),
                       "complete": best is not None and set(FAIR) <= set(fair) and not math.isnan(ours),
                       "pass": bool(best is not None and not math.isnan(ours) and ours >= fair[best])}
    judged = [v for v in langs.values() if v["complete"]]  # every fair baseline and our backward runs present
    passed = sum(v["pass"] for v in judged)
    def largest(model: str) -> float:
        sizes = [v["models"][model]["model_bytes"]["mean"] for v in langs.values() if model in v["models"]]
        return max(sizes) if sizes else float("nan")

    preds = [v["models"][m]["predict_1000_seconds"]["mean"] for v in langs.values() for m in v["models"]
             if m.startswith("hashtron") and "predict_1000_seconds" in v["models"][m]]
    goals = {
        "languages": len(langs), "languages_judged": len(judged), "languages_passed": passed,
        "share_passed": passed / len(judged) if judged else float("nan"),
        "beats_best_baseline": bool(judged and passed / len(judged) >= GOAL_SHARE),
        "all_baselines_present": all(v["complete"] for v in langs.values()),
        # the goal's model is the one a Phonemizer trains by default (backward); forward's is reported beside it
        "max_model_bytes": largest("hashtron_backward"),
        "max_model_bytes_forward": largest("hashtron_forward"),
        "model_size_ok": bool(largest("hashtron_backward") <= GOAL_MODEL_BYTES),
        "max_predict_1000_seconds": max(preds) if preds else float("nan"),
        "predict_ok": bool(preds and max(preds) < GOAL_PREDICT_SECONDS),
    }
    if sweep:
        goals.update({"sweep_wall_seconds": sweep.get("wall_seconds"), "sweep_points": sweep.get("points"),
                      "sweep_n_jobs": sweep.get("n_jobs"), "sweep_cpu_count": sweep.get("cpu_count"),
                      "sweep_parts": sweep.get("parts")})
        both = set(sweep.get("directions", [])) >= {"backward", "forward"}
        grid = len(sweep.get("languages", [])) * len(sweep.get("directions", [])) * len(sweep.get("seeds", []))
        goals["sweep_grid"] = grid
        goals["sweep_ok"] = bool(sweep.get("wall_seconds") is not None and both and len(langs) >= 10
                                 and sweep.get("points", 0) >= grid
                                 and sweep["wall_seconds"] <= GOAL_SWEEP_SECONDS)
    return {"part": part, "languages": langs, "goals": goals}


def _cell(s: dict | None, key: str, digits: int = 3, pct: bool = False) -> str:
    if not s or key not in s or s[key]["n"] == 0:
        return "–"
    m, sd = s[key]["mean"], s[key]["std"]
    f = 100.0 if pct else 1.0
    txt = f"{m * f:.{digits}f}"
    if not math.isnan(sd):
        txt += f" ± {sd * f:.{digits}f}"
    return txt


def _columns(summary: dict) -> list[str]:
    present = {m for v in summary["languages"].values() for m in v["models"]}
    order = ["hashtron_backward", "hashtron_forward", *FAIR, OPTIMISTIC]
    return [m for m in order if m in present]


def _name(m: str) -> str:
    return {"hashtron_backward": "hashtron (backward)", "hashtron_forward": "hashtron (forward)"}.get(m, LABELS.get(m, m))


def _verdict_text(v: dict) -> str:
    """pass / fail, or "not judged" while a fair baseline (or our backward run) is missing."""
    if not v["complete"]:
        return "not judged (missing: " + ", ".join(m for m in (*FAIR, "hashtron_backward") if m not in v["models"]) + ")"
    return "**pass**" if v["pass"] else "fail"


def seeds_note(summary: dict) -> str:
    """Which seeds each column averages (the same in every language, or per language when not)."""
    parts = []
    for c in _columns(summary):
        per = {lang: tuple(v["models"][c]["seeds"]) for lang, v in summary["languages"].items() if c in v["models"]}
        kinds = sorted(set(per.values()))
        if len(kinds) == 1:
            parts.append(f"{_name(c)}: {', '.join(map(str, kinds[0]))}")
        else:
            parts.append(f"{_name(c)}: " + "; ".join(f"{lang} {','.join(map(str, sd))}" for lang, sd in per.items()))
    return "Seeds averaged — " + " · ".join(parts) + "."


def markdown(summary: dict) -> str:
    cols = _columns(summary)
    g = summary["goals"]
    lines = ["# G2P: hashtron phonemizer vs baselines, per language", "",
             f"Word accuracy on the **{summary['part']}** words (mean ± sample std over seeds); every model trained "
             "on the same training words of the same seeded 80/10/10 word split (20,000-word sample). Settings "
             "were chosen on validation words only. *pass*: our backward phonemizer's mean word accuracy ≥ the "
             "best baseline's (CRF included); gruut's shipped CRF saw the test words in training and is not "
             "part of the goal.", "",
             "| language | " + " | ".join(_name(c) for c in cols) + " | best baseline | pass |",
             "|---|" + "---|" * (len(cols) + 2)]
    for lang, v in summary["languages"].items():
        cells = [_cell(v["models"].get(c), "word_accuracy") for c in cols]
        lines.append(f"| {lang} | " + " | ".join(cells) + f" | {LABELS.get(v['best_baseline'], '–')} | "
                     + _verdict_text(v) + " |")
    lines += ["", seeds_note(summary)]
    lines += ["", "## Phoneme error rate (%)", "", "| language | " + " | ".join(_name(c) for c in cols) + " |",
              "|---|" + "---|" * len(cols)]
    for lang, v in summary["languages"].items():
        lines.append(f"| {lang} | " + " | ".join(_cell(v["models"].get(c), "per", 2, pct=True) for c in cols) + " |")
    lines += ["", "## Per-letter accuracy", "", "| language | " + " | ".join(_name(c) for c in cols) + " |",
              "|---|" + "---|" * len(cols)]
    for lang, v in summary["languages"].items():
        lines.append(f"| {lang} | " + " | ".join(_cell(v["models"].get(c), "letter_accuracy") for c in cols) + " |")
    lines += ["", "## Cost: fit seconds / model kB (mean over seeds)", "",
              "| language | " + " | ".join(_name(c) for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for lang, v in summary["languages"].items():
        row = []
        for c in cols:
            s = v["models"].get(c)
            if not s:
                row.append("–")
                continue
            fs, mb = s.get("fit_seconds", {}).get("mean", float("nan")), s.get("model_bytes", {}).get("mean", float("nan"))
            row.append(f"{fs:.1f} s / {mb / 1000:.0f} kB")
        lines.append(f"| {lang} | " + " | ".join(row) + " |")
    lines += ["", "## Goals", "",
              f"- beat the best baseline on ≥ {GOAL_SHARE:.0%} of languages: {g['languages_passed']}/"
              f"{g['languages_judged']} = {g['share_passed']:.0%} → **{'pass' if g['beats_best_baseline'] else 'fail'}**"
              + ("" if g["all_baselines_present"] else
                 f" (judged: the {g['languages_judged']} of {g['languages']} languages with every fair baseline)"),
              f"- model ≤ 2 MB (the default, backward model): largest {g['max_model_bytes'] / 1e6:.2f} MB → "
              f"**{'pass' if g['model_size_ok'] else 'fail'}**"
              + ("" if math.isnan(g["max_model_bytes_forward"]) else
                 f" (forward models, the comparison: up to {g['max_model_bytes_forward'] / 1e6:.2f} MB)"),
              f"- 1,000 words in < 1 s after load: slowest {g['max_predict_1000_seconds']:.3f} s → "
              f"**{'pass' if g['predict_ok'] else 'fail'}**"]
    if "sweep_wall_seconds" in g:
        lines.append(f"- every language, both pipelines, in ≤ 15 min: {g['sweep_points']} runs in "
                     f"{g['sweep_wall_seconds'] / 60:.1f} min with {g['sweep_n_jobs']} processes on "
                     f"{g['sweep_cpu_count']} cores → **{'pass' if g['sweep_ok'] else 'fail'}**"
                     + (f" ({g['sweep_parts']} sweeps one after another)" if g.get("sweep_parts") else "")
                     + (f" — incomplete: {g['sweep_points']} of the {g['sweep_grid']} runs of the grid"
                        if g["sweep_points"] < g["sweep_grid"] else ""))
    lines.append("")
    return "\n".join(lines)


def html_page(summary: dict) -> str:
    from ..report.html import esc, page, table, verdict

    cols = _columns(summary)
    rows = []
    for lang, v in summary["languages"].items():
        rows.append([esc(lang), *[esc(_cell(v["models"].get(c), "word_accuracy")) for c in cols],
                     esc(LABELS.get(v["best_baseline"], "–")),
                     verdict(v["pass"]) if v["complete"] else esc(_verdict_text(v))])
    per_rows = [[esc(lang), *[esc(_cell(v["models"].get(c), "per", 2, pct=True)) for c in cols]]
                for lang, v in summary["languages"].items()]
    g = summary["goals"]
    goals = [["beat the best baseline on ≥ 80 % of languages", f"{g['languages_passed']}/{g['languages_judged']}",
              verdict(g["beats_best_baseline"])],
             ["model ≤ 2 MB (default, backward)", f"{g['max_model_bytes'] / 1e6:.2f} MB", verdict(g["model_size_ok"])],
             ["1,000 words < 1 s after load", f"{g['max_predict_1000_seconds']:.3f} s", verdict(g["predict_ok"])]]
    if "sweep_wall_seconds" in g:
        goals.append(["all languages, both pipelines ≤ 15 min", f"{g['sweep_wall_seconds'] / 60:.1f} min",
                      verdict(g["sweep_ok"])])
    body = (f"<h1>G2P: hashtron phonemizer vs baselines</h1><p class=\"note\">Word accuracy on the "
            f"{esc(summary['part'])} words, mean ± sample std over seeds; see reports/g2p.md for the rules.</p>"
            + table(["language", *[_name(c) for c in cols], "best baseline", "pass"], rows, raw=True)
            + f"<p class=\"note\">{esc(seeds_note(summary))}</p>"
            + "<h2>Phoneme error rate (%)</h2>" + table(["language", *[_name(c) for c in cols]], per_rows, raw=True)
            + "<h2>Goals</h2>" + table(["goal", "measured", "verdict"], goals, raw=True))
    return page("G2P report", body)


def combined_sweeps(sweeps: list[dict]) -> dict | None:
    """Sweeps run one after another (e.g. part of the grid, then the rest) as one: their wall
    times and points add up; languages, seeds and directions are the union."""
    if not sweeps:
        return None
    if len(sweeps) == 1:
        return sweeps[0]
    union = lambda key: sorted({x for sw in sweeps for x in sw.get(key, [])})  # noqa: E731
    return {"languages": union("languages"), "seeds": union("seeds"), "directions": union("directions"),
            "points": sum(sw.get("points", 0) for sw in sweeps),
            "wall_seconds": sum(sw.get("wall_seconds", 0.0) for sw in sweeps),
            "n_jobs": max(sw.get("n_jobs", 1) for sw in sweeps), "cpu_count": sweeps[0].get("cpu_count"),
            "parts": len(sweeps)}


def write_report(runs: list[str | os.PathLike], baselines_dir: str | os.PathLike | None, out_md: str | os.PathLike,
                 out_html: str | os.PathLike | None = None, out_json: str | os.PathLike | None = None,
                 part: str = "test") -> dict:
    jobs = read_jobs(runs)
    if not jobs:
        raise ValueError(f"no G2P job results (result.json) under {[str(r) for r in runs]}; run the sweep first")
    sweep = combined_sweeps([json.loads((Path(r) / "sweep.json").read_text()) for r in runs
                             if (Path(r) / "sweep.json").is_file()])
    summary = summarize(jobs, read_baselines(baselines_dir), part, sweep)
    for path, text in ((out_md, markdown(summary)), (out_html, html_page(summary) if out_html else None),
                       (out_json, json.dumps(jsonable(summary), indent=1, sort_keys=True) + "\n" if out_json else None)):
        if path and text is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(Path(path), text.encode("utf-8"))
    return summary
