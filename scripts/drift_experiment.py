"""Seed-004 sanity experiment on hashtron networks: does the global throttle calm premodulo
oscillation after a data drift?

    python scripts/drift_experiment.py [--dataset breast_cancer|digits|parity8] [--nominal 300]
        [--drift-updates 700] [--drift label_flip|feature_shift] [--fraction 0.3] [--seed 0]
        [--out reports/drift_throttle] [--threads N]

Seed 004 trains a linear model, warms it up on nominal data, drifts the input gain, and
compares the drifted phase without and with a global throttle on the update. Here:

1. *Nominal*: train the backward pipeline (capacity law, clamp ×10, throttle **off**) on the
   nominal training split; checkpoint the full state (model, sum cache, controller).
2. *Drift*: continue from that checkpoint on a drifted copy of the training split —
   ``label_flip``: a `fraction` of the labels moved to another class; ``feature_shift``: a
   `fraction` of the samples get every feature xored with a fixed random word (the inputs of
   those samples change, their labels do not) — once with the throttle disabled and once
   enabled (``capacity.throttle.enabled``; the throttle starts fresh at the drift, as the
   controller of seed 004 is switched on for the drifted phase).
3. Each neuron's premodulo trajectory comes from the pipeline's ``decision`` events. A
   decision's change is Δ = ln(final / previous); per neuron, a *direction flip* is a sign
   change between consecutive nonzero Δ. Reported per arm for the drifted phase: decisions,
   nonzero changes, flips, flips per change, mean |Δ| per decision (log-amplitude), total
   |Δ|, largest |Δ|; and the same for the law's undamped proposal (``raw``).
4. A second, synthetic panel feeds a fixed S sequence (alternating noisy / near-collapsed
   sums) through :class:`CapacityController` with and without the throttle: the controller
   alone, no network. It is labelled synthetic on the plot and in the JSON.

Writes ``<out>.png`` (matplotlib, Agg) and ``<out>.json`` and prints the summary. The core is
:func:`run_drift_experiment` (used by tests at a small size).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.backward import BackwardPipeline
from hashtron_lab.train.capacity import CapacityConfig, CapacityController
from hashtron_lab.train.events import Hooks, Recorder
from hashtron_lab.train.run import Run, Split, drive
from hashtron_lab.train.throttle import Throttle, ThrottleConfig

ROOT = Path(__file__).resolve().parents[1]
DRIFTS = ("label_flip", "feature_shift")


# -- tasks --------------------------------------------------------------------------------
def _conf(group: str, name: str) -> dict:
    return yaml.safe_load((ROOT / "conf" / group / f"{name}.yaml").read_text())


def _layers(*items) -> Architecture:
    return Architecture.from_spec({"layers": list(items)})


def _h(n: int, p: int = 0) -> dict:
    return {"type": "hashtron", "neurons": n, "premodulo": p}


def _pack(width: int, cap: int) -> dict:
    return {"type": "majpool2d", "width": width, "height": 1, "subwidth": 1, "subheight": 1,
            "capwidth": cap, "capheight": 1, "repeat": 1, "bias": 0}


def load_task(name: str, seed: int):
    """(architecture, train split, validation split, n_classes) of a small task."""
    from hashtron_lab.data import load_dataset

    def splits(ds):
        return Split(ds.X_train, ds.y_train, ds.parity_train), Split(ds.X_val, ds.y_val, ds.parity_val)

    if name == "breast_cancer":
        arch = _layers(_h(30), _pack(30, 5), _h(6), {"type": "full", "size": 6, "bits": 1, "maxbits": 6}, _h(1))
        ds = load_dataset(_conf("dataset", "breast_cancer"), seed=seed, max_output_bits=1)
    elif name == "digits":
        arch = Architecture.from_spec(_conf("model", "mnist_stack"))
        ds = load_dataset(_conf("dataset", "digits_threshold"), seed=seed, max_output_bits=arch.output_bits)
    elif name == "parity8":
        arch = _layers(_h(8), {"type": "full", "size": 8, "bits": 1, "maxbits": 8}, _h(1))
        ds = load_dataset(_conf("dataset", "parity"), seed=seed, max_output_bits=1)
    else:
        raise ValueError(f"unknown dataset {name!r}; use breast_cancer, digits or parity8")
    return (arch, *splits(ds), ds.n_classes)


def drifted(split: Split, n_classes: int, kind: str, fraction: float, rng: np.random.Generator) -> Split:
    """A drifted copy of `split` (see the module docstring); the nominal split is not changed."""
    if kind not in DRIFTS:
        raise ValueError(f"drift must be one of {DRIFTS}, got {kind!r}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    pick = rng.random(len(split)) < fraction
    X, y = split.X.copy(), split.y.copy()
    if kind == "label_flip":
        y[pick] = (y[pick] + rng.integers(1, n_classes, int(pick.sum()))) % n_classes
    else:
        word = rng.integers(1, 2**32, dtype=np.uint64).astype(np.uint32)
        X[pick] ^= word
    return Split(X, y, None if split.parity is None else split.parity.copy())


# -- trajectories and oscillation ---------------------------------------------------------
def trajectories(decisions: list[dict]) -> dict[str, list[dict]]:
    """neuron id -> its decisions in order: update, previous, raw, final, alpha, phase."""
    out: dict[str, list[dict]] = defaultdict(list)
    for d in decisions:
        out[d["neuron_id"]].append({"update": d["update"], "previous": d["previous"], "raw": d["raw"],
                                    "final": d["final"], "alpha": d["alpha"], "phase": d["phase"]})
    return dict(out)


def _log_changes(traj: list[dict], value: str) -> np.ndarray:
    return np.array([math.log(t[value] / t["previous"]) for t in traj if t["previous"] > 0 and t[value] > 0])


def oscillation(trajs: dict[str, list[dict]], value: str = "final") -> dict:
    """Direction flips and log-amplitude of premodulo changes (`value`: final or raw) over all neurons."""
    decisions = changes = flips = 0
    amps: list[float] = []
    worst = {"neuron": None, "flips": 0}
    for nid, traj in trajs.items():
        d = _log_changes(traj, value)
        decisions += len(traj)
        amps.extend(np.abs(d).tolist())
        nz = d[d != 0.0]
        changes += len(nz)
        f = int(np.count_nonzero(np.sign(nz[1:]) != np.sign(nz[:-1]))) if len(nz) > 1 else 0
        flips += f
        if f > worst["flips"]:
            worst = {"neuron": nid, "flips": f}
    amps_a = np.array(amps) if amps else np.zeros(1)
    return {"decisions": decisions, "changes": changes, "flips": flips,
            "flips_per_change": flips / changes if changes else 0.0,
            "flips_per_decision": flips / decisions if decisions else 0.0,
            "mean_abs_log_change": float(amps_a.sum() / max(decisions, 1)),
            "total_abs_log_change": float(amps_a.sum()), "max_abs_log_change": float(amps_a.max()),
            "most_flips": worst}


# -- the experiment -----------------------------------------------------------------------
def _pipeline_cfg(throttle: bool, throttle_cfg: dict | None, explore: float) -> dict:
    """BackwardPipeline's settings of one arm: the capacity law with or without the throttle."""
    return {"capacity": {"throttle": {**(throttle_cfg or {}), "enabled": bool(throttle)}},
            "selection": {"explore": explore}}


def run_drift_experiment(dataset: str = "breast_cancer", nominal_updates: int = 300, drift_updates: int = 700,
                         drift: str = "label_flip", fraction: float = 0.3, seed: int = 0,
                         throttle_cfg: dict | None = None, explore: float = 0.0, task=None) -> dict:
    """Nominal phase, then the drifted phase without and with the throttle (module docstring).

    Returns a JSON-friendly dict: config, nominal, arms {"unthrottled", "throttled"} with
    oscillation metrics of the drifted phase, accuracies, throttle activity and trajectories.
    `task` may pass a preloaded (arch, train, val, n_classes).
    """
    arch, train, val, n_classes = task if task is not None else load_task(dataset, seed)
    run_cfg = {"seed": seed, "run": {"validation": {"patience": None, "restore_best": False}}}
    with tempfile.TemporaryDirectory() as tmp:
        ck = str(Path(tmp) / "nominal.ckpt")
        rec0 = Recorder()
        net = Network.untrained(arch, np.random.default_rng(np.random.SeedSequence([seed, 1])))
        nominal = Run(net, train, val, n_classes, {**run_cfg, "budget": {"max_updates": nominal_updates},
                                                   "checkpoint_path": ck}, Hooks([rec0]))
        t0 = time.perf_counter()
        drive(nominal, BackwardPipeline(**_pipeline_cfg(False, throttle_cfg, explore)))
        out = {
            "config": {"dataset": dataset, "architecture": arch.to_spec(), "nominal_updates": nominal_updates,
                       "drift_updates": drift_updates, "drift": drift, "fraction": fraction, "seed": seed,
                       "throttle": {**ThrottleConfig.from_dict(throttle_cfg).__dict__, "enabled": "per arm"},
                       "selection_explore": explore, "n_train": len(train)},
            "nominal": {"train_accuracy": nominal.train_accuracy(),
                        "val_accuracy": nominal.accuracy(val) if val is not None else None,
                        "oscillation": oscillation(trajectories(rec0.of("decision"))),
                        "seconds": time.perf_counter() - t0},
            "nominal_trajectories": trajectories(rec0.of("decision")),
            "arms": {},
        }
        shifted = drifted(train, n_classes, drift, fraction, np.random.default_rng([seed, 4]))
        out["drift_effect"] = {"labels_changed": int(np.count_nonzero(shifted.y != train.y)),
                               "rows_changed": int(np.count_nonzero((shifted.X != train.X).any(axis=1)))}
        for arm, thr in (("unthrottled", False), ("throttled", True)):
            rec = Recorder()
            run = Run(Network.untrained(arch, np.random.default_rng(0)), shifted, val, n_classes,
                      {**run_cfg, "budget": {"max_updates": nominal_updates + drift_updates}}, Hooks([rec]))
            t0 = time.perf_counter()
            pipe = BackwardPipeline(**_pipeline_cfg(thr, throttle_cfg, explore))
            # on purpose: the drifted data and this arm's throttle differ from the nominal run's
            drive(run, pipe, resume_from=ck, allow_changes=("train_data", "pipeline_settings"))
            resumed = rec.of("resume")[0]
            decisions = rec.of("decision")
            trajs = trajectories(decisions)
            alphas = [d["alpha"] for d in decisions]
            out["arms"][arm] = {
                "throttle_enabled": thr,
                "oscillation": oscillation(trajs, "final"),
                "raw_oscillation": oscillation(trajs, "raw"),
                "train_accuracy_on_drifted": run.train_accuracy(),
                "train_accuracy_on_nominal": run.accuracy(train),
                "val_accuracy": run.accuracy(val) if val is not None else None,
                "accepted": sum(h["accepted"] for h in run.history[nominal_updates:]),
                "throttled_decisions": sum("throttle" in d["clamps"] for d in decisions),
                "min_alpha": min(alphas) if alphas else 1.0,
                "mean_alpha": float(np.mean(alphas)) if alphas else 1.0,
                "resumed_at_update": resumed["updates"],
                "seconds": time.perf_counter() - t0,
                "trajectories": trajs,
            }
    u, t = out["arms"]["unthrottled"]["oscillation"], out["arms"]["throttled"]["oscillation"]
    out["verdict"] = {
        "real_data_oscillates_without_throttle": u["flips"] > 0,
        "oscillation_already_before_drift": out["nominal"]["oscillation"]["flips"] > 0,
        "throttle_fewer_flips": t["flips"] < u["flips"],
        "throttle_lower_flip_rate": t["flips_per_change"] < u["flips_per_change"],
        "throttle_smaller_amplitude": t["mean_abs_log_change"] < u["mean_abs_log_change"],
        "flip_ratio_throttled_over_unthrottled": t["flips"] / u["flips"] if u["flips"] else None,
        "amplitude_ratio_throttled_over_unthrottled":
            t["mean_abs_log_change"] / u["mean_abs_log_change"] if u["mean_abs_log_change"] else None,
    }
    return out


def synthetic_demo(N: int = 1000, steps: int = 60, seed: int = 0, throttle_cfg: dict | None = None) -> dict:
    """The controller alone on a synthetic sum sequence: |S| alternates between noisy (≈ 0.02 N)
    and near-collapsed (≈ 0.6 N) with a little noise — the law then asks for premodulo changes
    of ~×/÷ 300 every step; the ×10 clamp caps them, the throttle shrinks them."""
    rng = np.random.default_rng(seed)
    S = [int(round((0.02 if i % 2 == 0 else 0.6) * N * (1 + 0.1 * rng.standard_normal()))) for i in range(steps)]
    out = {"N": N, "S": S, "synthetic": True}
    for arm, thr in (("unthrottled", None), ("throttled", Throttle(ThrottleConfig.from_dict(throttle_cfg)))):
        ctl = CapacityController(CapacityConfig(), thr)
        prev, finals, alphas = N, [], []
        for i, s in enumerate(S):
            d = ctl.decision_fields(0, 0, N, [(s, i)], i, prev)
            finals.append(d["final"])
            alphas.append(d["alpha"])
            prev = d["final"]
        traj = {"0.0": [{"update": i, "previous": p, "raw": 0, "final": f, "alpha": a, "phase": "synthetic"}
                        for i, (p, f, a) in enumerate(zip([N] + finals[:-1], finals, alphas))]}
        out[arm] = {"premodulo": finals, "alpha": alphas, "oscillation": oscillation(traj)}
    return out


# -- report -------------------------------------------------------------------------------
def plot(result: dict, synth: dict, path: Path, n_neurons: int = 4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    cfg = result["config"]
    onset = cfg["nominal_updates"]
    arms = result["arms"]
    counts: dict[str, int] = defaultdict(int)
    for arm in arms.values():
        for nid, tr in arm["trajectories"].items():
            counts[nid] += len(tr)
    top = sorted(counts, key=lambda k: (-counts[k], k))[:n_neurons]
    colors = dict(zip(top, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, arm in zip(axes[0], ("unthrottled", "throttled")):
        for nid in top:
            pts = result["nominal_trajectories"].get(nid, []) + arms[arm]["trajectories"].get(nid, [])
            if pts:
                ax.step([p["update"] for p in pts], [p["final"] for p in pts], where="post", color=colors[nid],
                        label=f"neuron {nid}", lw=1.2)
        ax.axvline(onset, color="k", ls="--", lw=1, label="drift starts")
        ax.set_yscale("log")
        osc = arms[arm]["oscillation"]
        ax.set_title(f"real data ({cfg['dataset']}, {cfg['drift']} {cfg['fraction']:.0%}): throttle "
                     f"{'ON' if arms[arm]['throttle_enabled'] else 'OFF'} after drift\n"
                     f"flips {osc['flips']} / {osc['changes']} changes, mean |Δ ln P| {osc['mean_abs_log_change']:.3f}")
        ax.set_xlabel("neuron update")
        ax.set_ylabel("premodulo (log)")
        ax.legend(fontsize=8, loc="best")
    ymin = min(ax.get_ylim()[0] for ax in axes[0])
    ymax = max(ax.get_ylim()[1] for ax in axes[0])
    for ax in axes[0]:
        ax.set_ylim(ymin, ymax)
    ax = axes[1][0]
    names = ["flips_per_change", "flips_per_decision", "mean_abs_log_change"]
    groups = [("nominal phase (no throttle)", result["nominal"]["oscillation"]),
              ("after drift, throttle OFF", arms["unthrottled"]["oscillation"]),
              ("after drift, throttle ON", arms["throttled"]["oscillation"])]
    x = np.arange(len(names))
    for i, (label, o) in enumerate(groups):
        bars = ax.bar(x + (i - 1) * 0.27, [o[n] for n in names], 0.27, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(x, ["direction flips\nper change", "direction flips\nper decision", "mean |Δ ln P|\nper decision"])
    u, t = arms["unthrottled"]["oscillation"], arms["throttled"]["oscillation"]
    ax.set_title(f"all neurons: flips {u['flips']} → {t['flips']}, "
                 f"mean |Δ ln P| {u['mean_abs_log_change']:.3f} → {t['mean_abs_log_change']:.3f} (drifted phase)")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    for arm, style in (("unthrottled", "-o"), ("throttled", "-s")):
        ax.plot(synth[arm]["premodulo"], style, ms=3, lw=1, label=f"{arm} (flips {synth[arm]['oscillation']['flips']})")
    ax.set_yscale("log")
    ax.set_title(f"SYNTHETIC sums through CapacityController alone (no network)\nN={synth['N']}, |S| alternates "
                 f"0.02N / 0.6N; mean |Δ ln P| {synth['unthrottled']['oscillation']['mean_abs_log_change']:.2f} → "
                 f"{synth['throttled']['oscillation']['mean_abs_log_change']:.2f}", fontsize=10)
    ax.set_xlabel("decision")
    ax.set_ylabel("premodulo (log)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(result: dict, synth: dict) -> dict:
    """The JSON summary (trajectories left out: they are on the plot)."""
    arms = {k: {kk: vv for kk, vv in v.items() if kk != "trajectories"} for k, v in result["arms"].items()}
    return {"config": result["config"], "nominal": result["nominal"], "drift_effect": result["drift_effect"],
            "arms": arms, "verdict": result["verdict"],
            "synthetic_controller_only": {k: (v["oscillation"] if isinstance(v, dict) else v)
                                          for k, v in synth.items() if k not in ("S",)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="breast_cancer", choices=["breast_cancer", "digits", "parity8"])
    ap.add_argument("--nominal", type=int, default=300)
    ap.add_argument("--drift-updates", type=int, default=700)
    ap.add_argument("--drift", default="label_flip", choices=DRIFTS)
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--explore", type=float, default=0.0)
    ap.add_argument("--out", default=str(ROOT / "reports" / "drift_throttle"))
    ap.add_argument("--threads", type=int, default=None, help="numba threads (results do not depend on it)")
    a = ap.parse_args(argv)
    if a.threads:
        import numba

        numba.set_num_threads(a.threads)
    result = run_drift_experiment(a.dataset, a.nominal, a.drift_updates, a.drift, a.fraction, a.seed, explore=a.explore)
    synth = synthetic_demo(seed=a.seed)
    out = Path(a.out)
    plot(result, synth, out.with_suffix(".png"))
    s = summary(result, synth)
    out.with_suffix(".json").write_text(json.dumps(s, indent=2, default=float) + "\n")
    print(json.dumps({"nominal": {k: v for k, v in s["nominal"].items() if k != "oscillation"},
                      "nominal_oscillation": s["nominal"]["oscillation"],
                      **{arm: {"oscillation": v["oscillation"], "raw_oscillation": v["raw_oscillation"],
                               "val_accuracy": v["val_accuracy"],
                               "train_accuracy_on_drifted": v["train_accuracy_on_drifted"],
                               "throttled_decisions": v["throttled_decisions"], "min_alpha": v["min_alpha"]}
                         for arm, v in s["arms"].items()},
                      "verdict": s["verdict"], "synthetic": s["synthetic_controller_only"]}, indent=2, default=float))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
