"""benchmarks/ and scripts/ keep working when the library's API moves.

No other test runs them, so a renamed function used to break them unnoticed (issue 18 left
several calling `experiment.train`, `splits_of`, `make_pipeline`). The default suite imports
each file without running its `main` and checks that every `hashtron_lab` name it uses — also
inside functions, and attributes read from a `hashtron_lab` module (``cs.load_config``) — still
exists. The slow suite runs each one end to end with its smallest arguments (grids cut to one
point, budgets to a few dozen updates where a script has no argument for it), writing only into
a temporary folder.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import hashtron_lab

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])
IDS = [str(p.relative_to(ROOT)) for p in FILES]


def test_every_script_is_listed():
    """Guards the glob: an empty list would make the tests below pass vacuously."""
    assert "benchmarks/bench_pipelines.py" in IDS and "scripts/ntuple_cv.py" in IDS


@pytest.fixture
def restore_sys_path():
    saved = list(sys.path)  # a few scripts put ../src first on sys.path when imported
    yield
    sys.path[:] = saved


def load_script(path: Path) -> ModuleType:
    """The script as a module, its `main` not run (its `__name__` is not "__main__")."""
    spec = importlib.util.spec_from_file_location(f"script_{path.parent.name}_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_script_imports(path, restore_sys_path):
    mod = load_script(path)
    assert callable(getattr(mod, "main", None)), f"{path.name} has no main()"


def library_references(tree: ast.AST) -> list[tuple[int, str, str | None]]:
    """(line, module path, name) for every ``from hashtron_lab.x import name`` anywhere in the
    file (functions included) and every ``alias.name`` read from a hashtron_lab module bound to
    ``alias`` (``import hashtron_lab.x as alias`` / ``from hashtron_lab import x as alias``)."""
    refs: list[tuple[int, str, str | None]] = []
    bound: dict[str, str] = {}  # local name -> dotted path it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "hashtron_lab":
            for a in node.names:
                refs.append((node.lineno, node.module, a.name))
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "hashtron_lab":
                    refs.append((node.lineno, a.name, None))
                    if a.asname:  # import hashtron_lab.x as y: y is hashtron_lab.x
                        bound[a.asname] = a.name
                    else:  # import hashtron_lab.x: the name bound is hashtron_lab
                        bound["hashtron_lab"] = "hashtron_lab"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            refs.append((node.lineno, bound[node.value.id], node.attr))
    return refs


def _module(dotted: str) -> ModuleType | None:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        return None


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_script_uses_existing_library_names(path):
    missing = []
    for line, where, name in library_references(ast.parse(path.read_text(encoding="utf-8"))):
        mod = _module(where)
        if mod is None:
            parent, _, attr = where.rpartition(".")
            if _module(parent) is not None and hasattr(_module(parent), attr):
                continue  # `alias.x` where alias is a class or function, not a module: not checked
            missing.append(f"line {line}: module {where}")
        elif name is not None and not hasattr(mod, name) and _module(f"{where}.{name}") is None:
            missing.append(f"line {line}: {where}.{name}")
    assert not missing, f"{path.relative_to(ROOT)} uses names the library no longer has: {missing}"


def test_library_references_sees_function_level_imports_and_module_attributes():
    """The checker itself: a name imported inside a function and an attribute of a module alias
    are both seen (so `experiment.train` inside a worker function would be caught)."""
    src = ("from hashtron_lab import config_schema as cs\n"
           "def f():\n    from hashtron_lab.experiment import train\n    return cs.load_config([])\n")
    refs = {(m, n) for _, m, n in library_references(ast.parse(src))}
    assert ("hashtron_lab.experiment", "train") in refs
    assert ("hashtron_lab.config_schema", "load_config") in refs
    assert not hasattr(importlib.import_module("hashtron_lab.experiment"), "train")  # so it would fail


# -- end to end (slow) -----------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=os.environ.get("NUMBA_NUM_THREADS", "1"))
    src = str(Path(hashtron_lab.__file__).resolve().parents[1])  # the package this test imported, absolute
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    env["HASHTRON_LAB_CONF"] = str(ROOT / "conf")  # this checkout's conf/ also from a temporary cwd
    return env


# (id, script, arguments ({tmp}: a temporary folder), text its output must contain, cwd: root or tmp)
RUNS = [
    ("bench_ablation", "benchmarks/bench_ablation.py",
     ["--workloads", "digits", "--seeds", "0", "--jobs", "1", "--out", "{tmp}"], "Main effects", "root"),
    ("bench_chunk", "benchmarks/bench_chunk.py", ["--repeats", "1", "--chunks", "64", "32"], "default CHUNK", "root"),
    ("bench_core", "benchmarks/bench_core.py", [], "neuron trainings (forward pipeline)", "root"),
    ("bench_datasets", "benchmarks/bench_datasets.py", ["--languages", "", "--csv-rows", "200"], "digits",
     "root"),
    ("bench_filter", "benchmarks/bench_filter.py", ["--sizes", "1000", "--repeat", "1", "--lookups", "1000"],
     "lookup", "root"),
    ("bench_mnist", "benchmarks/bench_mnist.py", ["--path", str(ROOT / "datasets" / "mnist-dev"), "--seeds", "0"],
     "random forest", "root"),
    ("bench_pipelines", "benchmarks/bench_pipelines.py", ["--updates", "30", "--repeats", "1"],
     "sum cache after one backward run", "root"),
    ("bench_pipelines_experiment", "benchmarks/bench_pipelines.py",
     ["--updates", "30", "--repeats", "1", "--experiment", "ntuple_digits"], "backward replayed", "root"),
    ("bench_scale", "benchmarks/bench_scale.py", ["--sizes", "2000"], "random forest", "root"),
    ("bench_small", "benchmarks/bench_small.py", ["--splits", "2"], "breast_cancer", "root"),
    ("bench_sum_cache", "benchmarks/bench_sum_cache.py",
     ["--records", "10000", "--neurons", "64", "--width", "16", "--queries", "100"], "gold-zone ranking", "root"),
    ("bench_threads", "benchmarks/bench_threads.py", ["--rounds", "1", "--competitors", "0", "--updates", "20"],
     "N adaptive", "root"),
    ("report_bench", "benchmarks/report_bench.py", ["--updates", "500", "--runs", "2", "--out", "{tmp}"],
     "compare report", "root"),
    ("accuracy_search_backward", "scripts/accuracy_search.py",
     ["one", "--dataset", "breast_cancer", "--knobs", '{"updates": 20}'], "bac s0 train", "root"),
    ("accuracy_search_forward", "scripts/accuracy_search.py",
     ["one", "--dataset", "digits", "--knobs", '{"updates": 20}', "--direction", "forward"], "for s0 train", "root"),
    ("accuracy_search_report", "scripts/accuracy_search.py", ["report"], "config (knobs", "root"),
    ("capacity_cv", "scripts/capacity_cv.py", ["--loads", "off", "1", "--seeds", "0"], "choose load", "root"),
    ("drift_experiment", "scripts/drift_experiment.py",
     ["--nominal", "50", "--drift-updates", "50", "--out", "{tmp}/drift"], "wrote", "root"),
    ("measure", "scripts/measure.py",
     ["--rows", "ntuple_breast_cancer", "--seeds", "0", "--out", "{tmp}/measurements.json"], "| breast cancer", "tmp"),
]


@pytest.mark.slow
@pytest.mark.parametrize("script, args, expect, cwd", [r[1:] for r in RUNS], ids=[r[0] for r in RUNS])
def test_script_runs(script, args, expect, cwd, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    p = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT if cwd == "root" else tmp_path,
                       env=_env(), capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, f"{script} {args} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert expect in p.stdout, p.stdout[-3000:]


def test_every_script_runs_in_the_slow_suite():
    """A new script gets an end-to-end run (above, or one of the grid tests below)."""
    in_grid_tests = {"scripts/ntuple_search.py", "scripts/ntuple_cv.py", "scripts/capacity_search.py",
                     "scripts/g2p_capacity_trials.py"}
    assert set(IDS) == {r[1] for r in RUNS} | in_grid_tests


@pytest.mark.slow
def test_ntuple_search_one_grid_point(tmp_path, monkeypatch, restore_sys_path):
    mod = load_script(ROOT / "scripts" / "ntuple_search.py")
    monkeypatch.setitem(mod.GRIDS, "ntuple_breast_cancer", {
        "dataset.encoding.quantiles": [3], "dataset.encoding.tuple_size": [4], "dataset.encoding.select_pool": [1],
        "run.acceptance.positive_weight": [1000000], "budget.max_updates": [40]})
    monkeypatch.chdir(tmp_path)  # it writes reports/accuracy/ under the cwd
    monkeypatch.setenv("HASHTRON_LAB_CONF", str(ROOT / "conf"))
    monkeypatch.setattr(sys, "argv", ["ntuple_search.py", "--experiment", "ntuple_breast_cancer", "--seeds", "0", "1",
                                      "--n-tuples", "30"])
    mod.main()
    rows = [json.loads(x) for x in (tmp_path / "reports/accuracy/ntuple_breast_cancer.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(0.0 <= r["val_accuracy"] <= 1.0 for r in rows)


@pytest.mark.slow
def test_ntuple_cv_one_grid_point(tmp_path, monkeypatch, restore_sys_path):
    mod = load_script(ROOT / "scripts" / "ntuple_cv.py")
    monkeypatch.setitem(mod.SETUPS["ntuple_breast_cancer"], "grid",
                        {"quantiles": [3], "tuple_size": [4], "select_pool": [1]})
    monkeypatch.setitem(mod.SETUPS["ntuple_breast_cancer"], "fixed", {"n_tuples": 30})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HASHTRON_LAB_CONF", str(ROOT / "conf"))
    monkeypatch.setattr(sys, "argv", ["ntuple_cv.py", "--experiment", "ntuple_breast_cancer", "--seeds", "0",
                                      "--folds", "2"])
    mod.main()  # also checks that its split of the rows is still the project's
    rows = [json.loads(x) for x in (tmp_path / "reports/accuracy/ntuple_breast_cancer_cv.jsonl").read_text().splitlines()]
    assert [r["protocol"] for r in rows] == ["project", "issue (80/20, random_state=0)"]
    assert 0.5 < rows[0]["mean_cv"] <= 1.0


@pytest.mark.slow
def test_capacity_search_two_settings(monkeypatch, capsys, restore_sys_path):
    import re

    mod = load_script(ROOT / "scripts" / "capacity_search.py")
    monkeypatch.setattr(mod, "SETTINGS", {"off": ["capacity=fixed"],
                                          "support load 1": ["capacity=support", "capacity.load_factor=1.0"]})
    assert mod.main(["--workloads", "digits", "--seeds", "0", "1"]) == 0
    out = capsys.readouterr().out
    assert "digits: choose" in out
    # each setting is what runs, not the workload's own capacity_on (load 0.5): the models differ in size
    sizes = re.findall(r"validation .* model (\d+) kB", out)
    assert len(sizes) == 2 and sizes[0] != sizes[1], out


@pytest.mark.slow
def test_g2p_capacity_trials_two_loads(tmp_path, capsys, restore_sys_path):
    """The phonemizer's load-factor trials on a small sample of an installed lexicon (skipped
    without the `lexicons` extra): off and two loads, the choice among the "on" ones."""
    from hashtron_lab.data.lexicon import installed_languages

    langs = installed_languages()
    if not langs:
        pytest.skip('no lexicon installed (pip install -e ".[lexicons]")')
    mod = load_script(ROOT / "scripts" / "g2p_capacity_trials.py")
    out_file = tmp_path / "trials.json"
    assert mod.main(["--language", langs[0], "--n-words", "400", "--loads", "off", "1", "2",
                     "--out", str(out_file)]) == 0
    doc = json.loads(out_file.read_text())
    assert [r["load"] for r in doc["rows"]] == ["off", "1", "2"] and doc["chosen"] in ("1", "2")
    assert "choose load" in capsys.readouterr().out
