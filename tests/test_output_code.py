"""Output codes: the compiled decoding and the one-pass count of right predictions against the
rule written out in numpy."""
import numpy as np
import pytest

from hashtron_lab.model.output_code import OutputCode


def numpy_decode(code: OutputCode, out: np.ndarray) -> np.ndarray:
    """The decoding rule (module docstring of model/output_code.py), independent of the kernels:
    output mod n_classes, or the nearest code to the masked output, ties to the lowest class."""
    out = out.astype(np.uint32)
    if code.codes is None:
        return out.astype(np.int64) % code.n_classes if code.n_classes else out.astype(np.int64)
    mask = np.uint32((1 << code.bits) - 1) if code.bits < 32 else np.uint32(0xFFFFFFFF)
    diff = (out & mask)[:, None] ^ code.codes[None, :]
    dist = np.unpackbits(diff.view(np.uint8).reshape(*diff.shape, 4), axis=-1).sum(axis=-1)
    return np.argmin(dist, axis=1).astype(np.int64)


@pytest.mark.parametrize("kind,n_classes,bits", [("modulo", 10, 4), ("modulo", 3, 2), ("modulo", None, 8),
                                                 ("onehot", 5, 6), ("ecoc", 10, 7), ("ecoc", 4, 32)])
def test_count_correct_equals_decoding(kind, n_classes, bits):
    code = OutputCode(kind, n_classes, bits)
    rng = np.random.default_rng(bits)
    n = 500
    y = rng.integers(0, n_classes or 256, n)
    parity = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32) if kind == "modulo" else np.zeros(n, np.uint32)
    # outputs near the right code (so that many are right), some noise, and ties for nearest codes
    out = code.encode(y) ^ parity
    noise = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    out = np.where(rng.random(n) < 0.4, out ^ (noise & np.uint32(0b101)), out).astype(np.uint32)
    out[:50] = noise[:50]
    np.testing.assert_array_equal(code.decode(out ^ parity), numpy_decode(code, out ^ parity))
    want = int(np.count_nonzero(code.decode(out ^ parity) == y))
    assert 0 < want < n  # the case mixes right and wrong predictions
    assert code.count_correct(out, parity, y) == want
