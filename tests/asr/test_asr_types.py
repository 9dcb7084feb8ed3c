"""ganglion-asr's element types: the seed doc's neural-type examples, with their real names."""

from __future__ import annotations

import pytest
import torch

from ganglion import NeuralModule, typecheck
from ganglion.types import (
    AxisKind,
    AxisType,
    ChannelType,
    EncodedRepresentation,
    LengthsType,
    NeuralType,
    NeuralTypeComparisonResult,
    NeuralTypeError,
    VoidType,
)
from ganglion_asr.types import (
    ASR_ELEMENT_TYPES,
    AcousticEncodedRepresentation,
    AudioSignal,
    MelSpectrogramType,
    MFCCSpectrogramType,
    SpectrogramType,
)

R = NeuralTypeComparisonResult


def test_long_vs_short_notation():
    long_version = NeuralType(
        axes=(
            AxisType(AxisKind.Batch, None),
            AxisType(AxisKind.Dimension, None),
            AxisType(AxisKind.Time, None),
        ),
        elements_type=AcousticEncodedRepresentation(),
    )
    short_version = NeuralType(("B", "D", "T"), AcousticEncodedRepresentation())
    assert long_version.compare(short_version) == R.SAME


def test_void_type_for_elements():
    btc_spctr = NeuralType(("B", "T", "C"), SpectrogramType())
    btc_spct_bad = NeuralType(("B", "T"), SpectrogramType())
    btc_void = NeuralType(("B", "T", "C"), VoidType())
    assert btc_void.compare(btc_spctr) == R.SAME
    assert btc_void.compare(btc_spct_bad) == R.INCOMPATIBLE
    assert btc_spctr.compare(btc_void) == R.INCOMPATIBLE


def test_element_type_inheritance():
    input = NeuralType(("B", "D", "T"), SpectrogramType())  # noqa: A001 (the doc's name)
    out1 = NeuralType(("B", "D", "T"), MelSpectrogramType())
    out2 = NeuralType(("B", "D", "T"), MFCCSpectrogramType())
    assert out1.compare(out2) == R.INCOMPATIBLE
    assert out2.compare(out1) == R.INCOMPATIBLE
    assert input.compare(out1) == R.GREATER
    assert input.compare(out2) == R.GREATER


def test_parametrised_audio_signal():
    audio16k = NeuralType(axes=("B", "T"), elements_type=AudioSignal(16000))
    audio8k = NeuralType(axes=("B", "T"), elements_type=AudioSignal(8000))
    assert audio8k.compare(audio16k) == R.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert audio16k.compare(audio8k) == R.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert AudioSignal(16000).freq == 16000 and AudioSignal().freq is None


def test_enforcing_dimensions():
    type1 = NeuralType(
        (
            AxisType(AxisKind.Batch, 64),
            AxisType(AxisKind.Time, 10),
            AxisType(AxisKind.Dimension, 128),
        ),
        SpectrogramType(),
    )
    type2 = NeuralType(("B", "T", "D"), SpectrogramType())
    assert type2.compare(type1) == R.SAME
    assert type1.compare(type2) == R.DIM_INCOMPATIBLE


def test_generic_axis_kind():
    type1 = NeuralType(("B", "Any", "Any"), SpectrogramType())
    type2 = NeuralType(("B", "T", "C"), SpectrogramType())
    type3 = NeuralType(("B", "C", "T"), SpectrogramType())
    # "type1 will accept elements of type2 and type3" (the doc's assert line for type3 says
    # INCOMPATIBLE, against its own sentence; see tests/core/test_types.py)
    assert type1.compare(type2) == R.SAME
    assert type1.compare(type3) == R.SAME


def test_the_seed_doc_encoder_ports():
    """ConvASREncoder's ports as the seed doc declares them, checked on a call."""

    class Encoder(NeuralModule):
        @property
        def input_types(self):
            return {
                "audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
                "length": NeuralType(tuple("B"), LengthsType()),
            }

        @property
        def output_types(self):
            return {
                "outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
                "encoded_lengths": NeuralType(tuple("B"), LengthsType()),
            }

        @typecheck()
        def forward(self, audio_signal, length=None):
            return audio_signal * 2, length

    mel = torch.randn(2, 64, 50)
    mel.neural_type = NeuralType(("B", "D", "T"), MelSpectrogramType())
    outputs, lengths = Encoder()(mel, torch.tensor([50, 40]))
    assert outputs.neural_type.elements_type == AcousticEncodedRepresentation()
    assert NeuralType(("B", "D", "T"), EncodedRepresentation()).compare(outputs.neural_type) == (
        R.GREATER
    )
    audio = torch.randn(2, 800)
    audio.neural_type = NeuralType(("B", "T"), AudioSignal(16000))
    with pytest.raises(NeuralTypeError) as info:
        Encoder()(audio, torch.tensor([800, 700]))
    assert "expected 3 axes (B,D,T), got 2 (B,T)" in str(info.value)


def test_sample_rate_mismatch_message():
    class Frontend(NeuralModule):
        @property
        def input_types(self):
            return {"input_signal": NeuralType(("B", "T"), AudioSignal(16000))}

        @typecheck()
        def forward(self, input_signal):
            return input_signal

    audio = torch.randn(1, 80)
    audio.neural_type = NeuralType(("B", "T"), AudioSignal(8000))
    with pytest.raises(NeuralTypeError) as info:
        Frontend()(audio)
    assert str(info.value) == (
        "Frontend.forward: input port 'input_signal': expected B,T:AudioSignal(16000), got "
        "B,T:AudioSignal(8000) (shape (1, 80)). SAME_TYPE_INCOMPATIBLE_PARAMS: "
        "AudioSignal(16000) vs AudioSignal(8000): same type, incompatible parameters "
        "(freq: expected 16000, got 8000)"
    )


def test_types_are_registered_by_the_plugin_and_parse_by_name(ganglion_plugins):
    registry = ganglion_plugins.registry("element_types")
    for cls in ASR_ELEMENT_TYPES:
        entry = registry.get(cls.__name__)
        assert entry.load() is cls and entry.provider.distribution == "ganglion-asr"
    t = NeuralType.parse("B,T:AudioSignal(16000)")
    assert t is NeuralType(("B", "T"), AudioSignal(16000)) and str(t) == "B,T:AudioSignal(16000)"
    assert NeuralType.parse("B,D,T:MelSpectrogramType").elements_type == MelSpectrogramType()


def test_inheritance_is_the_seed_docs():
    assert issubclass(SpectrogramType, ChannelType)
    assert issubclass(MelSpectrogramType, SpectrogramType)
    assert issubclass(MFCCSpectrogramType, SpectrogramType)
    assert issubclass(AcousticEncodedRepresentation, EncodedRepresentation)
