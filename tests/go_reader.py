"""A model of how the Go library (neurlang/classifier) *reads* a weights file, for tests.

Our importer parses the file as JSON; the Go library does not. Its reader streams characters
and keeps a few flags, which accepts some texts JSON would not and misreads some JSON. This
module reproduces that behaviour from its description below (not from JSON), so a test can
check that what we export is what Go would load.

How Go reads (the description this model implements):

* Network level: for each hashtron in network order, skip characters until one ``[`` has been
  consumed, then read one entry. The file's opening ``[`` is therefore taken as the *first
  entry's* bracket, and the first entry's own ``[`` looks like the start of a pair.
* Entry level, one character at a time, with an accumulator ``acc`` (uint32), flags ``pair``
  (inside ``[...]`` of a pair), ``quoted``, ``odd`` (one hex digit of a byte seen), ``digits``
  (a decimal digit seen since the last quote), ``minus``; the fields ``a`` and ``b`` of the pair
  being read; and the running salt ``salt`` and modulus ``mod`` of the program:

  - ``"``: leaves the pair, toggles ``quoted``, clears ``acc``, ``odd`` and ``digits``;
  - ``-``: sets ``minus``;
  - ``[``: enters a pair, clears ``acc``;
  - a hex letter ``a``-``f``: ``acc = acc*16 + v``; every second hex digit (``odd`` set) emits
    the byte ``acc`` to the filter and clears ``acc``; toggles ``odd``;
  - a digit: sets ``digits``; ``acc = acc*16 + d`` when quoted (then as for a hex letter),
    else ``acc*10 + d``;
  - ``,`` inside a pair: ``a = acc``. Outside a pair: *commit* (below) and ``salt ^= a``. Either
    way ``acc`` and ``minus`` are cleared;
  - ``]`` inside a pair: leaves it, ``b = acc``, clears ``acc``. Outside a pair: *commit* and the
    entry ends;
  - anything else is ignored.

  *commit*: the modulus becomes ``b`` when it was 0, else ``mod + b`` when ``minus`` is set and
  ``mod - b`` otherwise (uint32); then, if ``digits`` is set, the command ``(a ^ salt, mod)``
  is appended to the program.
"""
from __future__ import annotations

import zlib

import numpy as np

U32 = 0xFFFFFFFF
HEX_LETTERS = "abcdef"


class GoReadError(Exception):
    """The stream ended before every hashtron was read (Go's reader returns io.EOF)."""


class _Entry:
    """Reader state for one hashtron entry."""

    def __init__(self):
        self.acc = 0
        self.pair = self.quoted = self.odd = self.digits = self.minus = False
        self.a = self.b = 0
        self.salt = self.mod = 0
        self.program: list[tuple[int, int]] = []
        self.filter = bytearray()

    def _commit(self) -> None:
        if self.mod == 0:
            self.mod = self.b
        elif self.minus:
            self.mod = (self.mod + self.b) & U32
        else:
            self.mod = (self.mod - self.b) & U32
        if self.digits:
            self.program.append(((self.a ^ self.salt) & U32, self.mod))

    def _nibble(self, value: int, base: int) -> None:
        self.acc = (self.acc * base + value) & U32
        if base == 16:
            if self.odd:
                self.filter.append(self.acc & 0xFF)
                self.acc = 0
            self.odd = not self.odd

    def feed(self, ch: str) -> bool:
        """Consume one character; True when the entry is complete."""
        if ch == '"':
            self.pair, self.odd, self.digits, self.acc = False, False, False, 0
            self.quoted = not self.quoted
        elif ch == "-":
            self.minus = True
        elif ch == "[":
            self.pair, self.acc = True, 0
        elif ch in HEX_LETTERS:
            self._nibble(10 + HEX_LETTERS.index(ch), 16)
        elif ch.isdigit() and ch.isascii():
            self.digits = True
            self._nibble(int(ch), 16 if self.quoted else 10)
        elif ch == ",":
            if self.pair:
                self.a = self.acc
            else:
                self._commit()
                self.salt ^= self.a
            self.acc, self.minus = 0, False
        elif ch == "]":
            if self.pair:
                self.pair, self.b, self.acc = False, self.acc, 0
            else:
                self._commit()
                return True
        return False


def read_go_text(text: str, n_neurons: int) -> list[tuple[list[tuple[int, int]], bytes]]:
    """(program, filter bytes) of each of `n_neurons` hashtrons, as the Go library reads `text`."""
    out, i = [], 0
    for k in range(n_neurons):
        while True:  # skip to (and past) the next '['
            if i >= len(text):
                raise GoReadError(f"end of text while looking for hashtron {k}")
            i += 1
            if text[i - 1] == "[":
                break
        entry = _Entry()
        while True:
            if i >= len(text):
                raise GoReadError(f"end of text inside hashtron {k}")
            i += 1
            if entry.feed(text[i - 1]):
                break
        out.append((entry.program, bytes(entry.filter)))
    return out


def read_go_file(data: bytes, n_neurons: int) -> list[tuple[list[tuple[int, int]], bytes]]:
    """`read_go_text` of a zlib-compressed weights file."""
    return read_go_text(zlib.decompress(data).decode("ascii"), n_neurons)


def as_read(net) -> list[tuple[list[tuple[int, int]], bytes]]:
    """What a faithful reader must return for `net`: every neuron's program and filter bytes."""
    return [([(int(s), int(m)) for s, m in h.program], np.asarray(h.filter, np.uint8).tobytes())
            for layer in net.neurons for h in layer]
