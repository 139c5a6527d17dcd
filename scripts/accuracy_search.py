"""Accuracy search: which configs let the BACKWARD pipeline generalise on digits / breast cancer?

    python scripts/accuracy_search.py search --dataset digits [--trials 24] [--seed 0]
    python scripts/accuracy_search.py eval   --dataset digits [--top 3] [--seeds 0 1 2]
    python scripts/accuracy_search.py report
    python scripts/accuracy_search.py one --dataset breast_cancer --knobs '{"hidden": 30}'

A config is a small dict of *knobs* (see `DEFAULTS`); `build(knobs)` turns it into the
settings-tree mapping (`hashtron_lab.config.Settings.from_dict`: dataset, model as data,
pipeline, capacity, selection, gold_zone, budget, run) that `run_experiment` trains. Nothing here edits the library.

Protocol (no tuning on test):
- `search`: a fixed list of hand-picked knob sets per dataset (the grid below) plus
  `--trials` random draws from `SPACE`, each trained once (seed 0, backward) and ranked by
  VALIDATION accuracy (ties: smaller train/val gap). Test accuracy is recorded but never
  read by the ranking. Results go to reports/accuracy/<dataset>_search.jsonl.
- `eval`: the `--top` configs by validation (train-val gap under 5 points preferred) are
  re-run on seeds 0, 1, 2 (each seed = a different stratified split and RNG) for the
  backward and the forward pipeline; mean ± std of train / val / test and wall seconds go
  to reports/accuracy/<dataset>_eval.jsonl. The best one (by mean validation) is written
  as conf/model/acc_<dataset>.yaml (+ conf/dataset/acc_<dataset>.yaml).
- `report`: prints the markdown tables used in docs/accuracy.md.

Budget: every run is capped by neuron updates (reproducible), chosen so that a run takes
under 10 s of wall clock on the shared 2-core machine; wall seconds are reported.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "accuracy"

# ---------------------------------------------------------------------------------------
# knobs -> experiment config
# ---------------------------------------------------------------------------------------
DEFAULTS = {
    "dataset": "digits",
    # encoding
    "levels": [8],            # digits: pixel thresholds (thermometer); 1 level = binary pixels
    "quantiles": 1,           # breast cancer: thresholds per column at train quantiles
    "pick": True,             # byte-pick 4 columns per feature (n_features = hidden width)
    # architecture
    "arch": "sum",            # sum: RAMs -> sum groups -> one output neuron per bit -> full
                              # sum_direct: RAMs -> sum of all -> ONE output neuron, last item
                              # pack: RAMs -> majpool2d packing `pack` bits -> output -> full
    "hidden": 256,            # RAM neurons (layer 1)
    "group": 16,              # RAMs per output bit (arch sum)
    "bits": 16,               # output neurons
    "pack": 4,                # arch pack/pool: bits per output-neuron key
    "sub": 2,                 # arch pool: RAMs per majority block
    "bias": 0,                # arch pool: block bit = (sum of +-1 votes) > bias
    "code": "ecoc",           # modulo | onehot | ecoc
    "hidden_premodulo": 0,    # layer premodulo of the RAM layer (0 = none)
    # pipeline / capacity / selection
    "capacity": True,         # capacity law on; False: fixed_premodulo for every backward update
    "fixed_premodulo": 0,
    "eps_factor": 1.0,
    "tau_factor": 0.8,
    "dampening": ["clamp"],
    "neurons_per_layer": 1,
    "max_attempts": 3,
    "selection": "gold",
    "explore": 0.0,
    # run
    "rule": "not_worse",
    "objective": "hamming",
    "keep_unvoted": True,
    "require_improving_vote": True,
    "reject_revisits": True,
    "updates": 400,
    "val_every": 5,
    # forward pipeline (same knobs otherwise)
    "fwd_premodulo": 0,
}


def dataset_cfg(k: dict) -> dict:
    if k["dataset"] == "digits":
        enc = {"kind": "thermometer", "levels": list(k["levels"]), "quantiles": None,
               "n_features": k["hidden"] if k["pick"] else None}
    elif k["dataset"] == "breast_cancer":
        enc = {"kind": "thermometer", "levels": None, "quantiles": int(k["quantiles"]),
               "n_features": k["hidden"] if k["pick"] else None}
    else:
        raise ValueError(k["dataset"])
    return {"name": k["dataset"], "max_samples": None,
            "split": {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True, "group": None},
            "encoding": enc, "parity": None}


def model_cfg(k: dict) -> dict:
    H, G, B = k["hidden"], k["group"], k["bits"]
    first = {"type": "hashtron", "neurons": H}
    if k["hidden_premodulo"]:
        first["premodulo"] = int(k["hidden_premodulo"])
    if k["arch"] == "sum":
        if H != G * B:
            raise ValueError(f"arch sum needs hidden = group * bits ({H} != {G}*{B})")
        layers = [first, {"type": "sum", "dims": [G, B], "axis": 0},
                  {"type": "hashtron", "neurons": B}, {"type": "full", "size": B, "bits": 1, "maxbits": 1}]
    elif k["arch"] == "sum_direct":
        layers = [first, {"type": "sum", "dims": [H], "axis": 0}, {"type": "hashtron", "neurons": 1}]
    elif k["arch"] == "pack":
        P = k["pack"]
        if H != P * B:
            raise ValueError(f"arch pack needs hidden = pack * bits ({H} != {P}*{B})")
        layers = [first, {"type": "majpool2d", "width": H, "height": 1, "subwidth": 1, "subheight": 1,
                          "capwidth": P, "capheight": 1, "repeat": 1, "bias": 0},
                  {"type": "hashtron", "neurons": B}, {"type": "full", "size": B, "bits": 1, "maxbits": 1}]
    elif k["arch"] == "pool":
        # majpool2d with sub-pooling: blocks of `sub` RAMs vote (w > bias), `pack` block bits per key;
        # output neuron j reads the window of blocks starting at (j // sub) * pack (DESIGN §2).
        S, P = k["sub"], k["pack"]
        W = -(-B // S) * P
        if H != W * S:
            raise ValueError(f"arch pool needs hidden = ceil(bits/sub) * pack * sub = {W * S}, got {H}")
        layers = [first, {"type": "majpool2d", "width": W, "height": 1, "subwidth": S, "subheight": 1,
                          "capwidth": P, "capheight": 1, "repeat": 1, "bias": int(k["bias"])},
                  {"type": "hashtron", "neurons": B}, {"type": "full", "size": B, "bits": 1, "maxbits": 1}]
    else:
        raise ValueError(k["arch"])
    out = {"layers": layers}
    if k["code"] != "modulo":
        out["output_code"] = k["code"]
    return out


def build(knobs: dict, seed: int = 0, direction: str = "backward") -> dict:
    k = {**DEFAULTS, **knobs}
    pipeline = {"direction": direction}
    if direction == "backward":
        pipeline.update({"neurons_per_layer": k["neurons_per_layer"], "max_attempts": k["max_attempts"]})
        capacity = {"enabled": bool(k["capacity"]), "fixed_premodulo": int(k["fixed_premodulo"]),
                    "dampening": list(k["dampening"])}
        selection = {"rule": k["selection"], "explore": k["explore"]}
        gold_zone = {"eps_factor": k["eps_factor"], "tau_factor": k["tau_factor"]}  # capacity and selection share it
    else:
        pipeline.update({"premodulo": int(k["fwd_premodulo"])})
        capacity, selection, gold_zone = {}, {}, {}
    return {
        "seed": int(seed), "dataset": dataset_cfg(k), "model": model_cfg(k), "pipeline": pipeline,
        "capacity": capacity, "selection": selection, "gold_zone": gold_zone,
        "budget": {"max_updates": int(k["updates"]), "max_epochs": None, "max_seconds": None},
        "run": {"acceptance": {"rule": k["rule"], "objective": k["objective"], "keep_unvoted": bool(k["keep_unvoted"]),
                               "require_improving_vote": bool(k["require_improving_vote"]),
                               "reject_revisits": bool(k["reject_revisits"])},
                "validation": {"every_epochs": int(k["val_every"]), "patience": None, "restore_best": True},
                "progress": False},
    }


def run_one(knobs: dict, seed: int = 0, direction: str = "backward") -> dict:
    from hashtron_lab.config import Settings
    from hashtron_lab.experiment import run_experiment

    cfg = Settings.from_dict(build(knobs, seed, direction))
    t0 = time.perf_counter()
    r = run_experiment(cfg)
    m = r.metrics
    return {"knobs": {**DEFAULTS, **knobs}, "seed": seed, "direction": direction,
            "train": m["train_accuracy"], "val": m["val_accuracy"], "test": m["test_accuracy"],
            "wall": m["wall_seconds"], "total_seconds": time.perf_counter() - t0,
            "updates": m["updates"], "accepted": m["accepted_updates"], "epochs": m["epochs"]}


def fmt(r: dict) -> str:
    return (f"{r['direction'][:3]} s{r['seed']} train {r['train']:.3f} val {r['val']:.3f} test {r['test']:.3f} "
            f"wall {r['wall']:.1f}s acc {r['accepted']}/{r['updates']}")


# ---------------------------------------------------------------------------------------
# the search space (selection on validation only)
# ---------------------------------------------------------------------------------------
COMMON_SPACE = {
    "capacity": [True, False],
    "selection": ["gold", "round_robin", "random"],
    "neurons_per_layer": [1, 4, 8],
    "max_attempts": [2, 3],
    "rule": ["not_worse", "always"],
    "objective": ["hamming", "accuracy"],
    "keep_unvoted": [True, True, False],
    "require_improving_vote": [True, False],
}
SPACE = {
    "digits": {
        **COMMON_SPACE,
        "levels": [[6], [8], [10], [8], [4, 12]],
        "arch_shape": [("sum", 256, 16, 16), ("sum", 128, 8, 16), ("pack", 128, 8, 16), ("pack", 96, 6, 16),
                       ("pack", 160, 10, 16), ("pack", 192, 12, 16), ("pool", 128, 8, 16, 2, 0),
                       ("pool", 144, 8, 16, 3, 0), ("pool", 180, 10, 16, 3, 0)],
        "code": ["ecoc", "ecoc", "modulo", "onehot"],
        "updates": [300, 600],
    },
    "breast_cancer": {
        **COMMON_SPACE,
        "quantiles": [1, 1, 2, 3, 7],
        "arch_shape": [("sum_direct", 30, 0, 1), ("sum_direct", 64, 0, 1), ("sum", 64, 8, 8), ("sum", 32, 4, 8),
                       ("sum", 128, 16, 8), ("pack", 32, 4, 8), ("pack", 16, 2, 8), ("pack", 48, 6, 8)],
        "code": ["ecoc"],
        "updates": [200, 400],
    },
}

# Hand-picked starting points (the lead's shapes and what the first probes suggested).
GRID = {
    "digits": [
        {"arch": "sum", "hidden": 256, "group": 16, "bits": 16, "updates": 600},
        {"arch": "sum", "hidden": 256, "group": 16, "bits": 16, "updates": 600, "selection": "round_robin",
         "neurons_per_layer": 16, "max_attempts": 2},
        {"arch": "pack", "hidden": 128, "pack": 8, "bits": 16, "updates": 600, "selection": "round_robin",
         "neurons_per_layer": 8, "max_attempts": 2},
        {"arch": "pack", "hidden": 128, "pack": 8, "bits": 16, "updates": 600, "selection": "round_robin",
         "neurons_per_layer": 8, "max_attempts": 2, "capacity": False},
        {"arch": "pack", "hidden": 160, "pack": 10, "bits": 16, "updates": 600, "selection": "round_robin",
         "neurons_per_layer": 8, "max_attempts": 2},
    ],
    "breast_cancer": [
        {"dataset": "breast_cancer", "arch": "sum_direct", "hidden": 30, "pick": False, "quantiles": 7, "updates": 300,
         "val_every": 1},
        {"dataset": "breast_cancer", "arch": "sum_direct", "hidden": 30, "pick": False, "quantiles": 1, "updates": 300,
         "val_every": 1},
        {"dataset": "breast_cancer", "arch": "sum", "hidden": 64, "group": 8, "bits": 8, "quantiles": 1,
         "updates": 300, "val_every": 2},
    ],
}


def draw(dataset: str, rng: random.Random) -> dict:
    sp = SPACE[dataset]
    k = {"dataset": dataset}
    for name, options in sp.items():
        v = options[rng.randrange(len(options))]
        if name == "arch_shape":
            arch, H, x, B = v[:4]
            k.update({"arch": arch, "hidden": H, "bits": B})
            if arch == "sum":
                k["group"] = x
            elif arch in ("pack", "pool"):
                k["pack"] = x
            if arch == "pool":
                k["sub"], k["bias"] = v[4], v[5]
            if arch == "sum_direct" and dataset == "breast_cancer" and H == 30:
                k["pick"] = False
        else:
            k[name] = v
    if dataset == "breast_cancer":
        k["val_every"] = 1 if k["arch"] == "sum_direct" else 2
    return k


def key_of(knobs: dict) -> str:
    return json.dumps({**DEFAULTS, **knobs}, sort_keys=True)


def load_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cmd_search(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.dataset}_search.jsonl"
    done = {key_of(r["knobs"]) for r in load_jsonl(path)}
    rng = random.Random(args.search_seed)
    cands = [dict(g, dataset=args.dataset) for g in GRID[args.dataset]]
    cands += [draw(args.dataset, rng) for _ in range(args.trials)]
    for i, kn in enumerate(cands):
        if key_of(kn) in done:
            continue
        try:
            r = run_one(kn, args.seed, "backward")
        except Exception as e:  # a malformed draw is logged, not fatal
            print(f"[{i}] error {e!r}", flush=True)
            continue
        with open(path, "a") as f:
            f.write(json.dumps(r) + "\n")
        done.add(key_of(kn))
        print(f"[{i}/{len(cands)}] {fmt(r)}  {json.dumps(kn)}", flush=True)


def ranked(dataset: str) -> list[dict]:
    """Search results by validation accuracy; a train-val gap of 5+ points ranks after all others."""
    rows = load_jsonl(OUT / f"{dataset}_search.jsonl")
    return sorted(rows, key=lambda r: ((r["train"] - r["val"]) >= 0.05, -r["val"], r["train"] - r["val"]))


def cmd_eval(args) -> None:
    path = OUT / f"{args.dataset}_eval.jsonl"
    done = {(key_of(r["knobs"]), r["seed"], r["direction"]) for r in load_jsonl(path)}
    # the --top best by validation among runs with a train-val gap under 5 points, plus the
    # --top best by validation whatever the gap (the gap is then checked on 3 seeds)
    rows = ranked(args.dataset)
    by_val = sorted(rows, key=lambda r: -r["val"])
    picks = []
    for r in [x for x in rows if x["train"] - x["val"] < 0.05][: args.top] + by_val[: args.top]:
        if all(key_of(r["knobs"]) != key_of(p) for p in picks):
            picks.append(r["knobs"])
    if args.knobs:
        picks.append({**DEFAULTS, **json.loads(args.knobs)})
    for kn in picks:
        for direction in ("backward", "forward"):
            for seed in args.seeds:
                if (key_of(kn), seed, direction) in done:
                    continue
                r = run_one(kn, seed, direction)
                with open(path, "a") as f:
                    f.write(json.dumps(r) + "\n")
                print(f"{fmt(r)}  {json.dumps({k: v for k, v in kn.items() if DEFAULTS.get(k) != v})}", flush=True)


def summarise(dataset: str) -> list[dict]:
    rows = load_jsonl(OUT / f"{dataset}_eval.jsonl")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((key_of(r["knobs"]), r["direction"]), []).append(r)
    out = []
    for (key, direction), rs in groups.items():
        s = {"knobs": json.loads(key), "direction": direction, "n": len(rs)}
        for m in ("train", "val", "test", "wall"):
            v = np.array([r[m] for r in rs])
            s[m] = (float(v.mean()), float(v.std()))
        out.append(s)
    return out


def short(knobs: dict) -> str:
    d = {k: v for k, v in knobs.items() if DEFAULTS.get(k) != v and k != "dataset"}
    return ", ".join(f"{k}={v}" for k, v in d.items())


def cmd_report(args) -> None:
    for ds in ("digits", "breast_cancer"):
        summ = summarise(ds)
        if not summ:
            continue
        print(f"\n### {ds}\n")
        print("| # | config (knobs that differ from DEFAULTS) | pipeline | train | val | test | wall s |")
        print("|---|---|---|---|---|---|---|")
        order = {}
        for s in sorted(summ, key=lambda s: -s["val"][0] if s["direction"] == "backward" else 0):
            order.setdefault(key_of(s["knobs"]), len(order) + 1)
        for s in sorted(summ, key=lambda s: (order[key_of(s["knobs"])], s["direction"])):
            cells = " | ".join(f"{s[m][0]:.3f} ± {s[m][1]:.3f}" for m in ("train", "val", "test"))
            print(f"| {order[key_of(s['knobs'])]} | {short(s['knobs'])} | {s['direction']} (n={s['n']}) | {cells} | "
                  f"{s['wall'][0]:.1f} |")


def save_best(dataset: str) -> None:
    summ = [s for s in summarise(dataset) if s["direction"] == "backward" and s["n"] >= 3]
    if not summ:
        return
    best = max(summ, key=lambda s: s["val"][0])
    k = {**DEFAULTS, **best["knobs"]}
    cfg = build(k)
    name = f"acc_{dataset}"
    model = {"name": name, **cfg["model"]}
    head = (f"# Accuracy search ({'scripts/accuracy_search.py'}): best backward config on {dataset} by mean\n"
            f"# validation accuracy over 3 seeds. Knobs: {short(k)}\n"
            f"# Use with dataset={name}; the run settings the numbers need are in docs/accuracy.md.\n")
    (ROOT / "conf" / "model" / f"{name}.yaml").write_text(head + yaml.safe_dump(model, sort_keys=False))
    (ROOT / "conf" / "dataset" / f"{name}.yaml").write_text(head + yaml.safe_dump(cfg["dataset"], sort_keys=False))
    rest = {g: cfg[g] for g in ("pipeline", "capacity", "selection", "gold_zone", "budget", "run")}
    (OUT / f"{name}_run.yaml").write_text(head + yaml.safe_dump(rest, sort_keys=False))
    print(f"wrote conf/model/{name}.yaml, conf/dataset/{name}.yaml, {OUT / (name + '_run.yaml')}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["search", "eval", "report", "save", "one"])
    ap.add_argument("--dataset", default="digits", choices=["digits", "breast_cancer"])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--search-seed", type=int, default=1234)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--knobs", default=None, help="JSON knobs (one: the config; eval: an extra config)")
    ap.add_argument("--direction", default="backward")
    args = ap.parse_args(argv)
    if args.cmd == "search":
        cmd_search(args)
    elif args.cmd == "eval":
        cmd_eval(args)
        save_best(args.dataset)
    elif args.cmd == "save":
        save_best(args.dataset)
    elif args.cmd == "report":
        cmd_report(args)
    else:
        kn = {"dataset": args.dataset, **json.loads(args.knobs or "{}")}
        print(fmt(run_one(kn, args.seed, args.direction)))


if __name__ == "__main__":
    main()
