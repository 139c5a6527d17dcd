"""Every dataset config: samples, features, classes and load time.

    python benchmarks/bench_datasets.py [--languages spa-Latn,deu-Latn,pol-Latn] [--seed 0]
                                        [--max-output-bits N] [--csv-rows 20000] [--markdown]

Loads each ``conf/dataset/*.yaml`` as it is (the phonemizer once per language given,
cmudict whole) with `load_dataset`, after one warm-up load so numba compilation is not
counted. ``csv`` reads a generated file of ``--csv-rows`` rows (4 integer, 4 float, 1
category column, 5 classes). Load time is wall time of `load_dataset`: for the
phonemizer it includes epitran loading the language's tables (~5 s). G2P datasets are
skipped with a note when the ``[langs]`` extra is missing.
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from hashtron_lab.data import DatasetError, load_dataset

CONF = Path(__file__).resolve().parents[1] / "conf" / "dataset"
OPTIONS = ["digits", "digits_thermometer", "digits_threshold", "breast_cancer", "isalnum", "parity", "csv",
           "phonemizer", "cmudict"]


def conf(option: str) -> dict:
    return copy.deepcopy(yaml.safe_load((CONF / f"{option}.yaml").read_text(encoding="utf-8")))


def make_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    ints = rng.integers(0, 50, size=(rows, 4))
    floats = rng.normal(size=(rows, 4))
    cats = rng.choice(["red", "green", "blue"], size=rows)
    label = (ints[:, 0] + (floats[:, 0] > 0) * 3 + (cats == "red")) % 5
    with open(path, "w") as f:
        f.write("i0,i1,i2,i3,f0,f1,f2,f3,colour,label\n")
        for r in range(rows):
            f.write(",".join(map(str, ints[r])) + "," + ",".join(f"{v:.5f}" for v in floats[r])
                    + f",{cats[r]},{label[r]}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--languages", default="spa-Latn,deu-Latn,pol-Latn")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-output-bits", type=int, default=None)
    ap.add_argument("--csv-rows", type=int, default=20000)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)

    load_dataset({**conf("digits"), "max_samples": 50}, seed=0)  # warm-up: numba kernels from cache / compiled
    runs: list[tuple[str, dict]] = []
    tmp = tempfile.TemporaryDirectory()
    for option in OPTIONS:
        cfg = conf(option)
        if option == "csv":
            path = Path(tmp.name) / "synthetic.csv"
            make_csv(path, args.csv_rows)
            cfg.update(path=str(path), categorical=["colour"])
            runs.append((f"csv ({args.csv_rows} rows)", cfg))
        elif option == "phonemizer":
            for lang in filter(None, args.languages.split(",")):
                runs.append((f"phonemizer {lang}", {**cfg, "language": lang}))
        else:
            runs.append((option, cfg))

    header = ("dataset", "samples", "train/val/test", "features", "classes", "load s")
    rows = []
    for label, cfg in runs:
        t0 = time.perf_counter()
        try:
            ds = load_dataset(cfg, seed=args.seed, max_output_bits=args.max_output_bits)
        except DatasetError as e:
            rows.append((label, "-", "-", "-", "-", f"skipped: {e}"[:90]))
            continue
        dt = time.perf_counter() - t0
        sizes = ds.meta["split"]["sizes"]
        classes = str(ds.n_classes)
        if ds.meta.get("other_class"):
            classes += f" (of {ds.meta['other_class']['classes_total']})"
        rows.append((label, f"{sum(sizes.values()):,}", f"{sizes['train']}/{sizes['val']}/{sizes['test']}",
                     f"{ds.n_features} ({ds.meta['encoding']['kind']})", classes, f"{dt:.2f}"))
        print(f"  loaded {label} in {dt:.2f} s", flush=True)
    tmp.cleanup()

    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
