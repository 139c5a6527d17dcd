"""The phonemizer's ablation knobs (capacity, selection) and the ablation's g2p workload, on the toy
lexicon (tests/g2p/toy.py): no gruut package needed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hashtron_lab.ablation import AblationConfig, Workload, aggregate, cells, run_ablation, write_outputs
from hashtron_lab.data import lexicon as LX
from hashtron_lab.g2p.ablation_cell import g2p_settings, run_g2p_cell, skip_reason
from hashtron_lab.g2p import Phonemizer
from hashtron_lab.settings import SettingError

SMALL = {"max_left": 2, "max_right": 2}


def _fit(data, **kw):
    d = data
    return Phonemizer(language="toy", **SMALL, **kw).fit(d.train.words, d.train.prons, d.val.words, d.val.prons,
                                                         letter_labels=d.train.labels, val_letter_labels=d.val.labels)


@pytest.mark.parametrize("kw, match", [
    ({"capacity": "maybe"}, r"capacity = 'maybe' is not a valid choice; allowed: one of off, on"),
    ({"selection": "round_robin"}, r"selection = 'round_robin' is not a valid choice; allowed: one of slot_order, gold"),
    ({"load_factor": 0}, r"load_factor = 0 is out of range; allowed: a number > 0"),
    ({"load_factor": -1.0}, r"load_factor = -1.0 is out of range"),
])
def test_bad_knobs_are_refused_naming_them(toy_data, kw, match):
    with pytest.raises(SettingError, match=match):
        _fit(toy_data, **kw)


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_default_knobs_are_todays_model_byte_for_byte(toy_data, tmp_path, direction):
    a = _fit(toy_data, direction=direction).save(tmp_path / "a.htl").read_bytes()
    b = _fit(toy_data, direction=direction, capacity="off", selection="slot_order",
             load_factor=3.0).save(tmp_path / "b.htl").read_bytes()
    assert a == b
    # the file does not even name the knobs at their defaults (so it is the file written before they existed)
    assert b"slot_order" not in a and b"load_factor" not in a


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_capacity_on_decides_premodulos_from_the_support_law(toy_data, tmp_path, direction):
    off = _fit(toy_data, direction=direction)
    on = _fit(toy_data, direction=direction, capacity="on", load_factor=0.5)
    first = [e for e in on.decisions_ if e["layer"] == 0]
    assert first and all(e["final"] > 0 for e in first)
    # premodulo = ceil(load_factor x distinct keys of the tally); output neurons keep none
    assert all(e["final"] == max(1, int(np.ceil(0.5 * e["distinct_keys"]))) for e in first)
    assert all(e["final"] == 0 for e in on.decisions_ if e["layer"] == 1 and e["phase"] != "bootstrap")
    assert any(h.program for h in on.network_.neurons[0])
    assert not any(h.program for h in off.network_.neurons[0])
    if direction == "backward":  # the decisions are recorded in the sum cache
        rec = on.sum_cache_.records()
        assert (rec["premodulo"][rec["layer"] == 0] > 0).all()
        rec_off = off.sum_cache_.records()
        assert (rec_off["premodulo"][rec_off["layer"] == 0] == 0).all()
    # saved with its knobs, loaded back the same model
    path = on.save(tmp_path / "on.htl")
    back = Phonemizer.load(path, language="toy")
    assert (back.capacity, back.load_factor) == ("on", 0.5)
    words = toy_data.test.words
    assert back.predict(words) == on.predict(words)


def test_gold_selection_changes_the_visit_order(toy_data):
    slot = _fit(toy_data)
    gold = _fit(toy_data, selection="gold")
    order = lambda ph: [h["neuron"] for h in ph.history_ if h["layer"] == 0]  # noqa: E731
    K = slot.fit_info_["slots"]
    o_slot, o_gold = order(slot), order(gold)
    assert sorted(o_slot) == sorted(o_gold) and o_slot != o_gold
    # slot order: every group's RAM of slot 0 first; gold on a fresh cache: untallied, lowest position first
    assert [n % K for n in o_slot[:slot.fit_info_["ranks"]]] == [0] * slot.fit_info_["ranks"]
    assert o_gold == sorted(o_gold)
    assert {h["selection"] for h in gold.history_ if h["layer"] == 0} == {"untallied"}
    assert gold.pipeline_ == "backward"


def test_forward_gold_uses_the_selection_rule(toy_data):
    ph = _fit(toy_data, direction="forward", selection="gold")
    uniform = _fit(toy_data, direction="forward")
    assert uniform.sum_cache_ is None and len(ph.sum_cache_) == len(ph.history_)
    # a branch's RAM is the lowest untallied one first (a uniform draw otherwise)
    first = [h["neuron"] for h in ph.history_ if h["layer"] == 0][:5]
    assert first[:2] == [0, 1]  # then, above forward's threshold, a random layer in shuffled order
    assert [h["neuron"] for h in uniform.history_ if h["layer"] == 0][:2] != [0, 1]


def test_g2p_settings_of_a_cell():
    w = Workload("de", kind="g2p", language="de", n_words=500, overrides=["max_left=3", "levels=[any, strong]"],
                 capacity_on=["load_factor=0.5"])
    on = g2p_settings(w, {"order": "forward", "capacity": "on", "selection": "gold"}, 2)
    assert on == {"language": "de", "seed": 2, "direction": "forward", "capacity": "on", "selection": "gold",
                  "max_left": 3, "levels": ("any", "strong"), "load_factor": 0.5}
    off = g2p_settings(w, {"order": "backward", "capacity": "off", "selection": "round_robin"}, 0)
    assert off["capacity"] == "off" and off["selection"] == "slot_order" and "load_factor" not in off
    with pytest.raises(SettingError, match=r"capacity_on = 'load_factor' is not key=value"):
        g2p_settings(Workload("x", kind="g2p", language="de", capacity_on=["load_factor"]),
                     {"order": "backward", "capacity": "on", "selection": "gold"}, 0)
    with pytest.raises(SettingError, match="language = '' is empty for a g2p workload"):
        Workload("x", kind="g2p")
    with pytest.raises(SettingError, match="kind = 'lexicon' is not a valid choice"):
        Workload("x", kind="lexicon")


def test_a_g2p_ablation_runs_every_cell_on_a_tiny_lexicon(toy_lexicon, tmp_path):
    lex = LX.read_lexicon(toy_lexicon, "toy")
    w = Workload("toy", kind="g2p", language="toy", n_words=300, overrides=["max_left=1", "max_right=1"],
                 capacity_on=["load_factor=1.0"])
    per_seed = [run_g2p_cell(w, c, 0, lexicon=lex) for c in cells()]
    for r in per_seed:
        assert 0.0 < r["test_accuracy"] <= 1.0 and 0.5 < r["train_accuracy"] <= 1.0
        assert r["model_bytes"] > 100 and r["fit_seconds"] > 0
        assert (r["premodulo_median"] > 0) == (r["capacity"] == "on") and r["filter_bytes"] > 0
    doc = write_outputs(per_seed, tmp_path / "ablation.json", tmp_path / "ablation.md", AblationConfig(workloads=[w]))
    assert len(aggregate(per_seed)) == 8 and doc["effects"]["toy"]["capacity_on_bytes_ratio"] > 0
    assert "| toy | forward | on | gold |" in (tmp_path / "ablation.md").read_text()


def test_a_g2p_workload_without_its_lexicon_package_is_skipped_saying_how_to_install(monkeypatch, tmp_path):
    real = LX.importlib.util.find_spec
    monkeypatch.setattr(LX.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gruut_lang_de" else real(name, *a))
    w = Workload("g2p-de", kind="g2p", language="de")
    why = skip_reason(w)
    assert why is not None and "gruut-lang-de is not installed" in why and "pip install gruut-lang-de" in why
    settings = AblationConfig(workloads=[w], n_jobs=1)
    said = []
    assert run_ablation(settings, log=said.append) == []
    assert said == [f"ablation: workload g2p-de {why}"]
    doc = write_outputs([], tmp_path / "ablation.json", tmp_path / "ablation.md", settings)
    assert json.loads((tmp_path / "ablation.json").read_text())["skipped"] == {"g2p-de": why}
    assert "not installed" in doc["intro"] and (tmp_path / "ablation.png").is_file()


def test_the_full_ablation_names_a_g2p_workload():
    from hashtron_lab.config_schema import load_config

    cfg = load_config(["ablation=full"])
    g2p = [w for w in cfg.ablation.workloads if w.kind == "g2p"]
    assert len(g2p) == 1 and g2p[0].language and g2p[0].capacity_on
    kw = g2p_settings(g2p[0], {"order": "backward", "capacity": "on", "selection": "gold"}, 0)
    Phonemizer(**kw)._check_settings()
    digits = load_config(["ablation=digits"]).ablation.workloads
    assert [w.kind for w in digits] == ["experiment"]
