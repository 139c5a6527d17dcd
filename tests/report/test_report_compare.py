"""The A/B report on a small synthetic set of runs: means and ddof=1 stds checked against hand
computation, the success metrics on crafted histories, honest wording, the JSON shape."""
from __future__ import annotations

import json
import math

import pytest

from hashtron_lab.report.compare import (
    Criteria,
    build_report,
    compare_sentence,
    generalization,
    main,
    order_compliance,
    r2_log_premodulo_log_margin,
)
from hashtron_lab.report.runs import mean_std
from hashtron_lab.track.records import write_run_record

MODEL = {"name": "tiny", "layers": [{"type": "hashtron", "neurons": 4}, {"type": "parity"},
                                    {"type": "hashtron", "neurons": 2}]}


def backward_history(sweeps: int = 3) -> list[dict]:
    """Bootstrap of the final layer (layer 1, 2 neurons), then sweeps layer 1 → layer 0."""
    h = [{"update": 0, "epoch": 0, "layer": 1, "neuron": 0, "phase": "bootstrap"},
         {"update": 1, "epoch": 0, "layer": 1, "neuron": 1, "phase": "bootstrap"}]
    for e in range(1, sweeps + 1):
        for layer in (1, 0, 0):
            h.append({"update": len(h), "epoch": e, "layer": layer, "neuron": e % 2, "phase": "backward"})
    for r in h:
        r.update({"neuron_id": f"{r['layer']}.{r['neuron']}", "margin": 0.2, "S": 20, "N": 100, "accepted": True,
                  "premodulo": 25, "train_accuracy": 0.5})
    return h


def law_decisions(n: int = 20) -> list[dict]:
    """Decisions that follow the capacity law exactly (final = (N / (|S|+1))²), plus one bootstrap."""
    out = [{"update": 0, "layer": 1, "pos": 0, "neuron_id": "1.0", "margin": None, "S_used": None, "N": 100,
            "final": 100, "regime": "unknown", "clamps": [], "alpha": 1.0}]
    for i in range(1, n + 1):
        S = 3 * i
        out.append({"update": i, "layer": 0, "pos": 0, "neuron_id": "0.0", "margin": S / 100, "S_used": S, "N": 100,
                    "final": round((100 / (S + 1)) ** 2), "regime": "gold", "clamps": [], "alpha": 1.0})
    return out


def epochs_rising(n: int = 4, train=(0.5, 0.6, 0.7, 0.7), val=(0.4, 0.5, 0.5, 0.6)) -> list[dict]:
    return [{"epoch": i + 1, "updates": 3 * (i + 1), "accepted": i, "train_accuracy": train[i], "val_accuracy": val[i],
             "wall": 1.0 + i} for i in range(n)]


def write(tmp, name, direction, seed, test, val, train, wall, updates=100, dataset="toy", cache=None, history=None):
    info = {"dataset": dataset, "direction": direction, "seed": seed, "architecture": "tiny", "phase": "debug",
            "metrics": {"test_accuracy": test, "val_accuracy": val, "train_accuracy": train,
                        "generalization_gap": train - test, "wall_seconds": wall, "updates": updates,
                        "updates_per_second": updates / wall, "epochs": 4, "stop_reason": "max_updates"},
            "skips": [], "params": {"model": MODEL, "capacity": {}}}
    if cache:
        info["sum_cache_bytes_per_record"], info["sum_cache_records"] = cache
    hist = history if history is not None else (backward_history() if direction == "backward" else [
        {"update": i, "epoch": i, "layer": i % 2, "neuron": 0, "neuron_id": f"{i % 2}.0", "phase": "forward",
         "margin": 0.1, "S": 10, "N": 100, "premodulo": 0, "accepted": True, "train_accuracy": 0.5} for i in range(6)])
    decisions = law_decisions() if direction == "backward" else []
    return write_run_record(tmp / name, info, hist, epochs_rising(), decisions)


@pytest.fixture
def synthetic(tmp_path):
    """toy: backward test 0.5/0.6/0.7, forward 0.8/0.9 (forward clearly better); wall 10/12/14 vs 10/10."""
    dirs = [write(tmp_path, "b0", "backward", 0, 0.5, 0.4, 0.70, 10.0, cache=(75.0, 5000)),
            write(tmp_path, "b1", "backward", 1, 0.6, 0.5, 0.70, 12.0, cache=(90.0, 200)),
            write(tmp_path, "b2", "backward", 2, 0.7, 0.9, 0.75, 14.0, cache=(80.0, 1000)),
            write(tmp_path, "f0", "forward", 0, 0.8, 0.6, 0.9, 10.0),
            write(tmp_path, "f1", "forward", 1, 0.9, 0.7, 0.9, 10.0),
            write(tmp_path, "other", "backward", 0, 0.3, 0.3, 0.3, 5.0, dataset="solo")]
    return tmp_path, dirs


# -- statistics -----------------------------------------------------------------------------
def test_mean_std_is_sample_std():
    assert mean_std([0.5, 0.6, 0.7]) == {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "n": 3}
    assert mean_std([1.0]) == {"mean": 1.0, "std": None, "n": 1}
    assert mean_std([]) == {"mean": None, "std": None, "n": 0}
    assert mean_std([2.0, None, float("nan"), 4.0])["std"] == pytest.approx(math.sqrt(2.0))


def test_report_means_and_stds(synthetic):
    tmp, _ = synthetic
    res = build_report([tmp], tmp / "r/compare.md", None, tmp / "m/compare.json")
    assert json.loads((tmp / "m/compare.json").read_text()) == res
    b, f = res["toy"]["backward"], res["toy"]["forward"]
    assert b["test_accuracy"] == {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "n": 3}
    # val 0.4, 0.5, 0.9: mean 0.6, deviations -.2 -.1 .3 -> sum of squares .14 / (3-1) = .07
    assert b["val_accuracy"]["mean"] == pytest.approx(0.6)
    assert b["val_accuracy"]["std"] == pytest.approx(math.sqrt(0.07))
    assert b["train_accuracy"]["std"] == pytest.approx(math.sqrt((2 * (0.05 / 3) ** 2 + (0.1 / 3) ** 2) / 2))
    assert b["wall_seconds"] == {"mean": pytest.approx(12.0), "std": pytest.approx(2.0), "n": 3}
    # updates/s 10, 8.333.., 7.1428..
    ups = [10.0, 100 / 12, 100 / 14]
    m = sum(ups) / 3
    assert b["updates_per_second"]["std"] == pytest.approx(math.sqrt(sum((x - m) ** 2 for x in ups) / 2))
    assert f["test_accuracy"] == {"mean": pytest.approx(0.85), "std": pytest.approx(math.sqrt(0.005)), "n": 2}
    assert f["wall_seconds"] == {"mean": 10.0, "std": 0.0, "n": 2}
    # a dataset with one pipeline only: the other side is empty, not missing
    assert res["solo"]["forward"]["test_accuracy"] == {"mean": None, "std": None, "n": 0}
    assert res["solo"]["backward"]["test_accuracy"] == {"mean": 0.3, "std": None, "n": 1}


def test_json_shape(synthetic):
    tmp, _ = synthetic
    res = build_report([tmp], None, None, tmp / "compare.json")
    assert set(res) == {"toy", "solo", "success"}
    for ds in ("toy", "solo"):
        assert set(res[ds]) == {"backward", "forward"}
        for d in ("backward", "forward"):
            for k in ("test_accuracy", "val_accuracy", "train_accuracy", "wall_seconds", "updates_per_second"):
                assert set(res[ds][d][k]) == {"mean", "std", "n"}
    for k in ("order_compliance", "r2_log_premodulo_log_margin", "time_ratio_backward_forward",
              "sum_cache_bytes_per_record"):
        assert {"value", "pass"} <= set(res["success"][k])


def test_success_metrics(synthetic):
    tmp, _ = synthetic
    s = build_report([tmp], None, None, None)["success"]
    assert s["order_compliance"]["value"] == 1.0 and s["order_compliance"]["pass"] is True
    assert s["order_compliance"]["runs"] == 4
    r2 = s["r2_log_premodulo_log_margin"]
    assert r2["value"] > 0.99 and r2["pass"] is True and r2["decisions"] == 80 and r2["excluded"] == 4
    t = s["time_ratio_backward_forward"]
    assert t["per_dataset"] == {"toy": pytest.approx(1.2), "solo": None}
    assert t["value"] == pytest.approx(1.2) and t["pass"] is False
    c = s["sum_cache_bytes_per_record"]
    assert c["value"] == 75.0 and c["records"] == 5000 and c["pass"] is True   # the run with the most records
    assert c["projected_mb"] == pytest.approx(75.0)
    g = s["generalization"]
    assert g["value"] == pytest.approx(0.06) and g["pass"] is True and g["runs_capped"] == 4


def test_order_compliance_on_crafted_histories():
    good = backward_history()
    assert order_compliance(good, 2) == {"final_first": True, "backward_order": True}
    assert order_compliance(good[2:], 2)["final_first"] is False                 # starts in a sweep
    assert order_compliance(good, 3)["final_first"] is False                     # layer 1 is not the final one
    first_hidden = [dict(good[0], layer=0)] + good[1:]
    assert order_compliance(first_hidden, 2) == {"final_first": False, "backward_order": False}
    ascending = [dict(r) for r in good]
    ascending[2]["layer"], ascending[3]["layer"] = 0, 1                          # sweep 1: 0, 1, 0
    assert order_compliance(ascending, 2) == {"final_first": True, "backward_order": False}
    late_boot = good + [dict(good[0], update=len(good), epoch=9)]
    assert order_compliance(late_boot, 2)["backward_order"] is False
    assert order_compliance([], 2) == {"final_first": False, "backward_order": False}


def test_r2_hand_computed():
    def decs(xs, ys):
        return [{"margin": math.exp(x), "final": math.exp(y)} for x, y in zip(xs, ys)]

    # x = 1, 2, 3 (shifted into margins ≤ 1), y = 1, 3, 2: slope 0.5, SS_res 1.5, SS_tot 2 -> R² 0.25
    r = r2_log_premodulo_log_margin(decs([-3, -2, -1], [1, 3, 2]))
    assert r["value"] == pytest.approx(0.25) and r["slope"] == pytest.approx(0.5) and r["decisions"] == 3
    assert r2_log_premodulo_log_margin(decs([-4, -3, -2, -1], [1, 3, 3, 1]))["value"] == pytest.approx(0.0)
    assert r2_log_premodulo_log_margin(decs([-3, -2, -1], [7, 5, 3]))["value"] == pytest.approx(1.0)
    r = r2_log_premodulo_log_margin(decs([-3, -2, -1], [1, 3, 2]) + [{"margin": None, "final": 5},
                                                                     {"margin": 0.0, "final": 5},
                                                                     {"margin": 0.5, "final": 0}])
    assert r["value"] == pytest.approx(0.25) and r["excluded"] == 3
    assert r2_log_premodulo_log_margin([])["value"] is None


def test_generalization_on_crafted_epochs():
    g = generalization(epochs_rising())
    assert g["val_slope_per_epoch"] == pytest.approx(0.06) and g["val_rising"] is True
    assert g["train_capped"] is True and g["train_max"] == 0.7
    memorizing = generalization(epochs_rising(train=(0.6, 0.8, 0.95, 0.99), val=(0.5, 0.5, 0.45, 0.4)))
    assert memorizing["train_capped"] is False and memorizing["val_rising"] is False
    assert generalization(epochs_rising(train=(0.2, 0.3, 0.3, 0.4)))["train_capped"] is False  # below the band
    assert generalization([])["val_slope_per_epoch"] is None


def test_honest_wording_when_forward_wins(synthetic):
    tmp, _ = synthetic
    build_report([tmp], tmp / "compare.md", tmp / "compare.html", None)
    md = (tmp / "compare.md").read_text()
    assert "**Forward wins on test accuracy**" in md
    assert "backward took 1.20× the forward wall time (outside the 1.10× target)" in md
    assert "**FAIL**" in md and "ddof=1" in md
    html = (tmp / "compare.html").read_text()
    assert "<b>Forward wins on test accuracy</b>" in html and html.count("data:image/png;base64,") == 4
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_compare_sentence_cases():
    b = {"mean": 0.60, "std": 0.1, "n": 3}
    f = {"mean": 0.62, "std": 0.1, "n": 3}
    s = compare_sentence("test accuracy", b, f)
    assert s.startswith("test accuracy: forward is ahead by 2.0 pp") and "not a clear difference" in s
    s = compare_sentence("test accuracy", {"mean": 0.9, "std": 0.01, "n": 3}, {"mean": 0.5, "std": 0.01, "n": 3})
    assert s.startswith("**Backward wins on test accuracy**")
    s = compare_sentence("gap", {"mean": 0.1, "std": None, "n": 1}, {"mean": 0.3, "std": None, "n": 1},
                         higher_is_better=False)
    assert "backward is lower by 20.0 pp" in s and "too few runs" in s
    assert "only backward runs" in compare_sentence("x", b, {"mean": None, "std": None, "n": 0})


def test_no_forward_runs_means_not_measured(tmp_path):
    write(tmp_path, "b0", "backward", 0, 0.5, 0.4, 0.7, 10.0)
    s = build_report([tmp_path], tmp_path / "c.md", None, None)["success"]
    assert s["time_ratio_backward_forward"] == {"value": None, "pass": None, "max": 1.1,
                                                "per_dataset": {"toy": None}, "per_update_per_dataset": {"toy": None}}
    assert s["sum_cache_bytes_per_record"]["pass"] is None
    assert "not measured" in (tmp_path / "c.md").read_text()


def test_broken_order_fails(tmp_path):
    bad = backward_history()
    bad[0]["layer"] = 0
    write(tmp_path, "b0", "backward", 0, 0.5, 0.4, 0.7, 10.0)
    write(tmp_path, "b1", "backward", 1, 0.5, 0.4, 0.7, 10.0, history=bad)
    o = build_report([tmp_path], tmp_path / "c.md", None, None)["success"]["order_compliance"]
    assert o["value"] == 0.5 and o["pass"] is False and o["final_first"] == 1
    assert "Runs breaking the training order: b1." in (tmp_path / "c.md").read_text()


def test_criteria_are_configurable(synthetic):
    tmp, _ = synthetic
    s = build_report([tmp], None, None, None, criteria=Criteria(time_ratio_max=1.25, r2_target=0.999999))["success"]
    assert s["time_ratio_backward_forward"]["pass"] is True
    assert s["r2_log_premodulo_log_margin"]["pass"] is False


def test_cli(synthetic, capsys):
    tmp, dirs = synthetic
    assert main([str(d) for d in dirs[:5]] + ["--md", str(tmp / "o/c.md"), "--html", str(tmp / "o/c.html"),
                                              "--json", str(tmp / "o/c.json"), "--plots", str(tmp / "o/p")]) == 0
    out = capsys.readouterr().out
    assert "time_ratio_backward_forward: FAIL" in out and "order_compliance: pass" in out
    assert set(json.loads((tmp / "o/c.json").read_text())) == {"toy", "success"}
    md = (tmp / "o/c.md").read_text()
    assert "](p/compare_accuracy.png)" in md and (tmp / "o/p/compare_r2.png").exists()
    with pytest.raises(SystemExit):
        main([str(dirs[0])])
    with pytest.raises(ValueError, match="no run records"):
        build_report([tmp / "o"], None, None, None)
