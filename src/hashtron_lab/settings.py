"""Small typed settings objects built from plain dicts (what Hydra composes), rejecting unknown keys
and values out of range.

A numeric setting declares its allowed range once, on its dataclass field (``ranged(...)``), and
a choice its options (``one_of(...)``); ``check_fields`` (called from the dataclass's
``__post_init__``) enforces them, and `from_mapping` prefixes the group's key, so a bad value fails
where settings are built — Hydra composition, ``params.yaml``, the estimator — as e.g.::

    budget.max_updates = -5 is out of range; allowed: an integer >= 0, or null
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TypeVar

T = TypeVar("T")
UINT32_MAX = 2**32 - 1


class SettingError(ValueError):
    """A setting with a bad value: names the full key, the value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str, absolute: bool = False, problem: str = "is out of range"):
        self.key, self.value, self.allowed, self.absolute, self.problem = key, value, allowed, absolute, problem
        super().__init__(f"{key} = {value!r} {problem}; allowed: {allowed}")

    @property
    def detail(self) -> str:
        """The message without the key."""
        return f"{self.value!r} {self.problem}; allowed: {self.allowed}"

    def within(self, where: str) -> "SettingError":
        """The same error with the key prefixed by its group (`where`), unless the key is absolute."""
        if not where or self.absolute:
            return self
        return SettingError(f"{where}.{self.key}", self.value, self.allowed, self.absolute, self.problem)


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric setting: [lo, hi] (ends open if asked); `integer`; `optional`
    allows None; `key` overrides the field's name with an absolute config key (e.g. ``seed``)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False
    key: str | None = None
    note: str = ""

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            text = f"{kind} in {'(' if self.lo_open else '['}{_num(lo)}, {_num(hi)}{')' if self.hi_open else ']'}"
        elif lo is not None:
            text = f"{kind} {'>' if self.lo_open else '>='} {_num(lo)}"
        elif hi is not None:
            text = f"{kind} {'<' if self.hi_open else '<='} {_num(hi)}"
        else:
            text = f"a finite {'integer' if self.integer else 'number'}"
        if self.optional:
            text += ", or null"
        return text + (f" ({self.note})" if self.note else "")

    def ok(self, v: Any) -> bool:
        if v is None:
            return self.optional
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return False
        if self.integer and not isinstance(v, numbers.Integral):
            return False
        if not math.isfinite(float(v)):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        if self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi):
            return False
        return True


def ranged(default: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False, integer: bool = False, optional: bool = False, key: str | None = None,
           note: str = ""):
    """A dataclass field whose value must lie in the given range (see `Range`)."""
    r = Range(lo, hi, lo_open, hi_open, integer, optional, key, note)
    return dataclasses.field(default=default, metadata={"range": r})


def one_of(default: str, options: Sequence[str]):
    """A dataclass field whose value must be one of `options`."""
    return dataclasses.field(default=default, metadata={"choices": tuple(options)})


def check_fields(obj: Any) -> None:
    """Enforce every `ranged` / `one_of` field of dataclass instance `obj` (raise SettingError)."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        r = f.metadata.get("range")
        if r is not None and not r.ok(v):
            raise SettingError(r.key or f.name, v, r.describe(), absolute=r.key is not None)
        choices = f.metadata.get("choices")
        if choices is not None and v not in choices:
            raise SettingError(f.name, v, "one of " + ", ".join(choices), problem="is not a valid choice")


def allowed(cls: type, name: str) -> str:
    """The allowed values of field `name` of settings class `cls`, as text (for docs and messages)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if "range" in f.metadata:
        return f.metadata["range"].describe()
    if "choices" in f.metadata:
        return "one of " + ", ".join(f.metadata["choices"])
    return "any"


def seed_field():
    """The run seed: every object that takes one declares it with this field (one default)."""
    return ranged(0, 0, UINT32_MAX, integer=True, key="seed")


def nested_type(hint: Any) -> type | None:
    """The dataclass a field annotation names (also inside ``X | None``), else None."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg) and isinstance(arg, type):
                return arg
    return None


def from_mapping(cls: type[T], data: Mapping[str, Any] | T | None, where: str = "") -> T:
    """Build dataclass `cls` from `data` (nested mappings become the nested dataclasses their
    fields name); a misspelled key fails naming it and the valid keys, a value out of range
    naming `where`.key, the value and the allowed range. An instance of `cls` is returned as is."""
    if isinstance(data, cls):
        return data
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        label = where or cls.__name__
        raise ValueError(f"unknown key(s) {unknown} in {label}; valid keys: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        hint = hints[name]
        sub = nested_type(hint)
        if sub is not None and isinstance(value, Mapping):
            data[name] = from_mapping(sub, value, key)
            continue
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        item = nested_type(args[-1]) if args else None
        if item is not None and origin is dict and isinstance(value, Mapping):
            data[name] = {k: from_mapping(item, v, f"{key}.{k}") for k, v in value.items()}
        elif item is not None and origin is list and isinstance(value, (list, tuple)):
            data[name] = [from_mapping(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    try:
        return cls(**data)
    except SettingError as e:
        raise e.within(where) from None


def to_mapping(obj: Any) -> Any:
    """A settings dataclass (or a structure holding some) as plain dicts and lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_mapping(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    return obj
