"""The numba forward pass (Network.trace / refresh) against the plain-Python reference (DESIGN §1–§2)."""
from __future__ import annotations

import json
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from hashtron_lab.kernels.filter import filter_make
from hashtron_lab.kernels.hashing import hash32
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.hashtron import Hashtron
from hashtron_lab.model.network import Network
from hashtron_lab.train.tally import tally

FIXTURES = Path(__file__).parent / "fixtures"
N_SAMPLES = 120
SEEDS = (0, 1)


def reference_trace(net: Network, X: np.ndarray):
    """keys / cells / out arrays of the reference, laid out like Network.trace."""
    rnet = ref.RefNet.from_network(net)
    n, m = X.shape[0], net.architecture.n_neurons
    keys = np.zeros((n, m), np.uint32)
    cells = np.zeros((n, m), np.uint8)
    out = np.zeros(n, np.uint32)
    for s in range(n):
        t = ref.forward(rnet, [int(v) for v in X[s]])
        keys[s] = [k for layer in t.keys for k in layer]
        cells[s] = [c for layer in t.cells for c in layer]
        out[s] = t.out
    return keys, cells, out


def assert_trace_equal(t, keys, cells, out, what=""):
    for name, got, want in (("keys", t.keys, keys), ("cells", t.cells, cells), ("out", t.out, out)):
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{what}{name} differ at (sample, neuron) {bad[:5].tolist()}: " \
                              f"got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}"


# ----------------------------------------------------------------------------- the reference itself
def test_reference_hash_matches_kernel_and_vectors():
    rows = (FIXTURES / "hash.tsv").read_text().splitlines()[1:]
    for row in rows:
        n, s, mx, want = (int(v) for v in row.split("\t"))
        assert ref.hash32(n, s, mx) == want
    rng = np.random.default_rng(7)
    for n, s, mx in rng.integers(0, 2**32, size=(200, 3), dtype=np.uint64).tolist():
        assert ref.hash32(n, s, mx) == int(hash32(np.uint32(n), np.uint32(s), np.uint32(mx)))
    assert ref.hash32(123, 456, 0) == 0


def test_reference_filter_matches_go_vectors():
    for line in (FIXTURES / "quaternary.jsonl").read_text().splitlines():
        case = json.loads(line)
        fbytes = list(bytes.fromhex(case["filter_hex"]))
        for key, _bit, answer in case["answers"]:
            assert ref.filter_lookup(fbytes, key) == answer
        for key, answer in case["absent"]:
            assert ref.filter_lookup(fbytes, key) == answer
        keys = np.array([k for k, _ in case["keys"]], np.uint32)
        bits = np.array([b for _, b in case["keys"]], np.uint8)
        assert filter_make(keys, bits).tobytes().hex() == case["filter_hex"]
    assert ref.filter_lookup([], 7) == 1 and ref.filter_lookup([], 8) == 0


def test_reference_combiners_by_hand():
    # majpool2d packing 3 neighbours from startx = m*capwidth, most significant first, wrapping at the row end
    mp = {"type": "majpool2d", "width": 4, "height": 1, "subwidth": 1, "subheight": 1,
          "capwidth": 3, "capheight": 1, "repeat": 1, "bias": 0}
    cells = [1, 0, 1, 1]
    assert [ref.feature(mp, cells, m) for m in range(4)] == [0b101, 0b110, 0b111, 0b011]
    assert ref.feature(mp, cells, 4) == 0  # past the end of the vector
    # full: maxbits cells from n*bits, 0 past the end
    full = {"type": "full", "size": 4, "bits": 1, "maxbits": 2}
    assert [ref.feature(full, cells, n) for n in range(4)] == [0b10, 0b01, 0b11, 0]
    # sum over a 2x3 tensor (first axis fastest): axis 0 sums pairs, axis 1 strides by 2
    s0 = {"type": "sum", "dims": [2, 3], "axis": 0}
    s1 = {"type": "sum", "dims": [2, 3], "axis": 1}
    v = [1, 1, 0, 1, 0, 0]
    assert [ref.feature(s0, v, n) for n in range(3)] == [2, 1, 0]
    assert [ref.feature(s1, v, n) for n in range(2)] == [1, 2]  # cells {0,2,4} and {3,5,1}
    assert ref.feature({"type": "parity"}, v, 5) == 1
    # argmax: the index of the group with the most true cells, ties to the lowest group
    am = {"type": "argmax", "groups": 3}
    assert ref.feature(am, [1, 0, 1, 1, 0, 1], 0) == 1
    assert ref.feature(am, [1, 0, 0, 1, 0, 0], 0) == 0
    assert ref.feature(am, [0, 0, 0, 0, 1, 0], 7) == 2
    # disregard: a 2-cell block with bias 0 only matters when the other cell is true
    mp2 = dict(mp, subwidth=2, width=2, capwidth=1)
    assert ref.disregards(mp2, [1, 0, 0, 0], 1) is False
    assert ref.disregards(mp2, [1, 0, 0, 0], 3) is True
    assert not ref.disregards(full, cells, 0)


# ----------------------------------------------------------------------------- combiner kernels
def _combiner_strategy():
    majpool = st.builds(
        lambda w, h, sw, sh, cw, ch, r, b: {"type": "majpool2d", "width": w, "height": h, "subwidth": sw,
                                             "subheight": sh, "capwidth": cw, "capheight": ch,
                                             "repeat": r, "bias": b},
        st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
        st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(-3, 3))
    full = st.builds(lambda size, bits, maxbits: {"type": "full", "size": size, "bits": bits, "maxbits": maxbits},
                     st.integers(1, 20), st.integers(1, 4), st.integers(1, 6))
    sums = st.lists(st.integers(1, 4), min_size=1, max_size=3).flatmap(
        lambda dims: st.builds(lambda a: {"type": "sum", "dims": dims, "axis": a},
                               st.integers(0, len(dims) - 1)))
    argmax = st.builds(lambda g: {"type": "argmax", "groups": g}, st.integers(2, 4))
    return st.one_of(majpool, full, sums, argmax, st.just({"type": "parity"}))


def probe_network(comb: dict, prev: int) -> Network:
    """[hashtron(prev), comb, hashtron(M), parity] with neurons that only pass bits through.

    Empty program and empty filter: a neuron's bit is its key's parity (so input x sets
    cell x & 1), and with premodulo 0 the keys of layer 2 are the combiner's features
    0 .. M-1 themselves (M runs past the combiner's cells). Goes through the public API only.
    """
    n_cells = ref.combiner_cells(comb, prev)
    m = n_cells + 3
    arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": prev}, comb,
                                              {"type": "hashtron", "neurons": m}, {"type": "parity"}]})
    return Network(arch, [[Hashtron() for _ in range(w)] for w in arch.widths])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(comb=_combiner_strategy(), data=st.data())
def test_combiners_match_reference(comb, data):
    """Every feature (also past the end) and every disregard flag of a combiner on random cell vectors."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)  # tiny batches: a parallel launch per call costs more than the work
    try:
        _check_combiner(comb, data)
    finally:
        numba.set_num_threads(before)


def _check_combiner(comb, data):
    if comb["type"] == "argmax":  # needs whole groups
        prev = comb["groups"] * data.draw(st.integers(1, 3))
    else:
        n_cells = ref.combiner_cells(comb, 1) if comb["type"] != "parity" else data.draw(st.integers(1, 12))
        prev = data.draw(st.integers(1, min(n_cells, 12)))
    net = probe_network(comb, prev)
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=prev, max_size=prev), min_size=1, max_size=6))
    X = np.array(rows, np.uint32)
    t = net.trace(X)
    m = net.architecture.widths[1]
    for s, bits in enumerate(rows):
        vec = bits + [0] * (ref.combiner_cells(comb, prev) - prev)
        want = [ref.feature(comb, vec, j) for j in range(m)]
        assert t.keys[s, prev:].tolist() == want, f"features of {comb} over {vec}"
    # targets = the outputs as they are: with several output bits every sample then votes
    # (reinforcing its bit) unless the combiner disregards the neuron's cell.
    for n in range(prev):
        tl = tally(net, t, t.out.copy(), 0, n)
        for s, bits in enumerate(rows):
            vec = bits + [0] * (ref.combiner_cells(comb, prev) - prev)
            dis = ref.disregards(comb, vec, n)
            assert (tl.votes[s] == 0) == dis, f"disregard of cell {n} of {comb} over {vec}"
            if dis:  # the definition: the cell's value cannot change any feature
                alt = list(vec)
                alt[n] = 1 - alt[n]
                assert all(ref.feature(comb, vec, j) == ref.feature(comb, alt, j) for j in range(m))


# ----------------------------------------------------------------------------- the forward pass
@pytest.mark.parametrize("seed", SEEDS)
def test_trace_matches_reference(lab, arch_name, seed):
    net = lab.network(arch_name, seed)
    X = lab.inputs(net, N_SAMPLES, seed)
    t = net.trace(X)
    assert_trace_equal(t, *reference_trace(net, X), what=f"{arch_name}/{seed}: ")
    np.testing.assert_array_equal(net.forward(X), t.out)


def test_cases_exercise_the_spec(lab):
    cases = lab.cases
    """Guard against a test set that silently stops covering what it should."""
    kinds = {item["type"] for spec in cases.values() for item in spec}
    assert kinds == {"hashtron", "majpool2d", "full", "sum", "parity", "argmax"}
    mps = [i for spec in cases.values() for i in spec if i["type"] == "majpool2d"]
    assert any(i["subwidth"] * i["subheight"] > 1 for i in mps)
    assert any(i["bias"] != 0 for i in mps)
    assert any(i["capwidth"] > 1 for i in mps) and any(i["capheight"] > 1 for i in mps)
    assert any(i["repeat"] > 1 for i in mps)
    sums = [(len(i["dims"]), i["axis"]) for spec in cases.values() for i in spec if i["type"] == "sum"]
    assert {(3, 0), (3, 1), (3, 2), (2, 0), (2, 1)} <= set(sums)
    archs = [Architecture.from_spec({"layers": s}) for s in cases.values()]
    assert any(a.output_is_direct for a in archs) and any(not a.output_is_direct for a in archs)
    assert any(a.n_layers == 1 and a.output_is_direct for a in archs)
    assert any(a.n_layers == 1 and not a.output_is_direct for a in archs)
    assert any(l.premodulo for a in archs for l in a.layers)


def test_output_wraps_and_spills(lab):
    """Outputs with a multi-bit combiner after the last layer exceed one bit per neuron and wrap at 2^32."""
    net = lab.network("wide_out_wrap", 3)
    X = lab.inputs(net, 200, 3)
    keys, cells, out = reference_trace(net, X)
    np.testing.assert_array_equal(net.trace(X).out, out)
    rnet = ref.RefNet.from_network(net)
    raw = []
    for s in range(X.shape[0]):
        bits = list(cells[s, net.first[-1]:])
        vec = rnet.cell_vector(rnet.n_layers - 1, bits)
        raw.append(sum(ref.feature(rnet.combiners[-1], vec, j) << j for j in range(16)))
    assert max(raw) >= 2**32, "this case is meant to wrap"


@pytest.mark.parametrize("seed", SEEDS)
def test_refresh_after_set_neuron_equals_fresh_trace(lab, arch_name, seed):
    net = lab.network(arch_name, seed)
    X = lab.inputs(net, N_SAMPLES, seed)
    rng = np.random.default_rng(seed + 99)
    t = net.trace(X)
    for layer in range(net.architecture.n_layers):
        pos = int(rng.integers(0, net.architecture.widths[layer]))
        net.set_neuron(layer, pos, lab.neuron(rng))
        net.refresh(t, layer, pos)
        fresh = net.trace(X)
        assert_trace_equal(t, fresh.keys, fresh.cells, fresh.out, what=f"refresh({layer}, {pos}): ")
        np.testing.assert_array_equal(t.counts, fresh.counts)
        if layer > 0:  # a whole-layer refresh after changing two of its neurons
            for p in rng.choice(net.architecture.widths[layer], size=min(2, net.architecture.widths[layer]),
                                replace=False):
                net.set_neuron(layer, int(p), lab.neuron(rng))
            net.refresh(t, layer)
            fresh = net.trace(X)
            assert_trace_equal(t, fresh.keys, fresh.cells, fresh.out, what=f"refresh({layer}): ")
    assert_trace_equal(t, *reference_trace(net, X), what="after refreshes: ")


def group_counts(net, cells):
    """Per-sample cell counts of each group of every argmax combiner that feeds a layer, from the
    cells (numpy, independent of the kernels): what a trace's `counts` must hold."""
    a, cols = net.architecture, []
    for l, comb in enumerate(a.combiners[:-1]):
        if comb is not None and comb.kind == "argmax":
            groups = int(comb.params["groups"])
            size = a.widths[l] // groups
            layer = cells[:, net.first[l]:net.first[l] + groups * size].astype(np.int32)
            cols.append(layer.reshape(len(cells), groups, size).sum(axis=2))
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(cells), 0), np.int32)


@pytest.mark.parametrize("arch_name", ["argmax_groups", "argmax_mid"])
def test_argmax_counts_follow_many_single_neuron_refreshes(lab, arch_name):
    """A one-neuron refresh moves one group count instead of recounting (kernels.network
    `argmax_moved`): after many of them, and after undoing some, the counts are still the group
    sums of the cells and the trace is the one a fresh forward pass gives."""
    from hashtron_lab.train.update import Snapshot

    net = lab.network(arch_name, 5)
    X = lab.inputs(net, N_SAMPLES, 5)
    t = net.trace(X)
    assert t.counts.shape == (N_SAMPLES, net.n_counts) and net.n_counts > 0
    np.testing.assert_array_equal(t.counts, group_counts(net, t.cells))
    rng = np.random.default_rng(11)
    moved = 0
    for step in range(40):
        pos = int(rng.integers(0, net.architecture.widths[0]))
        before = t.cells.copy()
        saved = Snapshot.take(net, t, 0, pos)
        old = net.neuron(0, pos)
        net.set_neuron(0, pos, lab.neuron(rng))
        net.refresh(t, 0, pos)
        moved += int((t.cells[:, pos] != before[:, pos]).sum())
        if step % 3 == 2:  # undo: the counts come back with the cells
            net.set_neuron(0, pos, old)
            saved.restore(t)
            np.testing.assert_array_equal(t.cells, before)
        np.testing.assert_array_equal(t.counts, group_counts(net, t.cells), err_msg=f"step {step}")
    assert moved > 0, "no refresh changed a cell: the incremental path was not exercised"
    fresh = net.trace(X)
    assert_trace_equal(t, fresh.keys, fresh.cells, fresh.out, what="after 40 refreshes: ")
    np.testing.assert_array_equal(t.counts, fresh.counts)


def test_refresh_rejects_a_trace_from_another_network(lab):
    net = lab.network("argmax_groups", 1)
    X = lab.inputs(net, 20, 1)
    t = net.trace(X)
    t.counts = t.counts[:, :1]
    with pytest.raises(ValueError, match="Network.trace"):
        net.refresh(t, 0, 0)


def test_untrained_is_deterministic(lab):
    for name in ("deep", "majpool_2d_bias", "single_direct"):
        arch = Architecture.from_spec({"layers": lab.cases[name]})
        a = Network.untrained(arch, np.random.default_rng(5))
        b = Network.untrained(arch, np.random.default_rng(5))
        c = Network.untrained(arch, np.random.default_rng(6))
        assert a == b and a != c
        X = lab.inputs(a, 50, 5)
        ta, tb = a.trace(X), b.trace(X)
        assert_trace_equal(ta, tb.keys, tb.cells, tb.out)
        assert_trace_equal(ta, *reference_trace(a, X))


def test_set_neuron_splices_the_packed_arrays_exactly(lab):
    """After any sequence of replacements the incrementally spliced arrays equal a full repack,
    and a Packed kept before a replacement (an update's undo copy) is left untouched."""
    rng = np.random.default_rng(5)
    net = lab.network("deep", 1)
    kept = net.pack()
    kept_filt = kept.filt.copy()
    for _ in range(30):
        layer = int(rng.integers(net.architecture.n_layers))
        pos = int(rng.integers(net.architecture.widths[layer]))
        net.set_neuron(layer, pos, lab.neuron(rng))
        fresh = Network(net.architecture, [list(layer) for layer in net.neurons]).pack()
        for a, b in zip(net.pack().args(), fresh.args()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(kept.filt, kept_filt)


def test_features_reading_names_exactly_the_features_whose_taps_hold_the_cell(lab, arch_name):
    """The kernels recompute only these features after one cell changes, so the list must hold every
    feature that reads the cell (a missing one would leave a stale bit) and no other."""
    from hashtron_lab.kernels.network import features_reading

    net = lab.network(arch_name, 0)
    p = net.pack()
    a = net.architecture
    out = np.empty(max(a.widths) + 16, np.int64)
    args = (p.widths, p.ckind, p.cparams, p.taps, p.tap_off, out)
    for l in range(a.n_layers):
        if l == a.n_layers - 1 or (l + 1 == a.n_layers - 1 and a.output_is_direct):
            # no next layer, or a direct output layer whose neurons all read feature 0: no list
            assert features_reading(l, 0, *args) == -1, (arch_name, l)
            continue
        taps = a.combiners[l].taps(a.widths[l], net._features_read(l))
        n_feat = a.widths[l + 1]
        assert taps.shape[0] == n_feat
        for cell in range(a.widths[l]):
            k = features_reading(l, cell, *args)
            want = [m for m in range(n_feat) if taps[m][0] >= 0 and cell in taps[m]]
            assert out[:k].tolist() == want, (arch_name, l, cell)
