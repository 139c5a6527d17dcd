"""The n-tuple experiments (docs/accuracy.md): backward training of RAM neurons in class groups
under an argmax, with local credit, generalises on digits and breast cancer."""
from __future__ import annotations

import numpy as np
import pytest

from hashtron_lab import config_schema as cs
from hashtron_lab.experiment import run_experiment


def run(experiment: str, *overrides: str):
    return run_experiment(cs.load_config([f"experiment={experiment}", "seed=0", "tracking=none", *overrides]))


@pytest.mark.parametrize("experiment", ["ntuple_digits", "ntuple_breast_cancer"])
def test_backward_ntuple_generalises_in_final_first_order(experiment):
    res = run(experiment)
    m = res.metrics
    assert m["final_first"] and m["backward_order"]
    assert m["test_accuracy"] >= 0.93, m
    assert m["train_accuracy"] - m["test_accuracy"] < 0.06, m
    hist = res.run.history
    last = res.run.net.architecture.n_layers - 1
    boot = [h for h in hist if h["phase"] == "bootstrap"]
    assert boot and all(h["layer"] == last for h in boot)
    # every RAM neuron was trained exactly once, between the two visits of the final layer
    hidden = [h["neuron"] for h in hist if h["phase"] == "backward" and h["layer"] == 0]
    assert sorted(hidden) == list(range(res.run.net.architecture.widths[0]))


def test_flip_credit_on_the_same_network_stays_near_the_prior():
    """The reference flip test gives a RAM votes only where its flip moves the argmax: from an
    untrained layer (all counts tied) almost no sample votes, so the network cannot start."""
    flip = run("ntuple_breast_cancer", "run.acceptance.tally=flip").metrics
    local = run("ntuple_breast_cancer").metrics
    assert flip["test_accuracy"] < local["test_accuracy"] - 0.1, (flip, local)


def test_same_config_and_seed_give_the_same_model():
    a, b = run("ntuple_breast_cancer"), run("ntuple_breast_cancer")
    for la, lb in zip(a.run.net.neurons, b.run.net.neurons):
        for ha, hb in zip(la, lb):
            assert np.array_equal(ha.filter, hb.filter) and ha.program == hb.program


def test_warm_kernels_leaves_nothing_to_compile_in_a_timed_run():
    """`warm_kernels` (run start-up, before the wall clock starts) loads every kernel a training
    step calls, with the argument types the runs use: an n-tuple run (local credit, argmax counts,
    acceptance count) and a flip-test backward run add no compiled signature afterwards, so no
    compile or cache load lands in a run's measured wall time."""
    from hashtron_lab.kernels import capacity as KC, decode as KD, network as KN, selection as KS, tally as KT
    from hashtron_lab.train.warm import GROUPS, warm_kernels

    warm_kernels(GROUPS)
    kernels = (KT.local_votes, KD.count_correct, KD.decode_into, KN.forward_from, KT.rebuilt_filter, KT.tally_neuron,
               KT.output_votes, KT.preview_outputs, KT.vote_counts, KT.support_stats, KC.decide, KS.zone_rank)
    before = [len(k.signatures) for k in kernels]
    assert all(before), dict(zip((k.__name__ for k in kernels), before))
    run("ntuple_breast_cancer", "budget.max_updates=40")
    run("ntuple_breast_cancer", "pipeline=backward", "run.acceptance.tally=flip", "budget.max_updates=40")
    assert [len(k.signatures) for k in kernels] == before


def test_a_batched_visit_trains_the_same_network_as_one_neuron_at_a_time(monkeypatch):
    """Local credit with every update kept: the RAM layer's visit is one batch (one trace refresh);
    its picks, salts, neurons and records match training the RAMs one at a time, the per-update
    training accuracy aside (read after the batch)."""
    from hashtron_lab.train.run import Run

    batched = run("ntuple_breast_cancer", "capacity=support", "capacity.load_factor=1.0")
    monkeypatch.setattr(Run, "batchable", lambda self, layer: False)
    single = run("ntuple_breast_cancer", "capacity=support", "capacity.load_factor=1.0")
    assert batched.run.net == single.run.net
    skip = {"train_accuracy", "duration"}
    assert [{k: v for k, v in h.items() if k not in skip} for h in batched.run.history] == \
        [{k: v for k, v in h.items() if k not in skip} for h in single.run.history]
    assert batched.metrics["test_accuracy"] == single.metrics["test_accuracy"]
    assert any(h["premodulo"] > 0 for h in batched.run.history if h["layer"] == 0)


def test_rams_of_one_tuple_share_their_premodulo_salt():
    """Under an argmax, RAM r of every class group reads tuple r: with a premodulo they hash with
    one salt, so a collision merges the same addresses in every class's RAM."""
    res = run("ntuple_breast_cancer", "capacity=support", "capacity.load_factor=1.0")
    net = res.run.net
    R = net.architecture.widths[0] // 2
    for r in (0, 7, R - 1):
        a, b = net.neuron(0, r), net.neuron(0, R + r)
        assert a.program and a.program == b.program  # same (salt, premodulo)
    assert net.neuron(0, 0).program[0][0] != net.neuron(0, 1).program[0][0]


def test_runs_warm_only_the_kernel_groups_they_call(monkeypatch):
    """Lazy compilation (D42): the main job's n-tuple runs need neither the flip test nor the
    gold-zone ranking; the Go MNIST stack's flip-test backward run needs both, and no output
    tally (its last layer feeds a combiner). An n-tuple run never calls the flip test kernel."""
    from hashtron_lab.experiment import build_pipeline
    from hashtron_lab.kernels import tally as KT
    from hashtron_lab.model.network import Network
    from hashtron_lab.train.warm import run_kernel_groups

    def groups(*overrides):
        settings = cs.load_config(["seed=0", "tracking=none", *overrides])
        net = Network.untrained(settings.architecture(), np.random.default_rng(0))
        return run_kernel_groups(net, settings.run.acceptance.tally) | build_pipeline(settings).kernel_groups()

    assert groups("experiment=ntuple_digits") == {"network", "output", "local", "backward", "support"}
    assert groups("experiment=ntuple_digits", "capacity=fixed") == {"network", "output", "local", "backward"}
    assert groups("experiment=ntuple_digits", "pipeline=forward") == {"network", "output", "local"}
    assert groups("~experiment") == {"network", "flip", "backward", "ranking"}
    assert groups("~experiment", "pipeline=forward", "pipeline.pairs=true") == {"network", "flip", "pairs"}

    def no_flip_test(*a, **k):
        raise AssertionError("an n-tuple run called the flip test")

    monkeypatch.setattr(KT, "tally_neuron", no_flip_test)
    assert run("ntuple_breast_cancer", "budget.max_updates=40").run.n_updates == 40
