"""The 2x2x2 ablation: every cell composes to the config it names, and a tiny run writes the
report files with one record per cell."""
from __future__ import annotations

import json

import pytest

from hashtron_lab.ablation import (AblationConfig, Workload, aggregate, cell_config, cells, effects, run_ablation,
                                   write_outputs)

DIGITS = Workload("digits", "ntuple_digits")


@pytest.mark.parametrize("cell", cells(), ids=lambda c: f"{c['order']}-{c['capacity']}-{c['selection']}")
def test_every_cell_composes_to_what_it_names(cell):
    cfg = cell_config(DIGITS, cell, seed=1, settings=AblationConfig(forward_budget_factor=3.0))
    pipe, cap = cfg.pipeline, cfg.capacity
    assert cfg.seed == 1 and cfg.selection.rule == cell["selection"]
    assert pipe.direction == cell["order"]
    on = cell["capacity"] == "on"
    assert cap.enabled is on and (cap.law == "support") is on
    if cell["order"] == "forward":
        assert pipe.capacity_control is on and pipe.use_selection is True
        assert cfg.budget.max_updates == 3 * 3012 and cfg.run.validation.every_epochs == 50
    else:
        assert pipe.layer_fraction == 1.0 and cfg.budget.max_updates == 3012
    assert cfg.dataset["encoding"]["kind"] == "tuples"


def test_eight_distinct_cells():
    assert len({tuple(c.values()) for c in cells()}) == 8


def test_a_tiny_ablation_writes_one_record_per_cell(tmp_path):
    work = Workload("tiny", "ntuple_breast_cancer", overrides=["budget.max_updates=30"],
                    capacity_on=["capacity=support", "capacity.load_factor=1.0"])
    settings = AblationConfig(workloads=[work], seeds=[0, 1], n_jobs=1, forward_budget_factor=1.0)
    per_seed = run_ablation(settings, log=lambda *_: None)
    assert len(per_seed) == 16
    doc = write_outputs(per_seed, tmp_path / "m/ablation.json", tmp_path / "r/ablation.md", settings)
    on_disk = json.loads((tmp_path / "m/ablation.json").read_text())
    assert on_disk["cells"] == doc["cells"] and len(doc["cells"]) == 8
    rec = doc["cells"][0]
    assert {"workload", "order", "capacity", "selection", "test_accuracy", "train_accuracy", "model_bytes",
            "fit_seconds"} <= set(rec)
    assert set(rec["test_accuracy"]) == {"mean", "std", "n"} and rec["test_accuracy"]["n"] == 2
    for name in ("ablation.md", "ablation.html", "ablation.png"):
        assert (tmp_path / "r" / name).stat().st_size > 100
    assert "| tiny | backward | on | gold |" in (tmp_path / "r/ablation.md").read_text()

    # the compare report carries the same table as its last section (issue 17: "in the compare report")
    from hashtron_lab.report.html import page
    from hashtron_lab.stages.compare import append_ablation

    md, html = tmp_path / "compare.md", tmp_path / "compare.html"
    md.write_text("# Backward vs forward\n")
    html.write_text(page("compare", "<h1>Backward vs forward</h1>"))
    append_ablation(on_disk, md, html)
    text = md.read_text()
    assert text.startswith("# Backward vs forward") and "## The ablation" in text
    assert "| tiny | backward | on | gold |" in text and "capacity on − off" in text
    page_text = html.read_text()
    assert page_text.index("The ablation") < page_text.index("</body>") and "<td>tiny</td>" in page_text


def test_effects_average_over_the_other_factors():
    per_seed = []
    for c in cells():
        acc = 0.9 + 0.05 * (c["order"] == "backward") - 0.02 * (c["capacity"] == "on")
        per_seed.append({"workload": "w", **c, "seed": 0, "test_accuracy": acc, "train_accuracy": 1.0,
                         "val_accuracy": acc, "model_bytes": 100 if c["capacity"] == "on" else 200,
                         "fit_seconds": 1.0})
    e = effects(aggregate(per_seed))["w"]
    assert e["backward_minus_forward"] == pytest.approx(0.05)
    assert e["capacity_on_minus_off"] == pytest.approx(-0.02)
    assert e["gold_minus_round_robin"] == pytest.approx(0.0)
    assert e["capacity_on_bytes_ratio"] == pytest.approx(0.5)
