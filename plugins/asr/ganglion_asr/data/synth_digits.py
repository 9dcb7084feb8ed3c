"""A spoken-digit-string corpus synthesised with espeak-ng (and, optionally, festival).

Each utterance is 1-7 digits read as words (the transcript is ``"three one four"``), spoken
by one *speaker*: an espeak-ng English voice with a voice variant (``en-us+f3``,
``en-gb-scotland+klatt2``), at a random speed, pitch, word gap and level, with optional
background noise. Speakers are split three ways, so validation and test utterances come
from speakers that training never heard (``holdout="speaker"``); ``holdout="variant"`` is
stricter still: the held-out variants are heard with no base voice in training.

A second engine, festival, is switched on with ``engines=["espeak-ng", "festival"]``. Its
speakers are an installed English festival voice in a pitch register
(``festival:ked_diphone+low``); each utterance gets its own duration stretch and F0 mean and
range, then the same resampling, level, silence and noise as espeak-ng's. Festival speakers
are split across train/validation/test on their own, so both engines are heard in training,
and ``festival_share`` of the utterances are festival's. Some voices are never used:
:data:`ganglion_asr.data.reserved.RESERVED_VOICES`.

The corpus is a function of the settings and the seed: every random choice is drawn up front
from one seeded generator (noise from a per-utterance seed), so the same command writes the
same manifests and the same audio bytes. Synthesis runs in worker processes, each calling
``espeak-ng -w``; files are written to a temporary name and renamed, and a corpus folder
interrupted half-way resumes where it stopped.

Output layout::

    OUT/corpus.json                     settings, speaker split, counts
    OUT/{train,validation,test}_manifest.json
    OUT/wavs/{train,validation,test}/<split>-000001.wav   (16 kHz mono PCM16)
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ganglion.archive import atomic_write_text
from ganglion_asr.data.manifest import write_manifest
from ganglion_asr.data.reserved import RESERVED_VOICES, reserved_voice
from ganglion_asr.errors import DataError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "validation", "test")

#: Variants left out by default: whispering has no voiced speech at all, "fast" overrides the
#: speed we choose, and "Demonic" is pitched beyond any human voice.
EXCLUDED_VARIANTS = frozenset({"whisper", "whisperf", "fast", "Demonic"})

ESPEAK = "espeak-ng"  # the program
FESTIVAL = "festival"  # the program
TEXT2WAVE = "text2wave"  # festival's text-to-wav script
#: the synthesisers a corpus can draw its speakers from, by the names the config uses
ENGINES = ("espeak-ng", "festival")
ESPEAK_ENGINE, FESTIVAL_ENGINE = ENGINES
FESTIVAL_PACKAGES = "festival festvox-kdlpc16k"

#: Festival pitch registers: a festival speaker is a voice in one of these, and each
#: utterance's F0 mean is drawn from the register's range (Hz).
FESTIVAL_REGISTERS: dict[str, tuple[int, int]] = {
    "deep": (70, 90),
    "low": (90, 110),
    "mid": (110, 135),
    "high": (135, 165),
    "higher": (165, 200),
}

#: The lowest sample rate a corpus may ask for (telephone speech).
MIN_SAMPLE_RATE = 8000


class SynthesisError(DataError):
    """espeak-ng or festival is missing, or failed on an utterance."""


def _refuse_reserved(names: Sequence[str], setting: str) -> None:
    for name in names:
        hit = reserved_voice(str(name))
        if hit is not None:
            raise DataError(
                f"{setting}: {name!r} is a reserved voice ({hit!r} is kept out of training "
                f"corpora as an independent test voice; reserved: {', '.join(RESERVED_VOICES)}); "
                "remove it from the list"
            )


def _espeak(args: Sequence[str], timeout: float = 60.0) -> str:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SynthesisError(
            "espeak-ng is not installed (needed to synthesise the corpus); install it, e.g. "
            "'apt-get install espeak-ng' or 'brew install espeak-ng'"
        )
    result = subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SynthesisError(
            f"{ESPEAK} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout


def english_voices() -> list[str]:
    """espeak-ng's own English voices (language codes such as ``en-us``); MBROLA ones skipped.

    MBROLA voices need a separate synthesiser and voice files that are rarely installed.
    """
    voices: list[str] = []
    for line in _espeak(["--voices=en"]).splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5 or parts[4].startswith(("mb/", "!v/")) or parts[1] == "variant":
            continue
        if parts[1] not in voices:
            voices.append(parts[1])
    return voices


def voice_variants() -> list[str]:
    """espeak-ng's voice variants (``f3``, ``klatt2``, ``Storm`` …), as ``+name`` suffixes."""
    variants: list[str] = []
    for line in _espeak(["--voices=variant"]).splitlines()[1:]:
        parts = line.split()
        # a file name with a space ("Mr serious") cannot be named on the command line
        if len(parts) < 5 or not parts[4].startswith("!v/"):
            continue
        if len(parts) > 5 and not parts[5].startswith("("):
            continue
        variants.append(parts[4][3:])
    return sorted(set(variants), key=str.lower)


def espeak_version() -> str:
    """espeak-ng's version line (recorded in ``corpus.json``)."""
    return _espeak(["--version"]).strip()


def _festival_exe(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise SynthesisError(
            f"festival is not installed ({name} not found; needed for engines: [festival]); "
            f"install it with 'apt-get install {FESTIVAL_PACKAGES}', or leave festival out "
            "of engines"
        )
    return exe


def _run_festival(
    exe_name: str, args: Sequence[str], stdin: str = "", timeout: float = 60.0
) -> str:
    exe = _festival_exe(exe_name)
    result = subprocess.run(
        [exe, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SynthesisError(
            f"{exe_name} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout


def festival_english_voices() -> list[str]:
    """The installed festival voices whose language is English, reserved ones included."""
    script = (
        '(mapcar (lambda (v) (format t "%s %s\\n" v '
        "(car (cdr (assoc 'language (car (cdr (voice.description v)))))))) (voice.list))"
    )
    voices = []
    for line in _run_festival(FESTIVAL, ["-b", script]).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == "english":
            voices.append(parts[0])
    return sorted(set(voices))


def festival_version() -> str:
    """festival's version line (recorded in ``corpus.json``)."""
    return _run_festival(FESTIVAL, ["--version"]).strip()


def festival_speaker(voice: str, register: str) -> str:
    """``("ked_diphone", "low")`` -> ``"festival:ked_diphone+low"``."""
    return f"{FESTIVAL_ENGINE}:{voice}+{register}"


def _festival_voice_and_register(speaker: str) -> tuple[str, str]:
    voice, _, register = speaker.removeprefix(f"{FESTIVAL_ENGINE}:").partition("+")
    return voice, register


def _festival_wav(spec: UtteranceSpec, path: str) -> None:
    """Festival's own-rate wav of ``spec`` at ``path`` (text2wave, one process)."""
    voice, _ = _festival_voice_and_register(spec.voice)
    if not voice.replace("_", "").replace("-", "").isalnum():
        raise SynthesisError(f"{spec.utt_id}: festival voice name {voice!r} is not a plain name")
    # int_lr_params drive the F0 of voices using Int_Targets_LR (the diphone voices); other
    # voices ignore them. Duration_Stretch applies to every voice.
    setup = (
        f"(begin (voice_{voice}) "
        f"(set! int_lr_params (append '((target_f0_mean {spec.f0_mean}) "
        f"(target_f0_std {spec.f0_std})) int_lr_params)) "
        f"(Parameter.set 'Duration_Stretch {spec.stretch}))"
    )
    _run_festival(TEXT2WAVE, ["-o", path, "-eval", setup], stdin=spec.text + "\n")


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything needed to synthesise one utterance, fixed before any audio is made."""

    utt_id: str
    split: str
    text: str
    voice: str  # espeak-ng -v argument: "en-us+f3"
    speed: int  # words per minute
    pitch: int  # 0-99
    word_gap: int  # extra pause between words, in 10 ms units
    level_db: float  # peak level in dBFS
    lead_silence: float  # seconds
    trail_silence: float  # seconds
    noise: str | None  # "white", "pink", "brown" or None
    snr_db: float | None
    seed: int
    engine: str = ESPEAK_ENGINE  # festival utterances: voice is "festival:ked_diphone+low"
    stretch: float | None = None  # festival: Duration_Stretch
    f0_mean: int | None = None  # festival: target F0 mean, Hz
    f0_std: int | None = None  # festival: target F0 standard deviation, Hz

    @property
    def relative_path(self) -> str:
        return f"wavs/{self.split}/{self.utt_id}.wav"


@dataclass
class DigitCorpusConfig:
    """Settings of a digit-string corpus (all recorded in ``corpus.json``)."""

    num_train: int = 8000
    num_validation: int = 500
    num_test: int = 1000
    min_digits: int = 1
    max_digits: int = 7
    sample_rate: int = 16000
    seed: int = 0
    #: base voices (espeak-ng language codes); empty: every English voice espeak-ng has
    voices: list[str] = field(default_factory=list)
    #: variants; empty: every variant but EXCLUDED_VARIANTS. "" is the plain voice.
    variants: list[str] = field(default_factory=list)
    #: fraction of speakers (or variants) held out for validation and for test
    validation_speakers: float = 0.1
    test_speakers: float = 0.15
    #: "speaker" (voice+variant combinations) or "variant" (whole variants)
    holdout: str = "speaker"
    speed: tuple[int, int] = (130, 210)
    pitch: tuple[int, int] = (20, 80)
    word_gap: tuple[int, int] = (0, 3)
    level_db: tuple[float, float] = (-12.0, -1.0)
    silence: tuple[float, float] = (0.0, 0.25)
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (10.0, 40.0)
    #: synthesisers: "espeak-ng", "festival" or both
    engines: list[str] = field(default_factory=lambda: [ESPEAK_ENGINE])
    #: festival voices (``ked_diphone``); empty: every installed English one not reserved
    festival_voices: list[str] = field(default_factory=list)
    #: with both engines, the fraction of utterances festival speaks
    festival_share: float = 0.25
    #: festival's duration stretch (1 = the voice's own speed, 1.3 = 30 % slower)
    festival_stretch: tuple[float, float] = (0.8, 1.35)
    #: festival's F0 standard deviation in Hz (how lively the intonation is)
    festival_f0_std: tuple[int, int] = (8, 35)

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first bad setting."""
        if not 1 <= self.min_digits <= self.max_digits:
            raise DataError(
                f"need 1 <= min_digits <= max_digits, got {self.min_digits}, {self.max_digits}"
            )
        for name in ("num_train", "num_validation", "num_test"):
            if getattr(self, name) < 0:
                raise DataError(f"{name} must not be negative")
        if self.holdout not in ("speaker", "variant"):
            raise DataError(f"holdout={self.holdout!r} must be 'speaker' or 'variant'")
        if not 0 <= self.noise_prob <= 1:
            raise DataError(f"noise_prob={self.noise_prob} must lie in [0, 1]")
        held = self.validation_speakers + self.test_speakers
        if not (self.validation_speakers >= 0 and self.test_speakers >= 0 and held < 1):
            raise DataError("validation_speakers and test_speakers must be >= 0 and sum below 1")
        if self.sample_rate < MIN_SAMPLE_RATE:
            raise DataError(
                f"sample_rate={self.sample_rate} must be at least {MIN_SAMPLE_RATE} Hz "
                "(16000 is usual for speech)"
            )
        engines = list(self.engines)
        _refuse_reserved(engines, "engines")
        _refuse_reserved(self.festival_voices, "festival_voices")
        unknown = [e for e in engines if e not in ENGINES]
        if not engines or unknown or len(set(engines)) != len(engines):
            raise DataError(
                f"engines={engines!r}: list one or both of {', '.join(ENGINES)}, each once"
            )
        if not 0 <= self.festival_share <= 1:
            raise DataError(f"festival_share={self.festival_share} must lie in [0, 1]")
        for name in ("festival_stretch", "festival_f0_std"):
            low, high = getattr(self, name)
            if low > high:
                raise DataError(f"{name} range ({low}, {high}) is reversed")
            if name == "festival_stretch" and low <= 0:
                raise DataError(f"{name} range ({low}, {high}) must lie above 0")
            if low < 0:
                raise DataError(f"{name} range ({low}, {high}) must not be negative")
        for name in ("speed", "pitch", "word_gap", "level_db", "silence", "snr_db"):
            low, high = getattr(self, name)
            if low > high:
                raise DataError(f"{name} range ({low}, {high}) is reversed")
        for name, lowest, highest in (
            ("speed", 1, None),
            ("pitch", 0, 99),
            ("word_gap", 0, None),
            ("silence", 0, None),
        ):
            low, high = getattr(self, name)
            if low < lowest or (highest is not None and high > highest):
                bounds = f"{lowest}-{highest}" if highest is not None else f">= {lowest}"
                raise DataError(f"{name} range ({low}, {high}) must lie within {bounds}")


def digit_text(digits: Sequence[int]) -> str:
    """``[3, 1, 4]`` -> ``"three one four"``."""
    return " ".join(DIGIT_WORDS[d] for d in digits)


def split_speakers(
    voices: Sequence[str], variants: Sequence[str], config: DigitCorpusConfig
) -> dict[str, list[str]]:
    """Speakers (``voice+variant``) of each split; held-out groups are disjoint from training."""
    rng = random.Random(f"speakers-{config.seed}")

    def speaker(voice: str, variant: str) -> str:
        return f"{voice}+{variant}" if variant else voice

    if config.holdout == "variant":
        groups = [[speaker(v, var) for v in voices] for var in variants]
    else:
        groups = [[speaker(v, var)] for v in voices for var in variants]
    return _split_groups(groups, rng, config)


def split_festival_speakers(
    voices: Sequence[str], config: DigitCorpusConfig
) -> dict[str, list[str]]:
    """Festival speakers (voice in a pitch register) of each split, drawn apart from espeak-ng's.

    With ``holdout="variant"`` a register is held out with every voice in it.
    """
    rng = random.Random(f"festival-speakers-{config.seed}")
    registers = list(FESTIVAL_REGISTERS)
    if config.holdout == "variant":
        groups = [[festival_speaker(v, r) for v in voices] for r in registers]
    else:
        groups = [[festival_speaker(v, r)] for v in voices for r in registers]
    return _split_groups(groups, rng, config, what="festival ")


def _split_groups(
    groups: list[list[str]], rng: random.Random, config: DigitCorpusConfig, what: str = ""
) -> dict[str, list[str]]:
    rng.shuffle(groups)
    n = len(groups)
    n_test = max(1, round(n * config.test_speakers)) if config.num_test else 0
    n_val = max(1, round(n * config.validation_speakers)) if config.num_validation else 0
    if n - n_test - n_val < 1:
        raise DataError(
            f"only {n} {what}speaker groups: too few to hold out {n_val} for validation and {n_test} "
            "for test; use more voices/variants or smaller held-out fractions"
        )
    flat = lambda gs: sorted(s for g in gs for s in g)  # noqa: E731
    return {
        "test": flat(groups[:n_test]),
        "validation": flat(groups[n_test : n_test + n_val]),
        "train": flat(groups[n_test + n_val :]),
    }


def plan_corpus(
    config: DigitCorpusConfig,
    voices: Sequence[str],
    variants: Sequence[str],
    festival_voices: Sequence[str] = (),
) -> tuple[dict[str, list[str]], list[UtteranceSpec]]:
    """The speaker split and every utterance's settings; a pure function of its arguments.

    ``voices``/``variants`` are espeak-ng's (unused unless it is an engine),
    ``festival_voices`` festival's (unused unless it is one).
    """
    config.validate()
    use_espeak = ESPEAK_ENGINE in config.engines
    use_festival = FESTIVAL_ENGINE in config.engines
    if use_festival and not festival_voices:
        raise DataError("engines lists festival but no festival voice was given")
    empty: dict[str, list[str]] = {split: [] for split in SPLITS}
    espeak_speakers = split_speakers(voices, variants, config) if use_espeak else empty
    festival_speakers = split_festival_speakers(festival_voices, config) if use_festival else empty
    speakers = {split: espeak_speakers[split] + festival_speakers[split] for split in SPLITS}
    rng = random.Random(config.seed)
    specs: list[UtteranceSpec] = []
    counts = {
        "train": config.num_train,
        "validation": config.num_validation,
        "test": config.num_test,
    }
    for split in SPLITS:
        espeak_pool = espeak_speakers[split]
        festival_pool = festival_speakers[split]
        for i in range(counts[split]):
            n = rng.randint(config.min_digits, config.max_digits)
            noisy = rng.random() < config.noise_prob
            text = digit_text([rng.randrange(10) for _ in range(n)])
            # an espeak-only corpus draws nothing here, so its plan is what it always was
            festival = not use_espeak
            if use_espeak and use_festival:
                festival = rng.random() < config.festival_share and bool(festival_pool)
            voice = rng.choice(festival_pool if festival else espeak_pool)
            spec = UtteranceSpec(
                utt_id=f"{split}-{i + 1:06d}",
                split=split,
                text=text,
                voice=voice,
                speed=rng.randint(*config.speed),
                pitch=rng.randint(*config.pitch),
                word_gap=rng.randint(*config.word_gap),
                level_db=round(rng.uniform(*config.level_db), 2),
                lead_silence=round(rng.uniform(*config.silence), 3),
                trail_silence=round(rng.uniform(*config.silence), 3),
                noise=rng.choice(("white", "pink", "brown")) if noisy else None,
                snr_db=round(rng.uniform(*config.snr_db), 2) if noisy else None,
                seed=rng.getrandbits(32),
            )
            if festival:
                _, register = _festival_voice_and_register(voice)
                spec = replace(
                    spec,
                    engine=FESTIVAL_ENGINE,
                    stretch=round(rng.uniform(*config.festival_stretch), 3),
                    f0_mean=rng.randint(*FESTIVAL_REGISTERS[register]),
                    f0_std=rng.randint(*config.festival_f0_std),
                )
            specs.append(spec)
    return speakers, specs


def synthesize_utterance(spec: UtteranceSpec, out_dir: str, sample_rate: int) -> float:
    """Synthesise one utterance to ``out_dir/spec.relative_path``; returns its duration.

    Runs in a worker process: espeak-ng (or festival's text2wave) writes its own-rate wav to a
    temporary file, which is resampled, padded, levelled, mixed with noise and written as
    PCM16 through a rename.
    """
    import numpy as np
    import soundfile as sf

    from ganglion_asr.augment.perturbations import coloured_noise
    from ganglion_asr.data.audio import resample

    target = Path(out_dir) / spec.relative_path
    if target.exists():  # resuming an interrupted run: finished files are complete (renamed)
        return sf.info(str(target)).frames / sample_rate
    fd, raw_path = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.utt_id}.", suffix=".raw.wav")
    os.close(fd)
    try:
        if spec.engine == FESTIVAL_ENGINE:
            _festival_wav(spec, raw_path)
        else:
            _espeak(
                [
                    "-v",
                    spec.voice,
                    "-s",
                    str(spec.speed),
                    "-p",
                    str(spec.pitch),
                    "-g",
                    str(spec.word_gap),
                    "-w",
                    raw_path,
                    spec.text,
                ]
            )
        audio, rate = sf.read(raw_path, dtype="float32", always_2d=True)
    finally:
        Path(raw_path).unlink(missing_ok=True)
    speech = resample(audio.mean(axis=1), rate, sample_rate).astype(np.float64)
    peak = float(np.max(np.abs(speech))) if speech.size else 0.0
    if peak <= 0:
        raise SynthesisError(
            f"{spec.engine} produced silence for {spec.utt_id} ({spec.voice!r}, {spec.text!r})"
        )
    speech *= 10 ** (spec.level_db / 20) / peak
    signal = np.concatenate(
        [
            np.zeros(int(spec.lead_silence * sample_rate)),
            speech,
            np.zeros(int(spec.trail_silence * sample_rate)),
        ]
    )
    if spec.noise is not None and spec.snr_db is not None:
        rng = np.random.default_rng(spec.seed)
        speech_rms = math.sqrt(float(np.mean(speech**2)))
        noise = coloured_noise(spec.noise, signal.shape[0], rng)
        signal = signal + noise * speech_rms * 10 ** (-spec.snr_db / 20)
    signal = np.clip(signal, -1.0, 1.0).astype(np.float32)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.utt_id}.", suffix=".tmp.wav")
    os.close(fd)
    try:
        sf.write(tmp, signal, sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return signal.shape[0] / sample_rate


#: settings a corpus records only when festival is one of its engines: an espeak-only
#: corpus's record is what it was before festival existed, so it is resumed, not redone
_FESTIVAL_SETTINGS = (
    "engines",
    "festival_voices",
    "festival_share",
    "festival_stretch",
    "festival_f0_std",
)


def _settings(config: DigitCorpusConfig) -> dict[str, Any]:
    settings = asdict(config)
    if list(config.engines) == [ESPEAK_ENGINE]:
        for key in _FESTIVAL_SETTINGS:
            del settings[key]
    return json.loads(json.dumps(settings))  # tuples -> lists, as read back from JSON


def read_corpus_record(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``corpus.json`` record at ``path``, or ``None`` when there is none.

    Anything but a JSON object written by :func:`synthesize_digit_corpus` (plain text, a list,
    binary bytes, a folder of that name) raises :class:`DataError` naming the file and what
    to do; nothing is changed on disk.
    """
    path = Path(path)
    fix = (
        "delete it if the folder holds nothing you need, pass --overwrite to replace the "
        "corpus, or choose another folder"
    )
    if not path.exists():
        return None
    if not path.is_file():
        raise DataError(f"{path} is not a file; remove it or choose another folder")
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not a corpus record (it holds binary or non-UTF-8 bytes); {fix}"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not a corpus record (not JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); {fix}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path} is not a corpus record ({type(exc).__name__}); {fix}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; {fix}") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        got = "an object without them" if isinstance(record, dict) else type(record).__name__
        raise DataError(
            f"{path} is not a corpus record (expected a JSON object with 'settings', got {got}); {fix}"
        )
    return record


def synthesize_digit_corpus(
    out_dir: str | os.PathLike[str],
    config: DigitCorpusConfig | None = None,
    *,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Synthesise the corpus into ``out_dir``; returns the ``corpus.json`` record.

    ``jobs`` worker processes run espeak-ng (default: every CPU). A folder holding a corpus
    made with other settings is an error unless ``overwrite``; one made with the same
    settings is completed (finished files are kept).
    """
    config = config or DigitCorpusConfig()
    config.validate()
    out = Path(out_dir)
    record_path = out / "corpus.json"
    settings = _settings(config)
    # the folder is checked before espeak-ng runs and before anything in it is touched
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise DataError(f"{blocker} is a file, not a folder; choose another folder for the corpus")
    previous = None if overwrite else read_corpus_record(record_path)
    if previous is not None and previous["settings"] != settings:
        raise DataError(
            f"{out} already holds a corpus made with other settings (see {record_path}); "
            "pass --overwrite to replace it, or choose another folder"
        )
    voices: list[str] = []
    variants: list[str] = []
    if ESPEAK_ENGINE in config.engines:
        voices, variants = _espeak_voices_and_variants(config)
    festival_voices = _festival_voices(config) if FESTIVAL_ENGINE in config.engines else []
    speakers, specs = plan_corpus(config, voices, variants, festival_voices)
    if overwrite:
        for split in SPLITS:
            shutil.rmtree(out / "wavs" / split, ignore_errors=True)
    for split in SPLITS:
        (out / "wavs" / split).mkdir(parents=True, exist_ok=True)
    # recorded before any audio exists, so an interrupted run is resumed only with the same
    # settings
    atomic_write_text(record_path, json.dumps({"settings": settings, "complete": False}) + "\n")

    present = sum((out / spec.relative_path).exists() for spec in specs)
    if present == len(specs):
        log(f"all {len(specs)} utterances are already in {out}; reading their durations")
    else:
        left = f"{len(specs) - present} of " if present else ""
        log(
            f"synthesising {left}{len(specs)} utterances ({config.num_train} train, "
            f"{config.num_validation} validation, {config.num_test} test) from "
            f"{sum(map(len, speakers.values()))} speakers into {out}"
        )

    durations = _run_parallel(specs, str(out), config.sample_rate, jobs, progress)

    for split in SPLITS:
        rows = [
            {
                "audio_filepath": s.relative_path,
                "duration": round(d, 4),
                "text": s.text,
                "speaker": s.voice,
            }
            for s, d in zip(specs, durations)
            if s.split == split
        ]
        write_manifest(out / f"{split}_manifest.json", rows)
    record = {
        "settings": settings,
        "complete": True,
        **({"espeak_ng": espeak_version()} if voices else {}),
        "voices": voices,
        "variants": variants,
        **(
            {"festival": festival_version(), "festival_voices": festival_voices}
            if festival_voices
            else {}
        ),
        "speakers": speakers,
        "counts": {split: sum(1 for s in specs if s.split == split) for split in SPLITS},
        "hours": {
            split: round(sum(d for s, d in zip(specs, durations) if s.split == split) / 3600, 4)
            for split in SPLITS
        },
    }
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return record


def _espeak_voices_and_variants(config: DigitCorpusConfig) -> tuple[list[str], list[str]]:
    all_voices = english_voices()
    voices = list(config.voices) or all_voices
    unknown = sorted(set(voices) - set(all_voices))
    if unknown:
        raise DataError(
            f"espeak-ng has no English voice {', '.join(unknown)}; it has {', '.join(all_voices)}"
        )
    all_variants = voice_variants()
    variants = list(config.variants) or [
        "",
        *(v for v in all_variants if v not in EXCLUDED_VARIANTS),
    ]
    unknown = sorted(set(variants) - set(all_variants) - {""})
    if unknown:
        raise DataError(
            f"espeak-ng has no voice variant {', '.join(unknown)}; it has {', '.join(all_variants)}"
        )
    return voices, variants


def _festival_voices(config: DigitCorpusConfig) -> list[str]:
    """The festival voices a corpus uses: the configured ones, checked, or every installed
    English voice that is not reserved."""
    installed = festival_english_voices()
    usable = [v for v in installed if reserved_voice(v) is None]
    if config.festival_voices:
        unknown = sorted(set(config.festival_voices) - set(installed))
        if unknown:
            have = ", ".join(usable) or "none"
            raise DataError(
                f"festival_voices: festival has no English voice {', '.join(unknown)} "
                f"(installed and usable: {have}); install its festvox package or remove it"
            )
        return list(dict.fromkeys(config.festival_voices))
    if not usable:
        raise SynthesisError(
            "festival has no usable English voice (reserved ones are never used); install "
            f"one with 'apt-get install {FESTIVAL_PACKAGES}'"
        )
    return usable


def _run_parallel(
    specs: list[UtteranceSpec], out: str, sample_rate: int, jobs: int | None, progress: bool
) -> list[float]:
    from tqdm.auto import tqdm

    jobs = max(1, jobs or os.cpu_count() or 1)
    bar = tqdm(total=len(specs), unit="utt", desc="synth-digits", disable=not progress)
    durations: list[float] = []
    try:
        if jobs == 1:
            for spec in specs:
                durations.append(synthesize_utterance(spec, out, sample_rate))
                bar.update()
        else:
            chunk = max(1, min(64, len(specs) // (jobs * 8) or 1))
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
