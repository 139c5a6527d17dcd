"""hash32 against every reference row produced by the Go library (DESIGN §1)."""
from pathlib import Path

import numpy as np
import pytest

from hashtron_lab.kernels.hashing import hash32

ROWS = [
    tuple(int(v) for v in line.split())
    for line in (Path(__file__).parent / "fixtures" / "hash.tsv").read_text().splitlines()[1:]
    if line.strip()
]


def test_fixture_is_complete():
    assert len(ROWS) == 200


@pytest.mark.parametrize("n,s,max_,expected", ROWS)
def test_hash32_matches_go(n, s, max_, expected):
    got = hash32(np.uint32(n), np.uint32(s), np.uint32(max_))
    assert int(got) == expected
