"""The baselines every phonemizer result is reported beside, trained on the same training words.

All learn the same letter classes (`data.lexicon.letter_labels`) and write phonemes the same
way (a letter's class, ε writing nothing); a character never seen in training is folded to its
base letter as the phonemizer does (`letters.fold_char`).

- ``most_frequent``: letter -> its most frequent class.
- ``backoff``: the longest symmetric window (±3, ±2, ±1, the letter) seen in training decides,
  with its most frequent class.
- ``decision_tree``: scikit-learn's DecisionTreeClassifier on the letters at offsets -3 … +3
  (integer letter ids, 0 outside the word).
- ``crf``: gruut's CRF featurisation (the letter, the letters at ±1 … ±3, begin / end flags,
  a bias) retrained with python-crfsuite on our training words, with gruut's training
  settings (c1 = 0, c2 = 1, 100 iterations, all transitions): the fair anchor.
- ``gruut_crf``: the CRF gruut ships (``gruut_lang_xx/g2p/model.crf``). It was trained on the
  whole lexicon, our test words included: report it apart, as optimistic.

Ties are broken by class name, so every table is deterministic. ``model_bytes``: the
zlib-compressed JSON of a table, the tree's node arrays, the CRF file.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .letters import EPS, fold_word
from .settings import BASELINES

WINDOW = 3
CRF_HINT = 'pip install -e ".[lexicons]" (python-crfsuite)'


def _best(counter: Counter) -> str:
    return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _alphabet(words) -> set:
    return {ch for w in words for ch in w}


def _table_bytes(obj) -> int:
    return len(zlib.compress(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8"), 9))


class MostFrequent:
    name = "most_frequent"

    def fit(self, words, labels):
        c: dict[str, Counter] = defaultdict(Counter)
        for w, labs in zip(words, labels):
            for ch, lab in zip(w, labs):
                c[ch][lab] += 1
        self.table_ = {ch: _best(v) for ch, v in c.items()}
        return self

    def predict_labels(self, words):
        a = self.table_
        return [[a.get(ch, EPS) for ch in fold_word(w, a)] for w in words]

    def model_bytes(self) -> int:
        return _table_bytes(self.table_)


def _window(word: str, i: int, k: int) -> str:
    pad = "\0" * k
    s = pad + word + pad
    return s[i:i + 2 * k + 1]


class Backoff:
    name = "backoff"

    def __init__(self, window: int = WINDOW):
        self.window = window

    def fit(self, words, labels):
        tabs = [defaultdict(Counter) for _ in range(self.window + 1)]
        for w, labs in zip(words, labels):
            for i, lab in enumerate(labs):
                for k in range(self.window + 1):
                    tabs[k][_window(w, i, k)][lab] += 1
        self.tables_ = [{ctx: _best(c) for ctx, c in t.items()} for t in tabs]
        self.alphabet_ = _alphabet(words)
        return self

    def predict_labels(self, words):
        out = []
        for w in words:
            w = fold_word(w, self.alphabet_)
            labs = []
            for i in range(len(w)):
                for k in range(self.window, -1, -1):
                    lab = self.tables_[k].get(_window(w, i, k))
                    if lab is not None:
                        break
                labs.append(EPS if lab is None else lab)
            out.append(labs)
        return out

    def model_bytes(self) -> int:
        return _table_bytes(self.tables_)


class DecisionTree:
    name = "decision_tree"

    def __init__(self, window: int = WINDOW, seed: int = 0):
        self.window, self.seed = window, seed

    def _features(self, words) -> np.ndarray:
        rows = []
        for w in words:
            ids = [self.ids_.get(ch, 0) for ch in w]
            padded = [0] * self.window + ids + [0] * self.window
            for i in range(len(w)):
                rows.append(padded[i:i + 2 * self.window + 1])
        return np.array(rows, dtype=np.int32).reshape(-1, 2 * self.window + 1)

    def fit(self, words, labels):
        from sklearn.tree import DecisionTreeClassifier

        freq = Counter(ch for w in words for ch in w)
        self.ids_ = {ch: i + 1 for i, (ch, _) in enumerate(sorted(freq.items(), key=lambda kv: (-kv[1], kv[0])))}
        y = [lab for labs in labels for lab in labs]
        self.tree_ = DecisionTreeClassifier(random_state=self.seed).fit(self._features(words), y)
        return self

    def predict_labels(self, words):
        words = [fold_word(w, self.ids_) for w in words]
        pred = self.tree_.predict(self._features(words)) if any(words) else []
        out, j = [], 0
        for w in words:
            out.append([str(p) for p in pred[j:j + len(w)]])
            j += len(w)
        return out

    def model_bytes(self) -> int:
        t = self.tree_.tree_
        return int(sum(a.nbytes for a in (t.children_left, t.children_right, t.feature, t.threshold, t.value)))


def _crfsuite():
    try:
        import pycrfsuite
    except ImportError:
        raise ImportError(f"the CRF baselines need python-crfsuite: {CRF_HINT}") from None
    return pycrfsuite


def _b64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def gruut_features(word: str) -> list[dict]:
    """gruut's G2P features of every letter (gruut.g2p.GraphemesToPhonemes.grapheme2features with
    its defaults: the letter and the letters at ±1 … ±3 base64-encoded, begin / end flags, bias)."""
    feats = []
    n = len(word)
    for i, g in enumerate(word):
        f: dict = {"bias": 1.0, "grapheme": _b64(g)}
        if i == 0:
            f["begin"] = True
        for j in range(1, 4):
            if i >= j:
                f[f"grapheme-{j}"] = _b64(word[i - j])
        for j in range(1, 4):
            if i < n - j:
                f[f"grapheme+{j}"] = _b64(word[i + j])
        if i == n - 1:
            f["end"] = True
        feats.append(f)
    return feats


CRF_PARAMS = {"c1": 0.0, "c2": 1.0, "max_iterations": 100, "feature.possible_transitions": True}
_EPS_TAG = "_"  # gruut's ε


class CRF:
    """gruut's featurisation and training settings, retrained on our words."""

    name = "crf"

    def __init__(self, params: dict | None = None):
        self.params = dict(CRF_PARAMS if params is None else params)

    def fit(self, words, labels):
        crf = _crfsuite()
        trainer = crf.Trainer(verbose=False)
        for w, labs in zip(words, labels):
            trainer.append(gruut_features(w), [_b64(lab) if lab else _EPS_TAG for lab in labs])
        trainer.set_params(self.params)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.crf"
            trainer.train(str(path))
            self.model_ = path.read_bytes()
        self.alphabet_ = _alphabet(words)
        return self

    def _tagger(self):
        crf = _crfsuite()
        if getattr(self, "_tag", None) is None:
            fd, path = tempfile.mkstemp(suffix=".crf")
            with os.fdopen(fd, "wb") as f:
                f.write(self.model_)
            self._tag = crf.Tagger()
            self._tag.open(path)
            os.unlink(path)  # crfsuite maps the file; it stays readable while open
        return self._tag

    def predict_labels(self, words):
        tag = self._tagger()
        out = []
        for w in words:
            w = fold_word(w, self.alphabet_)
            tags = tag.tag(gruut_features(w)) if w else []
            out.append([EPS if t == _EPS_TAG else base64.b64decode(t).decode("utf-8") for t in tags])
        return out

    def model_bytes(self) -> int:
        return len(self.model_)


class GruutCRF:
    """The CRF gruut ships for the language: trained on the whole lexicon (optimistic)."""

    name = "gruut_crf"

    def __init__(self, language: str):
        self.language = language

    def path(self) -> Path:
        from ..data.lexicon import lexicon_path

        return lexicon_path(self.language).parent / "g2p" / "model.crf"

    def fit(self, words=None, labels=None):
        crf = _crfsuite()
        self._tag = crf.Tagger()
        self._tag.open(str(self.path()))
        return self

    def predict_labels(self, words):
        out = []
        for w in words:
            tags = self._tag.tag(gruut_features(w)) if w else []
            labs = []
            for t in tags:
                try:
                    s = base64.b64decode(t).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    s = t
                labs.append(" ".join(p for p in s.split("|") if p and p != _EPS_TAG))
            out.append(labs)
        return out

    def model_bytes(self) -> int:
        return self.path().stat().st_size


def make_baseline(name: str, language: str = "", seed: int = 0):
    if name == "most_frequent":
        return MostFrequent()
    if name == "backoff":
        return Backoff()
    if name == "decision_tree":
        return DecisionTree(seed=seed)
    if name == "crf":
        return CRF()
    if name == "gruut_crf":
        return GruutCRF(language)
    raise ValueError(f"unknown baseline {name!r}; valid: {BASELINES}")
