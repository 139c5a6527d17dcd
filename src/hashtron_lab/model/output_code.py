"""How classes map to the network's output integer.

- `modulo` (the reference): the label is the target integer; prediction = output mod n_classes.
- `onehot`: class c is bit c (one output neuron per class, one-vs-all); prediction = nearest code.
- `ecoc`: error-correcting output codes — each class a codeword of all output bits, chosen
  greedily for a large minimum Hamming distance; prediction = nearest codeword. A wrong bit or
  two is then corrected instead of changing the class.
Ties in nearest-code decoding go to the lowest class index.
"""
from __future__ import annotations

import numpy as np

CODES = ("modulo", "onehot", "ecoc")
DEFAULT_CODE = CODES[0]  # the reference's: imported Go models predict the same
_NO_CODES = np.zeros(0, dtype=np.uint32)
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.uint32)
    return _POP8[x.view(np.uint8).reshape(*x.shape, 4)].sum(axis=-1)


def ecoc_codebook(n_classes: int, bits: int, seed: int = 20260101, candidates: int = 4096) -> np.ndarray:
    """Deterministic greedy max-min-distance code: n_classes codewords of `bits` bits."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2 ** bits, size=candidates, dtype=np.uint64).astype(np.uint32)
    pool = np.unique(pool)
    chosen = [int(pool[0])]
    best = _popcount(pool ^ np.uint32(chosen[0]))
    for _ in range(1, n_classes):
        idx = int(np.argmax(best))  # farthest from all chosen so far (first on ties)
        chosen.append(int(pool[idx]))
        best = np.minimum(best, _popcount(pool ^ np.uint32(chosen[-1])))
    return np.array(chosen, dtype=np.uint32)


class OutputCode:
    def __init__(self, kind: str, n_classes: int | None, bits: int):
        if kind not in CODES:
            raise ValueError(f"output code must be one of {CODES}, got {kind!r}")
        self.kind, self.n_classes, self.bits = kind, n_classes, bits
        self.codes = None
        if kind != "modulo":
            if not n_classes:
                raise ValueError(f"output code {kind!r} needs the number of classes")
            if kind == "onehot":
                if n_classes > bits:
                    raise ValueError(f"onehot needs one output bit per class: {n_classes} classes, {bits} bits")
                self.codes = (np.uint32(1) << np.arange(n_classes, dtype=np.uint32)).astype(np.uint32)
            else:
                if n_classes > 2 ** bits:
                    raise ValueError(f"{n_classes} classes do not fit {bits} output bits")
                self.codes = ecoc_codebook(n_classes, bits)

    def encode(self, y: np.ndarray) -> np.ndarray:
        """Target output integer for each label."""
        y = np.asarray(y, dtype=np.int64)
        return y.astype(np.uint32) if self.codes is None else self.codes[y]

    def _kernel_args(self) -> tuple:
        """(n_classes or 0, codes or none, output mask): how the decoding kernels read this code."""
        codes = self.codes if self.codes is not None else _NO_CODES
        mask = np.uint32((1 << self.bits) - 1) if self.bits < 32 else np.uint32(0xFFFFFFFF)
        return self.n_classes or 0, codes, mask

    def count_correct(self, out: np.ndarray, parity: np.ndarray, y: np.ndarray) -> int:
        """How many `decode(out ^ parity)` equal `y`, in one compiled pass (no decoded array)."""
        from ..kernels.decode import count_correct

        return int(count_correct(out, parity, y, *self._kernel_args()))

    def decode(self, out: np.ndarray) -> np.ndarray:
        """Class index for each output integer."""
        from ..kernels.decode import decode_into

        out = np.ascontiguousarray(out, dtype=np.uint32)
        pred = np.empty(out.shape, dtype=np.int64)
        decode_into(out.reshape(-1), *self._kernel_args(), pred.reshape(-1))
        return pred
