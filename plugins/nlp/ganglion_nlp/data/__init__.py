"""Text data: readers (TSV, JSON lines, plain text), label sets, datasets, masking, batching.

Names are resolved on first access, so the readers can be used without importing torch.
"""

from __future__ import annotations

from ganglion.lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "LabelledText": "ganglion_nlp.data.readers:LabelledText",
    "read_labelled_texts": "ganglion_nlp.data.readers:read_labelled_texts",
    "read_texts": "ganglion_nlp.data.readers:read_texts",
    "labels_of": "ganglion_nlp.data.labels:labels_of",
    "label_indices": "ganglion_nlp.data.labels:label_indices",
    "TokenSequences": "ganglion_nlp.data.datasets:TokenSequences",
    "TextClassificationDataset": "ganglion_nlp.data.datasets:TextClassificationDataset",
    "MaskedLMDataset": "ganglion_nlp.data.datasets:MaskedLMDataset",
    "MaskingCollator": "ganglion_nlp.data.masking:MaskingCollator",
    "mask_tokens": "ganglion_nlp.data.masking:mask_tokens",
    "IGNORE_INDEX": "ganglion_nlp.data.masking:IGNORE_INDEX",
    "pad_batch": "ganglion_nlp.data.collate:pad_batch",
    "collate_classification": "ganglion_nlp.data.collate:collate_classification",
    "LengthBucketBatchSampler": "ganglion_nlp.data.sampler:LengthBucketBatchSampler",
    "classification_dataloader": "ganglion_nlp.data.loaders:classification_dataloader",
    "masked_lm_dataloader": "ganglion_nlp.data.loaders:masked_lm_dataloader",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
