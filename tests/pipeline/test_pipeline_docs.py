"""Every command in docs/pipeline.md's `bash` blocks is exercised.

`COVERED` maps each command to where it runs: a test here (fast or slow) or CI (the install
lines, which need a fresh machine). A new command in the docs fails `test_every_documented
_command_is_covered` until it is added here with the test that runs it. The slow tests below
run the documented Hydra commands literally, shrunk with `budget=quick` and tiny data.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pipeline.md"
DOCS = (ROOT / "README.md", DOC)

COVERED = {
    'pip install -e ".[test]" && dvc repro': "CI (.ci) for the install; dvc repro: test_pipeline_dvc.py; the main "
                                             "job it claims: test_the_quick_start_runs_the_main_job_described",
    "python -m hashtron_lab params && dvc repro": "test_params_stale.py (the message names it) and "
                                                  "test_pipeline_dvc.py (a conf/ edit stops dvc repro with it)",
    'pip install -e ".[test]" && pytest': "CI (.ci)",
    'pip install -e ".[test,langs]" && python -m pytest': "CI (.ci/run runs exactly this)",
    "python -m pytest -m slow": "run by hand / nightly; each slow test is listed in this file or its module",
    "python benchmarks/bench_core.py": "run by hand (prints the throughput table in the README)",
    "python benchmarks/bench_threads.py": "run by hand (the loaded-vs-one-thread ratios in the README); the "
                                          "thread choice itself: tests/test_threads.py",
    "dvc dag": "test_pipeline_dvc.py::test_dvc_repro_end_to_end",
    "dvc metrics show": "test_pipeline_dvc.py::test_dvc_repro_end_to_end",
    "dvc plots show": "test_pipeline_dvc.py::test_dvc_repro_end_to_end",
    "mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000 --workers 1": "test_mlflow_ui_serves_the_store",
    "python -m hashtron_lab params": "test_pipeline_dvc.py (project.params) and test_pipeline_config.py",
    "python -m hashtron_lab params --check": "test_pipeline_config.py::test_params_check_command",
    "dvc exp run -S main.evaluate.success_margin=0.01": "test_pipeline_dvc.py::test_dvc_experiments_...",
    "dvc exp run --queue -S 'capacity.clamp_factor=5,20'": "test_pipeline_dvc.py::test_dvc_experiments_...",
    "dvc queue start -j 2": "test_pipeline_dvc.py::test_dvc_experiments_...",
    "dvc exp show": "test_pipeline_dvc.py::test_dvc_experiments_...",
    "python -m hashtron_lab experiment=quick": "test_documented_hydra_commands_run",
    "python -m hashtron_lab pipeline=forward seed=3 budget.max_updates=500": "test_documented_hydra_commands_run",
    "python -m hashtron_lab -m pipeline=backward_all,forward seed=0,1,2":
        "test_documented_hydra_commands_run; its claim (the main job's six runs): "
        "test_the_documented_sweeps_train_the_main_jobs_runs",
    "python -m hashtron_lab -m pipeline=backward_all,forward seed=0,1,2 hydra/launcher=joblib hydra.launcher.n_jobs=2":
        "test_documented_hydra_commands_run (and test_pipeline_app.py's 2x2 joblib test); claim: "
        "test_the_documented_sweeps_train_the_main_jobs_runs",
    "python -m hashtron_lab -m experiment=multilingual hydra/launcher=joblib hydra.launcher.n_jobs=2":
        "test_documented_hydra_commands_run (two languages)",
    'python -m venv --system-site-packages .venv-ray && .venv-ray/bin/pip install -e ".[ray]"':
        "done by hand / CI for the Ray extra; test_pipeline_ray.py uses the environment it makes",
    ".venv-ray/bin/python -m hashtron_lab -m pipeline=backward,forward seed=0,1 hydra/launcher=ray_local":
        "test_pipeline_ray.py",
    "python -m hashtron_lab -m experiment=g2p language=$(python -m hashtron_lab.g2p languages) hydra/launcher=joblib "
    "hydra.launcher.n_jobs=2": "test_documented_hydra_commands_run (two languages, 200 words; the lexicons extra)",
    'pip install -e ".[lexicons]"': "by hand (the G2P report's machine); without it the G2P tests use toy lexicons",
    "python -m hashtron_lab.g2p train --language de --out de.htl":
        "tests/g2p/test_g2p_cli.py::test_the_documented_train_and_phonemize_commands_run (slow, a small sample)",
    "python -m hashtron_lab phonemize --model de.htl xylofon":
        "tests/g2p/test_g2p_cli.py::test_the_documented_train_and_phonemize_commands_run (slow), "
        "test_phonemize_words_from_arguments_and_stdin",
    "dvc repro g2p/dvc.yaml": "run by hand (reports/g2p.md); test_dvc_repro_end_to_end shows plain `dvc repro` "
                              "runs the main job only",
    "python -m hashtron_lab ~experiment init_from=path/to/weights.zlib":
        "tests/train/test_migration.py::test_the_command_line_continues_a_go_file (experiment=quick, a real file)",
}


def documented_commands() -> list[str]:
    text = "\n".join(d.read_text(encoding="utf-8") for d in DOCS)
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        out += [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return out


def test_every_documented_command_is_covered():
    cmds = documented_commands()
    assert cmds, "no bash blocks found in docs/pipeline.md"
    missing = [c for c in cmds if c not in COVERED]
    assert not missing, f"commands in docs/pipeline.md that no test or CI runs: {missing}"
    stale = [c for c in COVERED if c not in cmds]
    assert not stale, f"COVERED lists commands the docs no longer give: {stale}"


def _sweep_jobs(cmd: str) -> list[list[str]]:
    """The override lists of a documented `-m` command's jobs (comma lists expanded)."""
    import itertools

    args = [a for a in cmd.split()[3:] if a != "-m" and not a.startswith("hydra")]
    choices = [[f"{a.split('=', 1)[0]}={v}" for v in a.split("=", 1)[1].split(",")] for a in args]
    return [list(c) for c in itertools.product(*choices)]


TRAINING = ("dataset", "model", "pipeline", "capacity", "selection", "budget", "run", "seed")


def test_the_documented_sweeps_train_the_main_jobs_runs():
    """README: the sweep trains the main job's six runs, the settings `dvc repro` uses (it used
    to say `pipeline=backward`, which on the n-tuple network is another backward: 0.59 test
    against the report's 0.97)."""
    from hashtron_lab import config_schema as cs
    from hashtron_lab.stages.common import run_settings

    params = cs.read_params(ROOT / "params.yaml")
    sweeps = sorted({c for c in documented_commands() if c.startswith("python -m hashtron_lab -m pipeline=")})
    assert len(sweeps) == 2  # README's and docs/pipeline.md's, one with the joblib launcher
    for cmd in sweeps:
        jobs = _sweep_jobs(cmd)
        assert len(jobs) == 6
        for overrides in jobs:
            got = cs.load_config(overrides)
            want = run_settings(params, got.direction, got.seed)
            for key in TRAINING:
                assert getattr(got, key) == getattr(want, key), (cmd, overrides, key)


def test_the_quick_start_runs_the_main_job_described():
    """README quick start: `dvc repro` trains the n-tuple network on digits, both pipelines, three
    seeds, the backward being `backward_all` (its ~0.97 test accuracy: tests/train/test_ntuple.py)."""
    from hashtron_lab import config_schema as cs

    p = cs.read_params(ROOT / "params.yaml")
    assert p.dataset["name"] == "digits" and p.dataset["encoding"]["kind"] == "tuples"
    assert p.model.name == "ntuple_digits" and p.main.seeds == [0, 1, 2]
    assert p.main.backward.direction == "backward" and p.main.backward.layer_fraction == 1.0
    assert p.main.forward.direction == "forward"
    assert p.main.backward == cs.load_config(["pipeline=backward_all"]).pipeline


SHRINK = ["budget=quick", "dataset.max_samples=200", "model=tiny"]


@pytest.mark.slow
def test_documented_hydra_commands_run(project, helpers, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    jobs = multiruns = 0
    for cmd in documented_commands():
        if not cmd.startswith("python -m hashtron_lab ") or " params" in cmd or " phonemize " in cmd:
            continue  # python -m hashtron_lab.g2p / phonemize: tests/g2p
        args = cmd.split()[3:]
        if "experiment=g2p" in args:
            import importlib.util

            if not all(importlib.util.find_spec(f"gruut_lang_{x}") for x in ("es", "sw")):
                continue  # the [lexicons] extra is not installed
            args = ["language=es,sw" if a.startswith("language=$(") else a for a in args]
            extra = ["dataset.n_words=200"]
            n = 12  # 2 languages x 2 pipelines x 3 seeds
        elif "experiment=multilingual" in args:
            try:
                import epitran  # noqa: F401
            except ImportError:
                continue  # the [langs] extra is not installed
            extra = ["budget=quick", "dataset.n_words=200", "dataset.language=spa-Latn,ita-Latn"]
            n = 2
        else:
            extra = [] if "experiment=quick" in args else SHRINK
            n = 6 if "-m" in args else 1
        project.run([sys.executable, "-m", "hashtron_lab", *args, *extra], MLFLOW_TRACKING_URI=uri, timeout=1800)
        jobs += n
        multiruns += int("-m" in args)
    _, runs = helpers.mlflow_runs(uri)
    assert sum(r.data.tags.get("source") == "hydra" for r in runs) == jobs
    assert sum(r.data.tags.get("source") == "hydra-multirun" for r in runs) == multiruns
    assert all(r.info.status == "FINISHED" for r in runs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mlflow_ui_serves_the_store(tmp_path, helpers):
    """The documented `mlflow ui` line, on a store with one run, answers /health."""
    db = tmp_path / "mlflow.db"
    helpers.run([sys.executable, "-m", "hashtron_lab", "experiment=quick", f"hydra.run.dir={tmp_path / 'run'}"],
                ROOT, MLFLOW_TRACKING_URI=f"sqlite:///{db}")
    port = _free_port()
    documented = next(c for c in documented_commands() if c.startswith("mlflow ui"))
    cmd = [str(port) if c == "5000" else c for c in documented.split()]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=helpers.env(), start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError as e:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError("mlflow ui did not answer /health within 120 s") from e
                time.sleep(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=10",
                                    timeout=10) as r:
            assert b"hashtron-lab" in r.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers: the group this test started
        proc.wait(timeout=30)
