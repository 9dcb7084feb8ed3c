"""``TransformerEncoder``: a stack of self-attention layers over padded token sequences.

Attention is PyTorch's fused ``scaled_dot_product_attention``; padding is masked out of the
keys, so a row's result does not depend on how much padding its batch has. With
``pre_norm`` each sub-layer normalises its input (and a final layer norm closes the stack),
which trains stably without a long warmup; without it each sub-layer normalises the sum
after the residual (BERT's layout).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import ChannelType, EncodedRepresentation, MaskType, NeuralType

__all__ = ["TransformerEncoder", "TransformerLayer", "key_padding_mask"]

_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def key_padding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """The ``attn_mask`` of ``scaled_dot_product_attention`` for a ``[B, T]`` mask that is
    true at real tokens: ``[B, 1, 1, T]`` booleans (true: may be attended to), or ``None`` when
    nothing is padding (which lets the fastest kernels run)."""
    if attention_mask is None:
        return None
    mask = attention_mask.bool()
    if bool(mask.all()):
        return None
    return mask[:, None, None, :]


class TransformerLayer(nn.Module):
    """One encoder layer: multi-head self-attention and a feed-forward block, each with a
    residual connection, dropout and layer norm (before the block with ``pre_norm``, after
    the sum without)."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        pre_norm: bool = True,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.pre_norm = pre_norm
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = _ACTIVATIONS[activation]
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attention_out = nn.Linear(d_model, d_model)
        self.ff_in = nn.Linear(d_model, ff_dim)
        self.ff_out = nn.Linear(ff_dim, d_model)
        self.attention_norm = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.ff_norm = nn.LayerNorm(d_model, eps=layer_norm_eps)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self._attention(self.attention_norm(x), attn_mask)
            return x + self._feed_forward(self.ff_norm(x))
        x = self.attention_norm(x + self._attention(x, attn_mask))
        return self.ff_norm(x + self._feed_forward(x))

    def _attention(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = x.shape
        # [B, T, 3, H, Dh] -> three [B, H, T, Dh]
        q, k, v = (
            self.qkv(x).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        )
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.attention_dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).reshape(batch, length, width)
        return F.dropout(self.attention_out(y), self.dropout, self.training)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ff_out(F.dropout(self.activation(self.ff_in(x)), self.dropout, self.training))
        return F.dropout(y, self.dropout, self.training)


class TransformerEncoder(NeuralModule):
    """A transformer encoder: ``num_layers`` self-attention layers of width ``d_model``.

    Args:
        d_model: the width of every layer (the embedding's ``d_model``).
        num_layers: the depth.
        num_heads: attention heads per layer; must divide ``d_model``.
        ff_dim: the feed-forward block's inner width (commonly ``4 * d_model``).
        dropout: dropout after attention, inside and after the feed-forward block.
        attention_dropout: dropout on the attention weights.
        activation: ``gelu``, ``relu`` or ``silu`` in the feed-forward block.
        pre_norm: layer norm before each block (plus a final one) instead of after.
        layer_norm_eps: epsilon of the layer norms.
        init_std: standard deviation of the normal initialisation of the linear layers.

    Example::

        encoder = TransformerEncoder(d_model=256, num_layers=4, num_heads=4, ff_dim=1024)
        hidden = encoder(embeddings=emb, attention_mask=mask)    # [B, T, 256]
    """

    def __init__(
        self,
        d_model: int,
        num_layers: int = 4,
        num_heads: int = 4,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        pre_norm: bool = True,
        layer_norm_eps: float = 1e-5,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"TransformerEncoder.{name}: expected a positive integer, got {value!r}"
                )
        if d_model % num_heads:
            raise ConfigError(
                f"TransformerEncoder: num_heads {num_heads} does not divide d_model {d_model}; "
                "choose a number of heads that does (e.g. d_model / 64)"
            )
        if activation not in _ACTIVATIONS:
            raise ConfigError(
                f"TransformerEncoder.activation {activation!r}; known: {', '.join(_ACTIVATIONS)}"
            )
        ff_dim = int(ff_dim) if ff_dim else 4 * d_model
        self.d_model = int(d_model)
        self.layers = nn.ModuleList(
            TransformerLayer(
                d_model,
                num_heads,
                ff_dim,
                dropout=dropout,
                attention_dropout=attention_dropout,
                activation=activation,
                pre_norm=pre_norm,
                layer_norm_eps=layer_norm_eps,
            )
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if pre_norm else None
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=init_std)
                nn.init.zeros_(module.bias)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return {
            "embeddings": NeuralType(("B", "T", "D"), ChannelType()),
            "attention_mask": NeuralType(("B", "T"), MaskType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"hidden_states": NeuralType(("B", "T", "D"), EncodedRepresentation())}

    @typecheck()
    def forward(
        self, embeddings: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``attention_mask`` [B, T] is true (non-zero) at real tokens; padding positions are
        never attended to (their own outputs are computed but meaningless)."""
        attn_mask = key_padding_mask(attention_mask)
        x = embeddings
        for layer in self.layers:
            x = layer(x, attn_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x
