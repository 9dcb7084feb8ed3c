"""``TokenEmbedding``: token ids -> token + learned position embeddings, layer norm, dropout."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import NeuralType

__all__ = ["TokenEmbedding"]


class TokenEmbedding(NeuralModule):
    """The input layer of a text encoder: each token's embedding plus the embedding of its
    position (learned, up to ``max_positions``), layer-normalised, with dropout.

    Args:
        vocab_size: ids are ``0 .. vocab_size - 1`` (the tokenizer's ``vocab_size``).
        d_model: the embedding width.
        max_positions: the longest sequence the module takes (a model's ``max_length``).
        dropout: dropout on the output.
        pad_id: the padding id, whose token embedding stays zero and gets no gradient.
        layer_norm_eps: epsilon of the layer norm.
        init_std: standard deviation of the normal initialisation of both tables.

    Example::

        emb = TokenEmbedding(vocab_size=8000, d_model=256, max_positions=64)
        emb(input_ids=torch.tensor([[2, 57, 3]])).shape     # [1, 3, 256]
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        max_positions: int = 512,
        dropout: float = 0.1,
        pad_id: int = 0,
        layer_norm_eps: float = 1e-5,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("max_positions", max_positions),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"TokenEmbedding.{name}: expected a positive integer, got {value!r}"
                )
        if not 0 <= pad_id < vocab_size:
            raise ConfigError(f"TokenEmbedding.pad_id {pad_id} is outside 0..{vocab_size - 1}")
        self.vocab_size = int(vocab_size)
        self.d_model = int(d_model)
        self.max_positions = int(max_positions)
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.position_embedding = nn.Embedding(max_positions, d_model)
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.token_embedding.weight, std=init_std)
        nn.init.normal_(self.position_embedding.weight, std=init_std)
        with torch.no_grad():
            self.token_embedding.weight[pad_id].zero_()

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_nlp.types import TokenIndex

        return {"input_ids": NeuralType(("B", "T"), TokenIndex())}

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_nlp.types import EmbeddedTextType

        return {"embeddings": NeuralType(("B", "T", "D"), EmbeddedTextType())}

    @typecheck()
    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise ValueError(
                f"TokenEmbedding: input_ids has {length} positions, more than max_positions "
                f"{self.max_positions}; truncate the texts (the datasets do, to the model's "
                "max_length) or build the model with a larger max_length"
            )
        positions = self.position_embedding.weight[:length]
        return self.dropout(self.norm(self.token_embedding(input_ids) + positions))
