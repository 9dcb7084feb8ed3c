"""ganglion-tts's element types: registered by name, inheritance, example tensors."""

from __future__ import annotations

import torch

from ganglion.types import LabelsType, NeuralType, NeuralTypeComparisonResult, PredictionsType
from ganglion_tts.types import (
    TTS_ELEMENT_TYPES,
    RegressionValuesType,
    SequenceToSequenceAlignmentType,
    TokenDurationType,
)

R = NeuralTypeComparisonResult


def test_types_are_registered_by_the_plugin(ganglion_plugins):
    registry = ganglion_plugins.registry("element_types")
    for cls in TTS_ELEMENT_TYPES:
        entry = registry.get(cls.__name__)
        assert entry.load() is cls and entry.provider.distribution == "ganglion-tts"
    parsed = NeuralType.parse("B,T,T:SequenceToSequenceAlignmentType")
    assert parsed.elements_type == SequenceToSequenceAlignmentType()


def test_regression_values_are_predictions_with_float_examples():
    predictions = NeuralType(("B", "T"), PredictionsType())
    assert predictions.compare(NeuralType(("B", "T"), RegressionValuesType())) == R.GREATER
    assert (
        NeuralType(("B", "T"), LabelsType()).compare(NeuralType(("B", "T"), TokenDurationType()))
        == R.INCOMPATIBLE
    )
    assert RegressionValuesType().example_tensor((2, 3)).dtype == torch.float32
    assert TokenDurationType().example_tensor((2, 3)).dtype == torch.long
