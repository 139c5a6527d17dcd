"""Structured-config schemas for `conf/`, and the one way to compose it outside Hydra's app.

Every config group has a dataclass here, registered in Hydra's ConfigStore. The root
config (`conf/config.yaml`) lists ``hashtron_lab_schema`` first in its defaults, so every
option file is merged *into* a typed node: a misspelled key, a wrong type or an unknown
enum value fails at composition with the key's full name, e.g.::

    Key 'clamp_factr' not in 'CapacitySchema'
        full_key: capacity.clamp_factr
    Value 'lots' of type 'str' could not be converted to Integer
        full_key: budget.max_updates

Groups whose options differ in shape are typed per option: each `conf/pipeline/*.yaml`
extends ``backward_schema`` or ``forward_schema``. The dataset group stays an open mapping
here (each loader has its own keys); `validate` checks it against the data registry, and the
model's layers against `Architecture.from_spec`, right after composition.

DVC composes `conf/` itself (``dvc exp run -S``): it loads Hydra plugins from
``stages/`` (``hydra.plugins_path`` in `.dvc/config`), where
``stages/hydra_plugins/hashtron_lab_schema.py`` imports this module so the same schemas apply.

`compose` / `write_params` (``python -m hashtron_lab params``) produce `params.yaml` with the
very function DVC uses, so the committed file and ``dvc exp run`` agree byte for byte.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

ROOT_SCHEMA = "hashtron_lab_schema"


class Phase(Enum):
    """debug: anything goes; pilot: tagged for comparison; frozen: needs a clean git tree."""

    debug = "debug"
    pilot = "pilot"
    frozen = "frozen"


class Direction(Enum):
    backward = "backward"
    forward = "forward"


class Backend(Enum):
    mlflow = "mlflow"
    none = "none"


# -- pipeline/ (mirrors train.backward.BackwardConfig and train.forward.ForwardConfig) ----------
@dataclass
class BackwardPipelineSchema:
    direction: Direction = Direction.backward
    neurons_per_layer: int = 1            # accepted updates wanted per layer per sweep
    layer_fraction: Optional[float] = None  # if set: that fraction of each layer's neurons per sweep instead
    max_attempts: int = 3                 # tries without an accepted update before a forward skip
    layer_seconds: Optional[float] = None  # wall-clock limit per layer visit (not reproducible)
    cache_keep_last: Optional[int] = 64   # sum-cache records kept per neuron


@dataclass
class ForwardPipelineSchema:
    direction: Direction = Direction.forward
    premodulo: int = 0                    # fixed premodulo; 0 = no premodulo step
    schedule: bool = False                # premodulo from the success rate instead
    premodulo_min: int = 2
    premodulo_max: int = 65536
    threshold: float = 0.9                # below: random branches; above: a random layer
    pairs: bool = False
    capacity_control: bool = False        # premodulo/threshold per neuron from capacity/ (ablation)
    use_selection: bool = False           # branch neurons from selection/ instead of uniform (ablation)


# -- capacity/ (mirrors train.capacity.CapacityConfig and train.throttle.ThrottleConfig) -------
@dataclass
class ThrottleSchema:
    enabled: bool = True
    window: int = 6
    flips_to_trigger: int = 2
    shrink: float = 0.5
    alpha_min: float = 0.05
    recover: float = 1.25
    settle_steps: int = 3


@dataclass
class CapacitySchema:
    enabled: bool = True                  # false: every neuron uses fixed_premodulo (ablation)
    fixed_premodulo: int = 0
    law: str = "square"
    dampening: List[str] = field(default_factory=lambda: ["clamp"])
    clamp_factor: float = 10.0
    ma_k: int = 3
    ema_alpha: float = 0.5
    percent_limit: float = 0.5
    stale_epochs: int = 5
    stale_weight: float = 0.5
    eps_factor: float = 1.0
    tau_factor: float = 0.8
    min_premodulo: int = 1
    load_factor: Optional[float] = None   # law support: premodulo = ceil(load_factor * distinct keys)
    bleach: float = 0.0                   # law support: threshold = max(1, floor(bleach * votes for 1 per key))
    throttle: ThrottleSchema = field(default_factory=ThrottleSchema)


# -- selection/ (mirrors train.selection.SelectionConfig) ---------------------------------------
@dataclass
class SelectionSchema:
    rule: str = "gold"                    # gold | random | round_robin
    eps_factor: float = 1.0               # gold zone: eps_factor*sqrt(N) < |S| < tau_factor*N
    tau_factor: float = 0.8
    explore: float = 0.0


# -- budget/ and run/ (mirror train.run.Budget, Acceptance, Validation, RunConfig) --------------
@dataclass
class BudgetSchema:
    max_updates: Optional[int] = 2000
    max_epochs: Optional[int] = None
    max_seconds: Optional[float] = None


@dataclass
class AcceptanceSchema:
    rule: str = "not_worse"               # not_worse | improve | always
    objective: str = "accuracy"           # accuracy | hamming
    require_improving_vote: bool = True
    reject_revisits: bool = True
    keep_unvoted: bool = False            # keys without votes keep the neuron's current bit
    tally: str = "flip"                   # flip (reference) | local (hidden neurons of one output bit vote its target)
    positive_weight: int = 1              # local tally: weight of a vote for 1


@dataclass
class ValidationSchema:
    every_epochs: int = 1
    patience: Optional[int] = 20
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass
class RunSchema:
    acceptance: AcceptanceSchema = field(default_factory=AcceptanceSchema)
    validation: ValidationSchema = field(default_factory=ValidationSchema)
    checkpoint_every: int = 0             # neuron updates between checkpoints (0: at the end only)
    progress: Optional[bool] = None       # progress bar; null: only on a terminal


# -- model/ --------------------------------------------------------------------------------------
@dataclass
class ModelSchema:
    name: str = MISSING
    layers: List[Dict[str, Any]] = MISSING   # checked by Architecture.from_spec in `validate`
    output_code: str = "modulo"             # modulo | onehot | ecoc (model/output_code.py)


# -- tracking/ -----------------------------------------------------------------------------------
@dataclass
class TrackingSchema:
    backend: Backend = Backend.mlflow
    experiment_name: str = "hashtron-lab"
    uri: Optional[str] = None             # null: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    log_models: bool = True               # model, sum cache and run record as run artifacts


# -- alerts/ (mirrors track.alerts.AlertConfig) ------------------------------------------------
@dataclass
class AlertsSchema:
    train_accuracy_max: float = 0.95      # memorization risk above this train accuracy
    stagnation_epochs: int = 3            # margin unchanged for MORE than this many epochs
    margin_tolerance: float = 1e-3        # a margin change up to this counts as unchanged
    use_oscillating_flag: bool = True     # the throttle's `oscillating` flag on decisions
    oscillation_flips: int = 3            # direction flips of a neuron's premodulo ...
    oscillation_window: int = 6           # ... within its last this-many changes
    stuck_layer_updates: Optional[int] = None  # consecutive updates in one layer; null = auto
    rules: List[str] = field(default_factory=lambda: ["memorization_risk", "margin_stagnation",
                                                      "premodulo_oscillation", "stuck_layer"])


# -- main/ (the DVC main job only) ---------------------------------------------------------------
@dataclass
class PassSchema:
    src: str = MISSING                    # the stage this pass resumes from (bootstrap or a pass)
    epochs: int = MISSING                 # backward sweeps added by this pass


@dataclass
class EvaluateSchema:
    success_margin: float = 0.0           # backward "wins" when its mean test accuracy beats forward's by more


@dataclass
class AblationSchema:
    """The 2x2x2 ablation stage (hashtron_lab/ablation.py): every workload's experiment with each
    cell's overrides, for every seed."""
    workloads: List[Any] = field(default_factory=list)   # {name, experiment, overrides: [...], capacity_on: [...]}
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    capacity_on: List[str] = field(default_factory=lambda: ["capacity=support"])
    forward_budget_factor: float = 3.0    # forward cells: this times the experiment's update budget
    forward_validation_every: int = 50    # forward cells: validate every this many epochs (branches)
    n_jobs: int = 2                       # cells trained in parallel processes


@dataclass
class MainSchema:
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    n_jobs: int = 2                       # seeds trained in parallel processes (not a stage param)
    passes: Dict[str, PassSchema] = field(default_factory=dict)
    evaluate: EvaluateSchema = field(default_factory=EvaluateSchema)
    backward: BackwardPipelineSchema = field(default_factory=BackwardPipelineSchema)
    forward: ForwardPipelineSchema = field(default_factory=ForwardPipelineSchema)


# -- g2p/ (the phonemizer that dataset=lexicon trains; mirrors g2p.Phonemizer's arguments) ----------
@dataclass
class G2PSchema:
    max_left: int = 4                     # widest window: letters left of the letter
    max_right: int = 4                    # ... and right of it
    levels: List[str] = field(default_factory=lambda: ["any", "majority", "strong"])  # RAMs per window and rank
    margin: int = 8                       # a letter's lead (votes) that silences longer windows
    max_ranks: int = 16                   # argmax groups: ranks of a letter's classes, at most
    coverage: float = 0.9999              # ... the fewest covering this share of training letters
    forward_budget: float = 1.0           # forward pipeline's updates / backward's
    em_iterations: int = 5                # our aligner, for words the lexicon does not align
    baselines: List[str] = field(default_factory=lambda: ["most_frequent", "backoff", "decision_tree", "crf",
                                                          "gruut_crf"])
    languages: Optional[List[str]] = None  # the sweep of `python -m hashtron_lab.g2p sweep` / DVC; null: installed
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    directions: List[str] = field(default_factory=lambda: ["backward", "forward"])
    n_jobs: int = 2                       # sweep processes side by side


# -- the root ------------------------------------------------------------------------------------
@dataclass
class HashtronConfig:
    seed: int = 0
    phase: Phase = Phase.debug
    run_id: Optional[str] = None
    init_from: Optional[str] = None       # continue a trained network: a Go weights file or a model.htl
    dataset: Dict[str, Any] = MISSING     # checked by the data registry in `validate`
    model: ModelSchema = MISSING
    pipeline: Any = MISSING               # typed by its option: backward_schema / forward_schema
    capacity: CapacitySchema = field(default_factory=CapacitySchema)
    selection: SelectionSchema = field(default_factory=SelectionSchema)
    budget: BudgetSchema = field(default_factory=BudgetSchema)
    run: RunSchema = field(default_factory=RunSchema)
    tracking: TrackingSchema = field(default_factory=TrackingSchema)
    alerts: AlertsSchema = field(default_factory=AlertsSchema)
    main: MainSchema = field(default_factory=MainSchema)
    ablation: AblationSchema = field(default_factory=AblationSchema)
    language: Optional[str] = None        # dataset=lexicon: the lexicon's language (gruut code, e.g. de)
    g2p: G2PSchema = field(default_factory=G2PSchema)


def register() -> None:
    """Register the schemas in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name=ROOT_SCHEMA, node=HashtronConfig)
    cs.store(group="pipeline", name="backward_schema", node=BackwardPipelineSchema)
    cs.store(group="pipeline", name="forward_schema", node=ForwardPipelineSchema)


register()


# -- library twins: the schema must mirror the dataclasses training actually reads --------------
def mirrored_fields() -> list[tuple[type, type, set[str]]]:
    """(schema, library dataclass, schema-only keys) pairs a test checks field by field."""
    from .train.backward import BackwardConfig
    from .train.capacity import CapacityConfig
    from .train.forward import ForwardConfig
    from .train.run import Acceptance, Budget, RunConfig, Validation
    from .train.selection import SelectionConfig
    from .train.throttle import ThrottleConfig
    from .track.alerts import AlertConfig

    return [
        (AlertsSchema, AlertConfig, set()),
        (CapacitySchema, CapacityConfig, {"enabled", "fixed_premodulo", "throttle"}),
        (ThrottleSchema, ThrottleConfig, set()),
        (SelectionSchema, SelectionConfig, set()),
        (BudgetSchema, Budget, set()),
        (AcceptanceSchema, Acceptance, set()),
        (ValidationSchema, Validation, set()),
        (RunSchema, RunConfig, set()),
        (BackwardPipelineSchema, BackwardConfig, {"direction"}),
        (ForwardPipelineSchema, ForwardConfig, {"direction"}),
    ]


# -- composition outside the app ------------------------------------------------------------------
def project_root(start: str | os.PathLike | None = None) -> Path:
    """The project directory: the nearest ancestor of `start` (default: the current
    directory) holding `conf/config.yaml`, else the checkout this package was installed from
    (editable install), else the current directory. (MLflow's default store uses
    ``$DVC_ROOT`` first; see `track.mlflow_sink.tracking_root`.)"""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "conf" / "config.yaml").is_file():
            return d
    pkg = Path(__file__).resolve().parents[2]
    if (pkg / "conf" / "config.yaml").is_file():
        return pkg
    return here


def conf_dir(root: str | os.PathLike | None = None) -> Path:
    """`conf/` of the project (``$HASHTRON_LAB_CONF`` overrides)."""
    env = os.environ.get("HASHTRON_LAB_CONF")
    if env:
        return Path(env).resolve()
    if root is not None:
        return Path(root).resolve() / "conf"
    here = Path(os.getcwd()).resolve()
    if (here / "conf" / "config.yaml").is_file():
        return here / "conf"
    return project_root() / "conf"


def compose(overrides: list[str] | tuple[str, ...] = (), config_dir: str | os.PathLike | None = None,
            config_name: str = "config"):
    """The composed config (an OmegaConf DictConfig, hydra node excluded) for `overrides`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    directory = Path(config_dir) if config_dir is not None else conf_dir()
    with initialize_config_dir(str(directory.resolve()), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def to_plain(cfg) -> dict:
    """A plain dict (enums as their names, interpolations resolved): what `experiment.train` takes."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    return cfg


def params_text(overrides: list[str] | tuple[str, ...] = (), root: str | os.PathLike | None = None) -> str:
    """The `params.yaml` text DVC's Hydra composition writes for `overrides` (same function)."""
    import tempfile

    from dvc.utils.hydra import compose_and_dump

    root = Path(root) if root is not None else project_root()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose_and_dump(out, str((root / "conf").resolve()), None, "config", str(root / "stages"),
                         list(overrides))
        return out.read_text(encoding="utf-8")


def write_params(overrides: list[str] | tuple[str, ...] = (), root: str | os.PathLike | None = None) -> Path:
    root = Path(root) if root is not None else project_root()
    text = params_text(overrides, root)
    path = root / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- strict typing of a composed or hand-written config -------------------------------------------
PIPELINE_SCHEMAS = {"backward": BackwardPipelineSchema, "forward": ForwardPipelineSchema}


def typed(data):
    """`data` (a dict or DictConfig, e.g. params.yaml) merged into the schema: raises
    ConfigError on an unknown key (also ones added with `+key=...`), a wrong type or an
    unknown enum value, naming the full key."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(data, DictConfig):
        data = OmegaConf.to_container(data, resolve=True, enum_to_str=True)
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    direction = (data.get("pipeline") or {}).get("direction", "backward")
    if direction not in PIPELINE_SCHEMAS:
        raise ConfigError(f"invalid config at pipeline.direction: {direction!r}; valid: {sorted(PIPELINE_SCHEMAS)}")
    base = OmegaConf.structured(HashtronConfig)
    base.pipeline = OmegaConf.structured(PIPELINE_SCHEMAS[direction])
    try:
        return OmegaConf.merge(base, data)
    except OmegaConfBaseException as e:
        raise ConfigError(f"invalid config: {e}") from None


def check(data) -> dict:
    """Typed (`typed`) and deep-checked (`validate`) plain dict of `data`."""
    return validate(to_plain(typed(data)))


def load_config(overrides: list[str] | tuple[str, ...] = (), config_dir: str | os.PathLike | None = None) -> dict:
    """Compose `conf/` with `overrides` and check it: the plain dict `experiment.train` takes."""
    return check(compose(overrides, config_dir))


def read_params(path: str | os.PathLike = "params.yaml") -> dict:
    """params.yaml (written by `write_params` or `dvc exp run -S`), checked like a composition."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p} does not exist; write it with `python -m hashtron_lab params`")
    return check(yaml.safe_load(p.read_text(encoding="utf-8")))


# -- deep checks after composition -------------------------------------------------------------
class ConfigError(ValueError):
    """A composed config that types alone cannot reject; the message names the key and the fix."""


def validate(cfg: dict) -> dict:
    """Check what the schema cannot (dataset keys, layers, value ranges) by building the
    library's own settings objects, which hold the rules; raise ConfigError naming the key, the
    bad value and the allowed range. Returns `cfg`."""
    from .data.registry import COMMON_KEYS, DATASETS, check_config, loader_params
    from .experiment import make_pipeline, run_config
    from .model.architecture import Architecture
    from .settings import SettingError, from_mapping
    from .train.run import Acceptance, Budget, RunConfig, Validation, check_run_ends

    def fail(where: str, problem):
        raise ConfigError(f"invalid config at {where}: {problem}") from None

    def build(where: str, make, rekey: tuple[str, str] | None = None):
        """make(); a SettingError names its own key (re-rooted by `rekey`), other errors `where`."""
        try:
            return make()
        except SettingError as e:
            key = e.key
            if rekey and key.startswith(rekey[0]):
                key = rekey[1] + key[len(rekey[0]):]
            fail(key, e.detail)
        except (ValueError, TypeError, NotImplementedError) as e:
            fail(where, e)

    ds = cfg.get("dataset") or {}
    name = ds.get("name")
    if name not in DATASETS:
        fail("dataset.name", f"unknown dataset {name!r}; valid: {sorted(DATASETS)}")
    valid = set(COMMON_KEYS) | set(loader_params(name))
    unknown = sorted(set(ds) - valid)
    if unknown:
        fail("dataset", f"unknown key(s) {unknown} for dataset {name!r}; valid keys: {sorted(valid)}")
    build("dataset", lambda: check_config(ds))
    arch = build("model", lambda: Architecture.from_spec(cfg["model"]))
    if cfg.get("init_from") is not None and not Path(str(cfg["init_from"])).expanduser().is_file():
        fail("init_from", f"{cfg['init_from']!r} is not a file; give the path of a Go weights file (zlib) or a "
                          f"hashtron-lab model (model.htl) trained with model={cfg['model'].get('name', '?')} "
                          f"({arch.widths})")
    direction = (cfg.get("pipeline") or {}).get("direction")
    build(f"pipeline ({direction}) / capacity / selection", lambda: make_pipeline(cfg))
    rc = build("run", lambda: RunConfig.from_dict(run_config(cfg)))
    budget = build("budget", lambda: from_mapping(Budget, rc.budget, "budget"))
    build("run.acceptance", lambda: from_mapping(Acceptance, rc.acceptance, "run.acceptance"))
    valcfg = build("run.validation", lambda: from_mapping(Validation, rc.validation, "run.validation"))
    build("budget", lambda: check_run_ends(budget, valcfg))
    from .track.alerts import AlertConfig

    build("alerts", lambda: AlertConfig.from_dict(cfg.get("alerts")))
    if cfg.get("g2p") is not None:  # the phonemizer dataset=lexicon trains, and the G2P sweep
        from .g2p.settings import check_group

        build("g2p", lambda: check_group(cfg["g2p"]))
    main = cfg.get("main") or {}
    for d in ("backward", "forward"):
        if d in main:
            build(f"main.{d}", lambda: make_pipeline({**cfg, "pipeline": main[d]}), ("pipeline.", f"main.{d}."))
    passes = main.get("passes") or {}
    names = ["bootstrap", *passes]
    for key, p in passes.items():
        if p["src"] not in names or names.index(p["src"]) >= names.index(key):
            fail(f"main.passes.{key}.src", f"{p['src']!r} is not an earlier pass; chain passes as "
                                          f"bootstrap -> {' -> '.join(passes)}")
        if p["epochs"] < 1:
            fail(f"main.passes.{key}.epochs", f"{p['epochs']!r} is out of range; allowed: an integer >= 1")
    if passes and "last" not in passes:
        fail("main.passes", "the final pass must be named 'last' (evaluate reads runs/backward/last)")
    if not main.get("seeds", [0]):
        fail("main.seeds", "give at least one seed")
    for i, seed in enumerate(main.get("seeds") or []):
        build(f"main.seeds[{i}]", lambda: RunConfig(seed=seed), ("seed", f"main.seeds[{i}]"))
    if "n_jobs" in main and (isinstance(main["n_jobs"], bool) or not isinstance(main["n_jobs"], int)
                             or main["n_jobs"] < 1):
        fail("main.n_jobs", f"{main['n_jobs']!r} is out of range; allowed: an integer >= 1")
    margin = (main.get("evaluate") or {}).get("success_margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= margin <= 1.0:
        fail("main.evaluate.success_margin", f"{margin!r} is out of range; allowed: a number in [0, 1] "
                                             f"(a difference of accuracies)")
    return cfg


def field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}
