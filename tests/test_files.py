"""Model files: our checksummed format (model/files.py) and the Go weights format (model/go_weights.py)."""
from __future__ import annotations

import hashlib
import json
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashtron_lab import atomic
from hashtron_lab.kernels.filter import filter_make
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.files import (
    FORMAT_NAME, FORMAT_VERSION, ModelFileError, dumps_model, load_model, load_model_and_meta,
    loads_model, read_model_meta, save_model,
)
from hashtron_lab.model.go_weights import (
    GoWeightsError, decode_entry, dumps_go_text, encode_entry, export_go_weights, import_go_weights,
    loads_go_text,
)
from hashtron_lab.model.hashtron import Hashtron
from hashtron_lab.model.network import Network

U32 = 2**32


def _h(n, p=0):
    return {"type": "hashtron", "neurons": n, "premodulo": p}


def _mp(w, h, sw, sh, cw, ch, r, b):
    return {"type": "majpool2d", "width": w, "height": h, "subwidth": sw, "subheight": sh,
            "capwidth": cw, "capheight": ch, "repeat": r, "bias": b}


ARCHS = {
    "majpool_pack_direct": [_h(9, 2**20), _mp(9, 1, 1, 1, 3, 1, 1, 0), _h(3, 65536)],
    "majpool_2d_sub": [_h(12, 1000), _mp(3, 2, 1, 2, 2, 2, 2, 1), _h(6, 77),
                       {"type": "full", "size": 6, "bits": 2, "maxbits": 1}],
    "full": [_h(6), {"type": "full", "size": 8, "bits": 2, "maxbits": 3}, _h(5),
             {"type": "full", "size": 5, "bits": 1, "maxbits": 1}],
    "sum_parity": [_h(8, 500), {"type": "sum", "dims": [2, 4], "axis": 1}, _h(4, 12), {"type": "parity"}, _h(2)],
    "single_layer": [_h(3, 256)],
}


def random_hashtron(rng: np.random.Generator) -> Hashtron:
    """A neuron of one of the shapes training produces, plus odd ones the formats must carry."""
    kind = rng.integers(0, 6)
    salt = int(rng.integers(0, U32))
    if kind == 0:  # untrained
        return Hashtron.untrained(salt)
    if kind == 1:  # empty program, empty filter
        return Hashtron()
    n = int(rng.integers(1, 40))
    if kind == 2:  # trained: premodulo then filter
        prem = int(rng.integers(max(n, 2), 5000))
        keys = rng.choice(prem, size=n, replace=False).astype(np.uint32)
        bits = rng.integers(0, 2, size=n).astype(np.uint8)
        return Hashtron(program=[(salt, prem)], filter=filter_make(keys, bits))
    keys = rng.choice(U32, size=n, replace=False).astype(np.uint32)
    filt = filter_make(keys, rng.integers(0, 2, size=n).astype(np.uint8))
    if kind == 3:  # filter only
        return Hashtron(filter=filt)
    # several commands, moduli including 0, tiny and huge, increasing and decreasing
    mods = rng.choice([0, 1, 2, 7, 1000, 65536, U32 - 1, int(rng.integers(0, U32))], size=int(rng.integers(2, 6)))
    prog = [(int(rng.integers(0, U32)), int(m)) for m in mods]
    return Hashtron(program=prog, filter=filt if kind == 4 else np.zeros(0, np.uint8))


def random_network(spec, seed) -> Network:
    rng = np.random.default_rng(seed)
    net = Network.untrained(Architecture.from_spec({"layers": spec}), rng)
    for l, w in enumerate(net.architecture.widths):
        for i in range(w):
            if rng.random() < 0.8:
                net.set_neuron(l, i, random_hashtron(rng))
    return net


def random_inputs(net, seed, n=300):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, U32, size=(n, net.architecture.n_input_features), dtype=np.uint64).astype(np.uint32)
    X[: n // 3] %= 64  # small features too, so short programs and low premodulos see repeats
    return X


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ARCHS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_file_round_trip(tmp_path, name, seed):
    net = random_network(ARCHS[name], seed)
    meta = {"n_classes": 5, "class_names": ["a", "b", "c", "d", "é"], "parity": True, "nested": {"x": [1.5, None]}}
    path = tmp_path / "sub" / "model.htm"
    save_model(net, path, meta)
    back, meta_back = load_model_and_meta(path)
    assert back == net
    assert meta_back == meta
    assert read_model_meta(path) == meta
    assert load_model(path) == net
    X = random_inputs(net, seed + 100)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    assert all(type(s) is int and type(m) is int for layer in back.neurons for h in layer for s, m in h.program)
    assert all(h.filter.dtype == np.uint8 for layer in back.neurons for h in layer)


@pytest.mark.parametrize("name", sorted(ARCHS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_go_weights_round_trip(tmp_path, name, seed):
    net = random_network(ARCHS[name], seed)
    path = tmp_path / "weights.json.zlib"
    export_go_weights(net, path)
    back = import_go_weights(path, net.architecture)
    assert back == net
    X = random_inputs(net, seed + 200)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    # the file is a zlib stream of exactly the documented text, and valid JSON
    text = zlib.decompress(path.read_bytes()).decode("ascii")
    assert text == dumps_go_text(net)
    assert len(json.loads(text)) == net.architecture.n_neurons
    # a spec dict is accepted in place of an Architecture
    assert loads_go_text(text, net.architecture.to_spec()) == net


def test_multibit_neuron_round_trips_in_our_format_but_not_go(tmp_path):
    net = random_network(ARCHS["full"], 7)
    net.set_neuron(0, 2, Hashtron(program=[(3, 40)], filter=np.array([1, 2, 3], np.uint8), bits=4))
    save_model(net, tmp_path / "m")
    assert load_model(tmp_path / "m").neuron(0, 2).bits == 4
    with pytest.raises(ValueError, match=r"neuron 0\.2 has bits=4"):
        dumps_go_text(net)


hyp_program = st.lists(st.tuples(st.integers(0, U32 - 1),
                                 st.one_of(st.just(0), st.integers(0, 3), st.integers(0, U32 - 1))), max_size=6)


@settings(max_examples=300, deadline=None)
@given(program=hyp_program, filt=st.binary(max_size=12))
def test_go_entry_round_trip(program, filt):
    h = Hashtron(program=list(program), filter=np.frombuffer(filt, np.uint8).copy())
    text = encode_entry(h)
    assert " " not in text
    assert decode_entry(json.loads(text)) == h


# -- determinism and atomic writing ---------------------------------------------------------
def test_save_is_deterministic(tmp_path):
    net = random_network(ARCHS["sum_parity"], 3)
    save_model(net, tmp_path / "a", {"b": 2, "a": [1, 2]})
    save_model(net, tmp_path / "b", {"a": [1, 2], "b": 2})  # key order does not matter
    save_model(net.copy(), tmp_path / "c", {"a": np.array([1, 2]), "b": np.int64(2)})  # numpy converted
    save_model(load_model(tmp_path / "a"), tmp_path / "d", read_model_meta(tmp_path / "a"))  # reload -> same bytes
    data = (tmp_path / "a").read_bytes()
    for other in "bcd":
        assert (tmp_path / other).read_bytes() == data
    save_model(net, tmp_path / "e")
    save_model(net, tmp_path / "f", {})
    assert (tmp_path / "e").read_bytes() == (tmp_path / "f").read_bytes() != data
    assert read_model_meta(tmp_path / "e") == {}
    export_go_weights(net, tmp_path / "g1")
    export_go_weights(net, tmp_path / "g2")
    assert (tmp_path / "g1").read_bytes() == (tmp_path / "g2").read_bytes()


def test_header_is_readable_and_compact(tmp_path):
    net = random_network(ARCHS["majpool_2d_sub"], 4)
    data = dumps_model(net)
    assert data.startswith(b'{"format":"hashtron-lab-model","version":1,')
    header = json.loads(data.split(b"\n", 1)[0])
    assert header["format"] == FORMAT_NAME and header["version"] == FORMAT_VERSION
    filter_bytes = sum(h.filter.size for layer in net.neurons for h in layer)
    assert len(data) < 400 + 1.3 * filter_bytes + 20 * net.architecture.n_neurons


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "model.htm"
    net = random_network(ARCHS["full"], 0)
    save_model(net, path)
    old = path.read_bytes()
    with pytest.raises(ValueError, match="meta cannot be saved as JSON"):
        save_model(net, path, {"bad": object()})
    with pytest.raises(ValueError, match="meta cannot be saved as JSON"):
        save_model(net, path, {"nan": float("nan")})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(random_network(ARCHS["full"], 1), path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.htm"]  # no temp file left behind
    save_model(random_network(ARCHS["full"], 1), path)  # overwrite works
    assert path.read_bytes() != old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.htm"]


# -- damaged files ---------------------------------------------------------------------------
def _rebuild(data: bytes, header_update=None, body: bytes | None = None, payload: bytes | None = None) -> bytes:
    """Re-assemble a model file with a changed header / body, the checksum made valid again."""
    head, old_payload = data.split(b"\n", 1)
    header = json.loads(head)
    if body is not None:
        payload = zlib.compress(body, 9)
    if payload is None:
        payload = old_payload
    header["payload_size"] = len(payload)
    header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    if body is not None:
        header["body_size"] = len(body)
    header.update(header_update or {})
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload


@pytest.fixture
def model_bytes():
    return dumps_model(random_network(ARCHS["majpool_2d_sub"], 5), {"n_classes": 4})


def _refused(tmp_path, data: bytes, *fragments: str) -> str:
    path = tmp_path / "damaged.htm"
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as exc:
        load_model(path)
    msg = str(exc.value)
    assert str(path) in msg and "Fix:" in msg
    for frag in fragments:
        assert frag in msg, msg
    with pytest.raises(ModelFileError):
        read_model_meta(path)
    return msg


def test_refuses_truncated(tmp_path, model_bytes):
    for cut in (len(model_bytes) - 1, len(model_bytes) // 2, model_bytes.index(b"\n") + 1):
        _refused(tmp_path, model_bytes[:cut], "truncated", "dvc checkout")
    _refused(tmp_path, model_bytes[:30], "header line is incomplete", "dvc checkout")
    _refused(tmp_path, b"", "empty", "dvc checkout")


def test_refuses_flipped_payload_byte(tmp_path, model_bytes):
    data = bytearray(model_bytes)
    data[-5] ^= 0x10
    _refused(tmp_path, bytes(data), "checksum mismatch", "dvc checkout")


def test_refuses_modified_body_with_stale_checksum(tmp_path, model_bytes):
    head, payload = model_bytes.split(b"\n", 1)
    body = zlib.decompress(payload).replace(b'"n_classes":4', b'"n_classes":5')
    forged = _rebuild(model_bytes, body=body)
    assert load_model_and_meta(_write(tmp_path, forged))[1] == {"n_classes": 5}  # sanity: rebuild is valid
    new_payload = forged.split(b"\n", 1)[1]
    stale = head.replace(b'"payload_size":%d' % len(payload), b'"payload_size":%d' % len(new_payload))
    _refused(tmp_path, stale + b"\n" + new_payload, "checksum mismatch", "dvc checkout")


def _write(tmp_path, data):
    path = tmp_path / "ok.htm"
    path.write_bytes(data)
    return path


def test_refuses_bad_json(tmp_path, model_bytes):
    head, payload = model_bytes.split(b"\n", 1)
    _refused(tmp_path, head[:-1] + b"\n" + payload, "header line is not valid JSON", "dvc checkout")
    _refused(tmp_path, _rebuild(model_bytes, body=b'{"architecture": [1,'), "payload is not valid JSON")
    _refused(tmp_path, _rebuild(model_bytes, payload=b"not zlib"), "does not decompress")


def test_refuses_wrong_format_name(tmp_path, model_bytes):
    _refused(tmp_path, _rebuild(model_bytes, {"format": "some-other-model"}),
             "wrong format name 'some-other-model'", "check the path")
    _refused(tmp_path, b"PK\x03\x04 a zip file\n...", "does not start with a hashtron-lab model header")


def test_refuses_go_weights_file_with_hint(tmp_path):
    path = tmp_path / "w"
    export_go_weights(random_network(ARCHS["full"], 0), path)
    _refused(tmp_path, path.read_bytes(), "Go weights file", "import_go_weights")


def test_refuses_newer_version(tmp_path, model_bytes):
    msg = _refused(tmp_path, _rebuild(model_bytes, {"version": FORMAT_VERSION + 1}),
                   f"format version {FORMAT_VERSION + 1} is newer", "upgrade hashtron-lab")
    assert "dvc checkout" not in msg
    _refused(tmp_path, _rebuild(model_bytes, {"version": 0}), "invalid format version")
    _refused(tmp_path, _rebuild(model_bytes, {"compression": "lzma"}), "unsupported compression")


def test_refuses_valid_checksum_but_invalid_content(tmp_path, model_bytes):
    body = json.loads(zlib.decompress(model_bytes.split(b"\n", 1)[1]))

    def with_body(**change):
        b = dict(body, **change)
        return _rebuild(model_bytes, body=json.dumps(b).encode())

    neurons = body["neurons"]
    _refused(tmp_path, with_body(neurons=neurons[:-1]), "invalid content", "neuron counts per layer")
    bad = json.loads(json.dumps(neurons))
    bad[1][0]["filter"] = "abc"
    _refused(tmp_path, with_body(neurons=bad), "neuron 1.0: filter")
    bad = json.loads(json.dumps(neurons))
    bad[0][2]["program"] = [[1, U32]]
    _refused(tmp_path, with_body(neurons=bad), "neuron 0.2: program command")
    _refused(tmp_path, with_body(architecture={"layers": [{"type": "nope"}]}), "bad architecture")
    _refused(tmp_path, with_body(meta=[1]), "meta must be a JSON object")


def test_every_single_byte_flip_is_refused(model_bytes):
    """No damage to any one byte gives a silently different network."""
    for pos in range(len(model_bytes)):
        for mask in (0x01, 0x80):
            data = bytearray(model_bytes)
            data[pos] ^= mask
            with pytest.raises(ModelFileError):
                loads_model(bytes(data), "x")


# -- Go weights text layout ---------------------------------------------------------------------
def _tiny_go_network() -> Network:
    arch = Architecture.from_spec({"layers": [_h(3), {"type": "full", "size": 3, "bits": 1, "maxbits": 1}, _h(2)]})
    return Network(arch, [
        [
            # xor of salts, positive and negative differences, a zero modulus and the rule after it
            Hashtron(program=[(5, 16), (6, 20), (9, 0), (12, 7), (12, 3)], filter=np.array([0x0A, 0xFF], np.uint8)),
            Hashtron(),                                                   # empty entry
            Hashtron(filter=np.array([0x01, 0xAB], np.uint8)),            # filter only
        ],
        [
            Hashtron.untrained(4294967295),                               # untrained: [[salt,2]]
            Hashtron(program=[(7, 100), (7, 30), (0, 0), (1, 0)]),        # same salt, 0 after 0
        ],
    ])


GO_TINY_TEXT = (
    "[\n"
    '[[5,16],[3,-4],[15,20],[5,7],[0,4],"0aff"],\n'
    "[],\n"
    '["01ab"],\n'
    "[[4294967295,2]],\n"
    "[[7,100],[0,70],[7,30],[1,0]]"
    "]\n"
)


def test_go_text_layout_by_hand(tmp_path):
    net = _tiny_go_network()
    assert dumps_go_text(net) == GO_TINY_TEXT
    assert loads_go_text(GO_TINY_TEXT, net.architecture) == net
    path = tmp_path / "tiny.weights"
    export_go_weights(net, path)
    assert zlib.decompress(path.read_bytes()) == GO_TINY_TEXT.encode()
    assert import_go_weights(path, net.architecture) == net
    # any JSON whitespace and upper-case hex are read too
    loose = GO_TINY_TEXT.replace(",", ", ").replace('"0aff"', '"0AFF"')
    assert loads_go_text(loose, net.architecture) == net


def test_go_import_wrong_neuron_count(tmp_path):
    net = _tiny_go_network()
    bigger = Architecture.from_spec({"layers": [_h(3), {"type": "full", "size": 3, "bits": 1, "maxbits": 1}, _h(3)]})
    with pytest.raises(GoWeightsError, match=r"holds 5 hashtron entries but the architecture has 6 neurons"):
        loads_go_text(GO_TINY_TEXT, bigger)
    path = tmp_path / "tiny.weights"
    export_go_weights(net, path)
    with pytest.raises(GoWeightsError) as exc:
        import_go_weights(path, bigger)
    msg = str(exc.value)
    assert str(path) in msg and "5 hashtron entries" in msg and "6 neurons" in msg and "same network definition" in msg


@pytest.mark.parametrize("text, fragment", [
    ('[\n["01ab",[1,2]]]\n', "entry 0: item 0"),                # filter string not last
    ('[\n[[1,2,3]]]\n', "not an integer pair"),
    ('[\n[[1.5,2]]]\n', "not an integer pair"),
    ('[\n[[1,2],"abc"]]\n', "even-length hex"),
    ('[\n[[1,2],[0,3]]]\n', "outside uint32"),                  # modulus 2 - 3 < 0
    ('[\n[[4294967296,2]]]\n', "outside uint32"),
    ('[\n{"a":1}]\n', "must be a JSON list"),
    ('[\n[[1,2]]', "not valid JSON"),
    ('{"a":1}', "JSON list of entries"),
])
def test_go_malformed_text_refused(text, fragment):
    arch = Architecture.from_spec({"layers": [_h(1)]})
    with pytest.raises(GoWeightsError, match="Go weights file <text>") as exc:
        loads_go_text(text, arch)
    assert fragment in str(exc.value)


def test_go_damaged_file_refused(tmp_path):
    net = random_network(ARCHS["full"], 2)
    path = tmp_path / "w"
    export_go_weights(net, path)
    data = path.read_bytes()
    for bad, fragment in [(data[:-3], "not a valid zlib stream"), (data + b"xx", "after the end of the stream"),
                          (dumps_go_text(net).encode(), "plain text, not a zlib stream")]:
        path.write_bytes(bad)
        with pytest.raises(GoWeightsError) as exc:
            import_go_weights(path, net.architecture)
        assert fragment in str(exc.value) and str(path) in str(exc.value)
