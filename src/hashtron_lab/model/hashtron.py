"""One hashtron: a program of (salt, modulus) hash commands followed by a learned filter."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kernels.hashing import hash32
from ..kernels.network import hashtron_forward_batch
from ..kernels.threads import threads_for

UNTRAINED_MODULUS = 2


@dataclass
class Hashtron:
    """`program` is a list of (salt, modulus); the premodulo, when set, is its first command.

    `filter` holds the quaternary filter bytes (empty: answers the parity of the key).
    `bits` > 1 makes a standalone multi-bit neuron: bit j reads `x | (j << 16)`.
    """

    program: list[tuple[int, int]] = field(default_factory=list)
    filter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    bits: int = 1

    @classmethod
    def untrained(cls, salt: int) -> "Hashtron":
        """A random bit function of its input: one hash into {0, 1}, empty filter."""
        return cls(program=[(int(salt) & 0xFFFFFFFF, UNTRAINED_MODULUS)])

    @property
    def premodulo(self) -> int:
        return self.program[0][1] if self.program else 0

    def copy(self) -> "Hashtron":
        return Hashtron(list(self.program), self.filter.copy(), self.bits)

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Hashtron)
            and self.program == other.program
            and self.bits == other.bits
            and np.array_equal(self.filter, other.filter)
        )

    def forward(self, x) -> np.ndarray:
        """Batched evaluation over a uint32 array; returns the `bits`-bit answers as uint32."""
        xs = np.ascontiguousarray(np.asarray(x, dtype=np.uint32).reshape(-1))
        salts = np.array([p[0] for p in self.program], dtype=np.uint32)
        mods = np.array([p[1] for p in self.program], dtype=np.uint32)
        out = np.empty(xs.shape[0], dtype=np.uint32)
        threads_for(xs.shape[0])
        hashtron_forward_batch(xs, salts, mods, self.filter, np.int64(self.bits), out)
        return out


def apply_program(x: int, program) -> int:
    """Scalar twin of the program loop (for tests and documentation)."""
    for salt, mod in program:
        x = int(hash32(x, salt, mod))
    return x
