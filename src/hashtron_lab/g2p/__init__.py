"""Grapheme-to-phoneme: pronunciation lexicons in, a `Phonemizer` out, beside the standard baselines.

- `phonemizer.Phonemizer`: the public fit / predict / score / save / load;
- `letters`: letter samples, context keys, the class table; `credit`: how the network's RAMs learn;
- `data`: a language's words split by word; `baselines`, `metrics`, `evaluate`: what it is compared on;
- `job`, `report`: one sweep point (language × direction × seed) and the per-language report.
"""
from .phonemizer import Phonemizer, PhonemizerFileError

__all__ = ["Phonemizer", "PhonemizerFileError"]
