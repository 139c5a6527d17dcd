"""Sum cache: queries, pruning, persistence with checksum and backup, memory per record."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hashtron_lab.train.sum_cache import (
    RECORD_DTYPE,
    REGIME_NAMES,
    SumCache,
    SumCacheError,
    SumCacheWarning,
    backup_path,
    regime_of,
)


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


def test_latest_and_history():
    c = _filled()
    assert len(c) == 24
    assert c.neurons() == [(1, 0), (2, 0), (2, 1), (2, 2)]
    assert (2, 1) in c and (2, 7) not in c
    rec = c.latest(2, 1)
    assert rec == {
        "neuron": "2.1", "layer": 2, "pos": 1, "run_id": "r1", "epoch": 5, "timestamp": 1005.0, "S": 15, "N": 100,
        "margin": 0.15, "S_out": -4, "premodulo": 100, "regime": "gold", "duration": 0.5, "accepted": True,
        "accuracy": 0.75, "stale": False,
    }
    assert c.latest(3, 0) is None
    h = c.history(2, 1)
    assert h.dtype == RECORD_DTYPE
    assert h["S"].tolist() == [10, 11, 12, 13, 14, 15]
    assert c.history(2, 1, k=2)["epoch"].tolist() == [4, 5]
    assert len(c.history(9, 9)) == 0
    S, N, ep = c.sums(1, 0, 3)
    assert S.tolist() == [-3, -4, -5] and N.tolist() == [100] * 3 and ep.tolist() == [3, 4, 5]
    assert c.recent(1, 0, 2) == [(-4, 4), (-5, 5)]


def test_margin_trend():
    c = _filled()
    assert c.margin_trend(2, 0, 6) == pytest.approx(0.01)
    assert c.margin_trend(1, 0) == pytest.approx(0.01)  # |S| grows by 1 per record
    c2 = SumCache()
    assert c2.margin_trend(0, 0, 5) == 0.0
    _add(c2, 0, 0, 0, 50)
    assert c2.margin_trend(0, 0, 5) == 0.0
    _add(c2, 0, 0, 1, 30)
    assert c2.margin_trend(0, 0, 5) == pytest.approx(-0.2)


def test_gold_zone_and_distributions():
    c = SumCache()
    N = 100  # eps = 10, tau = 80
    for pos, S in enumerate([0, 10, 11, -50, 79, 80, -100]):
        _add(c, 1, pos, 0, S, N)
    _add(c, 2, 0, 0, 40, N)
    assert c.gold_zone() == [(1, 2), (1, 3), (1, 4), (2, 0)]
    assert c.gold_zone(layer=1) == [(1, 2), (1, 3), (1, 4)]
    assert c.gold_zone(eps_factor=2.0, tau_factor=0.6, layer=1) == [(1, 3)]
    assert c.layer_margins(1) == {0: 0.0, 1: 0.1, 2: 0.11, 3: 0.5, 4: 0.79, 5: 0.8, 6: 1.0}
    counts, edges = c.margin_distribution(1, bins=4)
    assert counts.tolist() == [3, 0, 1, 3] and edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # only the newest record of a neuron counts
    _add(c, 2, 0, 1, 95, N)
    assert c.gold_zone(layer=2) == []


def test_regime_of_boundaries():
    N = 100
    assert regime_of(None, N) == "unknown"
    assert regime_of(10, N) == "noisy"
    assert regime_of(11, N) == "gold"
    assert regime_of(-79, N) == "gold"
    assert regime_of(80, N) == "collapsed"
    assert regime_of(1, 1) == "collapsed" and regime_of(0, 1) == "noisy"


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
    assert c.latest(0, 0)["regime"] == "gold"
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
                assert c.history(l, p)["S"].tolist() == ss[-k:]
    assert len(c) == sum(min(len(v), k) for v in ref.values())
    assert c._rec.shape[0] < 200, "compaction must keep the array bounded"
    for (l, p), ss in ref.items():
        assert c.history(l, p)["S"].tolist() == ss[-k:]
        assert c.latest(l, p)["S"] == ss[-1]
    c.compact()
    assert c._n == len(c)
    for (l, p), ss in ref.items():
        assert c.history(l, p)["S"].tolist() == ss[-k:]
    assert len(c.records()) == len(c)


def test_mark_stale():
    c = _filled(keep_last=3)
    assert c.mark_stale(epoch=6, stale_epochs=2) == 4  # epoch 3 of each neuron (older ones pruned)
    assert c.history(2, 0)["stale"].tolist() == [True, False, False]
    assert c.mark_stale(epoch=6, stale_epochs=2) == 0


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
    assert d.latest(3, 1)["run_id"] == "r2" and d.latest(2, 2)["run_id"] == "r1"
    for n in c.neurons():
        assert np.array_equal(d.history(*n), c.history(*n))
    # a loaded cache keeps working (links rebuilt)
    _add(d, 2, 0, 9, 77)
    assert d.history(2, 0)["S"].tolist() == [3, 4, 5, 77]
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
    assert len(c) == 0 and c.neurons() == [] and c.gold_zone() == [] and c.layer_margins(0) == {}
    counts, _ = c.margin_distribution(0, bins=3)
    assert counts.tolist() == [0, 0, 0]
    d = SumCache.from_bytes(c.to_bytes())
    assert len(d) == 0 and d.keep_last is None


def test_to_dataframe():
    pytest.importorskip("pandas")
    c = _filled(keep_last=2)
    df = c.to_dataframe()
    assert len(df) == len(c)
    assert set(df["neuron"]) == {"1.0", "2.0", "2.1", "2.2"}
    assert set(df["run_id"]) == {"r1"}
    assert set(df["regime"].astype(str)) <= set(REGIME_NAMES)


def test_memory_under_100_bytes_per_record():
    n = 100_000
    c = SumCache(keep_last=None)
    for i in range(n):
        c.add(i % 7, i % 300, i // 2100, i % 50, 100, 0, 10, 2, 0.1, True, 0.5, 0.0)
    assert len(c) == n
    assert c.nbytes / n < 100, f"{c.nbytes / n:.1f} bytes/record"
    # worst case right after a growth step stays under the budget too
    assert (RECORD_DTYPE.itemsize + 4) * c.growth < 100
    assert math.isclose(c.latest(6, 99)["margin"], abs(c.latest(6, 99)["S"]) / 100)
