"""The settings tree: one typed object for everything the run path, the Hydra app and the DVC
stages read.

Every group is the dataclass of the code that uses it, which declares its fields, defaults and
allowed ranges once (``settings.ranged`` / ``one_of``):

    seed, phase, run_id, init_from   `Settings` (here)
    dataset     an open mapping: the loader's keyword arguments and the common keys, checked by
                `data.registry.check_config` (`check`)
    model       `ModelSpec` (model/architecture.py)
    pipeline    `BackwardConfig` (train/backward.py) or `ForwardConfig` (train/forward.py), by `direction`
    capacity    `CapacityConfig` (train/capacity.py), its `throttle` a `ThrottleConfig` (train/throttle.py)
    selection   `SelectionConfig` (train/selection.py)
    gold_zone   `GoldZone` (train/gold_zone.py): the one band selection, the capacity regimes,
                MLflow and the reports use
    budget, run `Budget`, `RunConfig` (train/run.py)
    tracking    `TrackingConfig` (track/mlflow_sink.py)
    alerts      `AlertConfig` (track/alerts.py)
    main        `MainConfig` (stages/): the DVC main job
    ablation    `AblationConfig` (ablation.py)
    language, g2p  dataset=lexicon's language and `G2PConfig` (g2p/settings.py): the phonemizer
                and its sweep

`conf/` only selects options and overrides values: `config_schema` registers these classes with
Hydra, so a composition is typed by them. `Settings.from_dict` builds the tree from a composed or
hand-written mapping (params.yaml), rejecting unknown keys and values out of range with the full
key; `check` adds what needs more than one field (the dataset's keys, the architecture, a run that
can end).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .ablation import AblationConfig
from .data.splits import dataset_defaults
from .g2p.settings import G2PConfig
from .model.architecture import Architecture, ModelSpec
from .settings import SettingError, check_fields, from_mapping, one_of, seed_field, to_mapping
from .stages import MainConfig
from .track.alerts import AlertConfig
from .track.git_info import PHASES
from .track.mlflow_sink import TrackingConfig
from .train.backward import BackwardConfig
from .train.capacity import CapacityConfig
from .train.forward import ForwardConfig
from .train.gold_zone import GoldZone
from .train.run import Budget, RunConfig, RunSetup, check_run_ends
from .train.selection import SelectionConfig

#: pipeline.direction -> the dataclass of that pipeline's settings
PIPELINES = {"backward": BackwardConfig, "forward": ForwardConfig}


class ConfigError(ValueError):
    """A settings tree that cannot be used; the message names the key, the value and the fix."""


@dataclass
class Settings:
    seed: int = seed_field()
    phase: str = one_of("debug", PHASES)  # debug | pilot | frozen (frozen refuses uncommitted inputs)
    run_id: str | None = None              # None: one is made per run
    init_from: str | None = None           # continue a trained network: a Go weights file or a model.htl
    dataset: dict[str, Any] = field(default_factory=dataset_defaults)  # + name, the loader's keys, encoding
    model: ModelSpec = field(default_factory=ModelSpec)
    # BackwardConfig | ForwardConfig, chosen by `direction` (None: the backward pipeline's defaults;
    # typed per option in conf/pipeline/, so Hydra sees `Any` here)
    pipeline: Any = None
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    gold_zone: GoldZone = field(default_factory=GoldZone)
    budget: Budget = field(default_factory=Budget)
    run: RunConfig = field(default_factory=RunConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    main: MainConfig = field(default_factory=MainConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    language: str | None = None            # dataset=lexicon: the lexicon's language (gruut code, e.g. de)
    g2p: G2PConfig = field(default_factory=G2PConfig)

    def __post_init__(self):
        if self.pipeline is None:
            self.pipeline = BackwardConfig()
        check_fields(self)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Settings":
        """The tree from a mapping (a composition, params.yaml, a dict in code). Raises ConfigError
        naming the full key of an unknown key or a value out of range."""
        data = dict(plain(data) or {})
        try:
            if isinstance(data.get("pipeline"), Mapping):
                data["pipeline"] = pipeline_settings(data["pipeline"])
            return from_mapping(cls, data)
        except SettingError as e:
            raise ConfigError(f"invalid config at {e.key}: {e.detail}") from None
        except ValueError as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"invalid config: {e}") from None

    def to_dict(self) -> dict:
        """Plain dicts and lists (what a run record and MLflow keep)."""
        return to_mapping(self)

    # -- views ---------------------------------------------------------------------------------
    @property
    def direction(self) -> str:
        return self.pipeline.direction

    def architecture(self) -> Architecture:
        return self.model.build()

    def run_setup(self, checkpoint_path: str | None = None) -> RunSetup:
        """What the `Run` of these settings reads."""
        return RunSetup(seed=self.seed, budget=copy.deepcopy(self.budget), run=copy.deepcopy(self.run),
                        checkpoint_path=checkpoint_path)

    def for_run(self, direction: str | None = None, seed: int | None = None, **changes: Any) -> "Settings":
        """A copy for one run of the main job: its pipeline from ``main.<direction>`` (when given),
        its seed, and any other top-level `changes` (e.g. ``run_id=...``)."""
        out = copy.deepcopy(self)
        if direction is not None:
            out.pipeline = copy.deepcopy(getattr(self.main, direction))
        if seed is not None:
            out.seed = int(seed)
        return replace(out, **changes) if changes else out


def plain(data: Any) -> Any:
    """An OmegaConf node, a dataclass or a mapping as plain dicts and lists (enums as values)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        DictConfig = ListConfig = ()
    if isinstance(data, (DictConfig, ListConfig)):
        return OmegaConf.to_container(data, resolve=True, enum_to_str=True)
    return to_mapping(data)


def pipeline_settings(data: Mapping[str, Any] | None, where: str = "pipeline"):
    """`BackwardConfig` or `ForwardConfig`, as ``direction`` (default backward) says."""
    data = dict(data or {})
    direction = data.get("direction", "backward")
    if direction not in PIPELINES:
        raise SettingError(f"{where}.direction", direction, "one of " + ", ".join(PIPELINES), absolute=True,
                           problem="is not a valid choice")
    return from_mapping(PIPELINES[direction], data, where)


def check(settings: Settings) -> Settings:
    """The checks one field cannot make alone, for a tree that trains from a dataset config (the
    Hydra app, the stages): the dataset's keys and values, the architecture, the `init_from`
    file, a run that can end. Raises ConfigError naming the key; returns `settings`."""
    from .data.registry import COMMON_KEYS, DATASETS, check_config, loader_params

    def fail(where: str, problem) -> None:
        raise ConfigError(f"invalid config at {where}: {problem}") from None

    ds = settings.dataset
    name = ds.get("name")
    if name not in DATASETS:
        fail("dataset.name", f"unknown dataset {name!r}; valid: {sorted(DATASETS)}")
    valid = set(COMMON_KEYS) | set(loader_params(name))
    unknown = sorted(set(ds) - valid)
    if unknown:
        fail("dataset", f"unknown key(s) {unknown} for dataset {name!r}; valid keys: {sorted(valid)}")
    try:
        check_config(ds)
    except ValueError as e:
        fail("dataset", e)
    try:
        arch = settings.architecture()
    except ValueError as e:
        fail("model", e)
    if settings.init_from is not None and not Path(str(settings.init_from)).expanduser().is_file():
        fail("init_from", f"{settings.init_from!r} is not a file; give the path of a Go weights file (zlib) or a "
                          f"hashtron-lab model (model.htl) trained with model={settings.model.name} ({arch.widths})")
    try:
        check_run_ends(settings.budget, settings.run.validation)
    except SettingError as e:
        fail(e.key, e.detail)
    return settings
