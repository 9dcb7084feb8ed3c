"""Speech synthesis from trained models: text -> spectrogram -> audio -> wav.

:func:`synthesize` runs a :class:`~ganglion_tts.models.base.SpectrogramGenerator` and a
:class:`~ganglion_tts.models.base.Vocoder` (Griffin-Lim when none is given) after
:func:`check_mel_settings` has made sure the vocoder reads the generator's mels;
``ganglion-tts synthesize`` (:mod:`ganglion_tts.synthesis.command`) does it from archives.

The names below are imported on first use, so the command's ``--help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "default_vocoder": "pipeline",
    "synthesize": "pipeline",
    "write_wav": "pipeline",
    "MelSettingsMismatchError": "settings",
    "check_mel_settings": "settings",
    "effective_mel_settings": "settings",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
