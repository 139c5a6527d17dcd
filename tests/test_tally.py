"""The numba tally (votes, improving flags, S / N, key sums) and neuron update against the reference (DESIGN §3)."""
from __future__ import annotations

import numba
import numpy as np
import pytest

import reference as ref
from hashtron_lab.hashing import hash_array
from hashtron_lab.kernels import network as KN
from hashtron_lab.kernels import tally as KT
from hashtron_lab.kernels.threads import pinned
from hashtron_lab.model.network import Trace
from hashtron_lab.train.tally import tally
from hashtron_lab.train.update import apply_update, build_neuron, replace_neuron

N_SAMPLES = 100

# Several networks: a disregarding majpool2d (sub blocks of 2 and 4), multi-bit outputs
# (direct and through a combiner), one output bit (direct, through full, multi-bit feature),
# premodulo on and off, a single layer, and three layers.
TALLY_CASES = (
    "majpool_sub", "majpool_2d_bias", "majpool_negbias", "majpool_pack", "full_overlap",
    "sum_3d_axis1", "parity", "deep", "single_direct_premod", "single_full",
    "one_out_direct", "one_out_full", "one_out_multibit", "wide_out_direct", "argmax_groups", "argmax_mid",
)


def random_targets(net, out: np.ndarray, seed: int) -> np.ndarray:
    """label xor parity: a third right as is, a third one or two bits off, a third random (unmasked)."""
    rng = np.random.default_rng(seed + 777)
    n = out.shape[0]
    bits = net.architecture.output_bits
    off = np.zeros(n, np.uint64)
    for s in range(n):
        for _ in range(int(rng.integers(1, 3))):
            off[s] ^= np.uint64(1) << np.uint64(rng.integers(0, max(bits, 2)))
    kind = rng.integers(0, 3, size=n)
    t = np.where(kind == 0, out.astype(np.uint64), out.astype(np.uint64) ^ off)
    rand = rng.integers(0, 2**32, size=n, dtype=np.uint64)
    rand = np.where(rng.random(n) < 0.5, rand % np.uint64(1 << bits), rand)
    return np.where(kind == 2, rand, t).astype(np.uint32)


def reference_tally(net, X, targets, layer, pos):
    rnet = ref.RefNet.from_network(net)
    votes, improving = [], []
    for s in range(X.shape[0]):
        rt = ref.forward(rnet, [int(v) for v in X[s]])
        v, imp = ref.tally_sample(rnet, rt, int(targets[s]), layer, pos)
        votes.append(v)
        improving.append(imp)
    return np.array(votes), np.array(improving)


@pytest.fixture(scope="module")
def cases(lab):
    """(net, X, trace, targets, reference net, reference traces) per case, built once."""
    out = {}
    for i, name in enumerate(TALLY_CASES):
        net = lab.network(name, 10 + i)
        X = lab.inputs(net, N_SAMPLES, 10 + i)
        trace = net.trace(X)
        targets = random_targets(net, trace.out, 10 + i)
        rnet = ref.RefNet.from_network(net)
        rtraces = [ref.forward(rnet, [int(v) for v in X[s]]) for s in range(X.shape[0])]
        out[name] = (net, X, trace, targets, rnet, rtraces)
    return out


@pytest.mark.parametrize("name", TALLY_CASES)
def test_tally_matches_reference_for_every_neuron(cases, name):
    net, X, trace, targets, rnet, rtraces = cases[name]
    for layer, width in enumerate(net.architecture.widths):
        for pos in range(width):
            t = tally(net, trace, targets, layer, pos)
            want = [ref.tally_sample(rnet, rt, int(targets[s]), layer, pos) for s, rt in enumerate(rtraces)]
            votes = np.array([v for v, _ in want])
            improving = np.array([imp for _, imp in want])
            bad = np.flatnonzero((t.votes != votes) | (t.improving != improving))
            assert bad.size == 0, (
                f"{name} neuron {layer}.{pos} sample {bad[0]}: kernel vote {t.votes[bad[0]]} "
                f"improving {t.improving[bad[0]]}, reference {votes[bad[0]]} {improving[bad[0]]} "
                f"(out {trace.out[bad[0]]}, target {targets[bad[0]]})")
            k = int(net.first[layer]) + pos
            np.testing.assert_array_equal(t.x_in, trace.keys[:, k])
            assert t.N == X.shape[0]
            assert t.S == int(np.sign(votes).sum()) and -t.N <= t.S <= t.N
            assert t.votes_cast == int(np.count_nonzero(votes))
            assert t.n_improving == int(improving.sum())
            assert not (t.improving & (t.votes == 0)).any(), "an improving sample must vote"


def test_cases_exercise_every_rule(cases):
    """The sample sets hit disregard, no-vote, reinforcing, improving and weighted votes."""
    seen = set()
    for name, (net, X, trace, targets, rnet, rtraces) in cases.items():
        for layer, width in enumerate(net.architecture.widths):
            for pos in range(width):
                for s, rt in enumerate(rtraces):
                    v, imp = ref.tally_sample(rnet, rt, int(targets[s]), layer, pos)
                    direct = rnet.is_direct(layer)
                    if not direct and ref.disregards(rnet.combiners[layer],
                                                     rnet.cell_vector(layer, rt.cells[layer]), pos):
                        seen.add("disregard")
                    seen.add(("direct" if direct else "single" if rnet.output_bits == 1 else "multi",
                              "improving" if imp else "vote" if v else "none"))
                    if abs(v) > 1:
                        seen.add("weighted")
    for kind in ("single", "multi"):
        for what in ("improving", "vote", "none"):
            assert (kind, what) in seen
    assert {("direct", "improving"), ("direct", "vote"), "disregard", "weighted"} <= seen


def test_tally_independent_of_thread_count(lab):
    """Each sample writes its own slot: 1 thread and 2 threads give identical votes (several chunks)."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    for name in ("majpool_sub", "deep", "one_out_full"):
        net = lab.network(name, 4)
        X = lab.inputs(net, 700, 4)  # many chunks, the last one partial
        trace = net.trace(X)
        targets = random_targets(net, trace.out, 4)
        layer, pos = 0, net.architecture.widths[0] - 1
        results = []
        for threads in (1, 2):
            with pinned(threads):  # exactly this many, whatever the load (kernels/threads.py)
                t = tally(net, trace, targets, layer, pos)
                tr = net.trace(X)
            results.append((t.votes, t.improving, t.S, tr.keys, tr.cells, tr.out))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
        # nor on the samples per parallel task (kernels.network.CHUNK, D28)
        n = X.shape[0]
        for chunk in (1, 7, 256, 1000):
            votes, improving, flipped = np.zeros(n, np.int32), np.zeros(n, np.bool_), np.zeros(n, np.uint32)
            KT.tally_neuron(layer, pos, targets, trace.keys, trace.cells, trace.out, votes, improving, flipped,
                            *net.pack().args(), chunk)
            np.testing.assert_array_equal(votes, results[0][0])
            np.testing.assert_array_equal(improving, results[0][1])
            tr = Trace(np.zeros_like(trace.keys), np.zeros_like(trace.cells), np.zeros_like(trace.out),
                       np.zeros_like(trace.counts))
            KN.forward_from(0, -1, net.check_input(X), tr.keys, tr.cells, tr.counts, tr.out, *net.pack().args(),
                            chunk)
            for a, b in zip((tr.keys, tr.cells, tr.out), results[0][3:]):
                np.testing.assert_array_equal(a, b)
        # and the parallel result still agrees with the reference on a sample subset
        votes, improving = reference_tally(net, X[:60], targets[:60], layer, pos)
        np.testing.assert_array_equal(results[0][0][:60], votes)
        np.testing.assert_array_equal(results[0][1][:60], improving)


@pytest.mark.parametrize("salt,premodulo", [(0, 0), (12345, 7), (987654321, 1), (2**32 - 1, 2**20), (5, 2**32 - 1)])
def test_key_sums_equals_dict_aggregation(cases, salt, premodulo):
    net, X, trace, targets, rnet, rtraces = cases["majpool_2d_bias"]
    t = tally(net, trace, targets, 0, 3)
    keys, sums, counts, _kept, support = t.key_sums(salt, premodulo)
    want = ref.key_sums(t.x_in.tolist(), t.votes.tolist(), salt, premodulo)
    assert keys.tolist() == sorted(want)
    assert [(int(s), int(c)) for s, c in zip(sums, counts)] == [want[int(k)] for k in keys]
    assert int(sums.sum()) == int(t.votes.sum()) and int(counts.sum()) == t.votes_cast
    # support: the samples voting for 1 on each key
    hashed = t.x_in if premodulo == 0 else hash_array(t.x_in, np.uint32(salt), np.uint32(premodulo))
    for k, sp in zip(keys, support):
        assert int(sp) == int(np.count_nonzero((hashed == k) & (t.votes > 0)))


@pytest.mark.parametrize("keep_unvoted", [False, True])
def test_voted_map_keeps_voted_keys_and_optionally_the_current_bit_of_unvoted_ones(keep_unvoted):
    keys = np.array([3, 8, 9, 20, 41, 77], np.uint32)
    sums = np.array([2, -1, 0, 0, 5, 0], np.int64)
    kept = np.array([0, 3, -2, 0, -1, 4], np.int64)  # keep sums count only for keys whose votes cancel
    support = np.array([1, 0, 2, 0, 3, 1], np.int64)
    k, b = KT.voted_map(keys, sums, kept, support, keep_unvoted, 1)
    want = {3: 1, 8: 0, 41: 1}
    if keep_unvoted:
        want.update({9: 0, 77: 1})  # 20: votes and current bits both cancel -> left out
    assert k.tolist() == sorted(want) and b.tolist() == [want[x] for x in sorted(want)]
    assert b.dtype == np.uint8 and k.dtype == np.uint32


def test_bleaching_threshold_answers_one_only_with_enough_support():
    """Threshold b: a key with a positive sum answers 1 only when >= b samples voted 1 on it;
    keys with a negative sum stay 0, and b = 1 is the plain sign rule."""
    keys = np.array([1, 2, 3, 4, 5], np.uint32)
    sums = np.array([5, 1_000_000, 2_000_000 - 7, -3, 3_000_000], np.int64)
    kept = np.zeros(5, np.int64)
    support = np.array([5, 1, 2, 0, 3], np.int64)
    for b, want in ((1, [1, 1, 1, 0, 1]), (2, [1, 0, 1, 0, 1]), (3, [1, 0, 0, 0, 1]), (6, [0, 0, 0, 0, 0])):
        k, bits = KT.voted_map(keys, sums, kept, support, False, b)
        assert k.tolist() == keys.tolist() and bits.tolist() == want, b


def test_support_stats_counts_distinct_and_supported_keys():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 40, 700).astype(np.uint32)
    votes = np.where(rng.random(700) < 0.3, 9, -1).astype(np.int32)
    d, dp, n_pos = KT.support_stats(x, votes)
    assert d == np.unique(x).shape[0]
    assert dp == np.unique(x[votes > 0]).shape[0]
    assert n_pos == int((votes > 0).sum())
    assert KT.support_stats(np.zeros(0, np.uint32), np.zeros(0, np.int32)) == (0, 0, 0)


def test_vote_counts_equals_numpy():
    rng = np.random.default_rng(3)
    votes = rng.integers(-4, 5, 500).astype(np.int32)
    improving = rng.random(500) < 0.3
    S, cast, n_imp = KT.vote_counts(votes, improving)
    assert (S, cast, n_imp) == (int(np.sign(votes).sum()), int(np.count_nonzero(votes)), int(improving.sum()))


@pytest.mark.parametrize("name", ["majpool_sub", "deep", "one_out_multibit", "single_direct_premod"])
def test_apply_update_then_undo_restores_exactly(lab, name):
    net = lab.network(name, 21)
    X = lab.inputs(net, 150, 21)
    trace = net.trace(X)
    targets = random_targets(net, trace.out, 21)
    original, saved = net.copy(), trace.copy()
    rng = np.random.default_rng(21)
    for layer in reversed(range(net.architecture.n_layers)):
        pos = int(rng.integers(0, net.architecture.widths[layer]))
        t = tally(net, trace, targets, layer, pos)
        for premodulo in (0, 64):
            up = apply_update(net, trace, t, int(rng.integers(0, 2**32)), premodulo)
            assert net.neuron(layer, pos) is up.new and up.old == original.neuron(layer, pos)
            fresh = net.trace(X)  # the refreshed trace is the new network's trace
            for a, b in ((trace.keys, fresh.keys), (trace.cells, fresh.cells), (trace.out, fresh.out)):
                np.testing.assert_array_equal(a, b)
            # the new neuron answers every key with a nonzero sum by the sign of that sum
            keys, sums, _, _kept, _sup = t.key_sums(up.new.program[0][0] if up.new.program else 0, premodulo)
            for k, sm in zip(keys, sums):
                if sm != 0:
                    assert ref.filter_lookup(list(up.new.filter), int(k)) == int(sm > 0)
            up.undo(net, trace)
            assert net == original
            for a, b in ((trace.keys, saved.keys), (trace.cells, saved.cells), (trace.out, saved.out)):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", TALLY_CASES + ("wide_out_wrap", "single_direct"))
def test_outputs_after_previews_the_rebuilt_network_exactly(lab, name):
    """The flip test's outputs predict, sample for sample, the network outputs after any rebuild of
    the tallied neuron (every layer, premodulo on and off): what lets a rebuild be judged untouched."""
    net = lab.network(name, 33)
    X = lab.inputs(net, 200, 33)
    trace = net.trace(X)
    targets = random_targets(net, trace.out, 33)
    rng = np.random.default_rng(33)
    changed = 0
    for layer in range(net.architecture.n_layers):
        for pos in sorted({0, net.architecture.widths[layer] - 1}):
            for premodulo in (0, 5, 4096):
                t = tally(net, trace, targets, layer, pos)
                new, n_keys = build_neuron(t, int(rng.integers(0, 2**32)), premodulo)
                before = trace.out.copy()
                after = t.outputs_after(new, trace.out)
                np.testing.assert_array_equal(trace.out, before)  # previewing changes nothing
                up = replace_neuron(net, trace, layer, pos, new, n_keys)
                fresh = net.trace(X)
                np.testing.assert_array_equal(after, fresh.out)
                changed += int(np.count_nonzero(fresh.cells[:, int(net.first[layer]) + pos] != t.current))
                if premodulo == 4096:
                    up.undo(net, trace)
    assert changed > 0  # some rebuild did change some sample's bit
