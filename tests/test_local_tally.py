"""The `local` tally mode (our extension) and the influence map it relies on."""
import numpy as np

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.network import Network
from hashtron_lab.train.tally import tally

GROUPS = {"output_code": "ecoc", "layers": [
    {"type": "hashtron", "neurons": 12}, {"type": "sum", "dims": [3, 4], "axis": 0},
    {"type": "hashtron", "neurons": 4}, {"type": "full", "size": 4, "bits": 1, "maxbits": 1}]}


def test_influence_follows_the_combiner_taps():
    net = Network.untrained(Architecture.from_spec(GROUPS), np.random.default_rng(0))
    infl = net.influence()
    assert [np.flatnonzero(row).tolist() for row in infl[0]] == [[n // 3] for n in range(12)]
    assert [np.flatnonzero(row).tolist() for row in infl[1]] == [[j] for j in range(4)]
    packed = Architecture.from_spec({"layers": [
        {"type": "hashtron", "neurons": 4}, {"type": "full", "size": 4, "bits": 4, "maxbits": 4},
        {"type": "hashtron", "neurons": 2}]})
    # the last layer is direct and reads feature 0: every hidden neuron reaches both output bits
    assert Network.untrained(packed, np.random.default_rng(0)).influence()[0].all()


def test_local_votes_are_the_target_bit_and_flip_mode_differs():
    net = Network.untrained(Architecture.from_spec(GROUPS), np.random.default_rng(1))
    rng = np.random.default_rng(2)
    X = rng.integers(0, 2**32, (200, 12), dtype=np.uint64).astype(np.uint32)
    targets = rng.integers(0, 16, 200).astype(np.uint32)
    trace = net.trace(X)
    t = tally(net, trace, targets, 0, 7, mode="local")  # neuron 7 feeds output bit 2
    assert np.array_equal(t.votes, np.where((targets >> 2) & 1, 1, -1))
    assert np.array_equal(t.improving, trace.cells[:, 7] != ((targets >> 2) & 1))
    flip = tally(net, trace, targets, 0, 7, mode="flip")
    assert not np.array_equal(flip.votes, t.votes)
