"""Neuron update: tally -> {hashed key -> sign} under a premodulo -> new filter -> replace; undo restores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.filter import filter_make
from ..model.hashtron import Hashtron
from ..model.network import Network, Trace
from .tally import Tally


@dataclass
class Update:
    """A replaced neuron and what is needed to undo it exactly (the old neuron and the trace columns it changed)."""

    layer: int
    pos: int
    old: Hashtron
    new: Hashtron
    n_keys: int
    saved_from: int = 0
    saved: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def undo(self, net: Network, trace: Trace | None = None) -> None:
        net.set_neuron(self.layer, self.pos, self.old)
        if trace is not None and self.saved is not None:
            keys, cells, out = self.saved
            trace.keys[:, self.saved_from:] = keys
            trace.cells[:, self.saved_from:] = cells
            trace.out[...] = out


def build_neuron(t: Tally, salt: int, premodulo: int, keep_unvoted: bool = False) -> tuple[Hashtron, int]:
    """The neuron a tally asks for: premodulo step (salt, P), then a filter of the voted bits.

    Keys whose votes cancel are left out and answer the filter's arbitrary bit (the reference's
    rule) — unless `keep_unvoted`, where such keys keep the bit the neuron gave their samples.
    """
    keys, sums, _, kept = t.key_sums(salt, premodulo)
    bits = sums > 0
    keep = sums != 0
    if keep_unvoted:
        bits = np.where(keep, bits, kept > 0)
        keep = keep | (kept != 0)
    filt = filter_make(np.ascontiguousarray(keys[keep]), bits[keep].astype(np.uint8))
    program = [(int(salt), int(premodulo))] if premodulo > 0 else []
    return Hashtron(program=program, filter=filt), int(keep.sum())


def apply_update(net: Network, trace: Trace | None, t: Tally, salt: int, premodulo: int,
                 keep_unvoted: bool = False) -> Update:
    """Replace the tallied neuron and refresh the trace from its layer on."""
    new, n_keys = build_neuron(t, salt, premodulo, keep_unvoted)
    up = Update(t.layer, t.pos, net.neuron(t.layer, t.pos), new, n_keys)
    if trace is not None:
        f = int(net.first[t.layer])
        up.saved_from = f
        up.saved = (trace.keys[:, f:].copy(), trace.cells[:, f:].copy(), trace.out.copy())
    net.set_neuron(t.layer, t.pos, new)
    if trace is not None:
        net.refresh(trace, t.layer, t.pos)
    return up
