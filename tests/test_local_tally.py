"""The `local` tally mode (our extension) and the influence map it relies on."""
import numpy as np
import pytest

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
    want = (targets >> 2) & 1
    assert np.array_equal(t.votes, np.where(want, 1, -1))
    assert np.array_equal(t.improving, trace.cells[:, 7] != want)
    assert np.array_equal(t.x_in, trace.keys[:, 7]) and np.array_equal(t.current, trace.cells[:, 7])
    # the counts the kernel returns with the votes are those of the arrays
    assert (t.S, t.votes_cast, t.n_improving) == (int(np.sign(t.votes).sum()), 200, int(t.improving.sum()))
    flip = tally(net, trace, targets, 0, 7, mode="flip")
    assert not np.array_equal(flip.votes, t.votes)


ARGMAX = {"layers": [{"type": "hashtron", "neurons": 12}, {"type": "argmax", "groups": 3},
                     {"type": "hashtron", "neurons": 2}]}


def test_argmax_groups_vote_their_class_with_the_positive_weight():
    """Neuron n of an argmax layer is in group n // 4: it wants 1 exactly on samples of class n // 4."""
    net = Network.untrained(Architecture.from_spec(ARGMAX), np.random.default_rng(3))
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, (120, 12)).astype(np.uint32)
    y = rng.integers(0, 3, 120).astype(np.uint32)
    trace = net.trace(X)
    for pos in (0, 5, 11):
        t = tally(net, trace, y, 0, pos, mode="local", positive_weight=50)
        mine = y == pos // 4
        assert np.array_equal(t.votes, np.where(mine, 50, -1))
        assert np.array_equal(t.improving, trace.cells[:, pos] != mine)
        assert np.array_equal(t.x_in, trace.keys[:, pos]) and np.array_equal(t.current, trace.cells[:, pos])
        assert (t.S, t.votes_cast, t.n_improving) == (int(2 * mine.sum() - 120), 120, int(t.improving.sum()))
    # the flip test gives the same neuron votes only where its flip moves the argmax
    assert np.count_nonzero(tally(net, trace, y, 0, 0).votes) < 120


def test_argmax_local_tally_refuses_targets_past_the_groups():
    net = Network.untrained(Architecture.from_spec(ARGMAX), np.random.default_rng(3))
    X = np.zeros((4, 12), np.uint32)
    with pytest.raises(ValueError, match="output_code modulo without parity words"):
        tally(net, net.trace(X), np.array([0, 1, 2, 3], np.uint32), 0, 0, mode="local")
    with pytest.raises(ValueError, match="weight of a vote for 1"):
        tally(net, net.trace(X), np.array([0, 1, 2, 0], np.uint32), 0, 0, mode="local", positive_weight=0)


def test_argmax_validation_names_the_fix():
    from hashtron_lab.model.architecture import ArchitectureError
    bad = {"layers": [{"type": "hashtron", "neurons": 10}, {"type": "argmax", "groups": 3},
                      {"type": "hashtron", "neurons": 2}]}
    with pytest.raises(ArchitectureError, match="divide the 10 neurons"):
        Architecture.from_spec(bad)
