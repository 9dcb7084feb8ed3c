"""Speech data: manifests, audio loading, datasets, duration batching, converters, corpora.

Names are resolved on first access, so the converters and the corpus synthesiser can be used
without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "ManifestEntry": "ganglion_asr.data.manifest",
    "read_manifest": "ganglion_asr.data.manifest",
    "write_manifest": "ganglion_asr.data.manifest",
    "load_audio": "ganglion_asr.data.audio",
    "resample": "ganglion_asr.data.audio",
    "CharVocabulary": "ganglion_asr.data.vocab",
    "ENGLISH_LABELS": "ganglion_asr.data.vocab",
    "normalize_text": "ganglion_asr.data.vocab",
    "AudioToCharDataset": "ganglion_asr.data.dataset",
    "collate_audio_tokens": "ganglion_asr.data.dataset",
    "build_dataloader": "ganglion_asr.data.dataset",
    "DurationBucketBatchSampler": "ganglion_asr.data.sampler",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganglion_asr.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
