"""Heads on a text encoder's hidden states: one label per sequence, one per token, and the
masked-LM head that predicts tokens (its output layer tied to the token embeddings)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import ChannelType, LogitsType, MaskType, NeuralType

__all__ = ["MaskedLMHead", "SequenceClassificationHead", "TokenClassificationHead"]

_POOLINGS = ("cls", "mean")


def _positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{owner}.{name}: expected a positive integer, got {value!r}")


class SequenceClassificationHead(NeuralModule):
    """Class scores for each sequence from the encoder's hidden states.

    The sequence is pooled into one vector -- the hidden state of its first token (``cls``:
    the ``<cls>`` every dataset puts first) or the mean over its real tokens (``mean``, which
    needs the ``attention_mask``) -- then optionally through a dense layer with tanh
    (``pooler``, as in BERT), dropout, and a linear layer to ``num_classes`` logits.

    Example::

        head = SequenceClassificationHead(d_model=256, num_classes=45)
        logits = head(hidden_states=hidden, attention_mask=mask)     # [B, 45]
    """

    def __init__(
        self,
        d_model: int,
        num_classes: int,
        pooling: str = "cls",
        dropout: float = 0.1,
        pooler: bool = False,
    ) -> None:
        super().__init__()
        _positive("SequenceClassificationHead", d_model=d_model, num_classes=num_classes)
        if pooling not in _POOLINGS:
            raise ConfigError(
                f"SequenceClassificationHead.pooling {pooling!r}; known: {', '.join(_POOLINGS)}"
            )
        self.pooling = pooling
        self.num_classes = int(num_classes)
        self.pooler = nn.Linear(d_model, d_model) if pooler else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_classes)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return {
            "hidden_states": NeuralType(("B", "T", "D"), ChannelType()),
            "attention_mask": NeuralType(("B", "T"), MaskType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logits": NeuralType(("B", "D"), LogitsType())}

    @typecheck()
    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.pooling == "cls" or attention_mask is None:
            if self.pooling == "mean":
                pooled = hidden_states.mean(dim=1)
            else:
                pooled = hidden_states[:, 0]
        else:
            weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)
            pooled = (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        return self.classifier(self.dropout(pooled))


class TokenClassificationHead(NeuralModule):
    """Class scores for every token (tagging): dropout and a linear layer, ``[B, T, C]``."""

    def __init__(self, d_model: int, num_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        _positive("TokenClassificationHead", d_model=d_model, num_classes=num_classes)
        self.num_classes = int(num_classes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_classes)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return {"hidden_states": NeuralType(("B", "T", "D"), ChannelType())}

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    @typecheck()
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden_states))


class MaskedLMHead(NeuralModule):
    """Token scores for masked-LM pretraining: a dense layer, GELU and layer norm, then an
    output layer over the vocabulary whose weight is the token embedding table
    (:meth:`tie_to`; its own bias), as in BERT.

    Example::

        head = MaskedLMHead(d_model=256, vocab_size=8000)
        head.tie_to(embedding.token_embedding)        # one weight for input and output
        logits = head(hidden_states=hidden)           # [B, T, 8000]
    """

    def __init__(self, d_model: int, vocab_size: int, layer_norm_eps: float = 1e-5) -> None:
        super().__init__()
        _positive("MaskedLMHead", d_model=d_model, vocab_size=vocab_size)
        self.vocab_size = int(vocab_size)
        self.dense = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.decoder = nn.Linear(d_model, vocab_size)
        nn.init.normal_(self.dense.weight, std=0.02)
        nn.init.zeros_(self.dense.bias)
        nn.init.zeros_(self.decoder.bias)

    def tie_to(self, embedding: nn.Embedding) -> None:
        """Use ``embedding``'s weight (``[vocab_size, d_model]``) as the output layer's."""
        if tuple(embedding.weight.shape) != tuple(self.decoder.weight.shape):
            raise ConfigError(
                f"MaskedLMHead: cannot tie a [{self.vocab_size}, {self.decoder.in_features}] "
                f"output layer to an embedding of {list(embedding.weight.shape)}; the head's "
                "vocab_size and d_model must be the embedding's"
            )
        self.decoder.weight = embedding.weight

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return {"hidden_states": NeuralType(("B", "T", "D"), ChannelType())}

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    @typecheck()
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(hidden_states))))
