"""A hashtron network: an architecture plus one Hashtron per neuron, evaluated by numba kernels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import network as K
from ..kernels.threads import threads_for
from .architecture import Architecture
from .hashtron import Hashtron


@dataclass
class Packed:
    """Flat arrays the kernels read (see kernels/network.py)."""

    widths: np.ndarray
    first: np.ndarray
    lpremod: np.ndarray
    ckind: np.ndarray
    cparams: np.ndarray
    taps: np.ndarray
    tap_off: np.ndarray
    prog_off: np.ndarray
    prog_salt: np.ndarray
    prog_mod: np.ndarray
    filt_off: np.ndarray
    filt: np.ndarray

    def args(self) -> tuple:
        return (self.widths, self.first, self.lpremod, self.ckind, self.cparams, self.taps, self.tap_off,
                self.prog_off, self.prog_salt, self.prog_mod, self.filt_off, self.filt)


@dataclass
class Trace:
    """Everything a forward pass computed for a sample matrix: inputs (`keys`) and bits (`cells`) of
    every neuron, and the network outputs. Kept between updates so only changed layers are recomputed."""

    keys: np.ndarray    # uint32 (n, n_neurons)
    cells: np.ndarray   # uint8  (n, n_neurons)
    out: np.ndarray     # uint32 (n,)
    counts: np.ndarray  # int32 (n, Network.n_counts): per-group cell counts of argmax combiners that feed a layer

    def copy(self) -> "Trace":
        return Trace(self.keys.copy(), self.cells.copy(), self.out.copy(), self.counts.copy())


def _spliced(p: Packed, k: int, h: Hashtron) -> Packed:
    """`p` with neuron k's program and filter replaced by h's."""
    ps, pe, fs, fe = p.prog_off[k], p.prog_off[k + 1], p.filt_off[k], p.filt_off[k + 1]
    prog_off = p.prog_off.copy()
    prog_off[k + 1:] += len(h.program) - (pe - ps)
    filt_off = p.filt_off.copy()
    filt_off[k + 1:] += h.filter.shape[0] - (fe - fs)
    salts = np.array([c[0] for c in h.program], dtype=np.uint32)
    mods = np.array([c[1] for c in h.program], dtype=np.uint32)
    return Packed(  # spelled out: dataclasses.replace costs as much as the copies (once per update)
        p.widths, p.first, p.lpremod, p.ckind, p.cparams, p.taps, p.tap_off, prog_off,
        np.concatenate([p.prog_salt[:ps], salts, p.prog_salt[pe:]]),
        np.concatenate([p.prog_mod[:ps], mods, p.prog_mod[pe:]]),
        filt_off, np.concatenate([p.filt[:fs], h.filter.astype(np.uint8), p.filt[fe:]]),
    )


class Network:
    def __init__(self, architecture: Architecture, neurons: list[list[Hashtron]]):
        if [len(layer) for layer in neurons] != architecture.widths:
            raise ValueError(
                f"neuron counts {[len(l) for l in neurons]} do not match the architecture {architecture.widths}"
            )
        self.architecture = architecture
        self.neurons = neurons
        self._packed: Packed | None = None
        self._static: dict | None = None
        self._influence: list[np.ndarray] | None = None
        a = architecture
        self.first = np.concatenate([[0], np.cumsum(a.widths)[:-1]]).astype(np.int64)
        # a trace keeps, per sample, the cell count of each group of every argmax combiner that
        # feeds a layer: a one-neuron refresh then moves one count instead of recounting the layer
        self._count_off: dict[int, int] = {}  # layer -> where its combiner's counts start
        off = 0
        for l, comb in enumerate(a.combiners[:-1]):
            if comb is not None and comb.kind == "argmax":
                self._count_off[l], off = off, off + int(comb.params["groups"])
        self.n_counts = off

    @classmethod
    def untrained(cls, architecture: Architecture, rng: np.random.Generator) -> "Network":
        salts = rng.integers(0, 2**32, size=architecture.n_neurons, dtype=np.uint64)
        it = iter(int(s) for s in salts)
        return cls(architecture, [[Hashtron.untrained(next(it)) for _ in range(w)] for w in architecture.widths])

    # -- neurons -------------------------------------------------------------------
    def neuron(self, layer: int, pos: int) -> Hashtron:
        return self.neurons[layer][pos]

    def set_neuron(self, layer: int, pos: int, h: Hashtron, packed: Packed | None = None) -> None:
        """Replace a neuron; `packed` (the arrays of the network as it will be) skips a repack on undo.

        Otherwise the current arrays get the new neuron spliced in (new arrays: a kept `Packed`,
        e.g. an update's undo copy, never changes), so an update costs O(bytes), not a Python
        loop over every neuron.
        """
        self.neurons[layer][pos] = h
        if packed is None and self._packed is not None:
            packed = _spliced(self._packed, int(self.first[layer]) + pos, h)
        self._packed = packed

    def set_neurons(self, layer: int, new: dict[int, Hashtron]) -> None:
        """Replace several neurons of `layer` at once ({position: neuron}); the flat arrays are
        rebuilt once, on the next `pack`, instead of spliced once per neuron."""
        for pos, h in new.items():
            self.neurons[layer][pos] = h
        if new:
            self._packed = None

    def copy(self) -> "Network":
        return Network(self.architecture, [[h.copy() for h in layer] for layer in self.neurons])

    def __eq__(self, other) -> bool:
        return (isinstance(other, Network) and self.architecture == other.architecture
                and self.neurons == other.neurons)

    # -- packing -------------------------------------------------------------------
    def pack(self) -> Packed:
        """Flat arrays for the kernels; the topology part is built once, neurons on each change."""
        if self._packed is None:
            if self._static is None:
                self._static = self._pack_topology()
            flat = [h for layer in self.neurons for h in layer]
            prog_len = np.array([len(h.program) for h in flat], dtype=np.int64)
            filt_len = np.array([h.filter.shape[0] for h in flat], dtype=np.int64)
            progs = [p for h in flat for p in h.program]
            self._packed = Packed(
                **self._static,
                prog_off=np.concatenate([[0], np.cumsum(prog_len)]).astype(np.int64),
                prog_salt=np.array([p[0] for p in progs], dtype=np.uint32),
                prog_mod=np.array([p[1] for p in progs], dtype=np.uint32),
                filt_off=np.concatenate([[0], np.cumsum(filt_len)]).astype(np.int64),
                filt=np.concatenate([h.filter for h in flat]).astype(np.uint8),
            )
        return self._packed

    def _pack_topology(self) -> dict:
        a = self.architecture
        cparams = np.zeros((a.n_layers, 9), dtype=np.int64)
        ckind = np.zeros(a.n_layers, dtype=np.int64)
        tables, tap_off, off = [], np.zeros(a.n_layers, dtype=np.int64), 0
        for l, comb in enumerate(a.combiners):
            if comb is not None:
                ckind[l] = comb.code
                cparams[l] = comb.param_row(a.layers[l].neurons)
                cparams[l, K.COUNTS] = self._count_off.get(l, 0)
                t = comb.taps(a.layers[l].neurons, self._features_read(l)).reshape(-1)
                tap_off[l], off = off, off + t.shape[0]
                tables.append(t)
        return dict(
            widths=np.array(a.widths, dtype=np.int64),
            first=self.first,
            lpremod=np.array([layer.premodulo for layer in a.layers], dtype=np.uint32),
            ckind=ckind,
            cparams=cparams,
            taps=np.concatenate(tables) if tables else np.zeros(1, np.int32),
            tap_off=tap_off,
        )

    def influence(self) -> list[np.ndarray]:
        """For every layer, a bool matrix (neurons × output bits): which output bits each neuron
        can change at all, from the combiners' taps (structure only, not the learned filters)."""
        if self._influence is None:
            a = self.architecture
            nbits = a.output_bits
            last = a.n_layers - 1
            infl = [np.zeros((w, nbits), dtype=bool) for w in a.widths]
            if a.output_is_direct:
                for j in range(nbits):
                    infl[last][j, j] = True
            else:
                taps = a.combiners[last].taps(a.widths[last], nbits)
                for j in range(nbits):
                    cells = taps[j][taps[j] >= 0]
                    infl[last][cells[cells < a.widths[last]], j] = True
            for l in range(last - 1, -1, -1):
                nxt = infl[l + 1]
                direct = l + 1 == last and a.output_is_direct
                taps = a.combiners[l].taps(a.widths[l], 1 if direct else a.widths[l + 1])
                for f in range(taps.shape[0]):
                    cells = taps[f][(taps[f] >= 0) & (taps[f] < a.widths[l])]
                    reach = nxt.any(axis=0) if direct else nxt[f]
                    infl[l][cells] |= reach
            self._influence = infl
        return self._influence

    def _features_read(self, l: int) -> int:
        """How many features of combiner l anything reads: the next layer's width, 1 for a
        direct output layer, min(width, 16) output bits after the last layer."""
        a = self.architecture
        if l == a.n_layers - 1:
            return a.output_bits
        if l + 1 == a.n_layers - 1 and a.output_is_direct:
            return 1
        return a.layers[l + 1].neurons

    # -- evaluation ----------------------------------------------------------------
    def check_input(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D feature matrix (n_samples, n_features), got shape {X.shape}")
        need = self.architecture.n_input_features
        if X.shape[1] < need:
            raise ValueError(
                f"the first layer reads {need} input features but X has {X.shape[1]} columns; "
                "encode the data with that many features or change the architecture"
            )
        if X.dtype != np.uint32:
            if not np.issubdtype(X.dtype, np.integer):
                raise TypeError(f"features must be integers (uint32), got dtype {X.dtype}")
            if X.size and (X.min() < 0 or X.max() > 0xFFFFFFFF):
                raise ValueError("features must fit in uint32 (0 .. 2^32-1)")
        return np.ascontiguousarray(X, dtype=np.uint32)

    def trace(self, X) -> Trace:
        X = self.check_input(X)
        n, m = X.shape[0], self.architecture.n_neurons
        t = Trace(np.zeros((n, m), np.uint32), np.zeros((n, m), np.uint8), np.zeros(n, np.uint32),
                  np.zeros((n, self.n_counts), np.int32))
        self._forward(0, -1, X, t)
        return t

    def _forward(self, l0: int, only: int, X: np.ndarray, t: Trace) -> None:
        """`kernels.network.forward_from` on the trace, on the threads the thread policy gives it."""
        threads_for(t.out.shape[0])
        K.forward_from(l0, only, X, t.keys, t.cells, t.counts, t.out, *self.pack().args(), K.CHUNK)

    def refresh(self, trace: Trace, layer: int, only: int = -1) -> None:
        """Recompute `trace` after neuron `only` of `layer` (or the whole layer) changed."""
        if layer == 0 and only < 0:
            raise ValueError("refreshing all of layer 0 needs the inputs: call trace(X) instead")
        n = trace.out.shape[0]
        if trace.counts.shape != (n, self.n_counts) or trace.keys.shape != (n, self.architecture.n_neurons):
            raise ValueError(f"the trace (keys {trace.keys.shape}, counts {trace.counts.shape}) was not made by "
                             f"this network's trace(): keys need (n, {self.architecture.n_neurons}), counts "
                             f"(n, {self.n_counts}); make it with Network.trace(X)")
        self._forward(layer, only, np.zeros((n, 1), np.uint32), trace)

    def forward(self, X) -> np.ndarray:
        """Raw network output integers (before parity and class modulo)."""
        return self.trace(X).out
