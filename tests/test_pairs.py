"""Two neurons at a time (the reference's late mode)."""
import numpy as np

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.files import dumps_model
from hashtron_lab.model.network import Network
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Run, Split, drive
from hashtron_lab.train.update import apply_update, pair_update
from hashtron_lab.train.tally import tally

SPEC = {"layers": [{"type": "hashtron", "neurons": 6}, {"type": "full", "size": 6, "bits": 6, "maxbits": 6},
                   {"type": "hashtron", "neurons": 1}]}


def data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 64, n).astype(np.uint32)
    X = np.repeat(v[:, None], 6, axis=1)
    y = (np.array([bin(int(t)).count("1") for t in v]) % 2).astype(np.uint32)
    return X, y


def trained_net(X, y):
    net = Network.untrained(Architecture.from_spec(SPEC), np.random.default_rng(1))
    tr = net.trace(X)
    for pos in range(6):  # give every hidden neuron a real filter first
        apply_update(net, tr, tally(net, tr, y, 0, pos), 100 + pos, 0)
    return net, tr


def test_pair_decisions_make_output_bit_0_right_for_first_samples_and_undo_restores():
    X, y = data()
    net, tr = trained_net(X, y)
    before_net, before = dumps_model(net), (tr.keys.copy(), tr.cells.copy(), tr.out.copy())
    # premodulo 0 keeps every key: the new filters come out larger, and the pair is refused untouched
    assert pair_update(net, tr, y, 0, 1, 4, (11, 12), 0) is None
    assert dumps_model(net) == before_net
    ups = pair_update(net, tr, y, 0, 1, 4, (11, 12), 4)  # 4 buckets: small filters, accepted
    assert ups is not None and all(u.new.premodulo == 4 for u in ups)
    fresh = net.trace(X)
    assert np.array_equal(fresh.out, tr.out) and np.array_equal(fresh.cells, tr.cells)
    ups[1].undo(net, tr)
    ups[0].undo(net, tr)
    assert dumps_model(net) == before_net
    for a, b in zip(before, (tr.keys, tr.cells, tr.out)):
        assert np.array_equal(a, b)


def test_forward_pipeline_with_pairs_runs_within_budget_and_records_pairs():
    X, y = data(2, 128)
    net, _ = trained_net(X, y)
    run = Run(net, Split(X, y), None, 2, {"budget": {"max_updates": 21}})
    drive(run, ForwardPipeline({"pairs": True, "threshold": 0.0}))
    assert run.n_updates <= 21
    paired = [r for r in run.history if "pair" in r]
    assert paired and all(r["layer"] == 0 for r in paired)
    assert {r["reason"] for r in paired} <= {"not_worse", "worse", "local_minimum", "pair_filters_larger"}
