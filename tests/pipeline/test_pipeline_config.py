"""conf/: every group composes, the schema rejects bad input clearly, params.yaml is in sync."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hashtron_lab import config_schema as cs

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
GROUPS = ("dataset", "model", "pipeline", "capacity", "selection", "budget", "run", "tracking", "main", "experiment")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_the_root_defaults_list_names_every_group():
    defaults = yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
    names = [next(iter(d)) if isinstance(d, dict) else d for d in defaults]
    assert names[0] == cs.ROOT_SCHEMA, "the schema must come first so options merge into typed nodes"
    for group in GROUPS:
        assert group in names, f"{group} missing from conf/config.yaml defaults"
    assert "override hydra/launcher" in names


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_of_every_group_composes_and_checks(group, option):
    cfg = cs.load_config([f"{group}={option}"])
    if group == "pipeline":
        assert option.startswith(cfg["pipeline"]["direction"])
    if group == "dataset" and option != "phonemizer_all":
        assert cfg["dataset"] == yaml.safe_load((CONF / "dataset" / f"{option}.yaml").read_text())
    for key in ("seed", "dataset", "model", "pipeline", "capacity", "selection", "budget", "run", "tracking", "main"):
        assert key in cfg


def test_the_composed_default_trains_the_library_defaults_where_it_claims_to():
    """Without an experiment, options documented as the library's behaviour hold its defaults."""
    from hashtron_lab.train.backward import BackwardConfig
    from hashtron_lab.train.capacity import CapacityConfig
    from hashtron_lab.train.forward import ForwardConfig
    from hashtron_lab.train.selection import SelectionConfig
    from hashtron_lab.train.throttle import ThrottleConfig

    cfg = cs.load_config(["~experiment"])  # the default experiment tunes some groups on purpose
    cap = dict(cfg["capacity"])
    throttle = cap.pop("throttle")
    assert cap.pop("enabled") is True and cap.pop("fixed_premodulo") == 0
    assert cap == dataclasses.asdict(CapacityConfig())
    assert throttle == dataclasses.asdict(ThrottleConfig())
    assert cfg["selection"] == dataclasses.asdict(SelectionConfig())
    lib_b = dataclasses.asdict(BackwardConfig())
    for k, v in cfg["main"]["backward"].items():
        if k != "direction":
            assert lib_b[k] == v, k
    assert {k: v for k, v in cfg["main"]["forward"].items() if k != "direction"} == dataclasses.asdict(ForwardConfig())


@pytest.mark.parametrize("schema,lib,extra", cs.mirrored_fields(), ids=lambda x: getattr(x, "__name__", ""))
def test_schemas_mirror_the_library_dataclasses(schema, lib, extra):
    """A field added to (or renamed in) a training dataclass must reach conf/ and the schema."""
    skip = {"seed", "budget", "checkpoint_path", "capacity_control", "fixed_premodulo", "capacity", "throttle",
            "selection"}
    lib_fields = cs.field_names(lib) - (skip if lib.__name__ in ("RunConfig", "BackwardConfig") else set())
    if lib.__name__ == "RunConfig":
        lib_fields |= {"acceptance", "validation"}
    assert cs.field_names(schema) - extra == lib_fields


def test_params_yaml_is_in_sync_with_conf():
    """Fails when someone edits conf/ without `python -m hashtron_lab params` (or edits params.yaml)."""
    committed = (ROOT / "params.yaml").read_text(encoding="utf-8")
    assert committed == cs.params_text([], ROOT), \
        "params.yaml differs from the composed conf/: run `python -m hashtron_lab params` and commit both"


def test_params_check_command():
    out = subprocess.run([sys.executable, "-m", "hashtron_lab", "params", "--check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dvc_composition_uses_the_same_schema_in_a_fresh_process(tmp_path):
    """DVC composes conf/ in its own process; the plugin in stages/hydra_plugins registers the
    schemas there, so `dvc exp run -S` writes exactly params.yaml and rejects bad types."""
    code = ("import sys; from dvc.utils.hydra import compose_and_dump; "
            "compose_and_dump(sys.argv[1], sys.argv[2], None, 'config', sys.argv[3], sys.argv[4:])")
    out = tmp_path / "params.yaml"
    base = [sys.executable, "-c", code, str(out), str(CONF), str(ROOT / "stages")]
    ok = subprocess.run(base, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert out.read_text() == (ROOT / "params.yaml").read_text()
    bad = subprocess.run(base + ["budget.max_updates=lots"], capture_output=True, text=True)
    assert bad.returncode != 0 and "max_updates" in bad.stderr


BAD = [
    (["capacity.clamp_factr=3"], "capacity.clamp_factr"),
    (["+capacity.clamp_factr=3"], "capacity.clamp_factr"),
    (["+seeed=1"], "seeed"),
    (["budget.max_updates=lots"], "budget.max_updates"),
    (["phase=frozn"], "phase"),
    (["tracking.backend=wandb"], "tracking.backend"),
    (["pipeline=forwrd"], "pipeline/forwrd"),
    (["pipeline=forward", "+pipeline.max_attempts=3"], "pipeline.max_attempts"),
    (["pipeline=forward", "pipeline.threshold=high"], "pipeline.threshold"),
    (["+dataset.bitz=3"], "bitz"),
    (["dataset.name=imagenet"], "dataset.name"),
    (["model.layers.0.neurons=0"], "neurons"),
    (["model.layers.0.type=hashtrn"], "hashtrn"),
    (["capacity.dampening=[clmp]"], "clmp"),
    (["selection.rule=best"], "best"),
    (["run.acceptance.rule=maybe"], "run.acceptance.rule"),
    (["main.passes.pass1.src=last"], "main.passes.pass1.src"),
    (["main.passes.pass1.epochs=x"], "main.passes.pass1.epochs"),
]


@pytest.mark.parametrize("overrides,needle", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_overrides_fail_at_composition_naming_the_key(overrides, needle):
    with pytest.raises(Exception) as err:
        cs.load_config(overrides)
    text = str(err.value)
    cause = err.value.__cause__
    while cause is not None:
        text += "\n" + str(cause)
        cause = cause.__cause__
    assert needle in text, text


def test_bad_override_on_the_command_line_is_one_clear_message(tmp_path):
    p = subprocess.run([sys.executable, "-m", "hashtron_lab", "budget.max_updates=lots", "tracking=none",
                        f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode != 0
    assert "budget.max_updates" in p.stderr and "could not be converted to Integer" in p.stderr, p.stderr
    p = subprocess.run([sys.executable, "-m", "hashtron_lab", "params", "+capacity.clamp_factr=3"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "capacity.clamp_factr" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_hand_edited_params_are_checked_like_a_composition(tmp_path):
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["budget"]["max_update"] = 10
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(cs.ConfigError, match="budget.max_update"):
        cs.read_params(p)


def test_the_multilingual_sweep_is_one_option():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base=None):
        cfg = compose("config", overrides=["experiment=multilingual"], return_hydra_config=True)
    langs = cfg.hydra.sweeper.params["dataset.language"].split(",")
    assert len(langs) >= 10 and "spa-Latn" in langs
    assert cfg.dataset.name == "phonemizer" and cfg.dataset.encoding.n_features == 80


@pytest.mark.parametrize("launcher", ["basic", "joblib", "ray_local", "ray_cluster", "slurm"])
def test_launcher_options_compose(launcher):
    """Ray and SLURM options need their plugins (extras); they are skipped when absent."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException

    with initialize_config_dir(str(CONF), version_base=None):
        try:
            cfg = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
        except MissingConfigException as e:
            if launcher in ("ray_local", "ray_cluster", "slurm"):
                pytest.skip(f"launcher plugin for {launcher} not installed: {str(e).splitlines()[0]}")
            raise
    assert "_target_" in cfg.hydra.launcher
