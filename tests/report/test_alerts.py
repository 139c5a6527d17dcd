"""Alert rules on crafted event streams: each fires exactly when it should, once per condition;
a clean run fires none; a live run and its replayed record give the same alerts."""
from __future__ import annotations

import logging

import pytest

from hashtron_lab.track.alerts import (
    RULES,
    AlertConfig,
    AlertMonitor,
    AlertWarning,
    ConsoleAlerts,
    alerts_from_record,
    attach,
    events_of_record,
)
from hashtron_lab.train.events import Hooks, Recorder


def upd(update, epoch, layer=0, pos=0, margin=0.3, premodulo=100, acc=0.5, **kw):
    return ("update", {"update": update, "epoch": epoch, "layer": layer, "neuron": pos, "neuron_id": f"{layer}.{pos}",
                       "margin": margin, "premodulo": premodulo, "train_accuracy": acc, "S": 30, "N": 100, **kw})


def run(events, config=None):
    rec = Recorder()
    mon = AlertMonitor(config, rec)
    for kind, payload in events:
        mon(kind, payload)
    assert [p for k, p in rec.events] == mon.alerts and all(k == "alert" for k, _ in rec.events)
    return mon.alerts


def kinds(alerts):
    return [a["kind"] for a in alerts]


# -- config ------------------------------------------------------------------------------
def test_config_defaults_and_from_dict():
    c = AlertConfig()
    assert (c.train_accuracy_max, c.stagnation_epochs, c.stuck_layer_updates) == (0.95, 3, None)
    assert c.rules == list(RULES)
    c = AlertConfig.from_dict({"train_accuracy_max": 0.9, "rules": "stuck_layer"})
    assert c.train_accuracy_max == 0.9 and c.rules == ["stuck_layer"]
    with pytest.raises(ValueError, match="stagnation_epoch"):
        AlertConfig.from_dict({"stagnation_epoch": 3})
    with pytest.raises(ValueError, match="rules = \\['memorisation'\\] names unknown rules"):
        AlertConfig(rules=["memorisation"])
    with pytest.raises(ValueError, match="train_accuracy_max"):
        AlertConfig(train_accuracy_max=1.5)
    with pytest.raises(ValueError, match="oscillation_flips"):
        AlertConfig(oscillation_flips=6, oscillation_window=6)
    with pytest.raises(ValueError, match="stuck_layer_updates"):
        AlertConfig(stuck_layer_updates=0)


# -- memorization ------------------------------------------------------------------------
def test_memorization_fires_once_above_threshold():
    events = [upd(0, 0, acc=0.90), upd(1, 0, acc=0.95), ("epoch", {"epoch": 1, "train_accuracy": 0.95})]
    assert run(events) == []            # 0.95 is not above 0.95
    events += [upd(2, 1, acc=0.96, margin=0.31), upd(3, 1, acc=0.97, margin=0.32),
               ("epoch", {"epoch": 2, "train_accuracy": 0.97})]
    alerts = run(events)
    assert kinds(alerts) == ["memorization_risk"]
    a = alerts[0]
    assert a["value"] == 0.96 and a["epoch"] == 1 and a["update"] == 2 and a["threshold"] == 0.95
    assert "memorization" in a["message"]
    assert run(events, {"train_accuracy_max": 0.99}) == []


def test_memorization_from_epoch_event_alone():
    alerts = run([("epoch", {"epoch": 4, "train_accuracy": 0.99})])
    assert kinds(alerts) == ["memorization_risk"] and alerts[0]["epoch"] == 4


# -- stagnation --------------------------------------------------------------------------
def test_neuron_margin_stagnation_after_more_than_three_epochs():
    events = [upd(i, i, pos=1, margin=0.3) for i in range(4)]          # epochs 0..3: unchanged for 3
    assert run(events, {"rules": ["margin_stagnation"]}) == []
    events.append(upd(4, 4, pos=1, margin=0.3005))                       # within tolerance: 4 epochs
    events.append(upd(5, 5, pos=1, margin=0.3))
    alerts = run(events, {"rules": ["margin_stagnation"]})
    assert len(alerts) == 1
    a = alerts[0]
    assert a["kind"] == "margin_stagnation" and a["neuron_id"] == "0.1" and a["layer"] == 0
    assert a["epoch"] == 4 and a["epochs_unchanged"] == 4


def test_margin_change_resets_stagnation():
    events = [upd(0, 0, margin=0.3), upd(1, 2, margin=0.3), upd(2, 3, margin=0.5), upd(3, 6, margin=0.5)]
    assert run(events, {"rules": ["margin_stagnation"]}) == []           # 0.3 → 0.5 at epoch 3; then 3 epochs
    assert kinds(run(events + [upd(4, 7, margin=0.5)], {"rules": ["margin_stagnation"]})) == ["margin_stagnation"]
    # a coarser tolerance sees 0.3 → 0.5 as unchanged
    alerts = run(events, {"rules": ["margin_stagnation"], "margin_tolerance": 0.25})
    assert len(alerts) == 1 and alerts[0]["epoch"] == 6


def test_layer_margin_stagnation_from_epoch_events():
    events = [upd(0, 0, layer=1, pos=0, margin=0.2), upd(1, 0, layer=1, pos=1, margin=0.4)]
    events += [("epoch", {"epoch": e, "train_accuracy": 0.5}) for e in range(1, 5)]
    assert run(events, {"rules": ["margin_stagnation"]}) == []           # epochs 1..4: unchanged for 3
    alerts = run(events + [("epoch", {"epoch": 5, "train_accuracy": 0.5})], {"rules": ["margin_stagnation"]})
    assert len(alerts) == 1
    a = alerts[0]
    assert a["layer"] == 1 and "neuron_id" not in a and a["value"] == pytest.approx(0.3) and a["epoch"] == 5
    assert run(events + [("epoch", {"epoch": 5})], {"rules": ["margin_stagnation"], "stagnation_epochs": 4}) == []


# -- oscillation -------------------------------------------------------------------------
def dec(update, nid, oscillating, epoch=1, alpha=0.5):
    layer, pos = map(int, nid.split("."))
    return ("decision", {"update": update, "epoch": epoch, "layer": layer, "pos": pos, "neuron_id": nid,
                         "oscillating": oscillating, "alpha": alpha, "previous": 10, "final": 12})


def test_oscillation_from_throttle_flag_once_per_neuron():
    events = [dec(0, "1.2", False), dec(1, "1.2", True), dec(2, "1.2", True), dec(3, "0.5", True)]
    alerts = run(events)
    assert kinds(alerts) == ["premodulo_oscillation"] * 2
    assert [a["neuron_id"] for a in alerts] == ["1.2", "0.5"]
    assert alerts[0]["update"] == 1 and alerts[0]["layer"] == 1
    assert run(events, {"use_oscillating_flag": False}) == []


def test_oscillation_from_direction_flips():
    seq = [100, 200, 100, 200, 100]            # changes + - + -: the 3rd flip comes with the 4th change
    events = [upd(i, i, premodulo=p, margin=0.1 * i) for i, p in enumerate(seq)]
    alerts = run(events, {"rules": ["premodulo_oscillation"]})
    assert len(alerts) == 1 and alerts[0]["update"] == 4 and alerts[0]["value"] == 3
    assert run(events[:4], {"rules": ["premodulo_oscillation"]}) == []
    mono = [upd(i, i, premodulo=p, margin=0.1 * i) for i, p in enumerate([100, 200, 400, 400, 800, 1600])]
    assert run(mono, {"rules": ["premodulo_oscillation"]}) == []
    # two flips are enough with a lower bar
    assert len(run(events[:4], {"rules": ["premodulo_oscillation"], "oscillation_flips": 2})) == 1


# -- stuck layer ---------------------------------------------------------------------------
def test_stuck_layer_default_limit_100():
    events = [upd(i, 0, layer=0, pos=i % 5, margin=(i % 7) / 10) for i in range(100)]
    assert run(events, {"rules": ["stuck_layer"]}) == []
    events += [upd(100 + i, 0, layer=0, pos=0) for i in range(5)]
    alerts = run(events, {"rules": ["stuck_layer"]})
    assert len(alerts) == 1 and alerts[0]["update"] == 100 and alerts[0]["value"] == 101
    # leaving the layer re-arms the rule for a new stay
    events += [upd(200, 1, layer=1)] + [upd(201 + i, 1, layer=0) for i in range(101)]
    assert len(run(events, {"rules": ["stuck_layer"]})) == 2


def test_stuck_layer_limit_from_architecture_and_config():
    start = ("run_start", {"architecture": {"layers": [{"type": "hashtron", "neurons": 80},
                                                       {"type": "full", "size": 80, "bits": 1, "maxbits": 1},
                                                       {"type": "hashtron", "neurons": 3}]}})
    events = [start] + [upd(i, 0, layer=0) for i in range(160)]
    assert run(events, {"rules": ["stuck_layer"]}) == []                  # auto: 2 × 80
    assert len(run(events + [upd(160, 0, layer=0)], {"rules": ["stuck_layer"]})) == 1
    few = [upd(i, 0, layer=2) for i in range(6)]
    assert run(few[:5], {"stuck_layer_updates": 5, "rules": ["stuck_layer"]}) == []
    assert len(run(few, {"stuck_layer_updates": 5, "rules": ["stuck_layer"]})) == 1


# -- a clean run -----------------------------------------------------------------------------
def clean_events():
    """A backward-looking run: layers change every update, margins move every epoch, premodulo
    falls steadily, train accuracy stays below 95 %."""
    events = [("run_start", {"architecture": {"layers": [{"type": "hashtron", "neurons": 4},
                                                         {"type": "parity"}, {"type": "hashtron", "neurons": 2}]}})]
    u = 0
    for epoch in range(12):
        for layer in (1, 0):
            margin = 0.05 + 0.01 * epoch + 0.1 * layer
            events.append(upd(u, epoch, layer=layer, pos=epoch % 2, margin=margin, premodulo=1000 - 10 * u,
                              acc=0.5 + 0.02 * epoch))
            events.append(dec(u, f"{layer}.{epoch % 2}", False, epoch=epoch, alpha=1.0))
            u += 1
        events.append(("epoch", {"epoch": epoch + 1, "train_accuracy": 0.5 + 0.02 * epoch, "val_accuracy": 0.4,
                                 "updates": u}))
    return events


def test_clean_run_raises_nothing():
    assert run(clean_events()) == []


# -- sinks ------------------------------------------------------------------------------------
def test_attach_delivers_alerts_to_every_sink(caplog):
    hooks = Hooks()
    rec = Recorder()
    hooks.subscribe(rec)
    monitor = attach(hooks, {"train_accuracy_max": 0.5})
    with caplog.at_level(logging.WARNING, logger="hashtron_lab.alerts"):
        for kind, payload in [upd(0, 0, acc=0.6), upd(1, 0, acc=0.7)]:
            hooks.emit(kind, payload)
    assert len(monitor.alerts) == 1 and rec.of("alert") == monitor.alerts
    assert "memorization" in caplog.text and "[alert memorization_risk]" in caplog.text


def test_console_sink_prints_each_rule_once_then_a_summary(caplog):
    """A sweep printed 391 margin_stagnation lines (issue 19): now the first of each rule, then
    at the run's end the count with the first and the last; the monitor keeps every alert."""
    sink = ConsoleAlerts()
    with caplog.at_level(logging.WARNING, logger="hashtron_lab.alerts"):
        sink("run_start", {})
        for e in range(1, 392):
            sink("alert", {"kind": "margin_stagnation", "epoch": e, "message": f"margins flat (epoch {e})"})
        sink("alert", {"kind": "stuck_layer", "epoch": 7, "message": "stuck in layer 0"})
        sink("run_end", {"reason": "max_updates"})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("[alert margin_stagnation] epoch 1:") and lines[1].startswith("[alert stuck_layer]")
    assert "margin_stagnation: 391 in this run" in lines[2] and "first epoch 1:" in lines[2]
    assert "last epoch 391: margins flat (epoch 391)" in lines[2]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hashtron_lab.alerts"):
        sink("run_start", {})  # the next run of a sweep starts afresh
        sink("alert", {"kind": "margin_stagnation", "epoch": 2, "message": "flat"})
    assert len(caplog.records) == 1


def test_console_sink_warns():
    sink = ConsoleAlerts(warn=True)
    with pytest.warns(AlertWarning, match="stuck"):
        sink("alert", {"kind": "stuck_layer", "message": "pipeline stuck in layer 0", "epoch": 3})
    sink("update", {"update": 1})   # other events are ignored


# -- replay ------------------------------------------------------------------------------------
def test_events_of_record_order():
    record = {"info": {"skips": [{"update": 2, "layer": 1}]},
              "history": [{"update": i, "epoch": 0 if i < 2 else 1, "layer": 0, "neuron": 0} for i in range(3)],
              "decisions": [{"update": 1, "neuron_id": "0.0"}],
              "epochs": [{"epoch": 1, "updates": 2}, {"epoch": 2, "updates": 3}]}
    seq = [(k, p.get("update", p.get("updates"))) for k, p in events_of_record(record)]
    assert seq == [("run_start", None), ("update", 0), ("update", 1), ("decision", 1), ("skip", 2), ("epoch", 2),
                   ("update", 2), ("epoch", 3), ("run_end", None)]


def test_live_run_and_replayed_record_agree(tmp_path):
    """Alerts raised during a real (small) training run equal those replayed from its record."""
    import yaml

    from hashtron_lab.config import Settings
    from hashtron_lab.experiment import run_experiment
    from hashtron_lab.track.records import read_run_record, record_of, write_run_record

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    cfg = {"seed": 0, "dataset": yaml.safe_load((root / "conf/dataset/digits.yaml").read_text()),
           "model": yaml.safe_load((root / "conf/model/mnist_stack.yaml").read_text()),
           "pipeline": {"direction": "backward"}, "capacity": {}, "selection": {}, "budget": {"max_updates": 120},
           "run": {"validation": {"patience": None}}}
    hooks = Hooks()
    monitor = AlertMonitor({"stagnation_epochs": 2}, hooks.emit)
    hooks.subscribe(monitor)
    r = run_experiment(Settings.from_dict(cfg), hooks=hooks)
    write_run_record(tmp_path / "rec", record_of(r), r.run.history, r.run.epochs, r.run.decisions)
    replayed = alerts_from_record(tmp_path / "rec", {"stagnation_epochs": 2})
    assert monitor.alerts, "expected this short run to raise at least one alert"
    assert replayed == monitor.alerts
    assert replayed == alerts_from_record(read_run_record(tmp_path / "rec"), {"stagnation_epochs": 2})
