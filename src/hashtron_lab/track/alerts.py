"""Alerts on a training run (seed 000 "alerting", DESIGN §8): a sink that watches the events.

:class:`AlertMonitor` is a Hooks sink. Call it with every event ``(kind, payload)``; when a
rule fires it calls ``emit("alert", {...})`` — once per condition: once per run for
memorization risk, once per neuron or layer for the others. Rules (thresholds in
:class:`AlertConfig`):

``memorization_risk``
    train accuracy (of an ``update`` or ``epoch`` event) above ``train_accuracy_max``.
``margin_stagnation``
    a neuron's margin (|S|/N of its tally, from ``update`` events) or a layer's margin (the
    mean of the latest margins of its tallied neurons, taken at each ``epoch`` event) has not
    moved by more than ``margin_tolerance`` for more than ``stagnation_epochs`` epochs.
``premodulo_oscillation``
    a ``decision`` event flagged ``oscillating`` by the throttle (``use_oscillating_flag``),
    or a neuron whose premodulo changes (from its ``update`` events) flipped direction at
    least ``oscillation_flips`` times within its last ``oscillation_window`` changes.
``stuck_layer``
    more than ``stuck_layer_updates`` consecutive updates in one layer. ``None`` (default)
    means ``max(100, 2 × widest layer)`` once a ``run_start`` event gave the architecture
    (the forward pipeline trains a whole layer in one pass), else 100.

An alert payload: ``kind`` (the rule), ``message``, ``epoch``, ``update``, ``value``,
``threshold``, and ``layer`` and/or ``neuron_id`` when the rule concerns one.

Other sinks here: :class:`ConsoleAlerts` (alerts → ``logging`` warnings, optionally
``warnings.warn``); MLflow tags alerts in `track.mlflow_sink`. With :func:`alerts_from_record`
a run record on disk is replayed through the monitor (reports).
"""
from __future__ import annotations

import logging
import math
import os
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..settings import SettingError, check_fields, from_mapping, ranged

RULES = ("memorization_risk", "margin_stagnation", "premodulo_oscillation", "stuck_layer")

logger = logging.getLogger("hashtron_lab.alerts")


class AlertWarning(UserWarning):
    """Category of the warnings :class:`ConsoleAlerts` issues with ``warn=True``."""


@dataclass
class AlertConfig:
    """The settings tree's `alerts` group (evaluation only: changing it retrains nothing)."""

    train_accuracy_max: float = ranged(0.95, 0, 1)           # memorization risk above this train accuracy
    stagnation_epochs: int = ranged(3, 0, integer=True)      # margin unchanged for MORE than this many epochs
    margin_tolerance: float = ranged(1e-3, 0)                # a margin change up to this counts as unchanged
    use_oscillating_flag: bool = True                        # the throttle's `oscillating` flag on decisions
    oscillation_flips: int = ranged(3, 1, integer=True)      # direction flips of a neuron's premodulo ...
    oscillation_window: int = ranged(6, 2, integer=True, note="a flip needs two changes")  # ... in this many changes
    # consecutive updates in one layer; None = max(100, 2 x widest layer)
    stuck_layer_updates: int | None = ranged(None, 1, integer=True, optional=True, note="null = auto")
    rules: list[str] = field(default_factory=lambda: list(RULES))  # the rules that are on

    def __post_init__(self):
        check_fields(self)
        if self.oscillation_flips > self.oscillation_window - 1:
            raise SettingError("oscillation_flips", self.oscillation_flips,
                               f"an integer in [1, oscillation_window-1 = {self.oscillation_window - 1}]")
        if isinstance(self.rules, str):
            self.rules = [self.rules]
        self.rules = list(self.rules)
        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            raise SettingError("rules", unknown, "a list of " + ", ".join(RULES), problem="names unknown rules")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "AlertConfig":
        return from_mapping(cls, d, "alerts")


class _Steady:
    """A value with the epoch it last moved by more than the tolerance."""

    __slots__ = ("value", "since")

    def __init__(self, value: float, epoch: int):
        self.value, self.since = value, epoch


def _widths(spec: Any) -> list[int]:
    items = spec.get("layers", []) if isinstance(spec, Mapping) else (spec or [])
    return [int(it["neurons"]) for it in items if isinstance(it, Mapping) and it.get("type") == "hashtron"]


class AlertMonitor:
    """A Hooks sink raising alerts; ``alerts`` keeps every alert it emitted, in order."""

    def __init__(self, config: AlertConfig | Mapping[str, Any] | None = None,
                 emit: Callable[[str, dict], None] | None = None):
        self.cfg = config if isinstance(config, AlertConfig) else AlertConfig.from_dict(config)
        self.emit = emit
        self.alerts: list[dict] = []
        self.stuck_limit = self.cfg.stuck_layer_updates if self.cfg.stuck_layer_updates is not None else 100
        self._fired: set[tuple] = set()
        self._epoch = 0
        self._update = -1
        self._neuron_margin: dict[str, _Steady] = {}
        self._latest: dict[int, dict[str, float]] = {}   # layer -> neuron_id -> latest margin
        self._layer_margin: dict[int, _Steady] = {}
        self._premodulo: dict[str, int] = {}
        self._directions: dict[str, deque] = {}
        self._run_layer: int | None = None
        self._run_length = 0

    # -- the sink ------------------------------------------------------------------
    def __call__(self, kind: str, payload: dict) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(payload)

    def _on_run_start(self, p: dict) -> None:
        widths = _widths(p.get("architecture"))
        if self.cfg.stuck_layer_updates is None and widths:
            self.stuck_limit = max(100, 2 * max(widths))

    def _on_update(self, p: dict) -> None:
        self._update = int(p.get("update", self._update + 1))
        self._epoch = int(p.get("epoch", self._epoch))
        layer, nid = p.get("layer"), p.get("neuron_id")
        if nid is None and layer is not None and p.get("neuron") is not None:
            nid = f"{layer}.{p['neuron']}"
        acc = p.get("train_accuracy")
        if acc is not None:
            self._check_accuracy(float(acc), "update")
        margin = p.get("margin")
        if margin is not None and nid is not None and _finite(margin):
            self._latest.setdefault(int(layer), {})[nid] = float(margin)
            self._steady("neuron", nid, float(margin), layer=int(layer))
        if nid is not None and p.get("premodulo") is not None:
            self._premodulo_change(nid, int(p["premodulo"]), layer)
        if layer is not None:
            self._stuck(int(layer))

    def _on_decision(self, p: dict) -> None:
        if not (self.cfg.use_oscillating_flag and p.get("oscillating")):
            return
        nid = p.get("neuron_id") or f"{p.get('layer')}.{p.get('pos')}"
        self._fire("premodulo_oscillation", ("neuron", nid),
                   f"premodulo of neuron {nid} oscillates (throttle flag; alpha={p.get('alpha', 1.0):.3g}, "
                   f"premodulo {p.get('previous')} -> {p.get('final')})",
                   value=p.get("alpha"), threshold=None, layer=p.get("layer"), neuron_id=nid,
                   epoch=p.get("epoch", self._epoch), update=p.get("update", self._update))

    def _on_epoch(self, p: dict) -> None:
        acc = p.get("train_accuracy")
        epoch = int(p.get("epoch", self._epoch + 1))
        if acc is not None:
            self._check_accuracy(float(acc), "epoch", epoch=epoch)
        for layer in sorted(self._latest):
            vals = self._latest[layer].values()
            self._steady("layer", layer, sum(vals) / len(vals), layer=layer, epoch=epoch)

    # -- rules ---------------------------------------------------------------------
    def _check_accuracy(self, acc: float, where: str, epoch: int | None = None) -> None:
        if acc > self.cfg.train_accuracy_max:
            self._fire("memorization_risk", ("run",),
                       f"train accuracy {acc:.4f} > {self.cfg.train_accuracy_max:.4f}: memorization risk",
                       value=acc, threshold=self.cfg.train_accuracy_max,
                       epoch=self._epoch if epoch is None else epoch, update=self._update)

    def _steady(self, what: str, key, value: float, layer: int | None, epoch: int | None = None) -> None:
        epoch = self._epoch if epoch is None else epoch
        table = self._neuron_margin if what == "neuron" else self._layer_margin
        st = table.get(key)
        if st is None or abs(value - st.value) > self.cfg.margin_tolerance:
            table[key] = _Steady(value, epoch)
            return
        span = epoch - st.since
        if span > self.cfg.stagnation_epochs:
            label = f"neuron {key}" if what == "neuron" else f"layer {key} (mean of its neurons' latest margins)"
            extra = {"neuron_id": key} if what == "neuron" else {}
            self._fire("margin_stagnation", (what, key),
                       f"margin of {label} unchanged at {value:.4f} (±{self.cfg.margin_tolerance:g}) for {span} epochs "
                       f"(> {self.cfg.stagnation_epochs})",
                       value=value, threshold=self.cfg.stagnation_epochs, layer=layer, epoch=epoch,
                       update=self._update, epochs_unchanged=span, **extra)

    def _premodulo_change(self, nid: str, premodulo: int, layer) -> None:
        prev = self._premodulo.get(nid)
        self._premodulo[nid] = premodulo
        if prev is None or premodulo == prev:
            return
        dirs = self._directions.setdefault(nid, deque(maxlen=self.cfg.oscillation_window))
        dirs.append(1 if premodulo > prev else -1)
        flips = sum(1 for a, b in zip(dirs, list(dirs)[1:]) if a != b)
        if flips >= self.cfg.oscillation_flips:
            self._fire("premodulo_oscillation", ("neuron", nid),
                       f"premodulo of neuron {nid} flipped direction {flips} times in its last {len(dirs)} changes "
                       f"(now {prev} -> {premodulo})",
                       value=flips, threshold=self.cfg.oscillation_flips, layer=layer, neuron_id=nid,
                       epoch=self._epoch, update=self._update)

    def _stuck(self, layer: int) -> None:
        if layer == self._run_layer:
            self._run_length += 1
        else:
            self._run_layer, self._run_length = layer, 1
        if self._run_length > self.stuck_limit:
            self._fire("stuck_layer", ("layer", layer, self._run_start_update()),
                       f"pipeline stuck in layer {layer}: {self._run_length} consecutive updates (> {self.stuck_limit})",
                       value=self._run_length, threshold=self.stuck_limit, layer=layer,
                       epoch=self._epoch, update=self._update)

    def _run_start_update(self) -> int:
        return self._update - self._run_length + 1

    # -- emission ------------------------------------------------------------------
    def _fire(self, rule: str, subject: tuple, message: str, **fields: Any) -> None:
        if rule not in self.cfg.rules:
            return
        key = (rule, *subject)
        if key in self._fired:
            return
        self._fired.add(key)
        alert = {"kind": rule, "message": message, **{k: v for k, v in fields.items() if v is not None}}
        alert.setdefault("epoch", self._epoch)
        if "value" not in alert:
            alert["value"] = None
        self.alerts.append(alert)
        if self.emit is not None:
            self.emit("alert", dict(alert))


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


# -- other sinks ----------------------------------------------------------------------
class ConsoleAlerts:
    """Alert events → the console (a ``logging`` warning on ``hashtron_lab.alerts``; Python prints
    WARNING to stderr even with logging unconfigured), aggregated per run: the first alert of each
    rule is logged when it happens, later ones of that rule are only counted, and at the run's end
    one line per repeated rule gives the count, the first and the last. A sweep used to print
    every one (391 margin_stagnation lines); all of them stay in the run record and MLflow
    (``events.json``, ``alert.<rule>`` tags). ``warn=True`` also issues an ``AlertWarning`` for
    each rule's first alert."""

    def __init__(self, log: logging.Logger | None = None, warn: bool = False):
        self.log = log or logger
        self.warn = warn
        self.by_rule: dict[str, list] = {}  # rule -> [count, first alert, last alert]

    @staticmethod
    def _where(p: Mapping[str, Any]) -> str:
        return f"epoch {p.get('epoch')}: {p.get('message')}"

    def __call__(self, kind: str, payload: dict) -> None:
        if kind == "run_start":
            self.by_rule = {}
        elif kind == "alert":
            rule = str(payload.get("kind"))
            seen = self.by_rule.get(rule)
            if seen is not None:
                seen[0] += 1
                seen[2] = payload
                return
            self.by_rule[rule] = [1, payload, payload]
            text = f"[alert {rule}] {self._where(payload)} (more {rule} alerts of this run are counted)"
            self.log.warning(text)
            if self.warn:
                warnings.warn(text, AlertWarning, stacklevel=2)
        elif kind == "run_end":
            for line in self.summary():
                self.log.warning(line)

    def summary(self) -> list[str]:
        """One line per rule that fired more than once in this run."""
        return [f"[alerts] {rule}: {n} in this run; first {self._where(first)}; last {self._where(last)}"
                for rule, (n, first, last) in sorted(self.by_rule.items()) if n > 1]


def attach(hooks, config: AlertConfig | Mapping[str, Any] | None = None, console: bool = True) -> AlertMonitor:
    """Subscribe an :class:`AlertMonitor` (emitting through ``hooks``, so other sinks such as
    MLflow see its alerts) and, with `console`, a :class:`ConsoleAlerts`."""
    monitor = AlertMonitor(config, hooks.emit)
    hooks.subscribe(monitor)
    if console:
        hooks.subscribe(ConsoleAlerts())
    return monitor


# -- replay ---------------------------------------------------------------------------
def events_of_record(record: Mapping[str, Any]) -> list[tuple[str, dict]]:
    """The event stream a run record stands for, in the order the run emitted it: run_start,
    then per update its ``update`` and ``decision`` events, ``skip`` and ``epoch`` events after
    the update that ended them, ``final`` (the returned model at the end), run_end."""
    info = record.get("info", {}) or {}
    model = (info.get("params") or {}).get("model") or {}
    spec = model.get("architecture", model) if isinstance(model, Mapping) else {}
    events: list[tuple[str, dict]] = [("run_start", {"pipeline": info.get("direction"), "seed": info.get("seed"),
                                                     "architecture": spec})]
    decisions: dict[int, list[dict]] = {}
    for d in record.get("decisions", []):
        decisions.setdefault(int(d.get("update", -1)), []).append(d)
    after: dict[int, list[tuple[str, dict]]] = {}   # updates done -> events emitted then
    for s in info.get("skips", []) or []:
        after.setdefault(int(s.get("update", 0)), []).append(("skip", s))
    for e in record.get("epochs", []):  # the run's end point (Run.record_final) is a "final" event
        after.setdefault(int(e.get("updates", 0)), []).append(("final" if e.get("final") else "epoch", e))
    events.extend(after.pop(0, []))
    for i, h in enumerate(record.get("history", [])):
        u = int(h.get("update", i))
        events.append(("update", h))
        events.extend(("decision", d) for d in decisions.pop(u, []))
        events.extend(after.pop(u + 1, []))
    for u in sorted(after):
        events.extend(after[u])
    events.append(("run_end", {"reason": (info.get("metrics") or {}).get("stop_reason")}))
    return events


def alerts_from_record(record: Mapping[str, Any] | str | os.PathLike,
                       config: AlertConfig | Mapping[str, Any] | None = None) -> list[dict]:
    """Replay a run record (a dict from ``read_run_record`` or a run directory) through an
    :class:`AlertMonitor`; the alerts it raises, in order."""
    if not isinstance(record, Mapping):
        from .records import read_run_record

        record = read_run_record(record)
    monitor = AlertMonitor(config)
    for kind, payload in events_of_record(record):
        monitor(kind, payload)
    return monitor.alerts
