"""ganglion-asr's neural modules (names resolved on first access; importing this is cheap).

* :class:`AudioToMelSpectrogramPreprocessor` — waveform -> normalised log-mel features
* :class:`SpectrogramAugmentation` — SpecAugment masks in training
* :class:`ConvASREncoder` — Jasper / QuartzNet convolutional encoder
* :class:`ConvASRDecoder` — CTC head (1x1 convolution + log-softmax)
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "AudioToMelSpectrogramPreprocessor": "ganglion_asr.modules.features",
    "mel_filterbank": "ganglion_asr.modules.features",
    "SpectrogramAugmentation": "ganglion_asr.modules.augment",
    "ConvASREncoder": "ganglion_asr.modules.conv_asr",
    "ConvASRDecoder": "ganglion_asr.modules.conv_asr",
    "JasperBlock": "ganglion_asr.modules.conv_asr",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganglion_asr.modules' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
