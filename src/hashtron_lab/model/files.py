"""Our own model file: a whole network (architecture + every neuron) plus user meta, checksummed.

API
---
- ``save_model(net, path, meta=None)`` writes the file atomically (a temporary file in the
  same directory, fsynced, then ``os.replace``), creating the parent directory if needed.
- ``load_model(path) -> Network`` reads and verifies it.
- ``read_model_meta(path) -> dict`` returns the meta saved with the model (``{}`` when none);
  ``load_model_and_meta(path) -> (Network, dict)`` gives both from one read. The meta is
  *not* attached to the Network object: a Network is architecture + neurons only.
- Every damaged or foreign file is refused with ``ModelFileError`` (a ``ValueError``) whose
  message names the file, says what is wrong and how to fix it. A missing file raises the
  usual ``FileNotFoundError``.

Layout (format ``hashtron-lab-model``, version 1)
------------------------------------------------
One ASCII header line, then the payload::

    {"format":"hashtron-lab-model","version":1,"compression":"zlib","payload_size":N,"payload_sha256":"<64 hex>","body_size":B}\\n
    <N bytes: zlib stream (level 9) of the body JSON, UTF-8; B bytes once decompressed>

The header keys are written in that fixed order, so every model file starts with the bytes
``{"format":"hashtron-lab-model"`` (a magic number readable with ``head -c 100``).
``payload_sha256`` is the SHA-256 of the N payload bytes exactly as stored; it is checked
before anything is decompressed. ``body_size`` (added within version 1; files without it are
read too) bounds the decompression: a header declaring more than ``max_body`` bytes
(default ``MAX_BODY_BYTES``) is refused before decompressing, and the stream is inflated with
that many bytes at most, so a zlib bomb — even one with a valid checksum — costs at most the
declared size, never the bomb's. The body is canonical JSON (sorted keys, no spaces)::

    {"architecture": <Architecture.to_spec()>,
     "meta": {...user meta, {} when none...},
     "neurons": [[{"bits": 1, "filter": "<lowercase hex>", "program": [[salt, modulus], ...]},
                  ...one object per neuron of the layer...],
                 ...one list per hashtron layer...]}

Filters are stored as hex inside the compressed JSON: zlib codes the 16 hex digits in about
four bits each, so a file costs about the raw filter bytes. Salts and moduli are uint32.

Determinism: no timestamps, sorted keys, fixed compression level, so the same network and
meta always give the same bytes (with the same zlib build). ``meta`` must be JSON
serialisable (string keys; numpy scalars and arrays are converted to plain numbers and
lists; NaN and infinities are refused, since they are not JSON).

Version policy: a reader accepts every version up to ``FORMAT_VERSION`` and refuses newer
files with a message to upgrade hashtron-lab.
"""
from __future__ import annotations

import hashlib
import json
import re
import zlib
from typing import Any, Mapping

import numpy as np

from ..atomic import atomic_write_bytes
from .architecture import Architecture, ArchitectureError
from .hashtron import Hashtron
from .network import Network

FORMAT_NAME = "hashtron-lab-model"
FORMAT_VERSION = 1
COMPRESSION = "zlib"
ZLIB_LEVEL = 9
MAX_HEADER = 4096  # bytes searched for the header's newline
UINT32_LIMIT = 2**32
MAX_BITS = 32  # a neuron's answers are packed into one uint32
MAX_BODY_BYTES = 256 * 2**20  # default ceiling of a decompressed body (raise it with max_body=)
# Without a declared size (files written before body_size, Go weights) a stream may inflate to at
# most this many times its compressed size (+1 MiB): our JSON bodies and Go texts compress about
# 2-10x, a zlib bomb about 1000x, so a bomb is stopped after a few MB instead of max_body.
UNDECLARED_RATIO = 64
DEFLATE_MAX_RATIO = 1032  # no zlib stream inflates more than this (a declared size above is damage)


def undeclared_limit(compressed: int, ceiling: int) -> int:
    """How far a stream of `compressed` bytes without a declared size may inflate."""
    return min(ceiling, UNDECLARED_RATIO * compressed + 2**20)
HEADER_KEYS = ("format", "version", "compression", "payload_size", "payload_sha256", "body_size")

_HEX = re.compile(r"[0-9a-f]*")
_SHA = re.compile(r"[0-9a-f]{64}")


class ModelFileError(ValueError):
    """A model (or weights) file that cannot be used: says which file, what is wrong, and the fix."""

    def __init__(self, path, problem: str, fix: str, kind: str = "model file"):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{kind} {self.path}: {problem}. Fix: {fix}")


def restore_hint(path) -> str:
    return f"retrain the model or restore it from DVC: dvc checkout {path}"


# -- writing ---------------------------------------------------------------------------


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"object of type {type(o).__name__} is not JSON serialisable")


def canonical_json(obj) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, ASCII, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False, default=_json_default).encode("ascii")


def _neuron_record(h: Hashtron, where: str) -> dict:
    program = []
    for salt, mod in h.program:
        salt, mod = int(salt), int(mod)
        if not (0 <= salt < UINT32_LIMIT and 0 <= mod < UINT32_LIMIT):
            raise ValueError(f"{where}: program command ({salt}, {mod}) is outside uint32")
        program.append([salt, mod])
    filt = np.asarray(h.filter)
    if filt.ndim != 1 or (filt.size and (filt.min() < 0 or filt.max() > 255)):
        raise ValueError(f"{where}: filter must be a 1-D array of bytes")
    return {"bits": int(h.bits), "filter": filt.astype(np.uint8).tobytes().hex(), "program": program}


def dumps_model(net: Network, meta: Mapping[str, Any] | None = None) -> bytes:
    """The exact bytes `save_model` writes."""
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a dict (JSON object), got {type(meta).__name__}")
    neurons = [[_neuron_record(h, f"neuron {l}.{i}") for i, h in enumerate(layer)]
               for l, layer in enumerate(net.neurons)]
    try:
        meta_json = json.loads(canonical_json(dict(meta)))
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"meta cannot be saved as JSON ({e}); keep it to strings, numbers, booleans, None, "
            "lists and dicts with string keys"
        ) from e
    body = canonical_json({"architecture": net.architecture.to_spec(), "meta": meta_json, "neurons": neurons})
    payload = zlib.compress(body, ZLIB_LEVEL)
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "compression": COMPRESSION,
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "body_size": len(body),
    }
    return json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + payload


def save_model(net: Network, path, meta: Mapping[str, Any] | None = None) -> None:
    """Write `net` (and optional JSON-serialisable `meta`) to `path`, atomically and deterministically."""
    atomic_write_bytes(path, dumps_model(net, meta))


# -- reading ---------------------------------------------------------------------------
def inflate(payload: bytes, limit: int, fail, what: str = "payload") -> bytes:
    """The zlib stream `payload` decompressed, refused (``fail(problem)``) when it would exceed
    `limit` bytes: inflated with `limit` + 1 bytes at most, so a bomb never expands further."""
    try:
        d = zlib.decompressobj()
        out = d.decompress(payload, limit + 1)
        if len(out) > limit:
            fail(f"the {what} decompresses to more than {limit} bytes (a zlib bomb, or a larger file than this "
                 f"reader allows)")
        if not d.eof or d.unused_data:
            raise zlib.error("incomplete or trailing data in the zlib stream")
    except zlib.error as e:
        fail(f"the {what} does not decompress ({e})")
    return out


def loads_model(data: bytes, path="<bytes>", max_body: int = MAX_BODY_BYTES) -> tuple[Network, dict]:
    """Parse and verify model bytes; `path` only names the source in error messages; a body
    larger than `max_body` bytes (declared or actual) is refused without decompressing it."""
    hint = restore_hint(path)

    def fail(problem: str, fix: str = hint):
        raise ModelFileError(path, problem, fix)

    if not data:
        fail("the file is empty (0 bytes): it was truncated or never written")
    if not data.startswith(b'{"'):
        if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0:
            fail("it is a bare zlib stream, not a hashtron-lab model (perhaps a Go weights file)",
                 "load Go weights with hashtron_lab.model.go_weights.import_go_weights(path, architecture)")
        fail(f"it does not start with a hashtron-lab model header ({FORMAT_NAME!r}): "
             "it is another kind of file or its start is damaged",
             f"check the path; if it should be a model, {hint}")
    nl = data.find(b"\n", 0, MAX_HEADER)
    if nl < 0:
        fail("the header line is incomplete (no newline in the first "
             f"{min(len(data), MAX_HEADER)} bytes): the file is truncated or damaged")
    try:
        header = json.loads(data[:nl].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"the header line is not valid JSON ({e}): the file is damaged")
    if not isinstance(header, dict):
        fail("the header line is not a JSON object: the file is damaged")
    if set(header) not in (set(HEADER_KEYS), set(HEADER_KEYS[:-1])):
        fail(f"the header keys {sorted(header)} are not {list(HEADER_KEYS)}: the header is damaged")
    name = header.get("format")
    if name != FORMAT_NAME:
        fail(f"wrong format name {name!r}, expected {FORMAT_NAME!r}: this is not a hashtron-lab model "
             "or its header is damaged", f"check the path; if it should be a model, {hint}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        fail(f"invalid format version {version!r}: the header is damaged")
    if version > FORMAT_VERSION:
        fail(f"format version {version} is newer than this hashtron-lab supports (up to {FORMAT_VERSION})",
             "upgrade hashtron-lab (pip install -U hashtron-lab, or pull the newer code) to read it")
    if header.get("compression") != COMPRESSION:
        fail(f"unsupported compression {header.get('compression')!r} (expected {COMPRESSION!r}): "
             "the header is damaged")
    size, digest = header.get("payload_size"), header.get("payload_sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        fail(f"invalid payload_size {size!r}: the header is damaged")
    if not isinstance(digest, str) or not _SHA.fullmatch(digest):
        fail(f"invalid payload_sha256 {digest!r}: the header is damaged")
    payload = data[nl + 1:]
    if len(payload) < size:
        fail(f"truncated: the header announces {size} payload bytes but only {len(payload)} are present")
    if len(payload) > size:
        fail(f"{len(payload) - size} unexpected bytes after the {size}-byte payload: "
             "the file is damaged or was appended to")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != digest:
        fail(f"checksum mismatch: stored SHA-256 {digest[:16]}..., computed {actual[:16]}...: "
             "the file was modified or damaged")
    body_size = header.get("body_size")
    if "body_size" in header and (not isinstance(body_size, int) or isinstance(body_size, bool) or body_size < 0):
        fail(f"invalid body_size {body_size!r}: the header is damaged")
    if body_size is not None and body_size > DEFLATE_MAX_RATIO * size + 64:
        fail(f"the header declares a {body_size}-byte body for a {size}-byte payload, more than zlib can "
             f"compress: the header is damaged")
    if body_size is not None and body_size > max_body:
        fail(f"the header declares a {body_size}-byte body, above the {max_body}-byte limit of this reader "
             f"(a zlib bomb, or a very large model); nothing was decompressed",
             f"if you trust the file, load it with max_body={body_size}; otherwise delete it")
    limit = undeclared_limit(size, max_body) if body_size is None else body_size

    def inflate_fail(problem: str):
        if "bomb" in problem:
            fail(problem + "; decompression stopped there", "if you trust the file, load it with a larger "
                 f"max_body (load_model(path, max_body=...)); otherwise delete it")
        fail(problem + " although its checksum matches: the writer was faulty")

    body_bytes = inflate(payload, limit, inflate_fail)
    if body_size is not None and len(body_bytes) != body_size:
        fail(f"the body is {len(body_bytes)} bytes but the header declares {body_size}: the header is damaged")
    try:
        body = json.loads(body_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"the payload is not valid JSON ({e}) although its checksum matches: the writer was faulty")
    try:
        return _network_from_body(body)
    except _BodyError as e:
        fail(f"invalid content: {e}")


def load_model_and_meta(path, max_body: int = MAX_BODY_BYTES) -> tuple[Network, dict]:
    """Network and meta from one verified read."""
    with open(path, "rb") as f:
        data = f.read()
    return loads_model(data, path, max_body)


def load_model(path, max_body: int = MAX_BODY_BYTES) -> Network:
    """The Network saved at `path` (verified; see the module docstring)."""
    return load_model_and_meta(path, max_body)[0]


def read_model_meta(path) -> dict:
    """The meta saved with the model at `path` (`{}` when none); the whole file is verified."""
    return load_model_and_meta(path)[1]


class _BodyError(Exception):
    pass


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _network_from_body(body) -> tuple[Network, dict]:
    if not isinstance(body, dict) or set(body) != {"architecture", "meta", "neurons"}:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise _BodyError(f"the body must hold exactly 'architecture', 'meta', 'neurons', got {keys}")
    try:
        arch = Architecture.from_spec(body["architecture"])
    except (ArchitectureError, TypeError, AttributeError, KeyError) as e:
        raise _BodyError(f"bad architecture ({e})") from None
    meta = body["meta"]
    if not isinstance(meta, dict):
        raise _BodyError(f"meta must be a JSON object, got {type(meta).__name__}")
    layers = body["neurons"]
    if not isinstance(layers, list) or [len(x) if isinstance(x, list) else None for x in layers] != arch.widths:
        got = [len(x) if isinstance(x, list) else None for x in layers] if isinstance(layers, list) else layers
        raise _BodyError(f"neuron counts per layer {got} do not match the architecture {arch.widths}")
    neurons = [[_hashtron_from_record(rec, f"neuron {l}.{i}") for i, rec in enumerate(layer)]
               for l, layer in enumerate(layers)]
    return Network(arch, neurons), meta


def _hashtron_from_record(rec, where: str) -> Hashtron:
    if not isinstance(rec, dict) or set(rec) != {"bits", "filter", "program"}:
        raise _BodyError(f"{where} must be an object with 'bits', 'filter', 'program'")
    bits, filt, program = rec["bits"], rec["filter"], rec["program"]
    if not _is_int(bits) or not 1 <= bits <= MAX_BITS:
        raise _BodyError(f"{where}: bits must be an integer in [1, {MAX_BITS}], got {bits!r}")
    if not isinstance(filt, str) or len(filt) % 2 or not _HEX.fullmatch(filt):
        raise _BodyError(f"{where}: filter must be an even-length lowercase hex string")
    if not isinstance(program, list):
        raise _BodyError(f"{where}: program must be a list of [salt, modulus]")
    cmds = []
    for cmd in program:
        if (not isinstance(cmd, list) or len(cmd) != 2 or not all(_is_int(v) for v in cmd)
                or not all(0 <= v < UINT32_LIMIT for v in cmd)):
            raise _BodyError(f"{where}: program command {cmd!r} is not a [salt, modulus] pair of uint32")
        cmds.append((cmd[0], cmd[1]))
    return Hashtron(program=cmds, filter=np.frombuffer(bytes.fromhex(filt), dtype=np.uint8).copy(), bits=bits)
