"""Quaternary filter: lookup and construction byte-identical with neurlang/quaternary."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from hashtron_lab.kernels.filter import filter_insert, filter_lookup, filter_make
from hashtron_lab.model.filter import QuaternaryFilter

CASES = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "quaternary.jsonl").open()]
IDS = [f"size{c['size']}" for c in CASES]

U32 = st.integers(min_value=0, max_value=2**32 - 1)
# key -> bit maps (one bit per key by construction), up to a few hundred keys
MAPS = st.dictionaries(U32, st.integers(0, 1), max_size=300)
# keys from a small range: many share low bits and rotations, so filters collide and grow
DENSE = st.dictionaries(st.integers(0, 400), st.integers(0, 1), min_size=1, max_size=200)
FAST = settings(max_examples=60, deadline=None)


@njit
def naive_make(keys, bits):
    """DESIGN §1 "Make(map)" read literally: full passes re-inserting every key (the oracle)."""
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, np.uint8)
    max_load = n
    f = np.zeros(((3 * n + 1) // 2 + 3) // 4, np.uint8)
    while True:
        load = 0
        over = False
        while True:
            pass_writes = 0
            for j in range(n):
                w = filter_insert(f, keys[j], bits[j])
                pass_writes += w
                load += w
                if load >= max_load:
                    over = True
                    break
            if over or pass_writes == 0:
                break
        if not over:
            return f
        f = np.zeros(((3 * (4 * f.shape[0]) + 1) // 2 + 3) // 4, np.uint8)
        max_load = (3 * max_load + 1) // 2


def _arrays(pairs):
    keys = np.array([k for k, _ in pairs], dtype=np.uint32)
    bits = np.array([b for _, b in pairs], dtype=np.uint8)
    return keys, bits


# --- Go reference vectors -------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_lookup_answers_and_absent(case):
    f = QuaternaryFilter.from_bytes(bytes.fromhex(case["filter_hex"]))
    assert len(f) == case["filter_len"]
    keys = np.array([k for k, _, _ in case["answers"]] + [k for k, _ in case["absent"]], dtype=np.uint32)
    want = [a for _, _, a in case["answers"]] + [a for _, a in case["absent"]]
    assert f.lookup(keys).tolist() == want
    # the scalar kernel agrees with the batched one
    assert [int(filter_lookup(f.data, 0, len(f), k)) for k in keys] == want


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_construction_is_byte_identical(case):
    keys, bits = _arrays(case["keys"])
    assert filter_make(keys, bits).tobytes().hex() == case["filter_hex"]
    assert QuaternaryFilter.build(keys, bits).to_bytes().hex() == case["filter_hex"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_construction_ignores_key_order(case, seed):
    keys, bits = _arrays(case["keys"])
    p = np.random.default_rng(seed).permutation(keys.shape[0])
    assert filter_make(keys[p], bits[p]).tobytes().hex() == case["filter_hex"]


# --- properties -----------------------------------------------------------------------

@FAST
@given(MAPS)
def test_every_inserted_key_answers_its_bit(m):
    keys, bits = _arrays(m.items())
    f = QuaternaryFilter.build(keys, bits)
    assert np.array_equal(f.lookup(keys), bits)


@FAST
@given(MAPS, st.randoms(use_true_random=False))
def test_shuffled_insertion_gives_same_bytes(m, rnd):
    items = list(m.items())
    a = QuaternaryFilter.build(*_arrays(items))
    rnd.shuffle(items)
    # duplicated (key, bit) pairs change nothing either
    items = items + items[: len(items) // 3]
    keys, bits = _arrays(items)
    assert filter_make(keys, bits).tobytes() == a.to_bytes()
    assert QuaternaryFilter.build(keys, bits) == a


@FAST
@given(st.one_of(MAPS, DENSE), st.randoms(use_true_random=False))
def test_make_equals_literal_passes(m, rnd):
    """The worklist in filter_make must replay Go's full passes write for write."""
    items = list(m.items())
    rnd.shuffle(items)
    keys, bits = _arrays(items)
    assert filter_make(keys, bits).tobytes() == naive_make(keys, bits).tobytes()


def test_make_equals_literal_passes_with_growth():
    """Dense maps that overflow the first budget (some several times) still match."""
    rng = np.random.default_rng(7)
    grew = 0
    for _ in range(300):
        n = int(rng.integers(1, 300))
        keys = np.unique(rng.integers(0, int(rng.choice([n, 2 * n, 8 * n])), n)).astype(np.uint32)
        bits = rng.integers(0, 2, keys.shape[0]).astype(np.uint8)
        p = rng.permutation(keys.shape[0])
        f = filter_make(keys[p], bits[p])
        assert np.array_equal(f, naive_make(keys, bits))
        grew += f.shape[0] > ((3 * keys.shape[0] + 1) // 2 + 3) // 4
    assert grew > 20  # the growth path really ran


@pytest.mark.slow  # compiles a second specialisation of every construction kernel (~5 s cold)
def test_make_accepts_other_integer_dtypes():
    keys = np.array([9, 4, 4, 7])
    want = filter_make(np.array([4, 7, 9], np.uint32), np.array([1, 0, 1], np.uint8))
    assert np.array_equal(filter_make(keys, np.array([True, True, True, False])), want)
    assert np.array_equal(filter_make(keys[[1, 3, 0]], np.array([True, False, True])), want)


def test_make_rejects_a_key_with_both_bits():
    with pytest.raises(ValueError, match="both bit 0 and bit 1"):
        filter_make(np.array([5, 9, 5], np.uint32), np.array([0, 1, 1], np.uint8))


@FAST
@given(st.binary(max_size=200))
def test_bytes_round_trip(data):
    f = QuaternaryFilter.from_bytes(data)
    assert f.to_bytes() == data
    assert len(f) == len(data)
    assert QuaternaryFilter.from_bytes(f.to_bytes()) == f
    assert QuaternaryFilter.from_bytes(bytearray(data)) == f


@FAST
@given(st.lists(U32, max_size=50))
def test_empty_filter_answers_parity(keys):
    f = QuaternaryFilter.build([], [])
    assert len(f) == 0 and f.to_bytes() == b""
    assert f.lookup(keys).tolist() == [k & 1 for k in keys]


def test_insert_counts_writes():
    f = np.zeros(4, dtype=np.uint8)
    # a key whose parity already matches writes nothing into an empty cell
    assert filter_insert(f, 7, 1) == 0 and not f.any()
    assert filter_insert(f, 7, 0) == 1 and f.any()
    assert filter_insert(f, 7, 0) == 0  # already right
    assert int(filter_lookup(f, 0, 4, 7)) == 0


def test_lookup_shapes():
    f = QuaternaryFilter.build([1, 2, 3], [0, 1, 0])
    assert f.lookup(2).shape == () and int(f.lookup(2)) == 1
    assert f.lookup(np.uint32(1)).dtype == np.uint8
    assert f.lookup([[1, 2], [3, 2]]).tolist() == [[0, 1], [0, 1]]
    assert f.lookup([]).shape == (0,)


def test_data_is_read_only():
    f = QuaternaryFilter.build([10, 11, 12], [1, 1, 0])
    with pytest.raises(ValueError):
        f.data[0] = 1
    src = bytearray(f.to_bytes())
    g = QuaternaryFilter.from_bytes(src)
    src[0] ^= 0xFF
    assert g == f  # copied, not aliased
    assert f != QuaternaryFilter.from_bytes(b"") and f != "not a filter"
    assert hash(f) == hash(g)


def test_build_accepts_bools_and_large_uint64():
    f = QuaternaryFilter.build(np.array([2**32 - 1, 0], dtype=np.uint64), [True, False])
    assert f.lookup([2**32 - 1, 0]).tolist() == [1, 0]


# --- errors ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "keys,bits,exc,match",
    [
        ([1, 2], [0], ValueError, "same length.*2 keys and 1 bits"),
        ([[1, 2]], [[0, 1]], ValueError, "1-D"),
        (5, 1, ValueError, "1-D"),
        ([1, -1], [0, 1], ValueError, r"keys must be in \[0, 2\*\*32\), got -1"),
        ([1, 2**32], [0, 1], ValueError, r"got 4294967296"),
        ([1, 2**70], [0, 1], ValueError, r"got 1180591620717411303424"),
        ([1.5, 2.0], [0, 1], TypeError, "keys must be integers.*float64"),
        (["a"], [0], TypeError, "keys must be integers"),
        ([1, 2], [0, 2], ValueError, "bits must be 0 or 1, got 2"),
        ([1, 2], [0.0, 1.0], TypeError, "bits must be 0/1"),
        ([7, 8, 7], [0, 1, 1], ValueError, "key 7 is given with both bit 0 and bit 1"),
        ([7, 9, 7, 9], [0, 1, 1, 0], ValueError, r"key 7 .*\(and 1 more"),
    ],
)
def test_build_errors(keys, bits, exc, match):
    with pytest.raises(exc, match=match):
        QuaternaryFilter.build(keys, bits)


def test_lookup_and_from_bytes_errors():
    f = QuaternaryFilter.build([1], [1])
    with pytest.raises(ValueError, match="got 4294967296"):
        f.lookup([2**32])
    with pytest.raises(TypeError, match="keys must be integers"):
        f.lookup(1.0)
    with pytest.raises(TypeError, match="got str"):
        QuaternaryFilter.from_bytes("00")
    with pytest.raises(TypeError, match="1-D uint8 array, got dtype int64"):
        QuaternaryFilter.from_bytes(np.array([1, 2]))


def test_duplicates_with_equal_bits_are_deduplicated():
    a = QuaternaryFilter.build([5, 6, 5, 5], [1, 0, 1, 1])
    assert a == QuaternaryFilter.build([6, 5], [0, 1])
