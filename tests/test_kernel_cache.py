"""Cached kernels are dropped when any kernel source changes (numba only checks each function's own file)."""
from hashtron_lab.kernels import _drop_stale_cache


def test_cache_is_dropped_when_any_kernel_source_changes(tmp_path):
    (tmp_path / "network.py").write_text("A = 1\n")
    (tmp_path / "tally.py").write_text("B = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    _drop_stale_cache(tmp_path)                      # first run: writes the stamp
    entries = [cache / "tally.tally_neuron-1.py311.nbi", cache / "tally.tally_neuron-1.py311.1.nbc"]
    for f in entries:
        f.write_bytes(b"machine code")
    _drop_stale_cache(tmp_path)                      # nothing changed: the cache stays
    assert all(f.exists() for f in entries)
    (tmp_path / "network.py").write_text("A = 2\n")  # a sibling the cached kernel inlines changed
    _drop_stale_cache(tmp_path)
    assert not any(f.exists() for f in entries)
    assert (cache / "kernels-sources.sha256").is_file()
