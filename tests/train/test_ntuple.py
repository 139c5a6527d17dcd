"""The n-tuple experiments (docs/accuracy.md): backward training of RAM neurons in class groups
under an argmax, with local credit, generalises on digits and breast cancer."""
from __future__ import annotations

import numpy as np
import pytest

from hashtron_lab import config_schema as cs
from hashtron_lab.experiment import train


def run(experiment: str, *overrides: str):
    return train(cs.load_config([f"experiment={experiment}", "seed=0", "tracking=none", *overrides]))


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
