"""`python -m hashtron_lab phonemize` and the G2P job and report."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hashtron_lab.g2p import report as R
from hashtron_lab.g2p.job import fit_and_score, read_result, train_and_save

ROOT = Path(__file__).resolve().parents[2]


def _run(args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hashtron_lab", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def model_file(toy_model, tmp_path_factory):
    return toy_model.save(tmp_path_factory.mktemp("m") / "toy.htl")


def test_phonemize_words_from_arguments_and_stdin(model_file, toy_model):
    r = _run(["phonemize", "--model", str(model_file), "ca", "ce", "bx"])
    assert r.returncode == 0, r.stderr
    expect = toy_model.predict(["ca", "ce", "bx"])
    assert r.stdout.splitlines() == [f"{w}\t{' '.join(p)}" for w, p in zip(["ca", "ce", "bx"], expect)]
    r2 = _run(["phonemize", "--model", str(model_file)], stdin="ca\n\nce\nbx\n")
    assert r2.returncode == 0 and r2.stdout == r.stdout


def test_phonemize_refuses_bad_models_and_words_plainly(model_file, tmp_path, capsys):
    """The command's error paths, in-process (the subprocess test above covers the real entry point)."""
    from hashtron_lab.g2p.cli import phonemize_main

    def run(*argv):
        rc = phonemize_main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    rc, _, err = run("--model", str(model_file), "--language", "de", "ca")
    assert rc == 2 and "not 'de'" in err
    rc, _, err = run("--model", str(tmp_path / "none.htl"), "ca")
    assert rc == 2 and "does not exist" in err
    rc, _, err = run("--model", str(model_file), "ca", "")
    assert rc == 2 and "word 1 is empty" in err
    rc, out, err = run("--model", str(model_file), "cжa")
    assert rc == 0 and "never seen" in err and "ж" in err and out.startswith("cжa\t")


def _cfg(direction="backward", seed=0):
    from hashtron_lab.config_schema import load_config

    cfg = load_config(["experiment=g2p", "language=de", f"pipeline={direction}", f"seed={seed}", "tracking=none",
                       "g2p.max_left=1", "g2p.max_right=1"])
    return cfg


def test_job_writes_model_sum_cache_record_and_result(toy_data, tmp_path):
    info = train_and_save(_cfg(), tmp_path / "job", group="test", source="test", data=toy_data)
    for name in ("model.htl", "sum_cache.bin", "record/run.json", "record/decisions.jsonl", "result.json"):
        assert (tmp_path / "job" / name).is_file(), name
    res = read_result(tmp_path / "job")
    m = res["metrics"]
    assert res["workload"] == "g2p" and res["direction"] == "backward" and res["decisions"] > 0
    assert 0 < m["test_word_accuracy"] <= 1 and m["model_bytes"] == (tmp_path / "job" / "model.htl").stat().st_size
    history = (tmp_path / "job" / "record" / "history.jsonl").read_text().splitlines()
    assert m["predict_1000_seconds"] > 0 and info["sum_cache_records"] == len(history) > 0


def test_a_tracked_job_ends_finished_with_its_artifacts_or_failed(toy_data, tmp_path, monkeypatch):
    """tracking=mlflow: one run per job, FINISHED with the model, sum cache, record and result
    logged; a job whose training raises ends its run FAILED (and re-raises)."""
    import hashtron_lab.g2p.job as J
    from hashtron_lab.track.mlflow_sink import client_and_experiment

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    tracking = {"backend": "mlflow", "uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment_name": "g2p-test",
                "log_models": True}
    cfg = _cfg().to_dict()
    cfg["tracking"] = {**cfg["tracking"], **tracking}
    info = train_and_save(cfg, tmp_path / "job", group="test", source="test", data=toy_data, tracking_root=tmp_path)
    client, _ = client_and_experiment(tracking, tmp_path)
    run = client.get_run(info["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["workload"] == "g2p"
    assert run.data.metrics["test_word_accuracy"] == pytest.approx(info["metrics"]["test_word_accuracy"])
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert {"model/model.htl", "model/sum_cache.bin"} <= logged

    def broken(*a, **k):
        raise RuntimeError("training broke")

    monkeypatch.setattr(J, "fit_and_score", broken)
    before = {r.info.run_id for r in client.search_runs([run.info.experiment_id])}
    with pytest.raises(RuntimeError, match="training broke"):
        train_and_save(cfg, tmp_path / "job2", group="test", source="test", data=toy_data, tracking_root=tmp_path)
    new = [r for r in client.search_runs([run.info.experiment_id]) if r.info.run_id not in before]
    assert [r.info.status for r in new] == ["FAILED"]


def test_report_means_stds_and_verdicts(tmp_path):
    def job(lang, d, seed, acc, model_bytes=1000):
        p = tmp_path / "runs" / lang / f"{d}-s{seed}"
        p.mkdir(parents=True)
        m = {f"test_{k}": v for k, v in (("word_accuracy", acc), ("per", 0.1), ("letter_accuracy", 0.9))}
        m.update(fit_seconds=1.0, model_bytes=model_bytes, predict_1000_seconds=0.1)
        (p / "result.json").write_text(json.dumps({"workload": "g2p", "language": lang, "direction": d,
                                                   "seed": seed, "metrics": m}))

    def base(lang, name, seed, acc):
        d = tmp_path / "base"
        d.mkdir(exist_ok=True)
        (d / f"{lang}-s{seed}-{name}.json").write_text(json.dumps({
            "model": name, "language": lang, "seed": seed, "fit_seconds": 2.0, "model_bytes": 10,
            "test": {"word_accuracy": acc, "per": 0.2, "letter_accuracy": 0.8}}))

    for s, (a, b) in enumerate([(0.8, 0.7), (0.9, 0.7), (0.7, 0.7)]):
        job("xx", "backward", s, a)
        job("yy", "backward", s, b)
        for name in R.FAIR:
            base("xx", name, s, 0.75)
            base("yy", name, s, 0.6 if name != "crf" else 0.71)
        base("xx", "gruut_crf", s, 0.99)  # optimistic: not part of the goal
    sm = R.write_report([tmp_path / "runs"], tmp_path / "base", tmp_path / "g2p.md", tmp_path / "g2p.html",
                        tmp_path / "g2p.json")
    xx = sm["languages"]["xx"]["models"]["hashtron_backward"]["word_accuracy"]
    assert xx["mean"] == pytest.approx(0.8) and xx["std"] == pytest.approx(0.1) and xx["n"] == 3  # ddof 1
    assert sm["languages"]["xx"]["pass"] and not sm["languages"]["yy"]["pass"]  # 0.70 < the CRF's 0.71
    assert sm["languages"]["yy"]["best_baseline"] == "crf"
    assert sm["goals"]["languages_passed"] == 1 and not sm["goals"]["beats_best_baseline"]
    assert sm["goals"]["model_size_ok"] and sm["goals"]["max_model_bytes"] == 1000
    md = (tmp_path / "g2p.md").read_text()
    assert "0.800 ± 0.100" in md and "gruut CRF (shipped, optimistic)" in md
    assert "Seeds averaged — hashtron (backward): 0, 1, 2 · " in md and "· CRF (retrained): 0, 1, 2 · " in md
    assert "<table>" in (tmp_path / "g2p.html").read_text()
    job("zz", "backward", 0, 0.9)  # no baselines yet: shown, not judged
    job("zz", "forward", 0, 0.8, model_bytes=3_000_000)  # the size goal is the default (backward) model's
    sm = R.write_report([tmp_path / "runs"], tmp_path / "base", tmp_path / "g2p.md")
    assert sm["goals"]["model_size_ok"] and sm["goals"]["max_model_bytes_forward"] == 3_000_000
    assert "forward models, the comparison: up to 3.00 MB" in (tmp_path / "g2p.md").read_text()
    job("ww", "backward", 0, 0.9, model_bytes=2_500_000)
    assert not R.write_report([tmp_path / "runs"], tmp_path / "base", tmp_path / "g2p.md")["goals"]["model_size_ok"]
    assert not sm["languages"]["zz"]["complete"] and sm["goals"]["languages_judged"] == 2
    assert "| zz | 0.900 |" in (tmp_path / "g2p.md").read_text() and "not judged (missing: most_frequent" in (
        tmp_path / "g2p.md").read_text()
    with pytest.raises(ValueError, match="no G2P job results"):
        R.write_report([tmp_path / "nothing"], None, tmp_path / "x.md")


def test_config_defaults_agree_with_the_phonemizer():
    import inspect

    from hashtron_lab.config_schema import load_config
    from hashtron_lab.g2p import Phonemizer
    from hashtron_lab.g2p.settings import PHONEMIZER_KEYS, G2PConfig, PhonemizerSettings

    cfg = load_config(["experiment=g2p"]).to_dict()
    sig = inspect.signature(Phonemizer).parameters
    schema, settings = G2PConfig(), PhonemizerSettings()
    for k in PHONEMIZER_KEYS:
        default = sig[k].default
        assert cfg["g2p"][k] == (list(default) if isinstance(default, tuple) else default), k
        assert getattr(schema, k) == cfg["g2p"][k], k
        value = getattr(settings, k)
        assert (list(value) if isinstance(value, tuple) else value) == cfg["g2p"][k], k
    from hashtron_lab.g2p.phonemizer import ABLATION_KEYS

    for k in ABLATION_KEYS:  # the ablation's knobs: the estimator's signature and the settings agree
        assert sig[k].default == getattr(settings, k), k
    from hashtron_lab.data.lexicon import language_of

    assert cfg["dataset"]["name"] == "lexicon" and language_of(cfg) == "de"
    assert language_of(load_config(["dataset=lexicon", "language=fr"]).to_dict()) == "fr"


@pytest.mark.parametrize("override,message", [
    ("g2p.max_left=9", "g2p.max_left: 9 is out of range; allowed: an integer in [0, 8]"),
    ("g2p.coverage=0", "g2p.coverage: 0.0 is out of range; allowed: a number in (0, 1]"),
    ("g2p.levels=[any,loud]", "g2p.levels"),
    ("g2p.seeds=[-1]", "g2p.seeds"),
    ("g2p.n_jobs=0", "g2p.n_jobs: 0 is out of range"),
])
def test_g2p_settings_are_checked_at_composition(override, message):
    from hashtron_lab.config_schema import ConfigError, load_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(["experiment=g2p", override])


def test_sweeps_run_one_after_another_add_up():
    a = {"languages": ["de"], "seeds": [0, 1, 2], "directions": ["backward", "forward"], "points": 6,
         "wall_seconds": 60.0, "n_jobs": 2, "cpu_count": 2}
    b = {"languages": ["fr"], "seeds": [0, 1, 2], "directions": ["backward"], "points": 3, "wall_seconds": 30.0,
         "n_jobs": 2, "cpu_count": 2}
    sw = R.combined_sweeps([a, b])
    assert sw["points"] == 9 and sw["wall_seconds"] == 90.0 and sw["languages"] == ["de", "fr"] and sw["parts"] == 2
    assert R.combined_sweeps([a]) is a and R.combined_sweeps([]) is None
    g = R.summarize([], [], sweep=sw)["goals"]
    assert g["sweep_grid"] == 12 and not g["sweep_ok"]  # 9 of 12 runs (and fewer than 10 languages)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gruut_lang_sw") is None, reason='needs pip install -e ".[lexicons]"')
def test_the_documented_train_and_phonemize_commands_run(tmp_path):
    """README's `python -m hashtron_lab.g2p train ...` then `python -m hashtron_lab phonemize ...`
    (Swahili, a 300-word sample, to stay small)."""
    model = tmp_path / "sw.htl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run([sys.executable, "-m", "hashtron_lab.g2p", "train", "--language", "sw", "--out", str(model),
                    "dataset.n_words=300", "tracking=none"], check=True, env=env, cwd=tmp_path, timeout=600)
    out = subprocess.run([sys.executable, "-m", "hashtron_lab", "phonemize", "--model", str(model), "jambo"],
                         check=True, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300).stdout
    word, phonemes = out.strip().split("\t")
    assert word == "jambo" and phonemes.split()
