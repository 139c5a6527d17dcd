"""Encoders against plain-Python twins written from the issue's definitions."""
from __future__ import annotations

import csv as _csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashtron_lab.data import DatasetError
from hashtron_lab.data import encoders as E

MASK32 = 0xFFFFFFFF
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

from reference import hash32 as ref_hash  # noqa: E402  (tests/ is on sys.path via tests/conftest.py)




def ref_byte_picker(row: list[int], n: int) -> int:
    """Go's ByteSample.Feature(n): xor over j < 4 of byte[hash(n, j, len)] << 8j."""
    out = 0
    for j in range(4):
        out ^= row[ref_hash(n, j, len(row))] << (8 * j)
    return out


def ref_string_hash(s: str, start: int) -> int:
    h = start
    for ch in s:
        h = ref_hash(h, ord(ch), MASK32)
    return h


def test_reference_hash_matches_go_vectors():
    with open(FIXTURES / "hash.tsv") as f:
        rows = list(_csv.DictReader(f, delimiter="\t"))
    for r in rows[:: max(1, len(rows) // 300)]:
        assert ref_hash(int(r["n"]), int(r["s"]), int(r["max"])) == int(r["hash"])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 12), length=st.integers(1, 70), n_features=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_byte_picker_matches_go_definition(n, length, n_features, seed):
    data = np.random.default_rng(seed).integers(0, 256, size=(n, length), dtype=np.uint8)
    out = E.byte_picker(data, n_features)
    assert out.dtype == np.uint32 and out.shape == (n, n_features) and out.flags.c_contiguous
    for i in range(n):
        assert out[i].tolist() == [ref_byte_picker(data[i].tolist(), f) for f in range(n_features)]


def test_byte_picker_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        E.byte_picker(np.zeros((2, 3), dtype=np.int64), 4)
    with pytest.raises(ValueError, match="n_features"):
        E.byte_picker(np.zeros((2, 3), dtype=np.uint8), 0)


def test_thermometer_codes_and_reference():
    pixels = np.array([[0, 3, 4, 7, 8, 11, 12, 16]], dtype=np.float64)
    codes = E.thermometer(pixels, [np.array([4.0, 8.0, 12.0])] * 8)
    assert codes.tolist() == [[0, 0, 1, 1, 3, 3, 7, 7]]
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(50, 4))
    thr = [np.sort(rng.normal(size=k)) for k in (0, 1, 5, 32)]
    out = E.thermometer(vals, thr)
    for i in range(50):
        for c in range(4):
            assert out[i, c] == sum(1 << k for k, t in enumerate(thr[c]) if vals[i, c] >= t)
    picked = E.thermometer(pixels, [np.array([4.0, 8.0, 12.0])] * 8, n_features=5)
    assert picked.tolist() == E.byte_picker(codes.astype(np.uint8), 5).tolist()
    with pytest.raises(ValueError, match="at most 32"):
        E.thermometer(vals[:, :1], [np.arange(33.0)])


@settings(max_examples=30, deadline=None)
@given(words=st.lists(st.text(max_size=12), max_size=8), start=st.integers(0, MASK32))
def test_string_hash_matches_reference(words, start):
    out = E.string_hash(words, start)
    assert out.dtype == np.uint32
    assert out.tolist() == [ref_string_hash(w, start) for w in words]
    cps, offs = E.codepoints_of(words)
    assert E.string_hash((cps, offs), start).tolist() == out.tolist()


def test_context_features_match_reference():
    words = ["chico", "año", "x", "straße"]
    spans = [[(0, 2), (2, 3), (3, 4), (4, 5)], [(0, 1), (1, 2), (2, 3)], [(0, 1)], [(0, 1), (1, 3), (3, 4), (4, 5), (5, 6)]]
    chars, wb, we, sb, se = [], [], [], [], []
    for w, sp in zip(words, spans):
        base = len(chars)
        chars.extend(map(ord, w))
        for a, b in sp:
            wb.append(base); we.append(base + len(w)); sb.append(base + a); se.append(base + b)
    a64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    text = E.TextColumns(np.asarray(chars, dtype=np.uint32), a64(wb), a64(we), a64(sb), a64(se))
    window = 3
    out = E.context_features(text, window)
    assert out.shape == (len(sb), 2 * window + 1)
    pad = chr(E.PAD_CODEPOINT)
    row = 0
    for w, sp in zip(words, spans):
        padded = pad * window + w + pad * window
        for a, b in sp:
            expect = [ref_string_hash(w[a:b], 0)]
            for k in range(1, window + 1):
                expect.append(ref_string_hash(padded[a + window - k:a + window], 2 * k - 1))
                expect.append(ref_string_hash(padded[b + window:b + window + k], 2 * k))
            assert out[row].tolist() == expect, (w, a, b)
            row += 1


def test_quantile_thresholds_drop_constant_bits():
    col = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], dtype=np.float64)[:, None]
    thr = E.quantile_thresholds(col, 3)
    assert len(thr) == 1 and np.all(thr[0] > 0)           # quantile 0.25 and 0.5 are 0: dropped
    codes = E.thermometer(col, thr)
    assert codes[0, 0] == 0 and codes[-1, 0] == (1 << len(thr[0])) - 1


def test_bytes_and_raw_integers():
    assert E.bytes_needed(np.array([0, 255, 256, 70000, 2**24, 2**32 - 1])).tolist() == [1, 1, 2, 3, 4, 4]
    F = np.array([[0x04030201, 0x0605]], dtype=np.uint32)
    assert E.columns_to_bytes(F, [3, 2]).tolist() == [[1, 2, 3, 5, 6]]
    assert E.raw_integers(np.array([[1.0, 2.0]])).dtype == np.uint32
    for bad in ([[1.5]], [[-1.0]], [[2.0 ** 32]], [[np.nan]]):
        with pytest.raises(DatasetError, match="Fix"):
            E.raw_integers(np.array(bad))


@pytest.mark.parametrize("cfg, msg", [
    ({"kind": "nope"}, "unknown encoding.kind 'nope'; valid kinds"),
    ({"kind": "byte_picker"}, "needs encoding.n_features"),
    ({"kind": "byte_picker", "n_features": 8, "levels": [1]}, r"unknown key\(s\) \['levels'\].*valid keys"),
    ({"kind": "thermometer", "levels": [1], "quantiles": 3}, "exactly one of"),
    ({"kind": "thermometer", "quantiles": 40}, "at most 32"),
    ({"kind": "context", "window": -1}, "window"),
])
def test_encoding_config_errors(cfg, msg):
    with pytest.raises(DatasetError, match=msg):
        E.Encoder.from_config(cfg)
