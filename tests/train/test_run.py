"""The training run shared by both pipelines (issue 4): budget, acceptance, undo, validation,
early stopping, history, events and determinism. Convergence of the forward pipeline is in
test_forward.py, checkpoints and resume in test_resume.py."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from hashtron_lab.config import Settings
from hashtron_lab.experiment import run_experiment
from hashtron_lab.train.backward import BackwardPipeline
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import drive
from hashtron_lab.train.tally import tally
from hashtron_lab.train.update import apply_update

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def train_experiment(cfg: dict):
    """The run path on a settings tree written as a dict."""
    return run_experiment(Settings.from_dict(cfg))

HISTORY_KEYS = {"update", "epoch", "layer", "neuron", "neuron_id", "premodulo", "S", "N", "votes",
                "improving_votes", "accepted", "reason", "keys", "train_accuracy", "duration"}
TIMING_KEYS = {"wall_seconds", "updates_per_second", "session_seconds"}


# -- budget ------------------------------------------------------------------------------
@pytest.mark.parametrize("pipeline", [ForwardPipeline, BackwardPipeline])
def test_max_updates_stops_exactly(tr, pipeline):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, budget={"max_updates": 17})
    drive(run, pipeline())
    assert run.stopped == "max_updates"
    assert run.n_updates == 17 and len(run.history) == 17
    assert [h["update"] for h in run.history] == list(range(17))


def test_zero_update_budget_trains_nothing(tr):
    trn, va, _, nc = tr.digits()
    net = tr.untrained(tr.mnist_stack())
    before = tr.model_bytes(net)
    run = tr.make_run(net, trn, va, nc, budget={"max_updates": 0})
    drive(run, ForwardPipeline())
    assert run.n_updates == 0 and run.stopped == "max_updates"
    assert tr.model_bytes(run.net) == before


@pytest.mark.parametrize("pipeline", [ForwardPipeline, BackwardPipeline])
def test_max_epochs_stops_exactly(tr, pipeline):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc,
                      budget={"max_updates": None, "max_epochs": 4}, validation={"patience": None})
    drive(run, pipeline())
    assert run.stopped == "max_epochs"
    assert run.epoch == 4 and len(run.epochs) == 4
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3, 4]
    if pipeline is ForwardPipeline:
        # below the threshold every epoch is one branch: one neuron of each of the 3 layers
        assert run.n_updates == 12
        for e in range(4):
            assert [h["layer"] for h in run.history[3 * e:3 * e + 3]] == [0, 1, 2]


@pytest.mark.parametrize("pipeline", [ForwardPipeline, BackwardPipeline])
def test_max_seconds_ends_the_run(tr, pipeline):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc,
                      budget={"max_updates": None, "max_seconds": 0.4}, validation={"patience": None})
    with tr.deadline(60):
        drive(run, pipeline())
    assert run.stopped == "max_seconds"
    assert run.n_updates > 0
    assert 0.4 <= run.wall() < 0.4 + 20.0  # one neuron update past the limit at most (busy machine slack)


# -- acceptance and undo ------------------------------------------------------------------
def test_bad_acceptance_config_is_refused(tr):
    trn, va, _, nc = tr.digits()
    with pytest.raises(ValueError, match="acceptance.rule"):
        tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, acceptance={"rule": "sometimes"})
    with pytest.raises(ValueError, match="objective"):
        tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, acceptance={"objective": "loss"})


@pytest.mark.parametrize("keep_unvoted", [False, True])
def test_undo_restores_the_exact_previous_model_and_trace(tr, lab, arch_name, keep_unvoted):
    """apply_update then undo: same neurons, same saved bytes, same trace (on every combiner)."""
    for seed in range(3):
        net = lab.network(arch_name, seed)
        X = lab.inputs(net, 300, seed)
        trace = net.trace(X)
        rng = np.random.default_rng(seed)
        targets = rng.integers(0, 2 ** min(net.architecture.output_bits, 16), X.shape[0]).astype(np.uint32)
        layer = int(rng.integers(net.architecture.n_layers))
        pos = int(rng.integers(net.architecture.widths[layer]))
        before, trace0, saved0 = net.copy(), trace.copy(), tr.model_bytes(net)
        t = tally(net, trace, targets, layer, pos)
        up = apply_update(net, trace, t, salt=int(rng.integers(2**32)), premodulo=int(rng.choice([0, 3, 97, 4096])),
                          keep_unvoted=keep_unvoted)
        assert net.neuron(layer, pos) == up.new and up.old == before.neuron(layer, pos)
        assert net != before, "the update did not change the neuron"
        fresh = net.trace(X)  # the refreshed trace is what a full forward pass gives
        np.testing.assert_array_equal(trace.keys, fresh.keys)
        np.testing.assert_array_equal(trace.cells, fresh.cells)
        np.testing.assert_array_equal(trace.out, fresh.out)
        up.undo(net, trace)
        assert net == before
        assert tr.model_bytes(net) == saved0
        np.testing.assert_array_equal(trace.keys, trace0.keys)
        np.testing.assert_array_equal(trace.cells, trace0.cells)
        np.testing.assert_array_equal(trace.out, trace0.out)


@pytest.mark.parametrize("pipeline", [ForwardPipeline, BackwardPipeline])
def test_judging_from_the_flip_outputs_equals_apply_then_undo(tr, monkeypatch, pipeline):
    """A rebuild judged from the tally's flip outputs (the network untouched when rejected) gives
    the same run, update for update, as applying it to the network and undoing a rejection."""
    from hashtron_lab.train.tally import Tally

    trn, va, _, nc = tr.digits()
    runs = []
    for preview in (True, False):
        if not preview:
            monkeypatch.setattr(Tally, "outputs_after", lambda self, new, out: None)
        run = tr.make_run(tr.untrained(tr.mnist_stack(), 3), trn, va, nc, budget={"max_updates": 150},
                          validation={"patience": None, "restore_best": False})
        drive(run, pipeline())
        runs.append(run)
    a, b = runs
    assert sum(not h["accepted"] and h["reason"] != "no_improving_vote" for h in a.history) > 0  # rejections happened
    assert tr.model_bytes(a.net) == tr.model_bytes(b.net)
    strip = [{k: v for k, v in h.items() if k != "duration"} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if k != "duration"} for h in b.history]
    np.testing.assert_array_equal(a.trace.out, a.net.trace(trn.X).out)


@pytest.mark.parametrize("rule", ["not_worse", "improve", "always"])
def test_acceptance_rules_and_undo_inside_a_run(tr, rule):
    """Rejected updates leave accuracy (and the network, checked by a fresh forward pass) as before;
    accepted ones obey the rule."""
    trn, va, _, nc = tr.digits()
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 2), trn, va, nc, rec, budget={"max_updates": 60},
                      acceptance={"rule": rule}, validation={"patience": None, "restore_best": False})
    fresh, models = [], []

    def check(kind, payload):
        if kind == "update":
            fresh.append(run.accuracy(run.train))   # full forward pass, not the incremental trace
            models.append(tr.model_bytes(run.net))

    run.hooks.subscribe(check)
    initial_model = tr.model_bytes(run.net)
    prev_acc = run.train_accuracy()
    drive(run, ForwardPipeline())
    assert run.n_accepted == sum(h["accepted"] for h in run.history) > 0
    assert any(not h["accepted"] for h in run.history)
    prev_model = initial_model
    for h, acc, model in zip(run.history, fresh, models):
        assert h["train_accuracy"] == pytest.approx(acc, abs=0)
        if not h["accepted"]:
            assert h["train_accuracy"] == prev_acc
            assert model == prev_model, f"update {h['update']} was rejected but the model changed"
            assert h["reason"] in {"no_improving_vote", "worse", "not_improved", "local_minimum"}
        elif rule == "improve":
            assert h["train_accuracy"] > prev_acc and h["reason"] == "improved"
        elif rule == "not_worse":
            assert h["train_accuracy"] >= prev_acc and h["reason"] == "not_worse"
        else:
            assert h["reason"] == "always"
        if h["reason"] == "no_improving_vote":
            assert h["improving_votes"] == 0
        prev_acc, prev_model = h["train_accuracy"], model
    if rule == "always":
        assert all(h["accepted"] for h in run.history if h["reason"] != "no_improving_vote")
        # "always" does accept a regression now and then on this data
        assert any(b["train_accuracy"] < a["train_accuracy"] for a, b in zip(run.history, run.history[1:]))


def test_without_revisit_rejection_no_local_minimum(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, budget={"max_updates": 40},
                      acceptance={"reject_revisits": False})
    drive(run, ForwardPipeline())
    assert all(h["reason"] != "local_minimum" for h in run.history)


# -- validation and early stopping ---------------------------------------------------------
def test_early_stopping_on_plateau_keeps_best_model(tr):
    trn, va, _, nc = tr.digits()
    patience = 3
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 0), trn, va, nc, rec, budget={"max_updates": 600},
                      acceptance={"rule": "always"}, validation={"patience": patience})
    snapshots = {}
    run.hooks.subscribe(lambda k, p: snapshots.__setitem__(p["epoch"], tr.model_bytes(run.net)) if k == "epoch" else None)
    drive(run, ForwardPipeline())
    vals = [e["val_accuracy"] for e in run.epochs]
    best = max(vals)
    assert run.stopped == "early_stopping"
    assert run.n_updates < 600
    assert run.best_val == best and run.best_epoch == vals.index(best) + 1
    assert run.epoch == run.best_epoch + patience
    assert all(v <= best for v in vals[run.best_epoch:])
    # the plateau ended below the best: the run must hand back the best epoch's model
    assert vals[-1] < best, "test setup: pick a config whose last epoch is worse than its best"
    assert run.accuracy(va) == best
    assert tr.model_bytes(run.net) == snapshots[run.best_epoch]
    assert run.train_accuracy() == pytest.approx(run.epochs[run.best_epoch - 1]["train_accuracy"], abs=0)
    (stop,) = rec.of("early_stop")
    assert stop == {"epoch": run.epoch, "best_epoch": run.best_epoch, "best_val_accuracy": best}


def test_no_restore_when_restore_best_is_off(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 0), trn, va, nc, budget={"max_updates": 600},
                      acceptance={"rule": "always"}, validation={"patience": 3, "restore_best": False})
    last = {}
    run.hooks.subscribe(lambda k, p: last.__setitem__("m", tr.model_bytes(run.net)) if k == "epoch" else None)
    drive(run, ForwardPipeline())
    assert run.stopped == "early_stopping"
    assert tr.model_bytes(run.net) == last["m"]
    assert run.accuracy(va) == run.epochs[-1]["val_accuracy"] < run.best_val


def test_patience_none_never_stops_early(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 0), trn, va, nc, budget={"max_updates": 90},
                      acceptance={"rule": "always"}, validation={"patience": None})
    drive(run, ForwardPipeline())
    assert run.stopped == "max_updates"


def test_validation_every_k_epochs(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 0), trn, va, nc, budget={"max_updates": None, "max_epochs": 6},
                      validation={"every_epochs": 3, "patience": None})
    drive(run, ForwardPipeline())
    assert [("val_accuracy" in e) for e in run.epochs] == [False, False, True, False, False, True]


# -- history, epoch records and events ----------------------------------------------------
@pytest.mark.parametrize("pipeline", [ForwardPipeline, BackwardPipeline])
def test_history_epochs_and_events(tr, pipeline):
    trn, va, _, nc = tr.digits()
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 1), trn, va, nc, rec, budget={"max_updates": 40},
                      validation={"patience": None, "restore_best": False})
    val_seen = []
    run.hooks.subscribe(lambda k, p: val_seen.append(run.accuracy(va)) if k == "epoch" else None)
    drive(run, pipeline())
    widths = run.net.architecture.widths
    assert len(run.history) == run.n_updates == 40
    for i, h in enumerate(run.history):
        assert HISTORY_KEYS <= set(h), HISTORY_KEYS - set(h)
        assert h["update"] == i
        assert 0 <= h["layer"] < len(widths) and 0 <= h["neuron"] < widths[h["layer"]]
        assert h["neuron_id"] == f"{h['layer']}.{h['neuron']}"
        assert h["N"] == len(trn) and -h["N"] <= h["S"] <= h["N"]
        assert 0 <= h["improving_votes"] <= h["votes"] <= h["N"]
        assert isinstance(h["accepted"], bool)
        assert 0.0 <= h["train_accuracy"] <= 1.0
        assert isinstance(h["duration"], float) and h["duration"] > 0.0
        assert h["premodulo"] >= 0
    # epoch records: train and validation accuracy of the model at the end of that epoch
    assert len(run.epochs) == run.epoch >= 2
    for e, v in zip(run.epochs, val_seen):
        assert {"epoch", "updates", "accepted", "train_accuracy", "val_accuracy", "wall"} <= set(e)
        assert e["val_accuracy"] == v
    assert run.epochs[-1]["train_accuracy"] <= 1.0
    # events: run_start first, run_end last, one update per history record, one epoch per epoch record
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert rec.of("update") == run.history
    assert rec.of("epoch") == run.epochs
    end = rec.of("run_end")[0]
    assert end["reason"] == "max_updates" and end["updates"] == 40 and end["epochs"] == run.epoch
    assert rec.of("run_start")[0]["n_train"] == len(trn)
    if pipeline is BackwardPipeline:
        assert len(rec.of("decision")) == 40


def test_premodulo_in_history_is_the_trained_neuron_premodulo(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 1), trn, va, nc, budget={"max_updates": 30},
                      validation={"patience": None, "restore_best": False})
    final = {}

    def grab(kind, p):
        if kind == "update" and p["accepted"]:
            final[(p["layer"], p["neuron"])] = (p["premodulo"], run.net.neuron(p["layer"], p["neuron"]).premodulo)

    run.hooks.subscribe(grab)
    drive(run, ForwardPipeline({"premodulo": 777}))
    assert final and all(a == b == 777 for a, b in final.values())


def test_checkpoint_events(tr, tmp_path):
    trn, va, _, nc = tr.digits()
    rec = tr.Recorder()
    path = tmp_path / "ck.bin"
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, rec, budget={"max_updates": 23},
                      checkpoint_every=5, checkpoint_path=str(path))
    drive(run, BackwardPipeline())
    cks = rec.of("checkpoint")
    assert [c["updates"] for c in cks] == [5, 10, 15, 20, 23]
    assert all(c["path"] == str(path) for c in cks) and path.exists()


# -- determinism ---------------------------------------------------------------------------
def _strip(history):
    return [{k: v for k, v in h.items() if k != "duration"} for h in history]


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_same_config_and_seed_same_model_and_metrics(tr, direction):
    cfg = {"seed": 3, "dataset": tr.conf("dataset", "digits_threshold"), "model": tr.conf("model", "mnist_stack"),
           "pipeline": {"direction": direction}, "budget": {"max_updates": 80}}
    a = train_experiment(copy.deepcopy(cfg))
    b = train_experiment(copy.deepcopy(cfg))
    assert tr.model_bytes(a.net) == tr.model_bytes(b.net)
    ma = {k: v for k, v in a.metrics.items() if k not in TIMING_KEYS}
    mb = {k: v for k, v in b.metrics.items() if k not in TIMING_KEYS}
    assert ma == mb
    assert _strip(a.run.history) == _strip(b.run.history)
    assert [{k: v for k, v in e.items() if k != "wall"} for e in a.run.epochs] == \
           [{k: v for k, v in e.items() if k != "wall"} for e in b.run.epochs]
    # ... and the seed matters
    c = train_experiment({**copy.deepcopy(cfg), "seed": 4})
    assert tr.model_bytes(c.net) != tr.model_bytes(a.net)


def test_experiment_train_on_isalnum_config(tr):
    """The run path on the isalnum dataset config: one neuron learns its training split."""
    cfg = {"seed": 0, "dataset": tr.conf("dataset", "isalnum"),
           "model": {"layers": [{"type": "hashtron", "neurons": 1}]},
           "pipeline": {"direction": "forward"}, "budget": {"max_updates": 5},
           "run": {"validation": {"restore_best": False}}}
    res = train_experiment(cfg)
    assert res.metrics["train_accuracy"] == 1.0
    assert res.metrics["updates"] == 5 and res.metrics["stop_reason"] == "max_updates"
    assert res.metrics["generalization_gap"] == pytest.approx(1.0 - res.metrics["test_accuracy"])
