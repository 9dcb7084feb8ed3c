"""The augmentor: a chain of waveform perturbations built from a dataset config's
``augmentor`` mapping, e.g. ``{speed: {prob: 0.5, min_rate: 0.9, max_rate: 1.1}, noise: {...}}``."""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganglion.errors import ConfigError, check_known_keys
from ganglion_asr.augment.perturbations import (
    EqualizerPerturbation,
    GainPerturbation,
    NoisePerturbation,
    Perturbation,
    PitchPerturbation,
    ReverbPerturbation,
    SpeedPerturbation,
    TelephonePerturbation,
)
from ganglion_asr.data.reserved import reserved_recording

__all__ = ["AudioAugmentor", "process_augmentations"]

#: The order perturbations are applied in, whatever the config's order: the speaker
#: (speed, pitch), the microphone (eq), the room (reverb), the background (noise), the
#: line (telephone), the level (gain).
ORDER: tuple[type[Perturbation], ...] = (
    SpeedPerturbation,
    PitchPerturbation,
    EqualizerPerturbation,
    ReverbPerturbation,
    NoisePerturbation,
    TelephonePerturbation,
    GainPerturbation,
)

_AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})
_COLOURS = ("white", "pink", "brown")
#: (low key, high key, lowest allowed, highest allowed) of each range a perturbation has
_RANGES: dict[str, list[tuple[str, str, float, float]]] = {
    "speed": [("min_rate", "max_rate", 0.5, 2.0)],
    "pitch": [("min_factor", "max_factor", 0.5, 2.0)],
    "noise": [("min_snr_db", "max_snr_db", -20.0, 100.0)],
    "reverb": [("min_rt60", "max_rt60", 0.01, 5.0), ("min_drr_db", "max_drr_db", -30.0, 40.0)],
    "telephone": [("min_gain_db", "max_gain_db", -60.0, 60.0), ("low_hz", "high_hz", 0.0, 4000.0)],
    "eq": [
        ("min_bands", "max_bands", 0, 10),
        ("min_gain_db", "max_gain_db", -30.0, 30.0),
        ("min_freq", "max_freq", 10.0, 20000.0),
        ("min_q", "max_q", 0.05, 20.0),
    ],
    "gain": [("min_gain_db", "max_gain_db", -60.0, 60.0)],
}


class AudioAugmentor:
    """Applies ``perturbations`` in turn to one utterance's waveform.

    Each perturbation gets its own generator derived from the one passed in, so switching
    one perturbation off or changing its settings leaves the others' random draws as they
    were. Call it as ``augmentor(audio, sample_rate, rng)``; the result is float32.

    Example::

        augmentor = AudioAugmentor.from_config({"speed": {"prob": 0.5}, "noise": {}})
        noisy = augmentor(audio, 16000, np.random.default_rng([seed, epoch, index]))
    """

    def __init__(self, perturbations: Sequence[Perturbation]) -> None:
        self.perturbations = list(perturbations)

    def __call__(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        return self.perturb(audio, sample_rate, rng)

    def perturb(self, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """``audio`` (mono) after every perturbation, drawing from ``rng``."""
        out = np.ascontiguousarray(audio, dtype=np.float32)
        # one seed per slot of ORDER, drawn always: a perturbation's draws do not depend on
        # which others are configured
        # (perturbations of other classes get the slots after those, by position)
        seeds = rng.integers(0, 2**63, size=len(ORDER) + len(self.perturbations))
        for position, perturbation in enumerate(self.perturbations):
            kind = type(perturbation)
            slot = ORDER.index(kind) if kind in ORDER else len(ORDER) + position
            out = perturbation(out, sample_rate, np.random.default_rng(int(seeds[slot])))
        return out

    def __len__(self) -> int:
        return len(self.perturbations)

    def __repr__(self) -> str:
        return f"AudioAugmentor({self.perturbations!r})"

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None, *, key: str = "augmentor"
    ) -> AudioAugmentor | None:
        """The augmentor a config mapping describes, or None when it is empty or null.

        Keys: ``speed``, ``pitch``, ``noise``, ``reverb``, ``telephone``, ``eq``, ``gain``,
        each a mapping of that perturbation's settings (``prob`` and its ranges; null or
        ``{}`` takes the defaults). Unknown keys, bad ranges and reserved noise files raise a
        :class:`ConfigError` naming ``key.<name>.<setting>``.
        """
        if config is None:
            return None
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"{key} must be a mapping of perturbations (speed, pitch, noise, reverb, "
                f"telephone, eq, gain), got {type(config).__name__}"
            )
        classes = {c.name: c for c in ORDER}
        check_known_keys(config, classes, where=key)
        built: dict[str, Perturbation] = {}
        for name, settings in config.items():
            where = f"{key}.{name}"
            settings = {} if settings is None else settings
            if not isinstance(settings, Mapping):
                raise ConfigError(f"{where} must be a mapping of settings, got {settings!r}")
            built[name] = _build(classes[name], dict(settings), where)
        chain = [built[c.name] for c in ORDER if c.name in built]
        return cls(chain) if chain else None


def process_augmentations(
    config: Mapping[str, Any] | None, *, key: str = "augmentor"
) -> AudioAugmentor | None:
    """NeMo's name for :meth:`AudioAugmentor.from_config`."""
    return AudioAugmentor.from_config(config, key=key)


def _build(cls: type[Perturbation], settings: dict[str, Any], where: str) -> Perturbation:
    params = inspect.signature(cls.__init__).parameters
    known = [p for p in params if p != "self"]
    if cls is NoisePerturbation:
        known = [k for k in known if k != "files"] + ["manifest_filepath", "noise_dir"]
    check_known_keys(settings, known, where=where)
    for name, value in settings.items():
        if name in ("colours", "manifest_filepath", "noise_dir", "clip"):
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ConfigError(f"{where}.{name} must be a number, got {value!r}")
    for name in ("prob", "file_prob", "gsm_prob"):
        if name in settings and not 0.0 <= settings[name] <= 1.0:
            raise ConfigError(f"{where}.{name} is a probability in [0, 1], got {settings[name]}")
    if "num_rates" in settings and (settings["num_rates"] < 0 or settings["num_rates"] % 1):
        raise ConfigError(
            f"{where}.num_rates must be a whole number >= 0, got {settings['num_rates']}"
        )
    for low_key, high_key, lowest, highest in _RANGES.get(cls.name, []):
        low = settings.get(low_key, params[low_key].default)
        high = settings.get(high_key, params[high_key].default)
        for k, v in ((low_key, low), (high_key, high)):
            if not lowest <= v <= highest:
                raise ConfigError(f"{where}.{k} must lie in [{lowest:g}, {highest:g}], got {v:g}")
        if low > high:
            raise ConfigError(
                f"{where}: {low_key} ({low:g}) is above {high_key} ({high:g}); swap them"
            )
    for k in ("min_bands", "max_bands"):
        if k in settings and settings[k] % 1:
            raise ConfigError(f"{where}.{k} must be a whole number, got {settings[k]}")
    if cls is TelephonePerturbation and settings.get("low_hz", 300.0) <= 0:
        raise ConfigError(f"{where}.low_hz must be above 0 Hz, got {settings['low_hz']}")
    if cls is TelephonePerturbation and settings.get("low_hz", 300.0) >= settings.get(
        "high_hz", 3400.0
    ):
        raise ConfigError(f"{where}: low_hz must be below high_hz")
    if cls is NoisePerturbation:
        _noise_sources(settings, where)
    return cls(**settings)


def _noise_sources(settings: dict[str, Any], where: str) -> None:
    colours = settings.get("colours", _COLOURS)
    if isinstance(colours, str):
        colours = [colours]
    if colours is not None and not isinstance(colours, Sequence):
        raise ConfigError(
            f"{where}.colours must be a list of white, pink, brown (or []), got {colours!r}"
        )
    colours = list(colours or [])
    for colour in colours:
        if colour not in _COLOURS:
            raise ConfigError(
                f"{where}.colours: unknown noise colour {colour!r}; use white, pink or brown"
            )
    settings["colours"] = colours
    files: list[str] = []
    manifest = settings.pop("manifest_filepath", None)
    folder = settings.pop("noise_dir", None)
    if manifest:
        files += _manifest_files(str(manifest), f"{where}.manifest_filepath")
    if folder:
        path = Path(str(folder))
        if not path.is_dir():
            raise ConfigError(f"{where}.noise_dir: {folder} is not a folder of noise recordings")
        found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES)
        if not found:
            raise ConfigError(
                f"{where}.noise_dir: {folder} holds no audio files "
                f"({', '.join(sorted(_AUDIO_SUFFIXES))})"
            )
        files += found
    for path in files:
        hit = reserved_recording(path)
        if hit:
            raise ConfigError(
                f"{where}: noise file {path} is reserved ({hit!r} recordings are kept out of "
                "training as independent test material); remove it from the noise list"
            )
    if not colours and not files:
        raise ConfigError(
            f"{where} has no noise source: give colours, manifest_filepath or noise_dir"
        )
    settings["files"] = files


def _manifest_files(manifest: str, where: str) -> list[str]:
    try:
        text = Path(manifest).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read noise manifest {manifest}: {exc.strerror}"
        ) from None
    base = os.path.dirname(os.path.abspath(manifest))
    files = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            path = entry["audio_filepath"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{manifest}:{number}: not a JSON object with an audio_filepath "
                f"(noise manifest of {where})"
            ) from None
        path = os.path.join(base, path) if not os.path.isabs(path) else path
        if not os.path.isfile(path):
            raise ConfigError(f"{manifest}:{number}: noise file {path} does not exist")
        files.append(path)
    if not files:
        raise ConfigError(f"{where}: noise manifest {manifest} lists no files")
    return files
