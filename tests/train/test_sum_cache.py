"""Sum cache: records, pruning, persistence with checksum and backup, memory per record."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hashtron_lab.train.gold_zone import REGIME_NAMES, GoldZone
from hashtron_lab.train.sum_cache import RECORD_DTYPE, SumCache, SumCacheError, SumCacheWarning, backup_path


def regime_of(S, N):
    return GoldZone().regime(S, N)


# -- reading the cache through its records (what a report would do) -----------------------------
def history(c: SumCache, layer: int, pos: int, k: int | None = None) -> np.ndarray:
    rec = c.records()
    rec = rec[(rec["layer"] == layer) & (rec["pos"] == pos)]
    return rec[-k:] if k else rec


def latest(c: SumCache, layer: int, pos: int) -> dict | None:
    h = history(c, layer, pos)
    if not len(h):
        return None
    r = h[-1]
    return {name: r[name].item() for name in RECORD_DTYPE.names} | {
        "run_id": c.run_ids[int(r["run"])], "regime": REGIME_NAMES[int(r["regime"])]}


def neurons(c: SumCache) -> list[tuple[int, int]]:
    rec = c.records()
    return sorted({(int(l), int(p)) for l, p in zip(rec["layer"], rec["pos"])})


def _add(c: SumCache, layer, pos, epoch, S, N=100, **kw):
    args = dict(s_out=0, premodulo=N, regime=regime_of(S, N), duration=0.5, accepted=True, accuracy=0.75,
                timestamp=1000.0 + epoch)
    args.update(kw)
    c.add(layer, pos, epoch, S, N, **args)


def _filled(keep_last=None) -> SumCache:
    c = SumCache(keep_last=keep_last, run_id="r1")
    for e in range(6):
        for p in range(3):
            _add(c, 2, p, e, S=10 * p + e, s_out=p - e)
        _add(c, 1, 0, e, S=-e)
    return c


def test_record_layout_is_compact():
    assert RECORD_DTYPE.itemsize <= 72
    assert RECORD_DTYPE.isnative or RECORD_DTYPE.byteorder in "<|="


def test_records_and_recent_sums():
    c = _filled()
    assert len(c) == 24
    assert neurons(c) == [(1, 0), (2, 0), (2, 1), (2, 2)]
    assert (2, 1) in c and (2, 7) not in c
    rec = latest(c, 2, 1)
    assert {k: rec[k] for k in ("layer", "pos", "run_id", "epoch", "timestamp", "S", "N", "S_out", "premodulo",
                                "regime", "accepted")} == {
        "layer": 2, "pos": 1, "run_id": "r1", "epoch": 5, "timestamp": 1005.0, "S": 15, "N": 100, "S_out": -4,
        "premodulo": 100, "regime": "gold", "accepted": True}
    assert rec["margin"] == pytest.approx(0.15) and rec["accuracy"] == pytest.approx(0.75)
    assert history(c, 2, 1)["S"].tolist() == [10, 11, 12, 13, 14, 15]
    assert c.recent(1, 0, 2) == [(-4, 4), (-5, 5)]
    assert c.recent(1, 0) == [(-e, e) for e in range(6)] and c.recent(9, 9) == []


def test_layer_view_is_the_newest_sum_of_each_neuron():
    c = SumCache()
    for pos, S in enumerate([0, 10, -50]):
        _add(c, 1, pos, 0, S)
    _add(c, 1, 1, 1, 30)     # a newer record replaces the older one in the view
    ps, rows, S, N, index = c.layer_view(1)
    assert ps.tolist() == [0, 1, 2] and S.tolist() == [0, 30, -50] and N.tolist() == [100] * 3
    assert index == {0: 0, 1: 1, 2: 2}
    assert c.first_untallied(1, 4) == 3 and c.first_untallied(1, 3) == -1


def test_add_validates():
    c = SumCache()
    with pytest.raises(ValueError, match="S must be in"):
        _add(c, 0, 0, 0, 101, 100)
    with pytest.raises(ValueError, match="N must be in"):
        _add(c, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="unknown regime"):
        _add(c, 0, 0, 0, 1, 100, regime="golden")
    with pytest.raises(TypeError, match="integer"):
        _add(c, 0, 0, 0, 1.5, 100)
    with pytest.raises(ValueError, match="premodulo"):
        _add(c, 0, 0, 0, 1, 100, premodulo=2**32)
    _add(c, 0, 0, 0, np.int64(3), np.int64(100), regime=REGIME_NAMES.index("gold"))
    assert latest(c, 0, 0)["regime"] == "gold"
    assert len(c) == 1


def test_unchecked_add_stores_the_same_records():
    """The training loop's `check=False` skips only the checks: valid input gives identical rows."""
    checked, unchecked = SumCache(), SumCache()
    for i, (layer, pos, S) in enumerate([(0, 3, 5), (1, 0, -40), (0, 3, 7)]):
        for c, check in ((checked, True), (unchecked, False)):
            c.add(layer, pos, i, S, 100, 2 * S, 9, "gold", 0.5, True, 0.75, timestamp=1.0, check=check)
    assert checked.to_bytes() == unchecked.to_bytes()
    assert unchecked.recent(0, 3) == [(5, 0), (7, 2)]


def test_pruning_keeps_last_k_per_neuron():
    k = 4
    c = SumCache(keep_last=k, initial_capacity=8)
    ref: dict[tuple[int, int], list[int]] = {}
    rng = np.random.default_rng(1)
    for i in range(2000):
        layer, pos = int(rng.integers(3)), int(rng.integers(5))
        S = int(rng.integers(-100, 101))
        _add(c, layer, pos, i, S)
        ref.setdefault((layer, pos), []).append(S)
        if i % 97 == 0:  # queries are right before and after compaction
            for (l, p), ss in ref.items():
                assert history(c, l, p)["S"].tolist() == ss[-k:]
    assert len(c) == sum(min(len(v), k) for v in ref.values())
    assert c._rec.shape[0] < 200, "compaction must keep the array bounded"
    for (l, p), ss in ref.items():
        assert history(c, l, p)["S"].tolist() == ss[-k:]
        assert latest(c, l, p)["S"] == ss[-1]
    c.compact()
    assert c._n == len(c)
    for (l, p), ss in ref.items():
        assert history(c, l, p)["S"].tolist() == ss[-k:]
    assert len(c.records()) == len(c)


def test_save_load_round_trip(tmp_path):
    c = _filled(keep_last=4)
    c.run_id = "r2"
    _add(c, 3, 1, 7, 42, s_out=-3)
    path = tmp_path / "sub" / "sums.htsc"
    c.save(path)
    d = SumCache.load(path)
    assert d.to_bytes() == c.to_bytes()
    assert d.keep_last == 4 and d.run_id == "r2" and d.run_ids == ["r1", "r2"]
    assert np.array_equal(d.records(), c.records())
    assert latest(d, 3, 1)["run_id"] == "r2" and latest(d, 2, 2)["run_id"] == "r1"
    for n in neurons(c):
        assert d.recent(*n) == c.recent(*n)
    # a loaded cache keeps working (links rebuilt)
    _add(d, 2, 0, 9, 77)
    assert [S for S, _ in d.recent(2, 0)] == [3, 4, 5, 77]
    assert not backup_path(path).exists()


def test_flipped_byte_uses_backup_with_warning(tmp_path):
    path = tmp_path / "sums.htsc"
    first = _filled()
    first.save(path)
    second = _filled()
    _add(second, 0, 0, 9, 5)
    second.save(path)
    assert backup_path(path).read_bytes() == first.to_bytes()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.warns(SumCacheWarning) as rec:
        back = SumCache.load(path)
    msg = str(rec[0].message)
    assert str(path) in msg and "backup" in msg and str(backup_path(path)) in msg
    assert back.to_bytes() == first.to_bytes()


def test_missing_main_uses_backup(tmp_path):
    path = tmp_path / "sums.htsc"
    c = _filled()
    c.save(path)
    c.save(path)
    path.unlink()
    with pytest.warns(SumCacheWarning, match="backup"):
        assert SumCache.load(path).to_bytes() == c.to_bytes()


def test_both_damaged_raise(tmp_path):
    path = tmp_path / "sums.htsc"
    c = _filled()
    c.save(path)
    c.save(path)
    for p in (path, backup_path(path)):
        data = bytearray(p.read_bytes())
        data[-1] ^= 0xFF
        p.write_bytes(bytes(data))
    with pytest.raises(SumCacheError) as ei:
        SumCache.load(path)
    msg = str(ei.value)
    assert str(path) in msg and str(backup_path(path)) in msg and "Fix" in msg
    # nothing there at all
    with pytest.raises(SumCacheError, match="Fix"):
        SumCache.load(tmp_path / "absent.htsc")


def test_truncated_and_foreign_files_rejected(tmp_path):
    c = _filled()
    b = c.to_bytes()
    for bad in (b[:-1], b[:20], b"", b"hello world" * 10, b[:8] + b"\xff" * (len(b) - 8)):
        with pytest.raises(SumCacheError):
            SumCache.from_bytes(bad)


def test_damaged_main_is_not_rotated_into_backup(tmp_path):
    path = tmp_path / "sums.htsc"
    c = _filled()
    c.save(path)
    c.save(path)
    good_bak = backup_path(path).read_bytes()
    path.write_bytes(b"garbage")
    with pytest.warns(SumCacheWarning, match="not kept as the backup"):
        c.save(path)
    assert backup_path(path).read_bytes() == good_bak
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SumCache.load(path).to_bytes() == c.to_bytes()


def test_state_round_trip():
    c = _filled(keep_last=2)
    st = c.state()
    assert isinstance(st, dict) and isinstance(st["blob"], bytes)
    d = SumCache.from_state(st)
    assert d.to_bytes() == c.to_bytes()
    assert SumCache.from_state(c.to_bytes()).to_bytes() == c.to_bytes()
    st["blob"] = st["blob"][:-3] + b"abc"
    with pytest.raises(SumCacheError, match="checksum"):
        SumCache.from_state(st)
    with pytest.raises(SumCacheError):
        SumCache.from_state({"nope": 1})


def test_empty_cache_round_trip_and_queries():
    c = SumCache(keep_last=None)
    assert len(c) == 0 and c.recent(0, 0) == [] and c.first_untallied(0, 3) == 0
    d = SumCache.from_bytes(c.to_bytes())
    assert len(d) == 0 and d.keep_last is None


def test_memory_under_100_bytes_per_record():
    n = 100_000
    c = SumCache(keep_last=None)
    for i in range(n):
        c.add(i % 7, i % 300, i // 2100, i % 50, 100, 0, 10, 2, 0.1, True, 0.5, 0.0)
    assert len(c) == n
    assert c.nbytes / n < 100, f"{c.nbytes / n:.1f} bytes/record"
    # worst case right after a growth step stays under the budget too
    assert (RECORD_DTYPE.itemsize + 4) * c.growth < 100
    last = c.records()[-1]
    assert math.isclose(float(last["margin"]), abs(int(last["S"])) / 100)
