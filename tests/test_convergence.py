"""Convergence on toy problems (seed 002): is-alnum with one neuron, parity/XOR with two layers,
and a majority-pool network on scikit-learn digits well above chance."""
import numpy as np
import pytest

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Run, Split, drive


def train_forward(spec, X, y, n_classes, updates, seed=0, val=None):
    net = Network.untrained(Architecture.from_spec(spec), np.random.default_rng(seed))
    run = Run(net, Split(X, y), val, n_classes, {"seed": seed, "budget": {"max_updates": updates},
                                                 "run": {"validation": {"patience": None, "restore_best": False}}})
    drive(run, ForwardPipeline({"threshold": 0.0}))
    return run


def test_is_alnum_one_neuron_reaches_100_percent():
    X = np.arange(256, dtype=np.uint32).reshape(-1, 1)
    y = np.array([chr(i).isalnum() and i < 128 for i in range(256)], dtype=np.int64)
    run = train_forward({"layers": [{"type": "hashtron", "neurons": 1}]}, X, y, 2, 3)
    assert run.train_accuracy() == 1.0


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_parity_reaches_100_percent_with_two_layers(bits):
    n = np.arange(2 ** bits, dtype=np.uint32)
    y = (np.array([bin(v).count("1") for v in n]) % 2).astype(np.int64)
    X = np.repeat(n[:, None], 8, axis=1)
    spec = {"layers": [{"type": "hashtron", "neurons": 8}, {"type": "full", "size": 8, "bits": 8, "maxbits": 8},
                       {"type": "hashtron", "neurons": 1}]}
    run = train_forward(spec, X, y, 2, 60)
    assert run.train_accuracy() == 1.0


def test_majority_pool_network_on_digits_learns_above_chance():
    import yaml

    from hashtron_lab.config import Settings
    from hashtron_lab.experiment import as_data, prepare_dataset

    spec = yaml.safe_load(open("conf/model/mnist_stack.yaml"))
    arch = Architecture.from_spec(spec)
    settings = Settings.from_dict({"seed": 0, "dataset": yaml.safe_load(open("conf/dataset/digits_threshold.yaml"))})
    data = as_data(prepare_dataset(settings, arch))
    tr, va, te = data.train, data.val, data.test
    run = train_forward(spec, tr.X, tr.y, 10, 400, val=va)
    untrained = Network.untrained(arch, np.random.default_rng(0))
    base = np.mean(run.code.decode(untrained.forward(te.X)) == te.y)
    acc = run.accuracy(te)
    assert acc > 0.15 and acc > base + 0.03, (acc, base)
