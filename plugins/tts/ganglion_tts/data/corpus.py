"""A single-voice TTS corpus synthesised offline with espeak-ng.

One fixed voice (``en-us`` by default, at a fixed speed, pitch and level) reads two kinds of
utterance:

* **digit strings** of 1-7 digits written as words (``"three one four"``, as the ASR digit
  corpus transcribes them), so the ASR digit model of the quick start can transcribe what a
  TTS model trained here says;
* **sentences** of real English text found offline: fortune cookies (Debian's ``fortunes``
  packages, ``/usr/share/games/fortunes``) and the example sentences of WordNet glosses
  (``wordnet-base``, ``/usr/share/wordnet``). Only short clean sentences are kept: 3-15 words
  of plain letters with ``, . ? !`` punctuation, no abbreviations, acronyms or numbers, every
  word in the text frontend's pronouncing dictionary (so the phonemes a model learns from are
  the dictionary's, never a guess).

Splits are disjoint by text: no validation or test digit string or sentence occurs in
training. Held-out digit strings have at least ``held_out_min_digits`` (3) digits, so every
short string (there are only ten of one digit) stays available to training; training digit
strings are all different from one another.

The corpus is a function of the settings, the seed and the sentence sources: the same
command writes the same manifests and the same audio. Synthesis runs in worker processes
(:func:`ganglion_asr.data.synth_digits.synthesize_utterance`: espeak-ng's 22050 Hz output
resampled with soxr to 16 kHz mono PCM16, written to a temporary name and renamed), and an
interrupted build resumes where it stopped.

Output layout::

    DIR/corpus.json                        settings, counts, hours, sources
    DIR/{train,validation,test}_manifest.json   (ASR manifests with a "speaker" key)
    DIR/wavs/{train,validation,test}/<split>-000001.wav
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ganglion.archive import atomic_write_text
from ganglion.errors import close_matches
from ganglion_asr.data.manifest import write_manifest
from ganglion_asr.data.synth_digits import (
    MIN_SAMPLE_RATE,
    UtteranceSpec,
    digit_text,
    english_voices,
    espeak_version,
    read_corpus_record,
    synthesize_utterance,
    voice_variants,
)
from ganglion_tts.errors import CorpusError

__all__ = [
    "CORPUS_KIND",
    "SOURCES",
    "TTSCorpusConfig",
    "build_tts_corpus",
    "clean_sentence",
    "plan_tts_corpus",
    "read_sentences",
]

#: ``corpus.json``'s ``kind``: a folder holding another kind of corpus is never written into.
CORPUS_KIND = "ganglion-tts single-voice corpus"
SPLITS = ("train", "validation", "test")
#: Sentence sources and where they are installed from.
SOURCES = {
    "fortunes": "fortune cookies (Debian packages fortunes-min, fortunes)",
    "wordnet": "example sentences of WordNet glosses (Debian package wordnet-base)",
}
#: Fortune files left out: pictures, not prose; text in other languages; jokes at the
#: expense of groups of people.
EXCLUDED_FORTUNES = frozenset({"art", "ascii-art", "translate-me", "ethnic", "men-women"})
#: Words that end in a period as abbreviations do: a "sentence" ending in one is a fragment.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "no", "inc", "co", "ltd"}
    | {"gen", "col", "lt", "sgt", "capt", "rev", "mt", "ft", "jan", "feb", "mar", "apr", "jun"}
    | {"jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_QUOTED = re.compile(r'"([^"]+)"')
_WORDNET_PARTS = ("noun", "verb", "adj", "adv")


@dataclass
class TTSCorpusConfig:
    """Settings of a single-voice corpus (all recorded in ``corpus.json``)."""

    num_train: int = 2500
    num_validation: int = 100
    num_test: int = 200
    #: fraction of training utterances that are digit strings (the rest are sentences)
    digit_fraction: float = 0.6
    #: fraction of validation and of test utterances that are digit strings
    held_out_digit_fraction: float = 0.5
    min_digits: int = 1
    max_digits: int = 7
    #: validation and test digit strings have at least this many digits (see the module doc)
    held_out_min_digits: int = 3
    min_words: int = 3
    max_words: int = 15
    #: where sentences come from: "fortunes", "wordnet" (taken in turn)
    sources: list[str] = field(default_factory=lambda: ["fortunes", "wordnet"])
    fortunes_dir: str = "/usr/share/games/fortunes"
    wordnet_dir: str = "/usr/share/wordnet"
    #: espeak-ng voice: an English voice, optionally with a variant ("en-us+f3")
    voice: str = "en-us"
    speed: int = 165  # words per minute
    pitch: int = 50  # 0-99
    word_gap: int = 0  # extra pause between words, in 10 ms units
    level_db: float = -3.0  # peak level of each utterance, dBFS
    sample_rate: int = 16000
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`CorpusError` naming the first bad setting and its allowed range."""
        for name in ("num_train", "num_validation", "num_test"):
            if getattr(self, name) < 0:
                raise CorpusError(f"{name}={getattr(self, name)} must not be negative")
        if self.num_train == 0:
            raise CorpusError("num_train=0: a corpus needs training utterances")
        for name in ("digit_fraction", "held_out_digit_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise CorpusError(f"{name}={getattr(self, name)} must lie in [0, 1]")
        if not 1 <= self.min_digits <= self.max_digits:
            raise CorpusError(
                f"need 1 <= min_digits <= max_digits, got {self.min_digits}, {self.max_digits}"
            )
        if self.held_out_min_digits < 1:
            raise CorpusError(f"held_out_min_digits={self.held_out_min_digits} must be >= 1")
        if not 1 <= self.min_words <= self.max_words:
            raise CorpusError(
                f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}"
            )
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise CorpusError(
                f"unknown sentence source(s) {', '.join(map(repr, unknown))}; known: "
                f"{', '.join(SOURCES)}"
            )
        if len(set(self.sources)) != len(self.sources):
            raise CorpusError(f"sources {self.sources} name a source twice")
        if not 80 <= self.speed <= 450:
            raise CorpusError(f"speed={self.speed} words/minute must lie in 80-450 (espeak-ng)")
        if not 0 <= self.pitch <= 99:
            raise CorpusError(f"pitch={self.pitch} must lie in 0-99 (espeak-ng)")
        if self.word_gap < 0:
            raise CorpusError(f"word_gap={self.word_gap} must not be negative")
        if not -60 <= self.level_db <= 0:
            raise CorpusError(f"level_db={self.level_db} must lie in -60..0 dBFS")
        if self.sample_rate < MIN_SAMPLE_RATE:
            raise CorpusError(
                f"sample_rate={self.sample_rate} must be at least {MIN_SAMPLE_RATE} Hz "
                "(the TTS recipe uses 16000)"
            )

    def split_counts(self) -> dict[str, tuple[int, int]]:
        """``{split: (digit strings, sentences)}``."""
        counts = {}
        for split, total, frac in (
            ("train", self.num_train, self.digit_fraction),
            ("validation", self.num_validation, self.held_out_digit_fraction),
            ("test", self.num_test, self.held_out_digit_fraction),
        ):
            digits = round(total * frac)
            counts[split] = (digits, total - digits)
        return counts

    def settings(self) -> dict[str, Any]:
        """The settings as ``corpus.json`` holds them (JSON types)."""
        return json.loads(json.dumps(asdict(self)))


# -- sentences ----------------------------------------------------------------------------------
def clean_sentence(text: str, min_words: int = 3, max_words: int = 15) -> str | None:
    """``text`` with its white space collapsed when it is one short clean sentence, else
    ``None``.

    Clean: it starts with a capital letter and ends with ``. ? !``; it holds
    ``min_words``-``max_words`` words of letters (an apostrophe inside a word is fine), each
    lowercase or capitalised (no acronyms, no CamelCase), single letters only ``a``/``A``/``I``;
    commas between words are the only other punctuation; its last word is no abbreviation.

    >>> clean_sentence("Mince  the garlic.")
    'Mince the garlic.'
    >>> clean_sentence("NASA was founded in 1958.") is None
    True
    """
    sentence = " ".join(text.split())
    if len(sentence) < 2 or sentence[-1] not in ".?!" or not sentence[0].isupper():
        return None
    words = sentence[:-1].split(" ")
    if not min_words <= len(words) <= max_words:
        return None
    for i, item in enumerate(words):
        word = item[:-1] if item.endswith(",") and i < len(words) - 1 else item
        if not _WORD.fullmatch(word):
            return None
        letters = word.replace("'", "")
        if len(letters) == 1:
            if word not in ("a", "A", "I"):
                return None
        elif not (letters.islower() or (letters[0].isupper() and letters[1:].islower())):
            return None
    if words[-1].lower() in _ABBREVIATIONS:
        return None
    return sentence


def _fortune_sentences(directory: Path) -> Iterator[str]:
    """Candidate sentences of every fortune file in ``directory`` (its ``.u8`` UTF-8 text)."""
    for path in sorted(directory.glob("*.u8")):
        if path.name[: -len(".u8")] in EXCLUDED_FORTUNES:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for fortune in re.split(r"^%\r?$", text, flags=re.MULTILINE):
            # attribution lines ("-- Mark Twain") are not part of what is said
            lines = [ln for ln in fortune.splitlines() if not ln.lstrip().startswith("--")]
            yield from _SENTENCE_END.split(" ".join(" ".join(lines).split()))


def _wordnet_sentences(directory: Path) -> Iterator[str]:
    """The quoted example sentences of WordNet's glosses, capitalised, with a final period."""
    for pos in _WORDNET_PARTS:
        with (directory / f"data.{pos}").open("rb") as handle:
            for raw in handle:
                line = raw.decode("utf-8", errors="replace")
                if line.startswith("  "):  # the licence header
                    continue
                for example in _QUOTED.findall(line.partition(" | ")[2]):
                    example = example.strip()
                    if example:
                        example = example[0].upper() + example[1:]
                        yield example if example[-1] in ".?!" else example + "."


def _check_source(name: str, directory: Path) -> None:
    if name == "fortunes":
        found = directory.is_dir() and any(directory.glob("*.u8"))
        install = "sudo apt-get install fortunes-min fortunes"
        option = "--fortunes-dir"
    else:
        parts = [f"data.{pos}" for pos in _WORDNET_PARTS]
        missing = [part for part in parts if not (directory / part).is_file()]
        found = len(missing) < len(parts)
        if found and missing:
            raise CorpusError(
                f"WordNet in {directory} is incomplete: {', '.join(missing)} missing (it "
                f"needs {', '.join(parts)}); reinstall wordnet-base or pass --wordnet-dir"
            )
        install = "sudo apt-get install wordnet-base"
        option = "--wordnet-dir"
    if not found:
        where = "does not exist" if not directory.exists() else "holds none of its files"
        others = [s for s in SOURCES if s != name]
        raise CorpusError(
            f"sentence source {name!r} not found: {directory} {where}. Install it "
            f"(`{install}` on Debian/Ubuntu), pass {option} to where it is, or leave it out "
            f"(--sources {','.join(others)})"
        )


def read_sentences(config: TTSCorpusConfig) -> dict[str, list[str]]:
    """``{source: sentences}``: the clean candidate sentences of each configured source, each
    once (first occurrence kept), in file order. A missing source is a :class:`CorpusError`
    saying what to install."""
    pools: dict[str, list[str]] = {}
    for name in config.sources:
        directory = Path(getattr(config, f"{name}_dir")).expanduser()
        _check_source(name, directory)
        reader = _fortune_sentences if name == "fortunes" else _wordnet_sentences
        seen: set[str] = set()
        pool: list[str] = []
        for candidate in reader(directory):
            sentence = clean_sentence(candidate, config.min_words, config.max_words)
            if sentence is not None and sentence not in seen:
                seen.add(sentence)
                pool.append(sentence)
        pools[name] = pool
    return pools


def _text_key(text: str) -> str:
    """What makes two texts the same utterance: their words, case and punctuation aside."""
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def _readable(frontend: Any, sentence: str) -> bool:
    """Whether the frontend reads ``sentence`` from its dictionary alone, dropping nothing."""
    from ganglion_tts.text.normalize import normalize_text

    norm = normalize_text(sentence)
    if norm.dropped:
        return False
    # checked against the dictionary first, so the letter-to-sound model is never loaded
    if not all(w.rstrip(",.?!") in frontend.lexicon for w in norm.text.split()):
        return False
    result = frontend.parse(sentence)
    return not result.dropped and not result.fallback


def _pick_sentences(
    pools: dict[str, list[str]], needed: int, rng: random.Random, frontend: Any
) -> tuple[list[str], int]:
    """``needed`` different readable sentences, the sources taken in turn, each shuffled by
    ``rng``; and how many candidates were looked at."""
    orders = []
    for name in pools:
        order = list(pools[name])
        rng.shuffle(order)
        orders.append(iter(order))
    picked: list[str] = []
    keys: set[str] = set()
    looked = 0
    while len(picked) < needed and orders:
        for it in list(orders):
            if len(picked) == needed:
                break
            sentence = next(it, None)
            if sentence is None:
                orders.remove(it)
                continue
            looked += 1
            key = _text_key(sentence)
            if key not in keys and _readable(frontend, sentence):
                keys.add(key)
                picked.append(sentence)
    return picked, looked


# -- digit strings ------------------------------------------------------------------------------
def _digit_strings(
    rng: random.Random, count: int, lengths: Sequence[int], taken: set[str], what: str
) -> list[str]:
    """``count`` digit strings (as words) not in ``taken`` nor repeated, lengths drawn
    uniformly from those with strings left; adds them to ``taken``."""
    left = {n: 10**n - sum(1 for t in taken if len(t.split()) == n) for n in lengths}
    if count > sum(left.values()):
        raise CorpusError(
            f"{count} {what} digit strings of {lengths[0]}-{lengths[-1]} digits asked for, but "
            f"only {sum(left.values())} different ones are left; lower the count or allow "
            "longer strings (--max-digits)"
        )
    out: list[str] = []
    while len(out) < count:
        open_lengths = [n for n in lengths if left[n] > 0]
        n = rng.choice(open_lengths)
        text = digit_text([rng.randrange(10) for _ in range(n)])
        if text in taken:
            continue
        taken.add(text)
        left[n] -= 1
        out.append(text)
    return out


# -- the plan -----------------------------------------------------------------------------------
def plan_tts_corpus(
    config: TTSCorpusConfig,
    pools: dict[str, list[str]],
    *,
    frontend: Any = None,
) -> tuple[list[UtteranceSpec], dict[str, Any]]:
    """Every utterance's text and synthesis settings, and facts for ``corpus.json``; a pure
    function of the settings, the sentence pools and the frontend's dictionary."""
    config.validate()
    if frontend is None:
        from ganglion_tts.text import TextFrontend

        frontend = TextFrontend(log=False)
    counts = config.split_counts()
    rng = random.Random(f"tts-corpus-{config.seed}")

    # held-out digit strings first, long enough to leave every short string to training
    low = min(max(config.min_digits, config.held_out_min_digits), config.max_digits)
    taken: set[str] = set()
    digits = {
        "test": _digit_strings(
            rng, counts["test"][0], range(low, config.max_digits + 1), taken, "test"
        ),
        "validation": _digit_strings(
            rng, counts["validation"][0], range(low, config.max_digits + 1), taken, "validation"
        ),
    }
    digits["train"] = _digit_strings(
        rng,
        counts["train"][0],
        range(config.min_digits, config.max_digits + 1),
        taken,
        "training",
    )

    needed = sum(sentences for _, sentences in counts.values())
    picked, looked = _pick_sentences(pools, needed, rng, frontend)
    if len(picked) < needed:
        available = ", ".join(f"{name}: {len(pool)}" for name, pool in pools.items())
        raise CorpusError(
            f"{needed} sentences needed, but only {len(picked)} of {looked} candidates of "
            f"{config.min_words}-{config.max_words} words ({available}) are clean and read "
            "from the dictionary; lower --num-train or raise --digit-fraction, widen "
            "--min-words/--max-words, or add a source (--sources)"
        )
    sentences = {}
    start = 0
    for split in ("test", "validation", "train"):
        sentences[split] = picked[start : start + counts[split][1]]
        start += counts[split][1]

    specs: list[UtteranceSpec] = []
    for split in SPLITS:
        texts = digits[split] + sentences[split]
        rng.shuffle(texts)
        for i, text in enumerate(texts):
            specs.append(
                UtteranceSpec(
                    utt_id=f"{split}-{i + 1:06d}",
                    split=split,
                    text=text,
                    voice=config.voice,
                    speed=config.speed,
                    pitch=config.pitch,
                    word_gap=config.word_gap,
                    level_db=config.level_db,
                    lead_silence=0.0,
                    trail_silence=0.0,
                    noise=None,
                    snr_db=None,
                    seed=0,
                )
            )
    facts = {
        "counts": {
            split: {"digits": counts[split][0], "sentences": counts[split][1]} for split in SPLITS
        },
        "sentence_pool": {name: len(pool) for name, pool in pools.items()},
        "sentence_candidates_read": looked,
    }
    return specs, facts


def plan_digest(specs: Iterable[UtteranceSpec]) -> str:
    """A hash of every utterance's file name, text and voice settings."""
    rows = [
        [s.relative_path, s.text, s.voice, s.speed, s.pitch, s.word_gap, s.level_db] for s in specs
    ]
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


# -- checks before anything is written ----------------------------------------------------------
def check_voice(voice: str) -> None:
    """Refuse a voice espeak-ng does not have, naming close ones (needs espeak-ng)."""
    base, _, variant = voice.partition("+")
    voices = english_voices()
    if base not in voices:
        close = close_matches(base, voices)
        hint = f" Close: {', '.join(close)}." if close else ""
        raise CorpusError(
            f"espeak-ng has no English voice {base!r}.{hint} Its English voices: "
            f"{', '.join(voices)} (a variant may follow: en-us+f3)"
        )
    if variant:
        variants = voice_variants()
        if variant not in variants:
            close = close_matches(variant, variants)
            hint = f" Close: {', '.join(close)}." if close else ""
            raise CorpusError(
                f"espeak-ng has no voice variant {variant!r} (in --voice {voice}).{hint} "
                f"It has {len(variants)} (`espeak-ng --voices=variant` lists them), e.g. "
                f"{', '.join(variants[:8])}"
            )


def _differences(old: dict[str, Any], new: dict[str, Any], show: int = 6) -> str:
    keys = sorted(set(old) | set(new), key=lambda k: (k not in new, k))
    diff = [
        f"{k}: {json.dumps(old.get(k))} there, {json.dumps(new.get(k))} now"
        for k in keys
        if old.get(k) != new.get(k)
    ]
    more = f" and {len(diff) - show} more" if len(diff) > show else ""
    return "; ".join(diff[:show]) + more


def _check_folder(out: Path, settings: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The previous record of ``out`` (None: a new corpus), or a :class:`CorpusError` when the
    folder holds something else."""
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise CorpusError(
            f"{blocker} is a file, not a folder; choose another folder for the corpus"
        )
    if overwrite or not out.exists():
        return None
    record_path = out / "corpus.json"
    previous = read_corpus_record(record_path)
    if previous is None:
        if any(out.iterdir()):
            raise CorpusError(
                f"{out} is not empty and holds no corpus.json: choose a new or empty folder, or "
                "pass --overwrite to write the corpus into it (its wavs/ and manifests are "
                "replaced)"
            )
        return None
    if previous.get("kind") != CORPUS_KIND:
        raise CorpusError(
            f"{record_path} describes another kind of corpus (not a {CORPUS_KIND}); choose "
            "another folder, or pass --overwrite to replace it"
        )
    if previous["settings"] != settings:
        differ = _differences(previous["settings"], settings)
        raise CorpusError(
            f"{out} already holds a corpus made with other settings ({differ}). "
            "Rerun with its settings to complete or keep it, pass --overwrite to replace it, "
            "or choose another folder"
        )
    return previous


# -- the build ----------------------------------------------------------------------------------
def build_tts_corpus(
    out_dir: str | os.PathLike[str],
    config: TTSCorpusConfig | None = None,
    *,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Synthesise the corpus into ``out_dir``; returns the ``corpus.json`` record.

    ``jobs`` worker processes run espeak-ng (default: every CPU). A folder holding a corpus
    made with other settings is refused unless ``overwrite``; one made with the same settings
    is completed (finished files are kept).
    """
    given = config or TTSCorpusConfig()
    # recorded with absolute source folders (a copy: the caller's config is left as it was)
    config = replace(
        given,
        fortunes_dir=str(Path(given.fortunes_dir).expanduser().resolve()),
        wordnet_dir=str(Path(given.wordnet_dir).expanduser().resolve()),
    )
    config.validate()
    out = Path(out_dir).expanduser()
    settings = config.settings()
    previous = _check_folder(out, settings, overwrite)
    check_voice(config.voice)  # also finds out whether espeak-ng is there at all
    pools = read_sentences(config)
    specs, facts = plan_tts_corpus(config, pools)
    digest = plan_digest(specs)
    if previous is not None and previous.get("plan") not in (None, digest):
        raise CorpusError(
            f"{out} was started with the same settings but other texts: the sentence sources "
            f"({', '.join(config.sources)}) or the text frontend's dictionary changed since. "
            "Pass --overwrite to rebuild it, or choose another folder"
        )
    if overwrite:
        for split in SPLITS:
            shutil.rmtree(out / "wavs" / split, ignore_errors=True)
    for split in SPLITS:
        (out / "wavs" / split).mkdir(parents=True, exist_ok=True)
    record_path = out / "corpus.json"
    # written before any audio, so an interrupted build resumes only with the same plan
    start = {"kind": CORPUS_KIND, "settings": settings, "plan": digest, "complete": False}
    atomic_write_text(record_path, json.dumps(start, indent=2) + "\n")

    present = sum((out / spec.relative_path).exists() for spec in specs)
    if present == len(specs):
        log(f"all {len(specs)} utterances are already in {out}; reading their durations")
    else:
        left = f"{len(specs) - present} of " if present else ""
        log(
            f"synthesising {left}{len(specs)} utterances ({config.num_train} train, "
            f"{config.num_validation} validation, {config.num_test} test) with espeak-ng voice "
            f"{config.voice} into {out}"
        )
    durations = _synthesize_all(specs, str(out), config.sample_rate, jobs, progress)

    for split in SPLITS:
        rows = [
            {
                "audio_filepath": s.relative_path,
                "duration": round(d, 4),
                "text": s.text,
                "speaker": config.voice,
            }
            for s, d in zip(specs, durations)
            if s.split == split
        ]
        write_manifest(out / f"{split}_manifest.json", rows)
    record = {
        **start,
        "complete": True,
        "espeak_ng": espeak_version(),
        "speaker": config.voice,
        **facts,
        "hours": {
            split: round(sum(d for s, d in zip(specs, durations) if s.split == split) / 3600, 4)
            for split in SPLITS
        },
    }
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return record


def _synthesize_all(
    specs: list[UtteranceSpec], out: str, sample_rate: int, jobs: int | None, progress: bool
) -> list[float]:
    """Durations of every utterance, synthesising those not yet on disk (in ``jobs``
    processes)."""
    from tqdm.auto import tqdm

    jobs = max(1, jobs or os.cpu_count() or 1)
    bar = tqdm(total=len(specs), unit="utt", desc="make-corpus", disable=not progress)
    durations: list[float] = []
    try:
        if jobs == 1 or len(specs) < 2:
            for spec in specs:
                durations.append(synthesize_utterance(spec, out, sample_rate))
                bar.update()
        else:
            chunk = max(1, min(32, len(specs) // (jobs * 8)))
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                results = pool.map(
                    synthesize_utterance,
                    specs,
                    [out] * len(specs),
                    [sample_rate] * len(specs),
                    chunksize=chunk,
                )
                for duration in results:
                    durations.append(duration)
                    bar.update()
    finally:
        bar.close()
    return durations
