"""The settings tree and conf/: every option of every group composes and its values reach the
objects that use them; option files only select and override (no default written twice); the
tree round-trips through params.yaml; the schema rejects bad input clearly."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hashtron_lab import config_schema as cs
from hashtron_lab.config import Settings, plain
from hashtron_lab.presets import OPTIONS
from hashtron_lab.settings import to_mapping

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
GROUPS = ("dataset", "model", "pipeline", "capacity", "selection", "budget", "run", "tracking", "alerts", "main",
          "ablation", "experiment")


def options(group: str) -> list[str]:
    """A group's options: its YAML files and those defined in Python (presets.OPTIONS)."""
    return sorted({p.stem for p in (CONF / group).glob("*.yaml")} | {o for g, o in OPTIONS if g == group})


def option_values(group: str, option: str) -> dict:
    """What an option sets, as {key path from the root: value} (its defaults list aside)."""
    path = CONF / group / f"{option}.yaml"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text) or {}
        glob_ = "# @package _global_" in text
    else:
        doc, glob_ = dict(OPTIONS[(group, option)]), False
    doc.pop("defaults", None)
    doc.pop("hydra", None)
    out = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(prefix + (k,), v)
        else:
            out[prefix] = node

    walk(() if glob_ else (group,), doc)
    return out


def test_the_root_defaults_list_names_every_group():
    defaults = yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
    names = [next(iter(d)) if isinstance(d, dict) else d for d in defaults]
    assert names[0] == cs.ROOT_SCHEMA, "the schema must come first so options merge into typed nodes"
    for group in GROUPS:
        assert group in names, f"{group} missing from conf/config.yaml defaults"
    assert "override hydra/launcher" in names


def built_objects(settings: Settings) -> dict:
    """What the run path, the alerts and the stages build from the tree, as plain settings per group."""
    from hashtron_lab.experiment import build_pipeline
    from hashtron_lab.model.network import Network
    from hashtron_lab.stages.common import run_settings
    from hashtron_lab.track.alerts import AlertMonitor
    from hashtron_lab.train.run import Run, Split

    arch = settings.architecture()
    pipe = build_pipeline(settings)
    n_in = arch.n_input_features
    X = np.arange(8 * n_in, dtype=np.uint32).reshape(8, n_in) % 5
    run = Run(Network.untrained(arch, np.random.default_rng(0)), Split(X, np.arange(8) % 2), Split(X, np.arange(8) % 2),
              2, settings.run_setup())
    out = {"seed": run.cfg.seed, "phase": settings.phase, "init_from": settings.init_from,  # read by the run path
           "pipeline": dataclasses.asdict(pipe.cfg),
           "budget": dataclasses.asdict(run.budget),
           "run": {"acceptance": dataclasses.asdict(run.accept), "validation": dataclasses.asdict(run.valcfg),
                   "checkpoint_every": run.cfg.run.checkpoint_every, "progress": run.cfg.run.progress},
           "model": {"name": settings.model.name, **arch.to_spec(), "output_code": arch.output_code},
           "dataset": settings.dataset,   # what `experiment.prepare_dataset` loads
           "alerts": dataclasses.asdict(AlertMonitor(settings.alerts).cfg),
           "tracking": dataclasses.asdict(settings.tracking),
           "main": {**to_mapping(settings.main),
                    **{d: dataclasses.asdict(run_settings(settings, d, 0).pipeline) for d in ("backward", "forward")}},
           "ablation": to_mapping(settings.ablation),
           "language": settings.language, "g2p": to_mapping(settings.g2p)}
    if settings.dataset.get("name") == "lexicon":  # the app trains a Phonemizer (hashtron_lab/g2p/job.py)
        from hashtron_lab.g2p.job import phonemizer_of
        from hashtron_lab.g2p.settings import PHONEMIZER_KEYS

        ph = phonemizer_of(settings)
        out["g2p"].update({k: getattr(ph, k) for k in PHONEMIZER_KEYS})
        out["language"] = ph.language
        out["seed"] = ph.seed
    controller = getattr(pipe, "controller", None)
    if controller is not None:  # backward always; forward with capacity_control
        out["capacity"] = dataclasses.asdict(controller.cfg)
        assert (controller.throttle is not None) == (pipe.name == "backward" and controller.cfg.throttle.enabled)
        assert controller.zone == settings.gold_zone
    selector = getattr(pipe, "selector", None)
    if selector is not None:  # backward always; forward with use_selection
        out["selection"] = dataclasses.asdict(selector.cfg)
        assert selector.zone == settings.gold_zone
    return out


def _same(got, want) -> bool:
    """`got` holds `want` (a mapping may fill keys the option leaves to their defaults)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _same(got[k], v) for k, v in want.items())
    if isinstance(want, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    return got == want


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_its_values_reach_the_objects_that_use_them(group, option):
    if group == "dataset" and option == "phonemizer_all":
        overrides = [f"{group}={option}"]
    else:
        overrides = ["~experiment", f"{group}={option}"] if group != "experiment" else [f"experiment={option}"]
    if group in ("capacity", "selection"):  # read by the backward pipeline (forward only with its switches)
        overrides.append("pipeline=backward")
    composed = plain(cs.compose(overrides))
    settings = cs.load_config(overrides)
    objects = built_objects(settings)
    for path, value in option_values(group, option).items():
        if path[0] in ("capacity", "selection") and path[0] not in objects:
            continue  # an experiment's capacity/selection on a pipeline that does not read it
        assert _same(_get(composed, path), value), (path, value)
        got = _get(objects, path)
        if path == ("model", "layers"):  # the network built from them (premodulo 0 made explicit)
            from hashtron_lab.model.architecture import Architecture

            value = Architecture.from_spec({"layers": value}).to_spec()["layers"]
        assert _same(got, value), (path, got, value)
    # the whole composition, not only the option's keys, reaches the objects
    for key in ("pipeline", "budget", "run", "alerts", "tracking", "main", "ablation"):
        assert to_mapping(objects[key]) == composed[key], key


GROUP_DEFAULTS = {"pipeline": None, "capacity": "CapacityConfig", "selection": "SelectionConfig", "budget": "Budget",
                  "run": "RunConfig", "tracking": "TrackingConfig", "alerts": "AlertConfig", "main": "MainConfig"}


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUP_DEFAULTS for o in options(g)])
def test_an_option_only_overrides_it_never_restates_a_default(group, option):
    """Every value an option file sets differs from the library's default for that key: each
    default is written once, on its dataclass."""
    defaults = plain(Settings())
    if group == "pipeline":
        from hashtron_lab.config import pipeline_settings

        kind = cs.load_config(["~experiment", f"pipeline={option}"]).direction
        defaults["pipeline"] = plain(pipeline_settings({"direction": kind}))
    for path, value in option_values(group, option).items():
        assert _get(defaults, path) != value, f"conf/{group}/{option} restates the default {'.'.join(path)}={value!r}"


def test_settings_round_trip_conf_objects_params_objects(tmp_path):
    """conf -> settings tree -> params.yaml -> settings tree: the same objects."""
    from hashtron_lab.config import Settings as Tree

    for overrides in ([], ["~experiment"], ["experiment=acc_digits", "pipeline=forward"], ["ablation=full"]):
        first = cs.load_config(overrides)
        (tmp_path / "params.yaml").write_text(cs.params_text(overrides, ROOT))
        again = cs.read_params(tmp_path / "params.yaml")
        assert again == first, overrides
        assert Tree.from_dict(first.to_dict()) == first  # and through plain dicts


def test_defaults_live_once():
    """The values the issue found in two places: one now, on the dataclass, and conf/ agrees."""
    s = cs.load_config(["~experiment"])
    assert s.budget.max_updates == Settings().budget.max_updates == 1500
    assert s.run.validation.patience == Settings().run.validation.patience == 100
    assert s.gold_zone == Settings().gold_zone


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
    (["selection.eps_factor=1"], "selection.eps_factor"),    # the gold zone is configured once: gold_zone.*
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
