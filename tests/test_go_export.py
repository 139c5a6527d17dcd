"""Go export read back the way the Go library reads it (issue 19, item 16).

`tests/go_reader.py` models Go's streaming reader (it is not a JSON parser). Every network we
export must come back neuron for neuron through it, and through our own importer."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from go_reader import GoReadError, as_read, read_go_file, read_go_text
from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.go_weights import EMPTY_FIRST_ENTRY, dumps_go_text, export_go_weights, import_go_weights
from hashtron_lab.model.hashtron import Hashtron
from hashtron_lab.model.network import Network
from test_files import ARCHS, random_network


def _net(first: Hashtron) -> Network:
    arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 3},
                                              {"type": "full", "size": 3, "bits": 1, "maxbits": 1},
                                              {"type": "hashtron", "neurons": 2}]})
    return Network(arch, [[first, Hashtron(program=[(5, 16), (6, 20)]), Hashtron()],
                          [Hashtron.untrained(9), Hashtron(filter=np.array([1, 0xAB], np.uint8))]])


def test_an_empty_first_neuron_is_written_so_go_reads_it(tmp_path):
    net = _net(Hashtron())
    text = dumps_go_text(net)
    assert text.startswith("[\n" + EMPTY_FIRST_ENTRY + ",\n[[5,16],[3,-4]],\n[],\n")  # later empties stay []
    assert read_go_text(text, 5) == as_read(net)
    path = tmp_path / "w.zlib"
    export_go_weights(net, path)
    assert read_go_file(path.read_bytes(), 5) == as_read(net)
    assert import_go_weights(path, net.architecture) == net


def test_the_old_empty_first_entry_is_what_go_misreads():
    """Before the fix the first entry was `[]`: Go's reader runs past it into the next entry
    (here it merges the first two entries and runs out of text before the last)."""
    net = _net(Hashtron())
    old = dumps_go_text(net).replace(EMPTY_FIRST_ENTRY, "[]", 1)
    with pytest.raises(GoReadError, match="end of text"):
        read_go_text(old, 5)
    assert read_go_text(old, 4)[0] == ([(5, 16), (6, 20)], b"")  # neuron 0 took neuron 1's program


@pytest.mark.parametrize("first", [
    Hashtron(), Hashtron(filter=np.array([0x0A], np.uint8)), Hashtron.untrained(0),
    Hashtron(program=[(0, 0)]), Hashtron(program=[(7, 0), (3, 9)], filter=np.array([0, 0xFF], np.uint8)),
], ids=["empty", "filter_only", "untrained_salt0", "zero_command", "zero_modulus_then_more"])
def test_every_kind_of_first_neuron_reads_back(first):
    net = _net(first)
    assert read_go_text(dumps_go_text(net), 5) == as_read(net)


@pytest.mark.parametrize("name", sorted(ARCHS))
@pytest.mark.parametrize("seed", range(6))
def test_random_networks_read_back_through_the_go_reader(tmp_path, name, seed):
    net = random_network(ARCHS[name], seed)
    if seed % 2:  # half of them start with an empty neuron
        net.set_neuron(0, 0, Hashtron())
    path = tmp_path / "w.zlib"
    export_go_weights(net, path)
    n = net.architecture.n_neurons
    assert read_go_file(path.read_bytes(), n) == as_read(net)
    assert import_go_weights(path, net.architecture) == net


def test_our_importer_reads_what_the_go_writer_writes():
    """The Go library's writer puts `[]` for an empty neuron, first included: JSON, read by us."""
    net = _net(Hashtron())
    go_written = dumps_go_text(net).replace(EMPTY_FIRST_ENTRY, "[]", 1)
    from hashtron_lab.model.go_weights import loads_go_text

    assert loads_go_text(go_written, net.architecture) == net
    assert zlib.decompress(zlib.compress(go_written.encode())).decode() == go_written
