"""The forward pipeline (DESIGN §4 "Forward"): it learns the sanity tasks, improves digits on
validation, and visits neurons / picks premodulo as documented."""
from __future__ import annotations

import numpy as np
import pytest

from hashtron_lab.train.forward import ForwardPipeline, scheduled_premodulo
from hashtron_lab.train.run import drive

pytestmark = pytest.mark.usefixtures("one_numba_thread")


# -- convergence ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_isalnum_one_neuron_reaches_full_train_accuracy(tr, seed):
    data = tr.isalnum_all()
    run = tr.make_run(tr.untrained(tr.one_neuron(), seed), data, None, 2, seed=seed, budget={"max_updates": 10})
    assert run.train_accuracy() < 1.0
    drive(run, ForwardPipeline())
    assert run.train_accuracy() == 1.0
    pred = data.predict_from_outputs(run.net.forward(data.X), run.code)
    np.testing.assert_array_equal(pred, data.y)  # a fresh forward pass agrees


@pytest.mark.parametrize("hidden", [8, 3])
@pytest.mark.parametrize("seed", range(5))
def test_three_bit_parity_two_layers_reaches_full_train_accuracy(tr, hidden, seed):
    """hidden neurons (each reads the raw 3-bit integer) -> full -> 1 neuron learns xor of 3 bits."""
    data = tr.parity3(hidden)
    run = tr.make_run(tr.untrained(tr.parity_net(hidden), seed), data, None, 2, seed=seed,
                      budget={"max_updates": 200})
    drive(run, ForwardPipeline())
    assert run.train_accuracy() == 1.0
    np.testing.assert_array_equal(data.predict_from_outputs(run.net.forward(data.X), run.code), data.y)
    # the hidden layer is part of it: the output neuron reads the packed hidden bits
    assert any(h["layer"] == 0 and h["accepted"] for h in run.history) or hidden == 8


def test_digits_mnist_stack_improves_validation(tr):
    """Digits (one threshold per pixel, byte-picked into 80 features) on the Go MNIST stack."""
    trn, va, _, nc = tr.digits("digits_threshold")
    net = tr.untrained(tr.mnist_stack(), 0)
    run = tr.make_run(net, trn, va, nc, budget={"max_updates": 240}, validation={"patience": None})
    untrained_val = run.accuracy(va)
    drive(run, ForwardPipeline())
    assert run.accuracy(va) >= untrained_val + 0.08, (untrained_val, run.accuracy(va))
    assert run.train_accuracy() > 0.2


# -- visiting order and premodulo ----------------------------------------------------------
def test_below_threshold_each_epoch_is_a_branch_input_to_output(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, budget={"max_updates": 30})
    drive(run, ForwardPipeline({"threshold": 1.0}))  # never reached in 30 updates: branches only
    widths = run.net.architecture.widths
    for e in range(10):
        branch = run.history[3 * e:3 * e + 3]
        assert [h["layer"] for h in branch] == [0, 1, 2]
        assert {h["epoch"] for h in branch} == {e}
    # random branches: layer 0 positions vary
    assert len({h["neuron"] for h in run.history if h["layer"] == 0}) > 3
    assert all(h["neuron"] < widths[h["layer"]] for h in run.history)


def test_above_threshold_each_epoch_is_one_layer_shuffled(tr):
    trn, va, _, nc = tr.digits()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, budget={"max_updates": None, "max_epochs": 8},
                      validation={"patience": None})
    drive(run, ForwardPipeline({"threshold": 0.0}))
    widths = run.net.architecture.widths
    by_epoch: dict[int, list] = {}
    for h in run.history:
        by_epoch.setdefault(h["epoch"], []).append((h["layer"], h["neuron"]))
    assert sorted(by_epoch) == list(range(8))
    layers_seen = set()
    for visits in by_epoch.values():
        layers = {l for l, _ in visits}
        assert len(layers) == 1
        (layer,) = layers
        layers_seen.add(layer)
        positions = [p for _, p in visits]
        assert sorted(positions) == list(range(widths[layer]))
        if widths[layer] > 4:
            assert positions != sorted(positions)  # shuffled
    assert len(layers_seen) >= 2


def test_scheduled_premodulo_formula():
    assert scheduled_premodulo(100.0, 2, 65536) == 65536
    assert scheduled_premodulo(50.0, 2, 65536) == round(2500 * (2 - 65536) / 2500 + 65536)
    assert scheduled_premodulo(0.0, 2, 65536) == 2
    assert scheduled_premodulo(0.0, 1, 1) == 2          # at least 2
    assert scheduled_premodulo(90.0, 100, 10000) == round(100 * (100 - 10000) / 2500 + 10000)


@pytest.mark.parametrize("task", ["isalnum", "digits"])
def test_schedule_uses_the_success_rate_before_each_step(tr, task):
    if task == "isalnum":
        data, nc, arch, n = tr.isalnum_all(), 2, tr.one_neuron(), 4
    else:
        data, _, _, nc = tr.digits()
        arch, n = tr.mnist_stack(), 20
    run = tr.make_run(tr.untrained(arch, 5), data, None, nc, budget={"max_updates": n})
    acc = [run.train_accuracy()]
    drive(run, ForwardPipeline({"schedule": True, "premodulo_min": 16, "premodulo_max": 65536}))
    acc += [h["train_accuracy"] for h in run.history]
    got = [h["premodulo"] for h in run.history]
    assert got == [scheduled_premodulo(100.0 * a, 16, 65536) for a in acc[:-1]]
    if task == "isalnum":  # one neuron learns it at once: the schedule then gives the maximum
        assert got[0] < 65536 and got[-1] == 65536 and acc[-1] == 1.0


def test_forward_pipeline_records_no_premodulo_decisions(tr):
    trn, va, _, nc = tr.digits()
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.mnist_stack()), trn, va, nc, rec, budget={"max_updates": 10})
    drive(run, ForwardPipeline())
    assert rec.of("decision") == [] and run.decisions == []
    assert {h["phase"] for h in run.history} == {"forward"}


def test_unknown_forward_option_is_refused():
    with pytest.raises(Exception, match="premodulo_maximum|unknown|valid"):
        ForwardPipeline({"premodulo_maximum": 3})


def test_forward_can_borrow_the_capacity_controller_and_the_selection_rule(tr):
    """The ablation's forward cells: with capacity_control each neuron's premodulo comes from the
    capacity group's law (logged as decisions), with use_selection the branch's neuron of a layer
    comes from the selection rule (round robin: positions in order) and a sum cache is kept."""
    base = tr.parity3(6)  # each pattern twice with both labels: training stays below threshold 1.0
    data = type(base)(np.concatenate([base.X, base.X]), np.concatenate([base.y, 1 - base.y]))
    net = tr.untrained(tr.parity_net(6), 0)
    run = tr.make_run(net, data, None, 2, seed=0, budget={"max_updates": 24})
    pipe = ForwardPipeline({"capacity_control": True, "use_selection": True, "threshold": 1.0},
                           capacity={"law": "support", "load_factor": 2.0}, selection={"rule": "round_robin"})
    drive(run, pipe)
    hidden = [h for h in run.history if h["layer"] == 0]
    assert [h["neuron"] for h in hidden] == [i % 6 for i in range(len(hidden))]
    assert len(run.decisions) == len(run.history) and all(d["phase"] == "forward" for d in run.decisions)
    for h, d in zip(run.history, run.decisions):
        assert h["premodulo"] == d["final"]
    assert any(h["premodulo"] > 0 for h in hidden)
    assert len(pipe.cache) == len(run.history)
    # state round trip keeps the cache and the selector's counter
    again = ForwardPipeline({"capacity_control": True, "use_selection": True, "threshold": 1.0},
                            capacity={"law": "support", "load_factor": 2.0}, selection={"rule": "round_robin"})
    again.load_state(pipe.state())
    assert len(again.cache) == len(pipe.cache) and again.selector.state_dict() == pipe.selector.state_dict()


def test_forward_defaults_keep_the_reference_behaviour(tr):
    pipe = ForwardPipeline()
    assert pipe.controller is None and pipe.selector is None and pipe.cache is None
