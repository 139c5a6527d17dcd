"""Toy lexicons for the G2P tests (tests/g2p/toy.py): no gruut package needed."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402


@pytest.fixture(scope="session")
def toy_words():
    return toy.words(900, seed=3)


@pytest.fixture(scope="session")
def toy_lexicon(tmp_path_factory, toy_words):
    return toy.write_lexicon(tmp_path_factory.mktemp("lex") / "lexicon.db", toy_words)


@pytest.fixture(scope="session")
def toy_data(toy_lexicon):
    from hashtron_lab.data.lexicon import read_lexicon
    from hashtron_lab.g2p.data import prepare

    return prepare("toy", seed=0, n_words=None, lexicon=read_lexicon(toy_lexicon, "toy"))


@pytest.fixture(scope="session")
def toy_model(toy_data):
    from hashtron_lab.g2p import Phonemizer

    d = toy_data
    return Phonemizer(language="toy", max_left=2, max_right=2).fit(
        d.train.words, d.train.prons, d.val.words, d.val.prons, letter_labels=d.train.labels,
        val_letter_labels=d.val.labels)
