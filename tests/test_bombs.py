"""Zlib bombs with valid checksums are refused without being inflated (issue 19, item 15).

A bomb here: tens of MB of zeros compressed to a few tens of KB, wrapped in a file whose
checksum is valid. Peak Python memory while refusing it (tracemalloc) must stay a small
fraction of the bomb (was: the whole bomb inflated, 963 MB RSS for 300 MB)."""
from __future__ import annotations

import hashlib
import json
import tracemalloc
import zlib

import numpy as np
import pytest

from hashtron_lab.model import files
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.files import ModelFileError, dumps_model, load_model, loads_model
from hashtron_lab.model.go_weights import GoWeightsError, import_go_weights
from hashtron_lab.model.network import Network

BOMB_MB = 64


def _bomb(mb: int = BOMB_MB, prefix: bytes = b"") -> bytes:
    """zlib stream of `prefix` + `mb` MiB of zeros, built without holding them."""
    c = zlib.compressobj(9)
    parts = [c.compress(prefix)]
    chunk = bytes(2**20)
    for _ in range(mb):
        parts.append(c.compress(chunk))
    parts.append(c.flush())
    return b"".join(parts)


def _model_file(payload: bytes, body_size: int | None) -> bytes:
    header = {"format": files.FORMAT_NAME, "version": 1, "compression": "zlib", "payload_size": len(payload),
              "payload_sha256": hashlib.sha256(payload).hexdigest()}
    if body_size is not None:
        header["body_size"] = body_size
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload


def _peak(fn) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    err = None
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - returned to the test
        err = e
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return err, peak


def test_a_bomb_without_a_declared_size_stops_after_a_few_mb(tmp_path):
    payload = _bomb()
    path = tmp_path / "bomb.htl"
    path.write_bytes(_model_file(payload, None))
    err, peak = _peak(lambda: load_model(path))
    assert isinstance(err, ModelFileError), err
    assert "decompresses to more than" in str(err) and "zlib bomb" in str(err) and "stopped there" in str(err)
    assert str(path) in str(err) and "Fix:" in str(err)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MB while refusing a {BOMB_MB} MB bomb"


def test_a_bomb_declaring_its_true_size_above_the_limit_is_refused_before_inflating(monkeypatch):
    payload = _bomb()
    data = _model_file(payload, BOMB_MB * 2**20)

    def no_inflate(*a, **k):
        raise AssertionError("decompression started")

    monkeypatch.setattr(files.zlib, "decompressobj", no_inflate)
    with pytest.raises(ModelFileError, match=rf"declares a {BOMB_MB * 2**20}-byte body, above the "
                                             rf"{16 * 2**20}-byte limit .*nothing was decompressed.*max_body="):
        loads_model(data, "bomb.htl", max_body=16 * 2**20)


def test_a_bomb_lying_about_its_size_stops_at_the_declared_size():
    payload = _bomb()
    err, peak = _peak(lambda: loads_model(_model_file(payload, 1000), "liar.htl"))
    assert isinstance(err, ModelFileError) and "decompresses to more than 1000 bytes" in str(err), err
    assert peak < 4 * 2**20


def test_a_declared_size_beyond_zlib_is_damage():
    net = Network.untrained(Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 2}]}),
                            np.random.default_rng(0))
    head, payload = dumps_model(net).split(b"\n", 1)
    h = json.loads(head)
    h["body_size"] = 2000 * len(payload)
    with pytest.raises(ModelFileError, match="more than zlib can compress"):
        loads_model(json.dumps(h, separators=(",", ":")).encode() + b"\n" + payload)


def test_real_models_declare_their_size_and_load(tmp_path):
    net = Network.untrained(Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 50}]}),
                            np.random.default_rng(0))
    data = dumps_model(net)
    header = json.loads(data.split(b"\n", 1)[0])
    assert header["body_size"] == len(zlib.decompress(data.split(b"\n", 1)[1]))
    assert loads_model(data)[0] == net
    legacy = {k: v for k, v in header.items() if k != "body_size"}  # files written before body_size
    old = json.dumps(legacy, separators=(",", ":")).encode() + b"\n" + data.split(b"\n", 1)[1]
    assert loads_model(old)[0] == net


def test_a_go_weights_bomb_stops_after_a_few_mb(tmp_path):
    path = tmp_path / "w.zlib"
    path.write_bytes(_bomb(prefix=b"[\n"))
    arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 1}]})
    err, peak = _peak(lambda: import_go_weights(path, arch))
    assert isinstance(err, GoWeightsError) and "decompresses to more than" in str(err), err
    assert "zlib bomb" in str(err) and str(path) in str(err)
    assert peak < 16 * 2**20


def test_a_dataset_archive_with_compressed_members_is_refused(tmp_path):
    """A prepared dataset whose arrays.npz was replaced (checksums and meta rewritten to match)
    by a deflated archive: refused without inflating."""
    import shutil
    import zipfile

    from hashtron_lab.data import DatasetError, read_dataset, save_dataset
    from hashtron_lab.data.dataset import Dataset, _file_sha256

    X = np.arange(40, dtype=np.uint32).reshape(20, 2)
    y = np.arange(20) % 2
    ds = Dataset("toy", X[:12], y[:12], X[12:16], y[12:16], X[16:], y[16:], None, None, None, ["0", "1"],
                 {"content_hash": ""})
    save_dataset(ds, tmp_path / "d")
    npz = tmp_path / "d" / "arrays.npz"
    with zipfile.ZipFile(npz) as zin, zipfile.ZipFile(tmp_path / "z.npz", "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    shutil.move(tmp_path / "z.npz", npz)
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    meta["checksums"]["arrays.npz"] = _file_sha256(npz)
    (tmp_path / "d" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"has compressed members .*does not inflate foreign ones"):
        read_dataset(tmp_path / "d")
