"""Event hooks: the training loop emits, sinks (MLflow, alerts, progress) subscribe.

The loop never imports a sink; a sink is any callable `(kind: str, payload: dict) -> None`.
Kinds: run_start (or resume), import_tally (init_from), update, decision, epoch, skip, checkpoint,
early_stop, alert, run_end.
"""
from __future__ import annotations

from typing import Callable

Sink = Callable[[str, dict], None]


class Hooks:
    def __init__(self, sinks: list[Sink] | None = None):
        self._sinks: list[Sink] = list(sinks or [])

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, kind: str, payload: dict) -> None:
        for sink in self._sinks:
            sink(kind, payload)


class Recorder:
    """A sink that keeps every event in memory (tests, reports)."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def __call__(self, kind: str, payload: dict) -> None:
        self.events.append((kind, dict(payload)))

    def of(self, kind: str) -> list[dict]:
        return [p for k, p in self.events if k == kind]
