"""ganglion-nlp's neural modules (names resolved on first access; importing this is cheap).

* :class:`TokenEmbedding` — token ids -> token + position embeddings
* :class:`TransformerEncoder` — self-attention layers with a padding mask (fused attention)
* :class:`SequenceClassificationHead` — one label per text (``<cls>`` or mean pooling)
* :class:`TokenClassificationHead` — one label per token
* :class:`MaskedLMHead` — masked-token prediction, tied to the token embeddings
"""

from __future__ import annotations

from ganglion.lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "TokenEmbedding": "ganglion_nlp.modules.embedding:TokenEmbedding",
    "TransformerEncoder": "ganglion_nlp.modules.transformer:TransformerEncoder",
    "TransformerLayer": "ganglion_nlp.modules.transformer:TransformerLayer",
    "SequenceClassificationHead": "ganglion_nlp.modules.heads:SequenceClassificationHead",
    "TokenClassificationHead": "ganglion_nlp.modules.heads:TokenClassificationHead",
    "MaskedLMHead": "ganglion_nlp.modules.heads:MaskedLMHead",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
