"""Shared helpers for the network / tally tests: small random networks of every combiner.

Test modules get the helpers through the `lab` fixture (not `from conftest import`, which
breaks as soon as a subfolder has a conftest.py of its own).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hashtron_lab.kernels.filter import filter_make
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.hashtron import Hashtron
from hashtron_lab.model.network import Network


def _h(n, p=0):
    return {"type": "hashtron", "neurons": n, "premodulo": p}


def _mp(w, h, sw, sh, cw, ch, r, b):
    return {"type": "majpool2d", "width": w, "height": h, "subwidth": sw, "subheight": sh,
            "capwidth": cw, "capheight": ch, "repeat": r, "bias": b}


def _full(size, bits, maxbits):
    return {"type": "full", "size": size, "bits": bits, "maxbits": maxbits}


def _sum(dims, axis):
    return {"type": "sum", "dims": list(dims), "axis": axis}


_PAR = {"type": "parity"}

# name -> architecture spec. Together they cover every combiner and its corner cases,
# layer premodulo on and off, a combiner after the output layer or not, a single layer.
ARCH_CASES: dict[str, list[dict]] = {
    # sub-pooling 2x1, capwidth 2, features past the 8 cells (next layer has 10 neurons)
    "majpool_sub": [_h(8), _mp(4, 1, 2, 1, 2, 1, 1, 0), _h(10), _full(10, 1, 1)],
    # 2-D windows with wrap-around, sub 1x2, repeat 2, bias 1, layer premodulo
    "majpool_2d_bias": [_h(12, 1000), _mp(3, 2, 1, 2, 2, 2, 2, 1), _h(6, 77), _full(6, 2, 1)],
    # 2x2 sub blocks, negative bias, capheight 2, partially filled cell vector (10 of 16 cells)
    "majpool_negbias": [_h(10), _mp(2, 2, 2, 2, 1, 2, 1, -1), _h(4), _PAR],
    # plain packing (sub 1x1) like the Go MNIST stack, direct output of 3 bits
    "majpool_pack": [_h(9, 2**20), _mp(9, 1, 1, 1, 3, 1, 1, 0), _h(3, 65536)],
    # full with bits < maxbits (overlapping windows) running past the end
    "full_overlap": [_h(6), _full(8, 2, 3), _h(5), _full(5, 1, 1)],
    # full with bits > maxbits and a large size
    "full_sparse": [_h(5, 31), _full(12, 3, 2), _h(4, 9), _full(4, 1, 2)],
    "sum_2d_axis0": [_h(6), _sum([2, 3], 0), _h(4), _sum([4], 0)],
    "sum_2d_axis1": [_h(6, 500), _sum([2, 3], 1), _h(3), _full(3, 1, 1)],
    "sum_3d_axis0": [_h(12), _sum([2, 2, 3], 0), _h(5)],
    "sum_3d_axis1": [_h(10), _sum([2, 2, 3], 1), _h(4, 12), _PAR],
    "sum_3d_axis2": [_h(12, 3), _sum([2, 2, 3], 2), _h(6), _sum([3, 2], 1)],
    "parity": [_h(5), _PAR, _h(3, 1 << 31)],
    # three hashtron layers, last read directly (feature 0 of the previous combiner)
    "deep": [_h(8, 4096), _mp(4, 2, 1, 1, 2, 1, 1, 0), _h(6), _sum([3, 2], 0), _h(4, 100),
             _full(4, 1, 1), _h(2)],
    # single layers: direct (all neurons read input 0) and followed by a combiner
    "single_direct": [_h(3)],
    "single_direct_premod": [_h(4, 50)],
    "single_full": [_h(4, 200), _full(4, 1, 1)],
    # one output neuron: direct, or followed by a combiner (multi-bit feature)
    "one_out_direct": [_h(6), _mp(6, 1, 2, 1, 1, 1, 1, 0), _h(1, 64)],
    "one_out_full": [_h(5), _full(5, 1, 1), _h(1), _full(1, 1, 1)],
    "one_out_multibit": [_h(6, 8), _sum([3, 2], 1), _h(1), _mp(3, 1, 1, 1, 3, 1, 1, -1)],
    # output wider than 16 bits: only 16 used; 20-bit features shifted by up to 15 wrap at 2^32
    "wide_out_wrap": [_h(4), _PAR, _h(18), _mp(18, 1, 1, 1, 20, 1, 1, 0)],
    "wide_out_direct": [_h(4), _sum([4], 0), _h(18, 999)],
    # class groups voted by argmax, read by a 2-bit output layer (the n-tuple shape), and argmax mid-net
    "argmax_groups": [_h(12, 7), {"type": "argmax", "groups": 3}, _h(2)],
    "argmax_mid": [_h(8), {"type": "argmax", "groups": 4}, _h(3, 5), _full(3, 1, 1)],
}

SMALL_MODS = (1, 2, 3, 5, 17, 256)
LARGE_MODS = (65536, 1_000_003, 2**31, 2**32 - 1)


def random_program(rng: np.random.Generator) -> list[tuple[int, int]]:
    """0-2 commands (mostly 1-2), moduli small, large or arbitrary."""
    n = int(rng.choice([0, 1, 1, 2, 2]))
    prog = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            mod = int(rng.choice(SMALL_MODS))
        elif r < 0.8:
            mod = int(rng.choice(LARGE_MODS))
        else:
            mod = int(rng.integers(0, 2**32))
        prog.append((int(rng.integers(0, 2**32)), mod))
    return prog


def random_filter(rng: np.random.Generator, program) -> np.ndarray:
    """A filter built by filter_make from a random key map over the keys the program can emit."""
    if rng.random() < 0.15:
        return np.zeros(0, dtype=np.uint8)
    n = int(rng.integers(1, 40))
    top = program[-1][1] if program and program[-1][1] > 0 else 2**32
    keys = set(int(k) for k in rng.integers(0, min(top, 2**32), size=n, dtype=np.uint64))
    keys |= set(int(k) for k in rng.integers(0, 2**32, size=3, dtype=np.uint64))
    keys = np.array(sorted(keys), dtype=np.uint32)
    bits = rng.integers(0, 2, size=keys.shape[0]).astype(np.uint8)
    return filter_make(keys, bits)


def random_neuron(rng: np.random.Generator) -> Hashtron:
    prog = random_program(rng)
    return Hashtron(program=prog, filter=random_filter(rng, prog))


def random_network(name: str, seed: int) -> Network:
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    arch = Architecture.from_spec({"layers": ARCH_CASES[name]})
    return Network(arch, [[random_neuron(rng) for _ in range(w)] for w in arch.widths])


def random_inputs(net: Network, n: int, seed: int) -> np.ndarray:
    """Random uint32 features; some columns small so low moduli and collisions show."""
    rng = np.random.default_rng(seed + 12345)
    X = rng.integers(0, 2**32, size=(n, max(net.architecture.n_input_features, 1)), dtype=np.uint64)
    small = rng.random(X.shape) < 0.3
    X[small] %= 7
    return X.astype(np.uint32)


@pytest.fixture(scope="session")
def lab() -> SimpleNamespace:
    """The random-network helpers above: cases, network(name, seed), inputs(net, n, seed), neuron(rng)."""
    return SimpleNamespace(cases=ARCH_CASES, network=random_network, inputs=random_inputs,
                           neuron=random_neuron)


@pytest.fixture(params=sorted(ARCH_CASES))
def arch_name(request) -> str:
    """Every architecture of ARCH_CASES in turn."""
    return request.param
