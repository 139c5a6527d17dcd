"""A standalone hashtron: program (premodulo first), filter, bit count; batched forward."""
import numpy as np

from hashtron_lab.kernels.filter import filter_make
from hashtron_lab.model.hashtron import Hashtron, apply_program
from hashtron_lab.model.filter import QuaternaryFilter


def scalar_forward(h: Hashtron, x: int) -> int:
    f = QuaternaryFilter.from_bytes(h.filter.tobytes())
    out = 0
    for j in range(h.bits):
        key = apply_program((x | (j << 16)) & 0xFFFFFFFF, h.program)
        out |= int(f.lookup(key)) << j
    return out


def test_multi_bit_forward_matches_the_scalar_definition():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 97, 40).astype(np.uint32))
    h = Hashtron(program=[(123, 97), (5, 1 << 20)], filter=filter_make(keys, (keys % 3 == 0).astype(np.uint8)), bits=3)
    xs = rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32)
    out = h.forward(xs)
    assert out.dtype == np.uint32 and out.max() < 8
    assert [int(v) for v in out] == [scalar_forward(h, int(x)) for x in xs]


def test_premodulo_is_the_first_command_and_untrained_is_a_salted_bit():
    h = Hashtron(program=[(9, 64), (1, 1000)])
    assert h.premodulo == 64
    u = Hashtron.untrained(42)
    assert u.program == [(42, 2)] and u.premodulo == 2
    bits = u.forward(np.arange(1000, dtype=np.uint32))
    assert set(np.unique(bits)) == {0, 1}  # an empty filter answers the parity of hash(x, salt, 2)
    assert Hashtron().forward(np.array([6, 7], np.uint32)).tolist() == [0, 1]
