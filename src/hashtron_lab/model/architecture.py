"""Network architecture as data: a list of hashtron layers and combiners.

The spec is what a Hydra config (`conf/model/*.yaml`) holds, e.g.::

    layers:
      - {type: hashtron, neurons: 80, premodulo: 1024}
      - {type: majpool2d, width: 80, height: 1, subwidth: 1, subheight: 1,
         capwidth: 4, capheight: 1, repeat: 1, bias: 0}
      - {type: hashtron, neurons: 5, premodulo: 65536}
      - {type: full, size: 5, bits: 1, maxbits: 1}

Validation happens here, once, so kernels can trust the arrays they get.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from ..settings import check_fields, one_of
from .output_code import CODES, DEFAULT_CODE

# Combiner kind codes shared with kernels/network.py.
NONE, MAJPOOL2D, FULL, SUM, PARITY, ARGMAX = 0, 1, 2, 3, 4, 5
COMBINER_CODES = {"majpool2d": MAJPOOL2D, "full": FULL, "sum": SUM, "parity": PARITY, "argmax": ARGMAX}
COMBINER_KEYS = {
    "majpool2d": ("width", "height", "subwidth", "subheight", "capwidth", "capheight", "repeat", "bias"),
    "full": ("size", "bits", "maxbits"),
    "sum": ("dims", "axis"),
    "parity": (),
    "argmax": ("groups",),
}
HASHTRON_KEYS = ("neurons", "premodulo")
MAX_OUTPUT_BITS = 16
N_PARAMS = 9  # width of the combiner parameter table
GROUPS = 4    # argmax: its group count sits in this column of the parameter row


class ArchitectureError(ValueError):
    """A malformed architecture spec; the message names the item and the fix."""


@dataclass(frozen=True)
class Layer:
    neurons: int
    premodulo: int = 0


@dataclass(frozen=True)
class Combiner:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> int:
        return COMBINER_CODES[self.kind]

    def n_cells(self, prev_width: int) -> int:
        """Size of the cell vector this combiner holds."""
        p = self.params
        if self.kind == "majpool2d":
            return p["width"] * p["height"] * p["subwidth"] * p["subheight"] * p["repeat"]
        if self.kind == "full":
            return p["size"]
        if self.kind == "sum":
            return int(np.prod(p["dims"]))
        return prev_width

    def param_row(self, prev_width: int) -> np.ndarray:
        """Fixed-width int64 row for the kernels: [sub, bias, taps per feature, matrix, 0.., n_cells]."""
        p = self.params
        row = np.zeros(N_PARAMS, dtype=np.int64)
        if self.kind == "majpool2d":
            sub = p["subwidth"] * p["subheight"]
            row[:4] = [sub, p["bias"], p["capwidth"] * p["capheight"] * sub, p["width"] * p["height"] * sub]
        elif self.kind == "full":
            row[:3] = [1, 0, p["maxbits"]]
        elif self.kind == "sum":
            row[:3] = [1, 0, list(p["dims"])[p["axis"]]]
        elif self.kind == "argmax":
            row[:3] = [1, 0, self.n_cells(prev_width)]
            row[GROUPS] = p["groups"]
        else:
            row[:3] = [1, 0, self.n_cells(prev_width)]
        row[N_PARAMS - 1] = self.n_cells(prev_width)
        return row

    def taps(self, prev_width: int, n_features: int) -> np.ndarray:
        """Cell indices each feature reads, one row per feature (DESIGN §2); a row of -1 is the feature 0.

        Precomputing them keeps integer division out of the kernels' inner loops.
        """
        p = self.params
        n_cells = self.n_cells(prev_width)
        rows = []
        for m in range(n_features):
            if self.kind == "majpool2d":
                w, h, sw, sh = p["width"], p["height"], p["subwidth"], p["subheight"]
                cw, ch = p["capwidth"], p["capheight"]
                sub = sw * sh
                matrix = w * h * sub
                base = (m // matrix) * matrix
                q = (m % matrix) // sub
                startx, starty = (q % w) * cw, (q // w) * ch
                row = [
                    base + sub * (w * ((starty + y) % h) + (startx + x) % w) + sw * my + mx
                    for y in range(ch) for x in range(cw) for my in range(sh) for mx in range(sw)
                ]
                if max(row) >= n_cells:
                    row = [-1] * len(row)
            elif self.kind == "full":
                start = m * p["bits"]
                row = list(range(start, start + p["maxbits"]))
                if start + p["maxbits"] > p["size"]:
                    row = [-1] * len(row)
            elif self.kind == "sum":
                dims, axis = list(p["dims"]), p["axis"]
                d, step = dims[axis], int(np.prod(dims[:axis])) if axis > 0 else 1
                row = [(m * d + j * step) % n_cells for j in range(d)]
            else:
                row = list(range(n_cells))
            rows.append(row)
        return np.array(rows, dtype=np.int32).reshape(n_features, -1)

    def disregards(self) -> bool:
        return self.kind == "majpool2d"


@dataclass(frozen=True)
class Architecture:
    """Validated sequence: hashtron layer, optional combiner, hashtron layer, ..."""

    layers: tuple[Layer, ...]
    combiners: tuple[Combiner | None, ...]  # combiners[l] follows layers[l]; None after the last one only
    output_code: str = DEFAULT_CODE          # how classes map to outputs: see model/output_code.py

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @cached_property
    def widths(self) -> list[int]:
        """Neurons per layer (computed once: the training loops read it per update). Read only."""
        return [layer.neurons for layer in self.layers]

    @property
    def n_neurons(self) -> int:
        return sum(self.widths)

    @property
    def output_is_direct(self) -> bool:
        """True when the last hashtron layer is the very last item (each neuron gives one output bit)."""
        return self.combiners[-1] is None

    @property
    def output_bits(self) -> int:
        return min(self.layers[-1].neurons, MAX_OUTPUT_BITS)

    @property
    def n_input_features(self) -> int:
        """How many input features layer 1 reads."""
        return 1 if (self.n_layers == 1 and self.output_is_direct) else self.layers[0].neurons

    def to_spec(self) -> dict:
        items: list[dict] = []
        for layer, comb in zip(self.layers, self.combiners):
            items.append({"type": "hashtron", "neurons": layer.neurons, "premodulo": layer.premodulo})
            if comb is not None:
                items.append({"type": comb.kind, **{k: _plain(v) for k, v in comb.params.items()}})
        spec: dict = {"layers": items}
        if self.output_code != DEFAULT_CODE:
            spec["output_code"] = self.output_code
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> "Architecture":
        items = spec.get("layers") if isinstance(spec, Mapping) else spec
        if isinstance(spec, Mapping):
            extra = set(spec) - {"layers", "name", "output_code"}
            if extra:
                raise ArchitectureError(
                    f"unknown architecture key(s) {sorted(extra)}; a model config holds 'name', 'layers' "
                    "and 'output_code'"
                )
        if not items:
            raise ArchitectureError("architecture has no layers; give at least one {type: hashtron, neurons: N}")
        layers: list[Layer] = []
        combiners: list[Combiner | None] = []
        for idx, raw in enumerate(items):
            item = dict(raw)
            kind = item.pop("type", None)
            where = f"architecture item {idx} ({kind!r})"
            if kind == "hashtron":
                _check_keys(item, HASHTRON_KEYS, where, required=("neurons",))
                neurons, prem = item["neurons"], item.get("premodulo", 0) or 0
                if not isinstance(neurons, (int, np.integer)) or neurons < 1:
                    raise ArchitectureError(f"{where}: neurons must be a positive integer, got {neurons!r}")
                if not isinstance(prem, (int, np.integer)) or not 0 <= prem < 2**32:
                    raise ArchitectureError(f"{where}: premodulo must be an integer in [0, 2^32), got {prem!r}")
                if len(layers) > len(combiners):
                    raise ArchitectureError(f"{where}: two hashtron layers in a row; put a combiner between them")
                layers.append(Layer(int(neurons), int(prem)))
            elif kind in COMBINER_CODES:
                if len(layers) == len(combiners):
                    raise ArchitectureError(f"{where}: a combiner must follow a hashtron layer")
                _check_keys(item, COMBINER_KEYS[kind], where, required=COMBINER_KEYS[kind])
                comb = Combiner(kind, item)
                _check_combiner(comb, layers[-1].neurons, where)
                combiners.append(comb)
            else:
                raise ArchitectureError(
                    f"{where}: unknown type; expected one of {['hashtron', *COMBINER_CODES]}"
                )
        if len(combiners) < len(layers):
            combiners.append(None)
        code = spec.get("output_code", DEFAULT_CODE) if isinstance(spec, Mapping) else DEFAULT_CODE
        if code not in CODES:
            raise ArchitectureError(f"output_code must be one of {CODES}, got {code!r}")
        return cls(tuple(layers), tuple(combiners), code)


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v]
    return int(v)


def _check_keys(item: Mapping, allowed: Sequence[str], where: str, required: Sequence[str] = ()) -> None:
    unknown = set(item) - set(allowed)
    if unknown:
        raise ArchitectureError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {list(allowed)}")
    missing = [k for k in required if k not in item]
    if missing:
        raise ArchitectureError(f"{where}: missing key(s) {missing}")


def _check_combiner(comb: Combiner, prev_width: int, where: str) -> None:
    p = comb.params
    for k, v in p.items():
        vals = v if isinstance(v, (list, tuple)) else [v]
        for x in vals:
            if not isinstance(x, (int, np.integer)):
                raise ArchitectureError(f"{where}: {k} must be integer(s), got {v!r}")
    if comb.kind == "majpool2d":
        for k in ("width", "height", "subwidth", "subheight", "capwidth", "capheight", "repeat"):
            if p[k] < 1:
                raise ArchitectureError(f"{where}: {k} must be >= 1, got {p[k]}")
        if p["capwidth"] * p["capheight"] > 32:
            raise ArchitectureError(f"{where}: capwidth*capheight must be <= 32 (bits of one feature)")
    elif comb.kind == "full":
        if p["size"] < 1 or p["bits"] < 1 or not 1 <= p["maxbits"] <= 32:
            raise ArchitectureError(f"{where}: need size >= 1, bits >= 1, 1 <= maxbits <= 32")
    elif comb.kind == "sum":
        dims = list(p["dims"])
        if not dims or any(d < 1 for d in dims) or not 0 <= p["axis"] < len(dims):
            raise ArchitectureError(f"{where}: dims must be positive and 0 <= axis < len(dims)")
    elif comb.kind == "argmax":
        g = p["groups"]
        if g < 2 or prev_width % g:
            raise ArchitectureError(
                f"{where}: groups must be >= 2 and divide the {prev_width} neurons before it into equal groups, got {g}"
            )
    if comb.n_cells(prev_width) < prev_width:
        raise ArchitectureError(
            f"{where}: holds {comb.n_cells(prev_width)} cells but the layer before it has {prev_width} "
            "neurons; make the combiner at least as large as that layer"
        )


@dataclass
class ModelSpec:
    """The settings tree's `model` group: an architecture as data (conf/model/<name>.yaml)."""

    name: str = "custom"
    layers: list[dict] = field(default_factory=list)   # hashtron layers and combiners, checked by `build`
    output_code: str = one_of(DEFAULT_CODE, CODES)

    def __post_init__(self):
        check_fields(self)

    def build(self) -> Architecture:
        return Architecture.from_spec({"layers": self.layers, "output_code": self.output_code})
def default_architecture(n_features: int, n_classes: int) -> Architecture:
    """A default shaped to the data: one neuron per input feature, their bits packed 8 at a time
    into the keys of 16 output neurons, whose bits are an ECOC codeword (nearest-code decoding).
    Packed keys give hidden neurons votes on many samples, and 16 ECOC bits correct a few wrong
    ones (docs/accuracy.md: this family did best on digits and breast cancer)."""
    bits = MAX_OUTPUT_BITS
    if n_classes > 2 ** bits:
        raise ArchitectureError(f"{n_classes} classes need more than {bits} output bits")
    if n_features < 1:
        raise ArchitectureError("need at least one input feature")
    return Architecture.from_spec({"output_code": "ecoc", "layers": [
        {"type": "hashtron", "neurons": n_features, "premodulo": 0},
        {"type": "majpool2d", "width": n_features, "height": 1, "subwidth": 1, "subheight": 1,
         "capwidth": min(8, n_features), "capheight": 1, "repeat": 1, "bias": 0},
        {"type": "hashtron", "neurons": bits, "premodulo": 0},
        {"type": "full", "size": bits, "bits": 1, "maxbits": 1},
    ]})
