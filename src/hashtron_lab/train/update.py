"""Neuron update: tally -> {hashed key -> sign} under a premodulo -> new filter -> replace; undo restores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hashing import hash_array
from ..kernels.filter import filter_make
from ..kernels.tally import rebuilt_filter
from ..kernels.threads import threads_for
from ..model.hashtron import Hashtron
from ..model.network import Network, Trace
from .tally import Tally


@dataclass
class Snapshot:
    """The trace entries one neuron's update can change: its own column, every column of the
    layers after it, the argmax group counts and the outputs (its layer's keys and the other
    columns stay as they are)."""

    col: int
    cells_col: np.ndarray
    tail_from: int
    keys_tail: np.ndarray
    cells_tail: np.ndarray
    counts: np.ndarray
    out: np.ndarray

    @classmethod
    def take(cls, net: Network, trace: Trace, layer: int, pos: int) -> Snapshot:
        col = int(net.first[layer]) + pos
        tail = int(net.first[layer]) + net.architecture.widths[layer]
        return cls(col, trace.cells[:, col].copy(), tail, trace.keys[:, tail:].copy(),
                   trace.cells[:, tail:].copy(), trace.counts.copy(), trace.out.copy())

    def restore(self, trace: Trace) -> None:
        trace.cells[:, self.col] = self.cells_col
        trace.keys[:, self.tail_from:] = self.keys_tail
        trace.cells[:, self.tail_from:] = self.cells_tail
        trace.counts[...] = self.counts
        trace.out[...] = self.out


@dataclass
class Update:
    """A replaced neuron and what is needed to undo it exactly (the old neuron and the trace entries it changed)."""

    layer: int
    pos: int
    old: Hashtron
    new: Hashtron
    n_keys: int
    saved: Snapshot | None = None
    old_packed: object = None

    def undo(self, net: Network, trace: Trace | None = None) -> None:
        net.set_neuron(self.layer, self.pos, self.old, self.old_packed)
        if trace is not None and self.saved is not None:
            self.saved.restore(trace)


def build_neuron(t: Tally, salt: int, premodulo: int, keep_unvoted: bool = False,
                 threshold: int = 1) -> tuple[Hashtron, int]:
    """The neuron a tally asks for: premodulo step (salt, P), then a filter of the voted bits.

    Keys whose votes cancel are left out and answer the filter's arbitrary bit (the reference's
    rule) — unless `keep_unvoted`, where such keys keep the bit the neuron gave their samples.
    `threshold` b > 1 bleaches: a key answers 1 only when at least b samples voted for 1 on it.
    """
    filt, n_keys = rebuilt_filter(t.x_in, t.votes, t.current, np.uint32(salt), np.uint32(premodulo), keep_unvoted,
                                  np.int64(threshold))
    program = [(int(salt), int(premodulo))] if premodulo > 0 else []
    return Hashtron(program=program, filter=filt), int(n_keys)


def apply_update(net: Network, trace: Trace | None, t: Tally, salt: int, premodulo: int,
                 keep_unvoted: bool = False, threshold: int = 1) -> Update:
    """Replace the tallied neuron and refresh the trace from its layer on."""
    new, n_keys = build_neuron(t, salt, premodulo, keep_unvoted, threshold)
    return replace_neuron(net, trace, t.layer, t.pos, new, n_keys)


def replace_neuron(net: Network, trace: Trace | None, layer: int, pos: int, new: Hashtron, n_keys: int) -> Update:
    """Put `new` in place (refreshing the trace from its layer on), keeping what an undo needs."""
    up = Update(layer, pos, net.neuron(layer, pos), new, n_keys, old_packed=net.pack(),
                saved=Snapshot.take(net, trace, layer, pos) if trace is not None else None)
    net.set_neuron(layer, pos, new)
    if trace is not None:
        net.refresh(trace, layer, pos)
    return up


def pair_update(net: Network, trace: Trace, targets: np.ndarray, layer: int, pos1: int, pos2: int,
                salts: tuple[int, int], premodulo: int) -> tuple[Update, Update] | None:
    """The reference's two-at-a-time step: both neurons of `layer` rebuilt from the first consistent
    bit combination per key that makes output bit 0 right (samples in order, no sums).

    Returns the two updates (undo in reverse order), or None — nothing changed — when the two new
    filters would be larger in total than the old ones (the reference rejects such a pair).
    """
    from ..kernels import tally as KT

    if pos1 == pos2:
        raise ValueError("a pair needs two different neurons")
    n = trace.out.shape[0]
    combo = np.zeros((n, 4), dtype=np.uint32)
    args = net.pack().args()
    threads_for(n)
    KT.pair_outputs(layer, pos1, pos2, trace.keys, trace.cells, trace.out, combo, *args, KT.CHUNK)
    f = int(net.first[layer])
    keyed = []
    for pos, salt in zip((pos1, pos2), salts):
        x = np.ascontiguousarray(trace.keys[:, f + pos])
        keyed.append(x if premodulo == 0 else hash_array(x, np.uint32(salt), np.uint32(premodulo)))
    k1, b1, k2, b2 = KT.pair_decide(keyed[0], keyed[1], combo, np.ascontiguousarray(targets, np.uint32))
    news = []
    for keys, bits, salt in ((k1, b1, salts[0]), (k2, b2, salts[1])):
        order = np.argsort(keys, kind="mergesort")
        news.append(Hashtron(program=[(int(salt), int(premodulo))] if premodulo > 0 else [],
                             filter=filter_make(keys[order], bits[order])))
    olds = [net.neuron(layer, pos1), net.neuron(layer, pos2)]
    if sum(h.filter.shape[0] for h in news) > sum(h.filter.shape[0] for h in olds):
        return None
    ups = []
    for pos, new, old, n_keys in ((pos1, news[0], olds[0], len(k1)), (pos2, news[1], olds[1], len(k2))):
        up = Update(layer, pos, old, new, n_keys, saved=Snapshot.take(net, trace, layer, pos))
        net.set_neuron(layer, pos, new)
        net.refresh(trace, layer, pos)
        ups.append(up)
    return ups[0], ups[1]
