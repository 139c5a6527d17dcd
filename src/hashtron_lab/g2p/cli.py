"""Commands: ``python -m hashtron_lab phonemize`` and ``python -m hashtron_lab.g2p …``.

    python -m hashtron_lab phonemize --model de.htl aachen xylofon    # one line per word: word<TAB>phonemes
    echo aachen | python -m hashtron_lab phonemize --model de.htl     # words from stdin, one per line
    python -m hashtron_lab.g2p languages                               # installed lexicons, comma-separated
    python -m hashtron_lab.g2p train --language de --out de.htl        # one phonemizer, settings of conf/g2p
    python -m hashtron_lab.g2p sweep --out runs/g2p                    # every language x pipeline x seed
    python -m hashtron_lab.g2p baselines --out reports/g2p/baselines   # every baseline x language x seed
    python -m hashtron_lab.g2p report --runs runs/g2p --baselines reports/g2p/baselines
"""
from __future__ import annotations

import argparse
import sys


def phonemize_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab phonemize",
                                 description="Phonemes of words with a trained Phonemizer (words as arguments, "
                                             "or one per line on stdin).")
    ap.add_argument("--model", required=True, help="a file written by Phonemizer.save (or the sweep's model.htl)")
    ap.add_argument("--language", help="refuse a model of another language")
    ap.add_argument("--separator", default=" ", help="between phonemes (default: a space)")
    ap.add_argument("words", nargs="*")
    a = ap.parse_args(argv)
    from ..model.files import ModelFileError
    from .phonemizer import Phonemizer

    try:
        ph = Phonemizer.load(a.model, a.language)
    except FileNotFoundError:
        print(f"error: model file {a.model} does not exist; train one (python -m hashtron_lab.g2p train "
              f"--language de --out de.htl)", file=sys.stderr)
        return 2
    except ModelFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    words = a.words if a.words else [line.strip() for line in sys.stdin if line.strip()]
    try:
        unknown = ph.unknown_characters(words)
        pron = ph.predict(words)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if unknown:
        print(f"warning: characters never seen in training are silent: {' '.join(unknown)}", file=sys.stderr)
    sys.stdout.write("".join(f"{w}\t{a.separator.join(p)}\n" for w, p in zip(words, pron)))
    return 0


def _cfg(overrides: list[str]) -> dict:
    from ..config_schema import load_config

    return load_config(["experiment=g2p", *overrides]).to_dict()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab.g2p", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("languages", help="installed lexicon languages, comma-separated")
    t = sub.add_parser("train", help="train one phonemizer (settings: conf/g2p + overrides)")
    t.add_argument("--language", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--direction", default="backward", choices=("backward", "forward"))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. g2p.margin=8")
    s = sub.add_parser("sweep", help="every language x pipeline x seed (conf/g2p sweep settings)")
    s.add_argument("--out", default="runs/g2p")
    s.add_argument("overrides", nargs="*")
    b = sub.add_parser("baselines", help="every baseline x language x seed (files kept while their words match)")
    b.add_argument("--out", default="reports/g2p/baselines")
    b.add_argument("--jobs", type=int, default=None)
    b.add_argument("overrides", nargs="*")
    r = sub.add_parser("report", help="reports/g2p.md / .html / metrics/g2p.json from job results")
    r.add_argument("--runs", nargs="+", required=True)
    r.add_argument("--baselines", default="reports/g2p/baselines")
    r.add_argument("--md", default="reports/g2p.md")
    r.add_argument("--html", default="reports/g2p.html")
    r.add_argument("--json", default="metrics/g2p.json")
    r.add_argument("--part", default="test", choices=("val", "test"))
    a = ap.parse_args(argv)
    from ..data.errors import DatasetError

    try:
        if a.cmd == "languages":
            from ..data.lexicon import installed_languages

            print(",".join(installed_languages()))
        elif a.cmd == "train":
            import tempfile
            from pathlib import Path

            from ..atomic import atomic_write_bytes
            from .job import data_of, fit_and_score

            cfg = _cfg([f"language={a.language}", f"pipeline={a.direction}", f"seed={a.seed}", *a.overrides])
            out = Path(a.out)
            with tempfile.TemporaryDirectory() as tmp:
                _, m = fit_and_score(cfg, data_of(cfg), Path(tmp))
                # the file fit_and_score saved (and timed a load of), not a second save of the same bytes
                atomic_write_bytes(out, (Path(tmp) / "model.htl").read_bytes())
            print(f"{a.language}: test word accuracy {m['test_word_accuracy']:.4f}, PER {m['test_per']:.4f}; "
                  f"fit {m['fit_seconds']:.1f} s; wrote {out} ({out.stat().st_size} bytes)")
        elif a.cmd == "sweep":
            from .sweep import run_sweep

            cfg = _cfg(a.overrides)
            sm = run_sweep(cfg, a.out)
            print(f"{sm['points']} runs in {sm['wall_seconds']:.0f} s -> {a.out}")
        elif a.cmd == "baselines":
            from .sweep import baselines_of

            sm = baselines_of(_cfg(a.overrides), a.out, a.jobs)
            print(f"{sm['computed']} baseline results computed in {sm['wall_seconds']:.0f} s -> {a.out}")
        elif a.cmd == "report":
            from .report import markdown, write_report

            sm = write_report(a.runs, a.baselines, a.md, a.html, a.json, a.part)
            print(markdown(sm))
    except (DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
