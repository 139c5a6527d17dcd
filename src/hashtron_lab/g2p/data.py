"""One language's words, split by word and letter-aligned: what every model and baseline trains on."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ..data import lexicon as LX


@dataclass
class Part:
    words: list[str]
    prons: list[list[str]]
    labels: list[list[str] | None]   # letter classes (None: the aligner could not align the word)

    def aligned(self) -> tuple[list[str], list[list[str]]]:
        """The words with labels and their labels (what training reads)."""
        keep = [i for i, lab in enumerate(self.labels) if lab is not None]
        return [self.words[i] for i in keep], [self.labels[i] for i in keep]


@dataclass
class G2PData:
    language: str
    seed: int
    train: Part
    val: Part
    test: Part
    info: dict = field(default_factory=dict)


@lru_cache(maxsize=2)
def cached_lexicon(language: str) -> LX.Lexicon:
    """`read_lexicon` of an installed language, once per process (the largest take seconds)."""
    return LX.read_lexicon(LX.lexicon_path(language), language)


def prepare(language: str, seed: int = 0, n_words: int | None = 20000, alignment: str = "lexicon",
            em_iterations: int = 5, lexicon: LX.Lexicon | None = None) -> G2PData:
    """The seeded word sample of `language` cut 80/10/10 by word, each part letter-aligned.

    Training words are aligned from themselves (the lexicon's alignments, EM for the rest);
    validation and test words are aligned with the training words as EM's prior — their labels
    serve only the per-letter accuracy; no model reads them."""
    lex = lexicon if lexicon is not None else cached_lexicon(language)
    if len(lex) < 3:
        raise LX.LexiconError(f"lexicon {lex.source or language!r} holds {len(lex)} usable words "
                              f"(skipped: {lex.skipped}); need at least 3")
    tr, va, te = LX.split_words(len(lex), n_words, seed)
    parts, info = [], {"lexicon": lex.summary(), "n_words": n_words, "alignment": alignment}
    prior = None
    for name, idx in (("train", tr), ("val", va), ("test", te)):
        words = [lex.words[i] for i in idx]
        prons = [lex.prons[i] for i in idx]
        labels, counts = LX.letter_labels(words, prons, [lex.alignments[i] for i in idx], alignment,
                                          em_iterations, prior)
        if name == "train":
            prior = [(w, lab) for w, lab in zip(words, labels) if lab is not None]
        parts.append(Part(words, prons, labels))
        info[f"{name}_words"] = len(words)
        info[f"{name}_alignment"] = counts
    return G2PData(language, int(seed), *parts, info=info)
