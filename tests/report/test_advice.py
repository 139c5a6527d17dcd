"""Generalisation-phase detection and capacity advice on crafted curves and decisions."""
from __future__ import annotations

import pytest

from hashtron_lab.report.advice import capacity_advice, generalisation_phase


def _curve(train, val):
    return [{"epoch": i + 1, "train_accuracy": t, "val_accuracy": v} for i, (t, v) in enumerate(zip(train, val))]


def test_phase_starts_where_validation_stops_and_train_goes_on():
    ep = _curve([0.5, 0.6, 0.7, 0.8, 0.9, 0.95], [0.45, 0.55, 0.62, 0.61, 0.60, 0.62])
    g = generalisation_phase(ep)
    assert g["detected"] and g["epoch"] == 3 and g["val_at"] == 0.62
    assert g["train_rise"] == pytest.approx(0.25)


def test_no_phase_while_validation_keeps_rising_or_train_stalls():
    assert not generalisation_phase(_curve([0.5, 0.6, 0.7], [0.4, 0.5, 0.6]))["detected"]
    flat = generalisation_phase(_curve([0.9, 0.9, 0.9], [0.7, 0.6, 0.6]))
    assert flat["epoch"] == 1 and not flat["detected"]  # validation fell, but train did not rise
    assert generalisation_phase(_curve([0.5], [0.4]))["epoch"] is None


def test_min_delta_takes_the_first_epoch_near_the_peak():
    ep = _curve([0.5, 0.6, 0.7, 0.9], [0.60, 0.700, 0.705, 0.701])
    assert generalisation_phase(ep, min_delta=0.01)["epoch"] == 2
    assert generalisation_phase(ep)["epoch"] == 3


def test_margin_trend_after_the_phase():
    ep = _curve([0.5, 0.7, 0.9, 0.99], [0.5, 0.6, 0.6, 0.58])
    dec = [{"epoch": e, "margin": m} for e, m in ((1, 0.1), (2, 0.3), (3, 0.25), (4, 0.2), (4, 0.2))]
    g = generalisation_phase(ep, dec)
    assert g["epoch"] == 2 and g["margin_slope_after"] < 0


def _dec(layer, regime, final, distinct=None, phase="backward"):
    d = {"layer": layer, "regime": regime, "final": final, "phase": phase, "epoch": 2}
    if distinct is not None:
        d["distinct_keys"] = distinct
    return d


def test_collapsed_layer_that_cannot_fit_is_told_to_raise_its_premodulo():
    decisions = [_dec(0, "collapsed", 1) for _ in range(8)] + [_dec(0, "gold", 50)] + [_dec(1, "gold", 0, phase="bootstrap")]
    adv = capacity_advice(decisions, [], train_accuracy=0.42, val_accuracy=0.40)
    assert [a["layer"] for a in adv] == [0]  # bootstrap decisions are not advice material
    assert adv[0]["verdict"] == "too_small" and "raise" in adv[0]["reason"]
    assert adv[0]["evidence"]["regimes"] == {"collapsed": 8, "gold": 1}


def test_exact_tables_that_memorise_are_told_to_lower_it():
    decisions = [_dec(0, "collapsed", 0, 300) for _ in range(10)]
    history = [{"layer": 0, "accepted": True, "keys": 290}]
    adv = capacity_advice(decisions, history, train_accuracy=1.0, val_accuracy=0.90)
    assert adv[0]["verdict"] == "too_large" and adv[0]["evidence"]["stored_keys_median"] == 290


def test_support_law_with_few_buckets_per_key_and_poor_fit_is_too_small_else_ok():
    decisions = [_dec(0, "collapsed", 50, 200) for _ in range(4)]
    assert capacity_advice(decisions, [], 0.8, 0.78, law="support")[0]["verdict"] == "too_small"
    assert capacity_advice(decisions, [], 0.99, 0.97, law="support")[0]["verdict"] == "ok"
