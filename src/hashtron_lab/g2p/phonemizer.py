"""`Phonemizer`: words in, phoneme sequences out, from one hashtron network per language.

    ph = Phonemizer(language="de").fit(words, prons)   # prons: phoneme lists or space-separated strings
    ph.predict(["aachen"])                              # -> [["aː", "χ", "ə", "n"]]
    ph.score(words, prons)                              # word accuracy (exact phoneme sequence)
    ph.save("de.htl"); Phonemizer.load("de.htl", language="de")

The network (docs/g2p.md; decisions D49–D56): every letter of a word is one sample. For each of
R argmax groups (the letter's class ranks, `letters.ClassTable`) and each slot (a window of
letters around it × a level) one RAM neuron reads the window's even key (`letters.context_keys`);
an `argmax` over the groups picks the rank; output neurons give its bits. The decoder writes each
letter's class — nothing, one phoneme or two — in order. Prediction reads only the word: no
alignment, no gold chunk. The backward pipeline trains it: the output layer first (the prior),
layer 1 slot by slot with the margin credit (credit.py), the output layer again; its sum cache
and premodulo decisions are kept like any run's (`sum_cache_`, `decisions_`).

Characters never seen in training: folded to their base letter when that was seen ("ǎ" -> "a"),
else the letter is silent (writes nothing); `unknown_characters` lists them.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import lexicon as LX
from ..kernels import g2p as KG
from ..kernels.threads import threads_for
from ..model.architecture import Architecture
from ..model.files import ModelFileError, load_model_and_meta, save_model
from ..model.hashtron import Hashtron
from ..model.network import Network
from ..model.output_code import OutputCode
from ..presets import BACKWARD_ALL, CAPACITY_FIXED, ROUND_ROBIN
from ..train.backward import BackwardPipeline
from ..train.forward import ForwardPipeline
from ..train.run import Split, drive
from ..train.warm import warm_kernels
from .credit import LEVELS, LetterRun, SlotOrder
from .letters import ClassTable, Letters, context_keys, default_windows, fold_char, fold_word, phonemes_of
from .metrics import letter_accuracy, word_scores
from .settings import PhonemizerSettings

ABLATION_KEYS = ("capacity", "load_factor", "selection")
ABLATION_DEFAULTS = {k: getattr(PhonemizerSettings(), k) for k in ("capacity", "selection")}  # today's model
GOLD = {"rule": "gold"}

KIND = "hashtron-lab-phonemizer"
FILE_VERSION = 1


class PhonemizerFileError(ModelFileError):
    """A file that is not this language's phonemizer (another kind of model, another language)."""


class NotFittedError(ValueError, AttributeError):
    """predict / score / save before fit."""


def _prons(prons) -> list[list[str]]:
    out = []
    for i, p in enumerate(prons):
        seq = p.split() if isinstance(p, str) else [str(x) for x in p]
        if not seq:
            raise ValueError(f"pronunciation {i} is empty; every word needs at least one phoneme")
        out.append(seq)
    return out


def _words(words, what: str = "word") -> list[str]:
    if isinstance(words, str):
        raise TypeError(f"give a list of {what}s, not one string (did you mean [{words!r}]?)")
    out = []
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise TypeError(f"{what} {i} is {type(w).__name__}, not a string")
        n = LX.normalize_word(w)
        if not n:
            raise ValueError(f"{what} {i} is empty; give every word at least one character")
        if len(n.split()) != 1:
            raise ValueError(f"{what} {i} ({w!r}) holds whitespace; give one word per entry")
        out.append(n)
    return out


def _given_labels(labels, words: list[str]) -> list[list[str] | None]:
    labels = list(labels)
    if len(labels) != len(words):
        raise ValueError(f"{len(labels)} letter label lists for {len(words)} words")
    for i, (lab, w) in enumerate(zip(labels, words)):
        if lab is not None and len(lab) != len(w):
            raise ValueError(f"word {i} ({w!r}) has {len(w)} letters but {len(lab)} letter labels")
    return [None if lab is None else [str(x) for x in lab] for lab in labels]


class Phonemizer:
    """Grapheme-to-phoneme with a hashtron network (see the module docstring).

    `max_left` / `max_right`: the widest window (letters left / right of the letter); every
    window up to them is used. `levels`: RAMs per window and group (credit.LEVELS). `margin`:
    the lead (in votes) that makes a letter resolved for longer windows. `max_ranks`,
    `coverage`: the argmax groups (ranks of a letter's classes). `direction`: the training
    pipeline; `forward_budget`: the forward pipeline's updates as a multiple of backward's.
    `capacity` / `selection`: the ablation's knobs (settings.py). "off" (no premodulo: an unseen
    key abstains, D51) and "slot_order" are the model; "on" gives every RAM the support law's
    premodulo ceil(`load_factor` x its distinct keys), forcing keys to share buckets; "gold"
    picks each next neuron by the gold zone (for forward: each branch's neuron).
    """

    def __init__(self, language: str = "", max_left: int = 4, max_right: int = 4,
                 levels: tuple[str, ...] = LEVELS, margin: int = 8, max_ranks: int = 16, coverage: float = 0.9999,
                 direction: str = "backward", seed: int = 0, forward_budget: float = 1.0, em_iterations: int = 5,
                 capacity: str = "off", load_factor: float = 1.0, selection: str = "slot_order"):
        self.language, self.max_left, self.max_right = language, max_left, max_right
        self.levels, self.margin, self.max_ranks, self.coverage = tuple(levels), margin, max_ranks, coverage
        self.direction, self.seed, self.forward_budget, self.em_iterations = direction, seed, forward_budget, em_iterations
        self.capacity, self.load_factor, self.selection = capacity, load_factor, selection

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("language", "max_left", "max_right", "levels", "margin", "max_ranks",
                                              "coverage", "direction", "seed", "forward_budget", "em_iterations",
                                              *ABLATION_KEYS)}

    def _saved_params(self) -> dict:
        """get_params for the model file: the ablation knobs only when they change the model, so a
        default model's file is the bytes it was before they existed."""
        p = self.get_params()
        if self.capacity == "off":
            p.pop("load_factor")
        for k, default in ABLATION_DEFAULTS.items():
            if p.get(k, default) == default:
                p.pop(k, None)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()}

    # -- checks ------------------------------------------------------------------------
    def _check_settings(self) -> None:
        """Every argument against its allowed values (settings.PhonemizerSettings holds them)."""
        p = self.get_params()
        p.pop("language")
        PhonemizerSettings(**{**p, "levels": list(p["levels"])})

    # -- features ----------------------------------------------------------------------
    def _slots(self) -> tuple[np.ndarray, list[str]]:
        n_win = len(self.windows_)
        slot_window = np.repeat(np.arange(n_win), len(self.levels_))
        slot_level = [lv for _ in range(n_win) for lv in self.levels_]
        return slot_window, slot_level

    def _features(self, words: list[str]) -> np.ndarray:
        """uint32 (letters, groups × slots): column g·slots + k reads slot k's window key."""
        keys = context_keys(Letters.of(words), self.windows_)
        slot_window, _ = self._slots()
        return np.ascontiguousarray(np.tile(keys[:, slot_window], (1, self.table_.ranks)))

    def _architecture(self) -> Architecture:
        R, K = self.table_.ranks, len(self.windows_) * len(self.levels_)
        bits = max(1, math.ceil(math.log2(R)))
        return Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": R * K, "premodulo": 0},
                                                  {"type": "argmax", "groups": R},
                                                  {"type": "hashtron", "neurons": bits, "premodulo": 0}]})

    def _untrained(self, arch: Architecture) -> Network:
        """RAMs with no program and an empty filter answer their key's low bit: 0 for our even
        keys, so an untrained RAM abstains. Output neurons start as usual (random bits)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), 1]))
        rams = [Hashtron() for _ in range(arch.widths[0])]
        outs = [Hashtron.untrained(int(s)) for s in rng.integers(0, 2 ** 32, size=arch.widths[1], dtype=np.uint64)]
        return Network(arch, [rams, outs])

    # -- training ----------------------------------------------------------------------
    def fit(self, words, prons, val_words=None, val_prons=None, alignments=None, val_alignments=None,
            hooks=None, letter_labels=None, val_letter_labels=None) -> "Phonemizer":
        """Train on `words` / `prons` (phoneme lists or space-separated strings).

        `alignments`: the lexicon's alignment string per word (None entries: none) — else our EM
        aligner labels every letter; `val_alignments` the same for the validation words (their
        letter labels only score the per-letter accuracy). `val_words` / `val_prons`: validation words; the best
        network on them is kept (per-letter accuracy after each sweep). `hooks`: a
        `train.events.Hooks` receiving the run's events (MLflow, alerts)."""
        self._check_settings()
        words = _words(words)
        prons = _prons(prons)
        warm_kernels({"g2p"})  # compiled or loaded before the fit's clock starts (train/warm.py)
        if len(words) != len(prons):
            raise ValueError(f"{len(words)} words but {len(prons)} pronunciations")
        if alignments is not None and len(alignments) != len(words):
            raise ValueError(f"{len(alignments)} alignments for {len(words)} words")
        t0 = time.perf_counter()
        mode = "lexicon" if alignments is not None else "em"
        if letter_labels is not None:
            labels = _given_labels(letter_labels, words)
            counts = {"given": sum(lab is not None for lab in labels)}
        else:
            labels, counts = LX.letter_labels(words, prons, list(alignments) if alignments is not None else
                                              [None] * len(words), mode, self.em_iterations)
        keep = [i for i, lab in enumerate(labels) if lab is not None]
        if not keep:
            raise ValueError(f"none of the {len(words)} words could be aligned letter by letter ({counts}); "
                             f"give words whose pronunciations have at most two phonemes a letter")
        tw, tl = [words[i] for i in keep], [labels[i] for i in keep]
        self.windows_ = default_windows(self.max_left, self.max_right)
        self.levels_ = list(self.levels)
        self.table_ = ClassTable.fit(tw, tl, self.max_ranks, self.coverage)
        train = Split(self._features(tw), self.table_.encode(tw, tl))
        val = None
        if val_words is not None:
            vw, vp = _words(val_words), _prons(val_prons)
            if val_letter_labels is not None:
                vl = _given_labels(val_letter_labels, vw)
            else:
                va = list(val_alignments) if val_alignments is not None else [None] * len(vw)
                vl, _ = LX.letter_labels(vw, vp, va, mode, self.em_iterations, list(zip(tw, tl)))
            vk = [i for i, lab in enumerate(vl) if lab is not None]
            if vk:
                vw = [fold_word(vw[i], self.table_.alphabet) for i in vk]
                val = Split(self._features(vw), self.table_.encode(vw, [vl[i] for i in vk]))
        arch = self._architecture()
        net = self._untrained(arch)
        R, K = self.table_.ranks, len(self.windows_) * len(self.levels_)
        bits = arch.widths[1]
        budget = 3 * bits + R * K
        if self.direction == "forward":
            budget = int(math.ceil(self.forward_budget * budget))
        slot_window, slot_level = self._slots()
        run = LetterRun(net, train, val, R, {
            "seed": int(self.seed), "budget": {"max_updates": budget},
            "run": {"acceptance": {"rule": "always", "reject_revisits": False},
                    "validation": {"every_epochs": self._validation_every(R * K), "patience": None}}}, hooks,
            groups=R, slot_window=slot_window, slot_level=slot_level, margin=self.margin)
        pipeline = self._pipeline(R, K)
        drive(run, pipeline)
        self.network_ = run.net
        self.history_, self.epochs_, self.decisions_ = run.history, run.epochs, run.decisions
        self.sum_cache_ = getattr(pipeline, "cache", None)
        self.pipeline_ = pipeline.name
        self.stop_reason_ = run.stopped
        self.fit_info_ = {"words": len(words), "aligned_words": len(keep), "alignment": counts, "letters": len(train),
                          "ranks": R, "slots": K, "rams": R * K, "updates": run.n_updates,
                          "train_accuracy": run.train_accuracy(), "best_val_accuracy": run.best_val}
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _validation_every(self, rams: int) -> int:
        """Epochs between validation passes: every backward sweep; for the forward pipeline, whose
        epochs are its plans (a branch of two neurons while training accuracy is below its
        threshold), about once per `rams` updates — a pass over the validation letters after
        every two updates would cost more than the training."""
        return 1 if self.direction == "backward" else max(1, rams // 2)

    def _capacity(self) -> dict:
        """The capacity group: off = no law, no premodulo (unseen keys abstain, D51); on = the support
        law (train/capacity.py), the output neurons kept at no premodulo, threshold 1 (bleach 0)."""
        if self.capacity == "off":
            return CAPACITY_FIXED
        return {"law": "support", "load_factor": float(self.load_factor)}

    def _pipeline(self, R: int, K: int):
        gold = self.selection == "gold"
        if self.direction == "forward":  # as ablation.cell_overrides sets pipeline.capacity_control / use_selection
            if self.capacity == "off" and not gold:
                return ForwardPipeline({"premodulo": 0})
            return ForwardPipeline({"premodulo": 0, "capacity_control": self.capacity == "on", "use_selection": gold},
                                   self._capacity(), GOLD)
        pipe = BackwardPipeline(BACKWARD_ALL, self._capacity(), GOLD if gold else ROUND_ROBIN)
        if not gold:
            pipe.selector = SlotOrder(R, K)  # layer 1 slot by slot: the order the margin credit is exact in
        return pipe

    # -- prediction --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("this Phonemizer is not fitted yet; call fit(words, prons) or Phonemizer.load(path)")

    def unknown_characters(self, words) -> list[str]:
        """Characters of `words` that neither training saw nor fold to a seen letter (they are silent)."""
        self._check_fitted()
        a = self.table_.alphabet
        return sorted({ch for w in _words(words) for ch in w if fold_char(ch, a) not in a})

    def predict_labels(self, words) -> list[list[str]]:
        """The class of every letter ("" = silent, "t s" = two phonemes)."""
        self._check_fitted()
        words = [fold_word(w, self.table_.alphabet) for w in _words(words)]
        if not words:
            return []
        out = self._outputs(words)
        R = self.table_.ranks
        ranks = OutputCode("modulo", R, self.network_.architecture.output_bits).decode(out)
        return self.table_.decode(words, ranks)

    def _outputs(self, words: list[str]) -> np.ndarray:
        """The network's output integer for every letter: from the window keys directly
        (`kernels.g2p.letter_outputs_into`) when its RAMs have no program, as trained; else
        `Network.forward` on the repeated input matrix (the same integers)."""
        net = self.network_
        R, K = self.table_.ranks, len(self.windows_) * len(self.levels_)
        if any(h.program for h in net.neurons[0]) or net.architecture.output_bits != net.architecture.widths[1]:
            return net.forward(self._features(words))
        keys = context_keys(Letters.of(words), self.windows_)
        slot_window, _ = self._slots()
        p = net.pack()
        out = np.empty(keys.shape[0], dtype=np.uint32)
        threads_for(keys.shape[0])
        KG.letter_outputs_into(keys, slot_window, R, K, int(net.first[1]), int(net.architecture.widths[1]),
                               np.uint32(net.architecture.layers[1].premodulo), p.prog_off, p.prog_salt, p.prog_mod,
                               p.filt_off, p.filt, out)
        return out

    def predict(self, words) -> list[list[str]]:
        """The phoneme sequence of every word."""
        return phonemes_of(self.predict_labels(words))

    def score(self, words, prons) -> float:
        """Word accuracy: the share of words whose whole phoneme sequence is right."""
        return self.evaluate(words, prons)["word_accuracy"]

    def evaluate(self, words, prons, labels=None) -> dict:
        """word_accuracy, per (phoneme error rate) and, given gold letter `labels`, letter_accuracy."""
        pred = self.predict_labels(words)
        out = word_scores(phonemes_of(pred), _prons(prons))
        if labels is not None:
            out["letter_accuracy"] = letter_accuracy(pred, labels)
        return out

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """One model file (the project's checksummed format) holding the network and the tables."""
        self._check_fitted()
        meta = {"kind": KIND, "phonemizer_version": FILE_VERSION, "language": self.language,
                "windows": [list(w) for w in self.windows_], "levels": list(self.levels_),
                "classes": self.table_.to_dict(), "params": self._saved_params()}
        path = Path(path)
        save_model(self.network_, path, meta)
        return path

    @classmethod
    def load(cls, path: str | Path, language: str | None = None) -> "Phonemizer":
        """Read a file written by `save`; refuse another kind of model, another `language` (when
        given), or a damaged file (ModelFileError)."""
        net, meta = load_model_and_meta(path)
        if meta.get("kind") != KIND:
            raise PhonemizerFileError(path, f"it is a hashtron model but not a phonemizer (kind {meta.get('kind')!r})",
                                      "give a file written by Phonemizer.save")
        if int(meta.get("phonemizer_version", 0)) > FILE_VERSION:
            raise PhonemizerFileError(path, f"phonemizer version {meta.get('phonemizer_version')} is newer than this "
                                            f"hashtron-lab reads ({FILE_VERSION})", "upgrade hashtron-lab")
        if language is not None and meta.get("language") != language:
            raise PhonemizerFileError(path, f"it phonemizes language {meta.get('language')!r}, not {language!r}",
                                      f"give the model trained for {language!r}")
        params: dict[str, Any] = dict(meta.get("params", {}))
        params["levels"] = tuple(params.get("levels", LEVELS))
        ph = cls(**params)
        try:
            ph.windows_ = [tuple(int(x) for x in w) for w in meta["windows"]]
            ph.levels_ = [str(x) for x in meta["levels"]]
            ph.table_ = ClassTable.from_dict(meta["classes"])
        except (KeyError, TypeError, ValueError) as e:
            raise PhonemizerFileError(path, f"its phonemizer tables are incomplete ({type(e).__name__}: {e})",
                                      "retrain and save the model again") from None
        if net.architecture.widths[0] != ph.table_.ranks * len(ph.windows_) * len(ph.levels_):
            raise PhonemizerFileError(path, "its network does not match its tables (layer 1 width)",
                                      "retrain and save the model again")
        ph.network_ = net
        return ph
