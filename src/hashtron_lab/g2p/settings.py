"""The phonemizer's settings and the G2P sweep's, with their allowed values declared once on the
fields (``settings.ranged`` / ``one_of``, D36): `G2PConfig` is the ``g2p`` group of the settings
tree (config.Settings; conf/g2p/default.yaml selects its values), `PhonemizerSettings` checks the
arguments of `Phonemizer`. A bad value fails naming ``g2p.<key>``, the value and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..settings import UINT32_MAX, SettingError, check_fields, one_of, ranged

LEVELS = ("any", "majority", "strong")   # credit.LEVELS: what a RAM of a window stores
DIRECTIONS = ("backward", "forward")
CAPACITY = ("off", "on")                  # off: no premodulo (unseen keys abstain, D51); on: the support law
SELECTIONS = ("slot_order", "gold")       # which RAM the pipeline trains next (credit.SlotOrder | gold zone)
BASELINES = ("most_frequent", "backoff", "decision_tree", "crf", "gruut_crf")
MAX_SIDE = 8                              # letters a window reaches left or right
PHONEMIZER_KEYS = ("max_left", "max_right", "levels", "margin", "max_ranks", "coverage", "forward_budget",
                   "em_iterations")       # the g2p keys that are Phonemizer arguments


def _names(key: str, values: Any, valid: tuple[str, ...], at_least: int = 1) -> None:
    """A list of distinct names from `valid`, at least `at_least` of them."""
    vals = list(values) if isinstance(values, (list, tuple)) else None
    if vals is None or len(vals) < at_least or len(set(vals)) != len(vals) or not set(vals) <= set(valid):
        raise SettingError(key, values, f"a list of distinct names from {', '.join(valid)}"
                                        + (f", at least {at_least}" if at_least else ""),
                           problem="is not a valid list")


def _check_phonemizer(obj) -> None:
    check_fields(obj)
    _names("levels", obj.levels, LEVELS)


@dataclass
class PhonemizerSettings:
    """What `Phonemizer(...)` takes besides its language (docs/g2p.md)."""
    max_left: int = ranged(4, 0, MAX_SIDE, integer=True)      # widest window: letters left of the letter
    max_right: int = ranged(4, 0, MAX_SIDE, integer=True)     # ... and right of it
    levels: Any = LEVELS                                      # RAMs per window and rank (LEVELS)
    margin: int = ranged(8, 0, integer=True)                  # a letter's lead (votes) that silences longer windows
    max_ranks: int = ranged(16, 2, 2 ** 16, integer=True)     # argmax groups: ranks of a letter's classes, at most
    coverage: float = ranged(0.9999, 0, 1, lo_open=True)      # ... the fewest covering this share of training letters
    direction: str = one_of("backward", DIRECTIONS)
    seed: int = ranged(0, 0, UINT32_MAX, integer=True)
    forward_budget: float = ranged(1.0, 0, lo_open=True)      # forward pipeline's updates / backward's
    em_iterations: int = ranged(5, 0, integer=True)           # our aligner, for words the lexicon does not align
    # the ablation's knobs (ablation.py; docs/accuracy.md): capacity "on" = train/capacity.py's support
    # law, a RAM's premodulo = ceil(load_factor x distinct keys of its tally); selection "gold" = the
    # gold-zone rule (train/selection.py) instead of the slot order
    capacity: str = one_of("off", CAPACITY)
    load_factor: float = ranged(1.0, 0, lo_open=True)        # capacity "on": buckets per distinct key
    selection: str = one_of("slot_order", SELECTIONS)

    def __post_init__(self):
        _check_phonemizer(self)


@dataclass
class G2PConfig:
    """The ``g2p`` group: the phonemizer dataset=lexicon trains (the keys of `PhonemizerSettings`
    but direction and seed, which come from ``pipeline`` and ``seed``) and the sweep that
    `python -m hashtron_lab.g2p sweep` / `g2p/dvc.yaml` run."""
    max_left: int = ranged(4, 0, MAX_SIDE, integer=True)
    max_right: int = ranged(4, 0, MAX_SIDE, integer=True)
    levels: list[str] = field(default_factory=lambda: list(LEVELS))
    margin: int = ranged(8, 0, integer=True)
    max_ranks: int = ranged(16, 2, 2 ** 16, integer=True)
    coverage: float = ranged(0.9999, 0, 1, lo_open=True)
    forward_budget: float = ranged(1.0, 0, lo_open=True)
    em_iterations: int = ranged(5, 0, integer=True)
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    languages: Any = None                 # the sweep's languages; null: every installed gruut-lang package
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    directions: list[str] = field(default_factory=lambda: list(DIRECTIONS))
    n_jobs: int = ranged(2, 1, integer=True)  # sweep processes side by side

    def __post_init__(self):
        _check_phonemizer(self)
        _names("baselines", self.baselines, BASELINES, at_least=0)
        _names("directions", self.directions, DIRECTIONS)
        seeds = self.seeds
        if (not isinstance(seeds, (list, tuple)) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= UINT32_MAX for s in seeds)):
            raise SettingError("seeds", seeds, f"a non-empty list of integers in [0, {UINT32_MAX}]",
                               problem="is not a valid list")
        langs = self.languages
        if langs is not None and (not isinstance(langs, (list, tuple)) or not langs
                                  or not all(isinstance(x, str) and x for x in langs)):
            raise SettingError("languages", langs, "null (every installed lexicon) or a non-empty list of "
                                                   "language codes", problem="is not a valid list")
