"""Language element types: tokens, strings, flags and text embeddings.

Registered by the plugin's ``register_element_types`` hook, so configs and serialized graphs
can name them (``"B,T:TokenIndex"``). Importing this module imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.types import ElementType, EmbeddedType, IndexType

if TYPE_CHECKING:  # pragma: no cover
    import torch


class TokenIndex(IndexType):
    """Token ids: indices into a tokenizer's vocabulary."""


class StringType(ElementType):
    """Text: Python strings (not tensors), such as raw sentences in a batch."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        raise TypeError(
            "StringType values are Python strings, not tensors: a module taking text needs "
            "its own input_example()"
        )


class StringLabel(StringType):
    """A class label written as text (``"positive"``)."""


class BoolType(ElementType):
    """True/False values (an attention mask of booleans, a flag per item)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.ones(shape, dtype=torch.bool)


class EmbeddedTextType(EmbeddedType):
    """Embeddings of text tokens (the output of a token embedding or a text encoder)."""


#: The element types this plugin registers, by name.
NLP_ELEMENT_TYPES: tuple[type[ElementType], ...] = (
    TokenIndex,
    StringType,
    StringLabel,
    BoolType,
    EmbeddedTextType,
)
