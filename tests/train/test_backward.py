"""The backward pipeline (issue 5, seed 000; DESIGN §4–§7): bootstrap of the final layer first,
strict backward sweeps, premodulo decisions by the capacity law, forward skip, sum cache and
gold-zone selection. Crash recovery (resume after SIGKILL) is in test_resume.py."""
from __future__ import annotations

import math
from itertools import groupby

import numpy as np
import pytest

from types import SimpleNamespace

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.train.backward import BackwardPipeline
from hashtron_lab.train.backward import order_compliance as order_metrics
from hashtron_lab.train.run import drive

pytestmark = pytest.mark.usefixtures("one_numba_thread")

DECISION_KEYS = {"neuron_id", "layer", "pos", "epoch", "S", "N", "margin", "regime", "target_capacity", "previous",
                 "raw", "final", "clamps", "alpha", "accepted", "accuracy_after", "phase", "update"}


def breast_cancer_net() -> Architecture:
    """30 features -> 30 neurons -> pack 5 bits -> 6 -> pack all 6 -> 1 output neuron (3 layers)."""
    return Architecture.from_spec({"layers": [
        {"type": "hashtron", "neurons": 30},
        {"type": "majpool2d", "width": 30, "height": 1, "subwidth": 1, "subheight": 1, "capwidth": 5,
         "capheight": 1, "repeat": 1, "bias": 0},
        {"type": "hashtron", "neurons": 6},
        {"type": "full", "size": 6, "bits": 1, "maxbits": 6},
        {"type": "hashtron", "neurons": 1},
    ]})


def stuck_net() -> Architecture:
    """A majority pool whose bias no vote can pass: layer 0 never influences the output."""
    return Architecture.from_spec({"layers": [
        {"type": "hashtron", "neurons": 4},
        {"type": "majpool2d", "width": 4, "height": 1, "subwidth": 1, "subheight": 1, "capwidth": 4,
         "capheight": 1, "repeat": 1, "bias": 100},
        {"type": "hashtron", "neurons": 1},
    ]})


def task(tr, name):
    """(arch, train split, val split, n_classes) of a named small task."""
    if name == "isalnum":
        return tr.one_neuron(), tr.isalnum_all(), None, 2
    if name == "parity8":
        ds = tr.dataset("parity", 1)
        trn, va, _ = tr.splits(ds)
        return tr.parity_net(8), trn, va, 2
    if name == "breast_cancer":
        ds = tr.dataset("breast_cancer", 1)
        trn, va, _ = tr.splits(ds)
        return breast_cancer_net(), trn, va, ds.n_classes
    if name == "digits":
        trn, va, _, nc = tr.digits()
        return tr.mnist_stack(), trn, va, nc
    raise KeyError(name)


def backward_run(tr, name, seed=0, updates=300, pipeline=None, capacity=None, **run_cfg):
    arch, trn, va, nc = task(tr, name)
    rec = tr.Recorder()
    run_cfg.setdefault("validation", {"patience": None})
    run = tr.make_run(tr.untrained(arch, seed), trn, va, nc, rec, seed=seed, budget={"max_updates": updates},
                      **run_cfg)
    pipe = BackwardPipeline(pipeline, capacity)
    drive(run, pipe)
    return run, pipe, rec


@pytest.fixture(scope="module", params=["digits", "breast_cancer"])
def real_run(request, tr):
    """One 400-update backward run on a real dataset (cache unpruned so every record stays visible)."""
    return backward_run(tr, request.param, seed=1, updates=400, pipeline={"cache_keep_last": None},
                        validation={"patience": None, "restore_best": False})


def visits(history):
    """Backward-phase records grouped into layer visits (consecutive records of one layer in one epoch)."""
    back = [h for h in history if h["phase"] == "backward"]
    return [list(g) for _, g in groupby(back, key=lambda h: (h["epoch"], h["layer"]))]


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


# -- phase 0 -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["isalnum", "parity8", "breast_cancer", "digits"])
@pytest.mark.parametrize("seed", range(4))
def test_final_layer_is_trained_first_with_premodulo_N(tr, name, seed):
    run, pipe, rec = backward_run(tr, name, seed=seed, updates=25)
    last = run.net.architecture.n_layers - 1
    width = run.net.architecture.widths[last]
    N = len(run.train)
    boot = run.history[:width]
    assert [(h["layer"], h["neuron"]) for h in boot] == [(last, p) for p in range(width)]
    assert all(h["phase"] == "bootstrap" and h["selection"] == "bootstrap" and h["epoch"] == 0 for h in boot)
    assert all(h["premodulo"] == N for h in boot)
    assert all(h["phase"] != "bootstrap" for h in run.history[width:])
    assert rec.of("update")[0]["layer"] == last
    for d in rec.of("decision")[:width]:
        assert d["raw"] == d["final"] == N and d["previous"] == 0 and d["regime"] == "unknown"
    # the bootstrap is an epoch of its own
    assert run.epochs[0]["updates"] == width
    # a bootstrapped neuron that was kept holds premodulo N
    for h in boot:
        if h["accepted"]:
            assert run.net.neuron(last, h["neuron"]).premodulo == N or any(
                g["accepted"] and (g["layer"], g["neuron"]) == (last, h["neuron"]) for g in run.history[width:])
    assert order_metrics(run.history, run.net.architecture.n_layers)["final_first"]


# -- phase 1 order ----------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_strict_backward_layer_order_in_every_epoch(tr, name, k):
    run, pipe, rec = backward_run(tr, name, updates=250, pipeline={"neurons_per_layer": k})
    L = run.net.architecture.n_layers
    by_epoch = {}
    for h in run.history:
        if h["phase"] == "backward":
            by_epoch.setdefault(h["epoch"], []).append(h["layer"])
    assert len(by_epoch) >= 5
    complete = sorted(by_epoch)[:-1]  # the budget may cut the last sweep short
    for e in by_epoch:
        distinct = [l for l, _ in groupby(by_epoch[e])]
        expected = list(range(L - 1, -1, -1))
        assert distinct == (expected if e in complete else expected[:len(distinct)]), (e, by_epoch[e])
    assert order_metrics(run.history, L)["backward_order"]


@pytest.mark.parametrize("k", [1, 2])
def test_layer_visit_ends_at_k_accepted_or_after_max_attempts(tr, k):
    run, pipe, rec = backward_run(tr, "digits", updates=200, pipeline={"neurons_per_layer": k, "max_attempts": 3})
    widths = run.net.architecture.widths
    skips = {(s["epoch"], s["layer"]) for s in rec.of("skip")}
    vs = visits(run.history)
    for v in vs[:-1]:  # the last visit may be cut by the budget
        layer, epoch = v[0]["layer"], v[0]["epoch"]
        accepted = sum(h["accepted"] for h in v)
        positions = [h["neuron"] for h in v]
        assert len(set(positions)) == len(positions), "a neuron was tried twice in one visit"
        assert accepted <= k
        if accepted < k:
            assert len(v) == min(3 * k, widths[layer])
        else:
            assert v[-1]["accepted"]
        assert ((epoch, layer) in skips) == (accepted == 0)
    assert len(rec.of("skip")) == len(pipe.skips) > 0


# -- premodulo decisions --------------------------------------------------------------------
def test_every_decision_carries_its_inputs_and_outcome(tr, real_run):
    run, pipe, rec = real_run
    decisions = rec.of("decision")
    assert len(decisions) == len(run.history) == run.n_updates
    last_final: dict[str, int] = {}
    for d, h in zip(decisions, run.history):
        assert DECISION_KEYS <= set(d), DECISION_KEYS - set(d)
        assert d["neuron_id"] == h["neuron_id"] == f"{d['layer']}.{d['pos']}"
        assert d["update"] == h["update"] and d["epoch"] == h["epoch"] and d["phase"] == h["phase"]
        assert d["N"] == h["N"] == len(run.train)
        assert d["final"] == h["premodulo"]
        assert d["accepted"] == h["accepted"] and d["accuracy_after"] == h["train_accuracy"]
        assert d["regime"] in {"unknown", "noisy", "gold", "collapsed"} and d["regime"] == h["regime"]
        assert 0.0 < d["alpha"] <= 1.0 and d["alpha"] == h["alpha"]
        assert isinstance(d["clamps"], list)
        if d["phase"] == "backward":
            assert d["S"] == h["S"]  # the fresh tally's sum
            assert d["margin"] == pytest.approx(d["S_used"] / d["N"])
        assert d["previous"] == last_final.get(d["neuron_id"], 0)
        last_final[d["neuron_id"]] = d["final"]
    assert rec.of("decision") == run.decisions


def test_premodulo_follows_the_capacity_law(tr, real_run):
    """final == round((N / (|S| + 1))²), target clamped to [1, N], whenever no dampening fired."""
    run, pipe, rec = real_run
    free = 0
    for d in rec.of("decision"):
        if d["phase"] != "backward":
            continue
        N, S = d["N"], d["S"]
        target = min(max(N / (abs(S) + 1), 1.0), float(N))
        assert d["target_capacity"] == pytest.approx(target)
        assert d["raw"] == round_half_up(target * target)
        eps, tau = math.sqrt(N), 0.8 * N
        assert d["regime"] == ("collapsed" if abs(S) >= tau else "noisy" if abs(S) <= eps else "gold")
        if not d["clamps"]:
            free += 1
            assert d["final"] == d["raw"], d
        if d["clamps"] == ["clamp"]:  # ×10 / ÷10 per step around the previous premodulo
            p = d["previous"]
            assert d["final"] in (math.ceil(p / 10 - 1e-9), math.floor(p * 10 + 1e-9)), d
        if d["previous"] > 0:
            assert d["previous"] / 10 - 1 <= d["final"] <= d["previous"] * 10 + 1
    assert free >= 10
    # the trained neuron holds the decided premodulo as its first command
    for (layer, pos), prem in _last_accepted_premodulo(run.history).items():
        assert run.net.neuron(layer, pos).premodulo == prem


def _last_accepted_premodulo(history):
    out = {}
    for h in history:
        if h["accepted"]:
            out[(h["layer"], h["neuron"])] = h["premodulo"]
    return out


def test_capacity_law_hand_checked_examples(tr):
    """Worked examples of the law, checked through the same pipeline code path (a real run's N)."""
    from hashtron_lab.train.capacity import CapacityController

    class Controller(CapacityController):
        def decide(self, *a):
            return SimpleNamespace(**self.decision_fields(*a))

    c = Controller({"dampening": []})
    # N = 1078 (digits train split): S = 33 -> (1078/34)² = 1005.26 -> 1005
    d = c.decide(1, 0, 1078, [(33, 1)], 1, 0)
    assert (d.raw, d.final, d.regime) == (1005, 1005, "gold")
    # S = -654 -> (1078/655)² = 2.709 -> 3 ; collapsed? 654 < 0.8·1078 = 862.4 -> gold
    d = c.decide(2, 3, 1078, [(-654, 1)], 1, 1078)
    assert (d.raw, d.final, d.regime) == (3, 3, "gold")
    # S = 0 -> capacity N -> premodulo N² (noisy)
    d = c.decide(0, 0, 1078, [(0, 1)], 1, 0)
    assert (d.raw, d.regime) == (1078 ** 2, "noisy")
    # S = ±N -> capacity < 1 -> clamped to 1 -> premodulo 1 (collapsed)
    d = c.decide(0, 0, 1078, [(-1078, 1)], 1, 0)
    assert (d.raw, d.regime, d.clamps) == (1, "collapsed", ["capacity_low"])
    # with the default ×10 clamp: previous 1078, raw 3 -> 108
    d = Controller({}).decide(2, 3, 1078, [(-654, 1)], 1, 1078)
    assert (d.raw, d.final, d.clamps) == (3, 108, ["clamp"])


def test_fixed_premodulo_ablation_keeps_bootstrap_at_N(tr):
    run, pipe, rec = backward_run(tr, "breast_cancer", updates=60,
                                  capacity={"enabled": False, "fixed_premodulo": 4096})
    N = len(run.train)
    assert run.history[0]["premodulo"] == N
    assert all(h["premodulo"] == 4096 for h in run.history if h["phase"] == "backward")


def test_throttle_disabled_means_alpha_one(tr):
    run, pipe, rec = backward_run(tr, "breast_cancer", updates=120, capacity={"throttle": {"enabled": False}})
    assert all(d["alpha"] == 1.0 and "throttle" not in d["clamps"] for d in rec.of("decision"))
    run2, _, rec2 = backward_run(tr, "breast_cancer", updates=120, capacity={"throttle": {"enabled": True}})
    assert any(d["alpha"] < 1.0 for d in rec2.of("decision"))


# -- forward skip ---------------------------------------------------------------------------
def _stuck_run(tr, updates=60, max_epochs=None, rule="improve", **pipe):
    X = np.tile(np.arange(64, dtype=np.uint32)[:, None], (1, 4))
    from hashtron_lab.train.run import Split

    data = Split(X, (np.arange(64) % 3 == 0).astype(np.int64))
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(stuck_net(), 0), data, None, 2, rec,
                      budget={"max_updates": updates, "max_epochs": max_epochs}, acceptance={"rule": rule})
    p = BackwardPipeline(pipe)
    with tr.deadline(60):
        drive(run, p)
    return run, p, rec


def test_forward_skip_fires_when_a_layer_cannot_influence_the_output(tr):
    run, pipe, rec = _stuck_run(tr, updates=60)
    assert run.stopped == "max_updates" and run.n_updates == 60
    layer0 = [h for h in run.history if h["layer"] == 0]
    assert layer0 and not any(h["accepted"] for h in layer0)
    assert all(h["votes"] == 0 for h in layer0)  # the pool disregards every cell
    skips = rec.of("skip")
    epochs_with_layer0 = {h["epoch"] for h in layer0}
    full_epochs = {e["epoch"] - 1 for e in run.epochs}  # epochs that ended
    for e in epochs_with_layer0 & full_epochs:
        s = [s for s in skips if s["epoch"] == e and s["layer"] == 0]
        assert len(s) == 1 and s[0]["attempts"] == 3
        assert s[0]["reason"] == "no accepted update after 3 attempts"
    assert len(full_epochs) >= 10


def test_forward_skip_ends_a_run_by_epochs_too(tr):
    run, pipe, rec = _stuck_run(tr, updates=None, max_epochs=12)
    assert run.stopped == "max_epochs" and run.epoch == 12
    assert len([s for s in rec.of("skip") if s["layer"] == 0]) == 11  # every sweep after the bootstrap


def test_forward_skip_after_a_time_limit(tr):
    run, pipe, rec = _stuck_run(tr, updates=30, max_attempts=1000, layer_seconds=0.0)
    skips = rec.of("skip")
    assert skips and all(s["reason"] == "time limit" for s in skips if s["layer"] == 0)
    assert all(s["attempts"] == 1 for s in skips)
    assert run.n_updates == 30


def test_improve_rule_when_nothing_improves_skips_every_sweep_and_ends(tr):
    """isalnum with one neuron under rule "improve": the capacity law pins the output neuron at a
    small premodulo (|S| = class imbalance), no later update beats the bootstrap, every sweep is
    skipped forward and the budget still ends the run."""
    data = tr.isalnum_all()
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.one_neuron(), 0), data, None, 2, rec, budget={"max_updates": 40},
                      acceptance={"rule": "improve", "require_improving_vote": False})
    with tr.deadline(60):
        drive(run, BackwardPipeline())
    assert run.stopped == "max_updates" and run.n_updates == 40
    assert run.history[0]["accepted"] and not any(h["accepted"] for h in run.history[1:])
    assert all(h["reason"] == "not_improved" for h in run.history[1:])
    skips = rec.of("skip")
    assert [s["epoch"] for s in skips] == list(range(1, 40))
    assert all(s["attempts"] == 1 for s in skips)  # a layer of one neuron has one candidate per visit


# -- sum cache and selection ----------------------------------------------------------------
def test_sum_cache_holds_one_record_per_trained_neuron(tr, real_run):
    run, pipe, rec = real_run
    from hashtron_lab.train.gold_zone import REGIME_NAMES, GoldZone

    regime_of = GoldZone().regime

    records = pipe.cache.records()
    assert len(records) == len(pipe.cache) == run.n_updates
    for r, h in zip(records, run.history):
        assert (int(r["layer"]), int(r["pos"])) == (h["layer"], h["neuron"])
        assert int(r["S"]) == h["S"] and int(r["N"]) == h["N"] == len(run.train)
        assert float(r["margin"]) == pytest.approx(abs(h["S"]) / h["N"])
        assert int(r["premodulo"]) == h["premodulo"]
        assert bool(r["accepted"]) == h["accepted"]
        assert float(r["accuracy"]) == h["train_accuracy"]
        assert int(r["epoch"]) == h["epoch"]
        assert int(r["S_out"]) == h["S_out"]
        assert REGIME_NAMES[int(r["regime"])] == regime_of(h["S"], h["N"])
    # every neuron trained has its latest sum in the cache
    for h in run.history[::-1][:20]:
        latest = [g for g in run.history if (g["layer"], g["neuron"]) == (h["layer"], h["neuron"])][-1]
        assert pipe.cache.recent(h["layer"], h["neuron"])[-1][0] == latest["S"]


def test_a_read_of_the_cache_mid_visit_sees_every_record_so_far(tr):
    """A visit's records are added to the cache together (nothing reads them during the visit); a
    read of the cache or a checkpoint in the middle of a visit still holds every one."""
    from hashtron_lab.train.sum_cache import SumCache

    arch, trn, va, nc = task(tr, "digits")  # widths 80 / 20 / 5: update 40 falls inside the layer-0 visit
    run = tr.make_run(tr.untrained(arch, 0), trn, va, nc, tr.Recorder(), seed=0, budget={"max_updates": 60})
    pipe = BackwardPipeline({"layer_fraction": 1.0, "max_attempts": 1, "cache_keep_last": None})
    while run.n_updates < 40:
        if pipe.step(run):
            run.end_epoch()
    assert pipe.visit["layer"] == 0 and pipe._pending  # records of this visit not yet added
    assert len(SumCache.from_state(pipe.state()["cache"])) == 40
    assert len(pipe.cache) == 40 and [int(r["pos"]) for r in pipe.cache.records()[-10:]] == \
        [h["neuron"] for h in run.history[-10:]]


def test_sum_cache_pruning_keeps_last_k_per_neuron(tr):
    run, pipe, rec = backward_run(tr, "breast_cancer", updates=300, pipeline={"cache_keep_last": 2})
    counts = {}
    for h in run.history:
        counts[(h["layer"], h["neuron"])] = counts.get((h["layer"], h["neuron"]), 0) + 1
    assert max(counts.values()) > 2  # pruning had something to do
    assert len(pipe.cache) == sum(min(c, 2) for c in counts.values())
    for (layer, pos), c in counts.items():
        mine = [h["S"] for h in run.history if (h["layer"], h["neuron"]) == (layer, pos)]
        assert [s for s, _ in pipe.cache.recent(layer, pos)] == mine[-2:]


def _expected_pick(latest, layer, width, N, tried):
    """The gold-zone rule of DESIGN §6, written out again: untallied first (lowest), then the gold
    neuron closest to the middle of the zone, then a moderate one, else random (None)."""
    known = {p: s for (l, p), s in latest.items() if l == layer and p not in tried}
    for p in range(width):
        if p not in known and p not in tried:
            return p, "untallied"
    eps, tau = math.sqrt(N), 0.8 * N
    mid = (eps + tau) / 2
    for ok, reason in ((lambda a: eps < a < tau, "gold"), (lambda a: 0 < a < N, "moderate")):
        cand = sorted(p for p, s in known.items() if ok(abs(s)))
        if cand:
            return min(cand, key=lambda p: (abs(abs(known[p]) - mid), p)), reason
    return None, "random"


def test_selection_follows_the_gold_zone_rule(tr, real_run):
    run, pipe, rec = real_run
    widths = run.net.architecture.widths
    N = len(run.train)
    latest: dict[tuple[int, int], int] = {}
    reasons = {}
    tried: list[int] = []
    key = None
    for h in run.history:
        if h["phase"] == "backward":
            if (h["epoch"], h["layer"]) != key:
                key, tried = (h["epoch"], h["layer"]), []
            pos, reason = _expected_pick(latest, h["layer"], widths[h["layer"]], N, set(tried))
            assert h["selection"] == reason, (h, reason)
            if pos is not None:
                assert h["neuron"] == pos, (h, pos, reason)
            reasons[reason] = reasons.get(reason, 0) + 1
            tried.append(h["neuron"])
        latest[(h["layer"], h["neuron"])] = h["S"]
    assert reasons.get("gold", 0) >= 20
    # once every neuron of a layer has a sum, it is never "untallied" again
    seen: dict[int, set] = {}
    for h in run.history:
        if h["phase"] == "backward" and len(seen.get(h["layer"], ())) == widths[h["layer"]]:
            assert h["selection"] in {"gold", "moderate", "random"}
        seen.setdefault(h["layer"], set()).add(h["neuron"])


# -- throttle under drift (scripts/drift_experiment.py, seed 004) ---------------------------
def _drift_module(tr):
    import importlib.util

    path = tr.root / "scripts" / "drift_experiment.py"
    spec = importlib.util.spec_from_file_location("drift_experiment", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_throttle_calms(res):
    u, t = res["arms"]["unthrottled"], res["arms"]["throttled"]
    assert u["oscillation"]["flips"] > 0, "the uncontrolled law does not oscillate here"
    assert u["throttled_decisions"] == 0 and u["min_alpha"] == 1.0
    assert t["throttled_decisions"] > 0 and t["min_alpha"] < 1.0
    assert t["oscillation"]["flips"] < u["oscillation"]["flips"]
    assert t["oscillation"]["flips_per_change"] < u["oscillation"]["flips_per_change"]
    assert t["oscillation"]["mean_abs_log_change"] < u["oscillation"]["mean_abs_log_change"]
    assert u["resumed_at_update"] == t["resumed_at_update"] == res["config"]["nominal_updates"]


def test_drift_throttle_reduces_premodulo_oscillation(tr):
    """Breast cancer, 30 % labels flipped after 150 nominal updates, 250 drifted updates per arm."""
    de = _drift_module(tr)
    res = de.run_drift_experiment("breast_cancer", nominal_updates=150, drift_updates=250, seed=2)
    assert res["drift_effect"]["labels_changed"] > 0.2 * res["config"]["n_train"]
    _check_throttle_calms(res)


@pytest.mark.slow
@pytest.mark.parametrize("drift", ["label_flip", "feature_shift"])
@pytest.mark.parametrize("seed", range(4))
def test_drift_throttle_reduces_oscillation_over_seeds(tr, seed, drift):
    de = _drift_module(tr)
    _check_throttle_calms(de.run_drift_experiment("breast_cancer", 150, 250, drift=drift, seed=seed))


def test_drift_synthetic_controller_only(tr):
    """Controller alone on alternating sums: the throttle keeps the direction (so every change still
    flips) but shrinks the swings by more than 5x."""
    de = _drift_module(tr)
    s = de.synthetic_demo(N=1000, steps=40)
    u, t = s["unthrottled"]["oscillation"], s["throttled"]["oscillation"]
    assert u["flips"] == t["flips"] == 39
    assert t["mean_abs_log_change"] < u["mean_abs_log_change"] / 5
    assert min(s["throttled"]["alpha"]) < 0.1 and set(s["unthrottled"]["alpha"]) == {1.0}
