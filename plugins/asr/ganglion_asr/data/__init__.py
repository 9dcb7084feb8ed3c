"""Speech data: manifests, audio loading, datasets, duration batching, converters, corpora.

Names are resolved on first access, so the converters and the corpus synthesiser can be used
without importing torch.
"""

from __future__ import annotations

from ganglion.lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "ManifestEntry": "ganglion_asr.data.manifest:ManifestEntry",
    "read_manifest": "ganglion_asr.data.manifest:read_manifest",
    "write_manifest": "ganglion_asr.data.manifest:write_manifest",
    "load_audio": "ganglion_asr.data.audio:load_audio",
    "resample": "ganglion_asr.data.audio:resample",
    "CharVocabulary": "ganglion_asr.data.vocab:CharVocabulary",
    "ENGLISH_LABELS": "ganglion_asr.data.vocab:ENGLISH_LABELS",
    "normalize_text": "ganglion_asr.data.vocab:normalize_text",
    "AudioToCharDataset": "ganglion_asr.data.dataset:AudioToCharDataset",
    "collate_audio_tokens": "ganglion_asr.data.dataset:collate_audio_tokens",
    "build_dataloader": "ganglion_asr.data.dataset:build_dataloader",
    "DurationBucketBatchSampler": "ganglion_asr.data.sampler:DurationBucketBatchSampler",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
