"""The Go library's weights file (DESIGN §9): import and export, written from the spec.

API
---
- ``export_go_weights(net, path)`` writes the zlib stream (atomically, like ``save_model``).
- ``import_go_weights(path, architecture) -> Network``; ``architecture`` is an
  ``Architecture`` or a spec dict. The file holds no architecture and no bit counts, so the
  caller must give the network definition that wrote it; every neuron gets ``bits = 1``.
- ``dumps_go_text(net) -> str`` / ``loads_go_text(text, architecture) -> Network``: the
  uncompressed text, for tests and inspection.
- Problems raise ``GoWeightsError`` (a ``ModelFileError``, so a ``ValueError``) naming the
  file, what is wrong and the fix; an entry count that differs from the architecture's
  neuron count names both counts.

Layout
------
The text is ``"[\\n" + entries joined by ",\\n" + "]\\n"`` (valid JSON), one entry per
hashtron in network order (layer by layer, position by position). An entry is ``[`` +
program pairs + optional filter + ``]``:

- pairs ``[a,b]`` separated by ``,``. First pair: ``a`` = salt, ``b`` = modulus. Each next
  pair: ``a`` = salt xor previous salt; ``b`` = previous modulus − this modulus (negative,
  written ``-d``, when this modulus is larger by ``d``), except after a previous modulus of 0,
  when ``b`` = this modulus;
- the filter, when non-empty, as ``"<lowercase hex>"`` after the pairs (``,``-separated), or
  alone (``["0a1b"]``) when the program is empty.

``[]`` is an empty program with an empty filter (answers ``x & 1``); an untrained neuron is
``[[salt,2]]``. One exception, for the Go library's reader: it finds each entry by skipping to
the next ``[``, so for the first entry it takes the file's opening bracket as the entry's and
the entry's own ``[`` as the start of a pair; an empty first entry ``[]`` then never closes and
swallows the next entry. So an empty *first* entry is written ``[""]`` (an empty filter string,
valid JSON, read as empty by both readers). Example, three neurons::

    [
    [[5,16],[3,-4],"0a"],
    [],
    ["ff00"]]

(second command of the first neuron: salt 5 xor 3 = 6, modulus 16 + 4 = 20.)
"""
from __future__ import annotations

import json
import zlib
from typing import Any, Mapping

import numpy as np

from .architecture import Architecture
from .files import MAX_BODY_BYTES, ModelFileError, atomic_write_bytes, undeclared_limit
from .hashtron import Hashtron
from .network import Network

ZLIB_LEVEL = 9
UINT32_LIMIT = 2**32
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


class GoWeightsError(ModelFileError):
    """A Go weights file (or text) that cannot be imported."""

    def __init__(self, path, problem: str, fix: str):
        super().__init__(path, problem, fix, kind="Go weights file")


# -- encoding --------------------------------------------------------------------------
def encode_entry(h: Hashtron) -> str:
    """One hashtron as its Go weights entry (see the module docstring)."""
    parts = []
    prev_salt = prev_mod = 0
    for i, (salt, mod) in enumerate(h.program):
        salt, mod = int(salt), int(mod)
        if not (0 <= salt < UINT32_LIMIT and 0 <= mod < UINT32_LIMIT):
            raise ValueError(f"program command ({salt}, {mod}) is outside uint32")
        if i == 0:
            a, b = salt, mod
        else:
            a = salt ^ prev_salt
            b = mod if prev_mod == 0 else prev_mod - mod
        parts.append(f"[{a},{b}]")
        prev_salt, prev_mod = salt, mod
    filt = np.asarray(h.filter, dtype=np.uint8)
    if filt.size:
        parts.append('"' + filt.tobytes().hex() + '"')
    return "[" + ",".join(parts) + "]"


EMPTY_FIRST_ENTRY = '[""]'  # what the Go reader parses as an empty first hashtron (see the docstring)


def dumps_go_text(net: Network) -> str:
    """The uncompressed text of the Go weights file for `net`."""
    entries = []
    for l, layer in enumerate(net.neurons):
        for i, h in enumerate(layer):
            if h.bits != 1:
                raise ValueError(
                    f"neuron {l}.{i} has bits={h.bits}; the Go weights file stores no bit counts and a "
                    "network neuron is 1-bit: set bits=1 or save with save_model instead"
                )
            try:
                entries.append(encode_entry(h))
            except ValueError as e:
                raise ValueError(f"neuron {l}.{i}: {e}") from None
    if entries and entries[0] == "[]":
        entries[0] = EMPTY_FIRST_ENTRY
    return "[\n" + ",\n".join(entries) + "]\n"


def export_go_weights(net: Network, path) -> None:
    """Write `net` as a Go weights file (zlib stream of `dumps_go_text(net)`), atomically."""
    atomic_write_bytes(path, zlib.compress(dumps_go_text(net).encode("ascii"), ZLIB_LEVEL))


# -- decoding --------------------------------------------------------------------------
class _EntryError(Exception):
    pass


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def decode_entry(entry: Any) -> Hashtron:
    """The 1-bit hashtron of one parsed JSON entry; raises _EntryError when malformed."""
    if not isinstance(entry, list):
        raise _EntryError(f"must be a JSON list, got {type(entry).__name__}")
    items = list(entry)
    filt = np.zeros(0, dtype=np.uint8)
    if items and isinstance(items[-1], str):
        hexs = items.pop()
        if len(hexs) % 2 or not set(hexs) <= _HEXDIGITS:
            raise _EntryError(f"filter {hexs[:20]!r}... is not an even-length hex string")
        filt = np.frombuffer(bytes.fromhex(hexs), dtype=np.uint8).copy()
    program = []
    prev_salt = prev_mod = 0
    for k, pair in enumerate(items):
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) for v in pair)):
            raise _EntryError(f"item {k} ({pair!r}) is not an integer pair [a,b] (a filter string may only come last)")
        a, b = pair
        if k == 0:
            salt, mod = a, b
        else:
            salt = a ^ prev_salt
            mod = b if prev_mod == 0 else prev_mod - b
        if not (0 <= a < UINT32_LIMIT and 0 <= salt < UINT32_LIMIT and 0 <= mod < UINT32_LIMIT):
            raise _EntryError(f"pair {k} [{a},{b}] decodes to salt {salt}, modulus {mod}: outside uint32")
        program.append((salt, mod))
        prev_salt, prev_mod = salt, mod
    return Hashtron(program=program, filter=filt, bits=1)


def _as_architecture(architecture) -> Architecture:
    if isinstance(architecture, Architecture):
        return architecture
    if isinstance(architecture, Mapping) or isinstance(architecture, (list, tuple)):
        return Architecture.from_spec(architecture)
    raise TypeError(f"architecture must be an Architecture or a spec dict, got {type(architecture).__name__}")


def loads_go_text(text: str, architecture, path="<text>") -> Network:
    """Parse Go weights text into a Network of `architecture`; `path` only names the source in errors."""
    arch = _as_architecture(architecture)
    hint = f"re-export it from the Go program or restore it from DVC: dvc checkout {path}"
    try:
        entries = json.loads(text)
    except ValueError as e:
        raise GoWeightsError(path, f"the text is not valid JSON ({e}): it is damaged or truncated", hint) from None
    if not isinstance(entries, list):
        raise GoWeightsError(path, f"the text must be a JSON list of entries, got {type(entries).__name__}", hint)
    if len(entries) != arch.n_neurons:
        raise GoWeightsError(
            path,
            f"it holds {len(entries)} hashtron entries but the architecture has {arch.n_neurons} neurons "
            f"(layer widths {arch.widths})",
            "import it with the same network definition (architecture) that wrote it",
        )
    flat = []
    for k, entry in enumerate(entries):
        try:
            flat.append(decode_entry(entry))
        except _EntryError as e:
            raise GoWeightsError(path, f"entry {k}: {e}", hint) from None
    it = iter(flat)
    return Network(arch, [[next(it) for _ in range(w)] for w in arch.widths])


def import_go_weights(path, architecture, max_text: int = MAX_BODY_BYTES) -> Network:
    """Read a Go weights file written for the network definition `architecture`. The file has
    no size header, so its text may inflate to `UNDECLARED_RATIO` times the file (+1 MiB), at
    most `max_text` bytes; past that it is refused with decompression stopped (no zlib bombs)."""
    with open(path, "rb") as f:
        data = f.read()
    hint = f"re-export it from the Go program or restore it from DVC: dvc checkout {path}"
    if data.lstrip()[:1] == b"[":
        raise GoWeightsError(path, "it is plain text, not a zlib stream",
                             "compress it with zlib, or parse the text with loads_go_text(text, architecture)")
    try:
        d = zlib.decompressobj()
        limit = undeclared_limit(len(data), max_text)
        raw = d.decompress(data, limit + 1)
        if len(raw) > limit:
            raise GoWeightsError(path, f"its text decompresses to more than {limit} bytes (a zlib bomb, or a "
                                       f"larger network than this reader allows); decompression stopped there",
                                 "if you trust the file, import it with a larger max_text; otherwise delete it")
        if not d.eof:
            raise zlib.error("the stream ends early")
        if d.unused_data:
            raise zlib.error(f"{len(d.unused_data)} bytes after the end of the stream")
    except zlib.error as e:
        raise GoWeightsError(path, f"not a valid zlib stream ({e}): the file is truncated or damaged", hint) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GoWeightsError(path, f"the decompressed text is not UTF-8 ({e})", hint) from None
    return loads_go_text(text, architecture, path=path)
