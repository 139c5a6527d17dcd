"""Which load factor for the phonemizer's capacity "on" (the G2P cells of the ablation)?
Validation word accuracy, model file bytes and filter cells (before the file's zlib) per setting,
backward order, slot order.

    python scripts/g2p_capacity_trials.py [--language de] [--n-words 20000] [--loads off 0.25 0.5 1 2 4]

Chooses the smallest model whose validation word accuracy is within `--tolerance` (0.5 points)
of the best "on" setting's (and says whether any "on" setting comes within it of "off"): the
rule the digits and MNIST loads were chosen by (docs/accuracy.md). Test words are never read.
Needs the lexicon of the language (``pip install -e ".[lexicons]"``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def trial(data, language: str, load: str, seed: int, folder: Path) -> dict:
    """One phonemizer on the training words; its validation word accuracy and file size."""
    from hashtron_lab.g2p.phonemizer import Phonemizer

    knobs = {"capacity": "off"} if load == "off" else {"capacity": "on", "load_factor": float(load)}
    ph = Phonemizer(language=language, seed=seed, **knobs)
    ph.fit(data.train.words, data.train.prons, data.val.words, data.val.prons,
           letter_labels=data.train.labels, val_letter_labels=data.val.labels)
    path = ph.save(folder / f"{load}.htl")
    return {"load": load, "val_word_accuracy": ph.score(data.val.words, data.val.prons),
            "train_letter_accuracy": ph.fit_info_["train_accuracy"], "model_bytes": path.stat().st_size,
            "filter_bytes": int(sum(h.filter.nbytes for layer in ph.network_.neurons for h in layer)),
            "fit_seconds": ph.fit_seconds_}


def choose(rows: list[dict], tolerance: float) -> dict:
    """The smallest "on" model within `tolerance` of the best "on" validation accuracy."""
    on = [r for r in rows if r["load"] != "off"]
    best = max(r["val_word_accuracy"] for r in on)
    return min((r for r in on if r["val_word_accuracy"] >= best - tolerance), key=lambda r: r["model_bytes"])


def main(argv=None) -> int:
    from hashtron_lab.g2p.data import prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--language", default="de")
    ap.add_argument("--n-words", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loads", nargs="+", default=["off", "0.25", "0.5", "1", "2", "4"])
    ap.add_argument("--tolerance", type=float, default=0.005)
    ap.add_argument("--out", default=None, help="JSON file for the rows (default: print only)")
    a = ap.parse_args(argv)
    if not any(x != "off" for x in a.loads):
        ap.error("give at least one load factor besides off")
    data = prepare(a.language, a.seed, a.n_words)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for load in a.loads:
            rows.append(trial(data, a.language, load, a.seed, Path(tmp)))
            r = rows[-1]
            print(f"{a.language} load {load:>5}: val word accuracy {r['val_word_accuracy']:.4f}, "
                  f"train letters {r['train_letter_accuracy']:.4f}, file {r['model_bytes'] / 1000:.0f} kB "
                  f"(filter cells {r['filter_bytes'] / 1000:.0f} kB), "
                  f"{r['fit_seconds']:.1f} s", flush=True)
    pick = choose(rows, a.tolerance)
    off = [r for r in rows if r["load"] == "off"]
    print(f"choose load {pick['load']} ({pick['val_word_accuracy']:.4f}, {pick['model_bytes'] / 1000:.0f} kB)"
          + (f"; off: {off[0]['val_word_accuracy']:.4f}, {off[0]['model_bytes'] / 1000:.0f} kB — on within "
             f"{a.tolerance:.3f} of off: {pick['val_word_accuracy'] >= off[0]['val_word_accuracy'] - a.tolerance}"
             if off else ""))
    if a.out:
        Path(a.out).write_text(json.dumps({"language": a.language, "seed": a.seed, "n_words": a.n_words,
                                           "rows": rows, "chosen": pick["load"]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
