"""ganglion-nlp's element types: registered by name, inheritance, example tensors."""

from __future__ import annotations

import pytest
import torch

from ganglion.types import EmbeddedType, IndexType, NeuralType, NeuralTypeComparisonResult
from ganglion_nlp.types import (
    NLP_ELEMENT_TYPES,
    BoolType,
    EmbeddedTextType,
    StringLabel,
    StringType,
    TokenIndex,
)

R = NeuralTypeComparisonResult


def test_types_are_registered_by_the_plugin(ganglion_plugins):
    registry = ganglion_plugins.registry("element_types")
    for cls in NLP_ELEMENT_TYPES:
        entry = registry.get(cls.__name__)
        assert entry.load() is cls and entry.provider.distribution == "ganglion-nlp"
    assert NeuralType.parse("B,T:TokenIndex") is NeuralType(("B", "T"), TokenIndex())


def test_token_and_text_types_fit_the_core_hierarchy():
    ids = NeuralType(("B", "T"), IndexType())
    assert ids.compare(NeuralType(("B", "T"), TokenIndex())) == R.GREATER
    embedded = NeuralType(("B", "T", "D"), EmbeddedType())
    assert embedded.compare(NeuralType(("B", "T", "D"), EmbeddedTextType())) == R.GREATER
    labels = NeuralType(("B",), StringType())
    assert labels.compare(NeuralType(("B",), StringLabel())) == R.GREATER
    assert NeuralType(("B",), StringLabel()).compare(labels) == R.LESS


def test_example_tensors():
    ids = TokenIndex().example_tensor((2, 5))
    assert ids.dtype == torch.long and ids.shape == (2, 5)
    assert BoolType().example_tensor((2, 5)).dtype == torch.bool
    with pytest.raises(TypeError, match="Python strings, not tensors"):
        StringType().example_tensor((2,))
