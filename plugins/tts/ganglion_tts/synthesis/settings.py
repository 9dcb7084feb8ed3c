"""Whether a vocoder can read a spectrogram generator's mels: their mel settings, compared.

Both kinds of model keep the settings of their mels as a ``preprocessor`` config (the shared
``AudioToMelSpectrogramPreprocessor`` of ganglion-asr). Two configs can spell the same mels
differently (a key left out has the preprocessor's default; ``window_size`` in seconds or
``n_window_size`` in samples), so they are compared as *effective* settings: every argument
with its default filled in and the window, hop and FFT sizes resolved to samples. Settings
that change only training input (``dither``) or batch padding (``pad_to``, ``pad_value``)
are left out: they do not change what a mel frame means.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganglion.errors import ConfigError

__all__ = ["MelSettingsMismatchError", "check_mel_settings", "effective_mel_settings"]

_PREPROCESSOR = "AudioToMelSpectrogramPreprocessor"
#: arguments that do not change what a mel frame means
_IGNORED = ("dither", "pad_to", "pad_value")
#: the preprocessor resolves these into n_window_size / n_window_stride / n_fft
_RESOLVED = ("window_size", "window_stride")


class MelSettingsMismatchError(ConfigError):
    """A vocoder reads mels made with other settings than the generator's."""


def effective_mel_settings(
    settings: Mapping[str, Any], where: str = "preprocessor"
) -> dict[str, Any]:
    """The settings a ``preprocessor`` config really makes mels with (see the module doc);
    ``where`` names the config in errors (an unknown key, another ``_target_``)."""
    from ganglion_asr.modules.features import AudioToMelSpectrogramPreprocessor

    if isinstance(settings, DictConfig):
        settings = OmegaConf.to_container(settings, resolve=True)  # type: ignore[assignment]
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: expected the mel settings (a mapping), got {settings!r}")
    given = dict(settings)
    target = given.pop("_target_", None)
    if target is not None and str(target).rsplit(".", 1)[-1] != _PREPROCESSOR:
        raise ConfigError(
            f"{where}._target_ is {target!r}; ganglion-tts mels come from {_PREPROCESSOR}"
        )
    params = inspect.signature(AudioToMelSpectrogramPreprocessor.__init__).parameters
    unknown = sorted(set(given) - set(params) - {"self"})
    if unknown:
        raise ConfigError(
            f"{where}: {', '.join(unknown)} is not a setting of {_PREPROCESSOR} "
            f"(known: {', '.join(p for p in params if p != 'self')})"
        )
    effective = {name: given.get(name, p.default) for name, p in params.items() if name != "self"}
    built = AudioToMelSpectrogramPreprocessor(**given)
    effective.update(
        n_window_size=built.win_length, n_window_stride=built.hop_length, n_fft=built.n_fft
    )
    for name in (*_IGNORED, *_RESOLVED):
        effective.pop(name, None)
    return effective


def check_mel_settings(generator_settings: Mapping[str, Any], vocoder_settings: Mapping[str, Any]):
    """Refuse (:class:`MelSettingsMismatchError`) a vocoder whose mels are not the
    generator's, naming every setting that differs and both values."""
    gen = effective_mel_settings(generator_settings, "the generator's preprocessor")
    voc = effective_mel_settings(vocoder_settings, "the vocoder's preprocessor")
    differ = [key for key in gen if gen[key] != voc.get(key)]
    if differ:
        listed = "; ".join(f"{key}: generator {gen[key]!r}, vocoder {voc[key]!r}" for key in differ)
        raise MelSettingsMismatchError(
            f"the vocoder reads mels made with other settings than the generator's ({listed}); "
            "use a vocoder trained with the generator's model.preprocessor settings, or "
            "Griffin-Lim (no vocoder archive), which follows the generator's"
        )
