"""Small typed settings objects built from plain dicts (what Hydra composes), rejecting unknown keys."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from `data`; a misspelled key fails naming it and the valid keys."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        label = where or cls.__name__
        raise ValueError(f"unknown key(s) {unknown} in {label}; valid keys: {sorted(names)}")
    return cls(**data)
