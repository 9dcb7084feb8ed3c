"""Neural types: axes, element types, comparison results, the text form, port checks.

Core only: domain-like element types are defined here (the real audio/spectrogram types are
tested with their plugin in tests/asr/test_asr_types.py, where the seed doc's examples run
with their real names).
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap

import pytest
import yaml

from ganglion.errors import UnknownNameError
from ganglion.hookspecs import hookimpl
from ganglion.types import (
    CORE_ELEMENT_TYPES,
    AxisKind,
    AxisType,
    ChannelType,
    ElementType,
    EncodedRepresentation,
    LengthsType,
    LogitsType,
    LossType,
    NeuralType,
    NeuralTypeComparisonResult,
    NeuralTypeError,
    NeuralTypeSyntaxError,
    VoidType,
    check_connection,
    compare_port_types,
    format_port_types,
    parse_port_type,
    parse_port_types,
)

R = NeuralTypeComparisonResult


class Spectro(ChannelType):
    """A spectrogram-like test type."""


class MelSpectro(Spectro):
    """Mel flavour."""


class MfccSpectro(Spectro):
    """MFCC flavour."""


class Sound(ElementType):
    """Audio-like test type with a sample rate."""

    parameters = ("freq",)


class Tagged(ElementType):
    """Two parameters, to test positional and keyword forms."""

    parameters = ("a", "b")


LOCAL = {t.__name__: t for t in (Spectro, MelSpectro, MfccSpectro, Sound, Tagged)}


# -- the comparison results ------------------------------------------------------------------
def test_comparison_results_are_the_documented_nine():
    assert [r.name for r in R] == [
        "SAME", "LESS", "GREATER", "DIM_INCOMPATIBLE", "TRANSPOSE_SAME",
        "CONTAINER_SIZE_MISMATCH", "INCOMPATIBLE", "SAME_TYPE_INCOMPATIBLE_PARAMS", "UNCHECKED",
    ]  # fmt: skip
    assert {r for r in R if r.accepted} == {R.SAME, R.GREATER}


def test_long_and_short_notation_are_the_same_type():
    long_version = NeuralType(
        axes=(
            AxisType(AxisKind.Batch, None),
            AxisType(AxisKind.Dimension, None),
            AxisType(AxisKind.Time, None),
        ),
        elements_type=EncodedRepresentation(),
    )
    short_version = NeuralType(("B", "D", "T"), EncodedRepresentation())
    assert long_version.compare(short_version) == R.SAME
    assert long_version is short_version  # interned: equal types are one object
    assert NeuralType(tuple("B"), LengthsType()).axes == (AxisType(AxisKind.Batch),)


def test_transpose_same_both_ways_with_reason():
    type1 = NeuralType(axes=("B", "T", "C"))
    type2 = NeuralType(axes=("T", "B", "C"))
    assert type1.compare(type2) == R.TRANSPOSE_SAME
    assert type2.compare(type1) == R.TRANSPOSE_SAME
    result, reason = type1.explain(type2)
    assert reason == (
        "axis 0: expected Batch, got Time; axis 1: expected Time, got Batch — "
        "a transpose would make them SAME"
    )
    assert type1.elements_type == VoidType()  # elements_type left out means VoidType


def test_void_elements_are_compatible_one_way_only():
    btc_spctr = NeuralType(("B", "T", "C"), Spectro())
    btc_spct_bad = NeuralType(("B", "T"), Spectro())
    btc_void = NeuralType(("B", "T", "C"), VoidType())
    assert btc_void.compare(btc_spctr) == R.SAME
    assert btc_void.compare(btc_spct_bad) == R.INCOMPATIBLE
    assert btc_spctr.compare(btc_void) == R.INCOMPATIBLE
    assert "only a VoidType port accepts" in btc_spctr.explain(btc_void)[1]


def test_element_type_inheritance():
    port = NeuralType(("B", "D", "T"), Spectro())
    out1 = NeuralType(("B", "D", "T"), MelSpectro())
    out2 = NeuralType(("B", "D", "T"), MfccSpectro())
    assert out1.compare(out2) == R.INCOMPATIBLE
    assert out2.compare(out1) == R.INCOMPATIBLE
    assert port.compare(out1) == R.GREATER
    assert port.compare(out2) == R.GREATER
    assert out1.compare(port) == R.LESS
    assert out1.explain(port)[1] == (
        "Spectro is more general than MelSpectro: the port needs MelSpectro or one of its subtypes"
    )
    assert out1.explain(out2)[1] == "MfccSpectro is not a kind of MelSpectro"


def test_parametrised_element_types():
    audio16k = NeuralType(axes=("B", "T"), elements_type=Sound(16000))
    audio8k = NeuralType(axes=("B", "T"), elements_type=Sound(8000))
    assert audio8k.compare(audio16k) == R.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert audio16k.compare(audio8k) == R.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert audio16k.explain(audio8k)[1] == (
        "Sound(16000) vs Sound(8000): same type, incompatible parameters "
        "(freq: expected 16000, got 8000)"
    )
    # an unspecified parameter (None) matches any value, both ways
    any_rate = NeuralType(("B", "T"), Sound())
    assert any_rate.compare(audio8k) == R.SAME
    assert audio8k.compare(any_rate) == R.SAME
    assert Sound(freq=16000) == Sound(16000) and hash(Sound(16000)) == hash(Sound(freq=16000))


def test_element_type_parameters_are_checked():
    with pytest.raises(TypeError, match="has no parameter 'rate'"):
        Sound(rate=3)
    with pytest.raises(TypeError, match="takes 1 parameter"):
        Sound(1, 2)
    with pytest.raises(TypeError, match="must be a number, string, bool or None"):
        Sound([16000])
    assert str(Tagged(b=2)) == "Tagged(None, 2)" and str(Tagged(1)) == "Tagged(1)"


def test_enforced_dimensions():
    type1 = NeuralType(
        (
            AxisType(AxisKind.Batch, 64),
            AxisType(AxisKind.Time, 10),
            AxisType(AxisKind.Dimension, 128),
        ),
        Spectro(),
    )
    type2 = NeuralType(("B", "T", "D"), Spectro())
    # type2 does not care about sizes; type1 requires them
    assert type2.compare(type1) == R.SAME
    assert type1.compare(type2) == R.DIM_INCOMPATIBLE
    assert type1.explain(type2)[1] == (
        "axis 0 (Batch): expected size 64, got any size; axis 1 (Time): expected size 10, got "
        "any size; axis 2 (Dimension): expected size 128, got any size"
    )
    # the seed doc's example writes ('B', 'T', 'C') for type2: Channel is not Dimension
    assert NeuralType(("B", "T", "C"), Spectro()).compare(type1) == R.INCOMPATIBLE


def test_any_axis_matches_every_kind_on_the_receiving_side():
    type1 = NeuralType(("B", "Any", "Any"), Spectro())
    type2 = NeuralType(("B", "T", "C"), Spectro())
    type3 = NeuralType(("B", "C", "T"), Spectro())
    # "type1 will accept elements of type2 and type3": it cares about the element kind, the
    # rank and the first axis being Batch (the seed doc's own assert line for type3 says
    # INCOMPATIBLE, contradicting the sentence above it; the sentence is the semantics)
    assert type1.compare(type2) == R.SAME
    assert type1.compare(type3) == R.SAME
    # Any on the giving side says nothing about the axis: not accepted for a concrete one
    assert type1.compare(NeuralType(("Any", "Any", "Any"), Spectro())) == R.INCOMPATIBLE
    assert NeuralType(("Any", "Any", "Any"), Spectro()).compare(type1) == R.SAME
    # the Batch axis elsewhere: a transpose away
    assert type1.compare(NeuralType(("C", "B", "T"), Spectro())) == R.TRANSPOSE_SAME


def test_rank_and_open_layouts():
    btd = NeuralType(("B", "T", "D"), LogitsType())
    assert btd.explain(NeuralType(("B", "T"), LogitsType())) == (
        R.INCOMPATIBLE,
        "expected 3 axes (B,T,D), got 2 (B,T)",
    )
    open_layout = NeuralType(None, LogitsType())
    assert open_layout.compare(btd) == R.SAME  # no axes declared: any layout
    assert btd.compare(open_layout) == R.INCOMPATIBLE
    assert NeuralType().compare(btd) == R.SAME  # the "big void" accepts everything


def test_transpose_with_sizes_and_dim_incompatible_transposes():
    sized = NeuralType((AxisType("B"), AxisType("T", 10)), Spectro())
    assert sized.compare(NeuralType((AxisType("T", 10), AxisType("B")), Spectro())) == (
        R.TRANSPOSE_SAME
    )
    assert sized.compare(NeuralType((AxisType("T", 5), AxisType("B")), Spectro())) == (
        R.DIM_INCOMPATIBLE
    )
    # a transposed value of an accepted subtype is still only a transpose away
    port = NeuralType(("B", "D", "T"), Spectro())
    result, reason = port.explain(NeuralType(("B", "T", "D"), MelSpectro()))
    assert result == R.TRANSPOSE_SAME and reason.endswith("a transpose would make them compatible")


def test_container_types_compare_depth_then_items():
    out = [[NeuralType(("B", "D"), LogitsType())]]
    assert compare_port_types(out, [[NeuralType(("B", "D"), LogitsType())]]).result == R.SAME
    check = compare_port_types(out, [NeuralType(("B", "D"), LogitsType())])
    assert check.result == R.CONTAINER_SIZE_MISMATCH
    assert check.reason == (
        "expected [[B,D:LogitsType]] (lists nested 2 deep), got [B,D:LogitsType] (nested 1 deep)"
    )
    assert compare_port_types([out[0][0]], [NeuralType(("B", "D"), LossType())]).result == (
        R.INCOMPATIBLE
    )


def test_comparisons_are_cached_and_types_immutable():
    a = NeuralType(("B", "T"), Spectro())
    b = NeuralType(("B", "T"), MelSpectro())
    assert a.compare(b) is a.compare(b) is R.GREATER
    assert a._results[b] is R.GREATER
    with pytest.raises(AttributeError, match="immutable"):
        a.optional = True
    with pytest.raises(AttributeError, match="immutable"):
        AxisKind.Batch.short = "X"
    with pytest.raises(TypeError, match="can only compare with a NeuralType"):
        a.compare("B,T")
    assert pickle.loads(pickle.dumps(a)) is a
    assert copy.deepcopy(a) is a and copy.copy(a) is a
    assert pickle.loads(pickle.dumps(AxisKind.Time)) is AxisKind.Time


def test_optional_is_part_of_the_port_not_of_compatibility():
    required = NeuralType(("B",), LengthsType())
    optional = NeuralType(("B",), LengthsType(), optional=True)
    assert required is not optional
    assert optional.compare(required) == R.SAME and required.compare(optional) == R.SAME


def test_bad_axes_and_elements_are_clear_errors():
    with pytest.raises(ValueError, match="Unknown axis kind 'Tme'. Did you mean 'Time'"):
        NeuralType(("B", "Tme"))
    with pytest.raises(TypeError, match="elements_type must be an ElementType"):
        NeuralType(("B",), 3)
    with pytest.raises(ValueError, match="size must be a non-negative int"):
        AxisType("T", -1)
    # an element type class (not an instance) is accepted as its plain instance
    assert NeuralType(("B",), LengthsType) is NeuralType(("B",), LengthsType())


# -- axis kinds ---------------------------------------------------------------------------
def test_builtin_axis_kinds_and_lookup():
    names = [k.name for k in AxisKind.kinds()][:8]
    assert names == ["Batch", "Time", "Dimension", "Channel", "Width", "Height", "Sequence", "Any"]
    assert AxisKind("t") is AxisKind("Time") is AxisKind.from_str("time") is AxisKind.Time
    assert AxisKind("dim") is AxisKind.Dimension and AxisKind(AxisKind.Batch) is AxisKind.Batch


def test_plugins_can_add_axis_kinds():
    kind = AxisKind.add("Frequency", "F", aliases=("freq",), description="frequency bins")
    assert AxisKind.Frequency is kind and AxisKind("f") is kind and AxisKind("FREQ") is kind
    assert AxisKind.add("Frequency", "F") is kind  # the same definition again: fine
    t = NeuralType.parse("B,F,T:Spectro", element_types=LOCAL)
    assert t.axes[1].kind is kind and str(t) == "B,F,T:Spectro"
    with pytest.raises(ValueError, match="already exists"):
        AxisKind.add("Frequency", "Q")
    with pytest.raises(ValueError, match="token 'T' is already used by AxisKind.Time"):
        AxisKind.add("Tone", "T")
    with pytest.raises(ValueError, match="clashes with AxisKind.add"):
        AxisKind.add("add")


def test_axis_kinds_declared_by_a_plugin_load_when_a_string_names_them(
    tmp_path, monkeypatch, ganglion_plugins_isolated
):
    (tmp_path / "ganglion_headtypes.py").write_text(
        textwrap.dedent(
            """
            from ganglion.types import AxisKind, ElementType

            Head = AxisKind.add("AttentionHead", "AH")

            class AttentionWeights(ElementType):
                "Attention weights per head."
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    class HeadPlugin:
        @hookimpl
        def register_element_types(self, register):
            register(
                "AttentionWeights",
                "ganglion_headtypes:AttentionWeights",
                axis_kinds=["AttentionHead", "AH"],
            )

    ganglion_plugins_isolated.register(HeadPlugin(), name="heads")
    assert AxisKind.lookup("AH") is None  # nothing imported yet
    t = NeuralType.parse("B,AH,T,T:AttentionWeights")
    assert t.axes[1].kind.name == "AttentionHead"


# -- the text form ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("B,T:Sound(16000)", "B,T:Sound(16000)"),
        ("B, T : Sound(freq=16000)", "B,T:Sound(16000)"),
        ("batch,time,dim:Spectro", "B,T,D:Spectro"),
        ("B=64,T=10,D=128:Spectro", "B=64,T=10,D=128:Spectro"),
        ("B:LengthsType?", "B:LengthsType?"),
        ("B,Any,Any:Spectro", "B,Any,Any:Spectro"),
        ("B,T,C", "B,T,C"),
        ("B,T,C:VoidType", "B,T,C"),
        (":LossType", "*:LossType"),
        ("*:LossType", "*:LossType"),
        ("():LossType", "():LossType"),
        ("", "*"),
        ("B:Tagged(b='x')", "B:Tagged(None, 'x')"),
        ("B:Tagged(1, b=-2.5)", "B:Tagged(1, -2.5)"),
    ],
)
def test_text_form_round_trips(text, canonical):
    t = NeuralType.parse(text, element_types=LOCAL)
    assert str(t) == canonical
    assert NeuralType.parse(canonical, element_types=LOCAL) is t


def test_text_form_of_containers_and_yaml():
    ports = {
        "out": [[NeuralType(("B", "D"), LogitsType())]],
        "length": NeuralType(("B",), LengthsType(), optional=True),
    }
    as_text = format_port_types(ports)
    assert as_text == {"out": "[[B,D:LogitsType]]", "length": "B:LengthsType?"}
    loaded = yaml.safe_load(yaml.safe_dump(as_text))
    assert parse_port_types(loaded) == ports
    # YAML list nesting works as well as brackets in the string
    assert parse_port_type([["B,D:LogitsType"]]) == ports["out"]


def test_constructor_takes_the_text_form_and_registered_names():
    assert NeuralType("B,T:LogitsType") is NeuralType(("B", "T"), LogitsType())
    assert NeuralType(("B", "T"), "LogitsType") is NeuralType(("B", "T"), LogitsType())
    assert NeuralType("B,T", LogitsType()) is NeuralType(("B", "T"), LogitsType())
    assert repr(NeuralType("B:LengthsType")) == "NeuralType('B:LengthsType')"
    with pytest.raises(ValueError, match="already names the element type"):
        NeuralType("B:LengthsType", LogitsType())


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("B,Tme", 2, "Unknown axis kind 'Tme'. Did you mean 'Time'?"),
        ("B,,T", 2, "expected an axis kind (B, T, D, C, W, H, S, Any"),
        ("B T", 2, "expected ',', ':' or '?' after an axis, got 'T'"),
        ("B,T=x", 4, "expected a size (an integer) after 'T='"),
        ("B,T:Sound(16000", 15, "expected ')' to close the '(' at position 9"),
        ("B,T:Sound(foo)", 10, "element type arguments must be literals"),
        ("B,T:Sound(1,,)", 12, "bad arguments"),
        ("B,T:Sound(rate=1)", 4, "Sound: Sound has no parameter 'rate'"),
        ("B,T:Sond", 4, "Unknown element type 'Sond'. Did you mean 'Sound'?"),
        ("B,T:", 4, "expected an element type name after ':', got the end"),
        ("[B,T", 4, "expected ']' to close the '[' at position 0"),
        ("B,T:Spectro x", 12, "unexpected 'x' after the type"),
    ],
)
def test_parse_errors_name_the_position_and_the_problem(text, position, problem):
    with pytest.raises(NeuralTypeSyntaxError) as info:
        NeuralType.parse(text, element_types=LOCAL, where="model.encoder.input_types.x")
    error = info.value
    assert error.position == position
    assert problem in str(error)
    assert f"invalid neural type {text!r} (model.encoder.input_types.x) at position" in str(error)
    assert str(error).splitlines()[-1] == " " * (position + 2) + "^"


def test_unknown_element_lists_what_is_registered():
    with pytest.raises(NeuralTypeSyntaxError) as info:
        NeuralType.parse("B:LogitType")
    message = str(info.value)
    assert "Did you mean 'LogitsType'" in message and "Known: " in message


# -- the core's element types ---------------------------------------------------------------
def test_core_element_types_are_registered_by_name(ganglion_plugins_isolated):
    registry = ganglion_plugins_isolated.registry("element_types")
    for cls in CORE_ELEMENT_TYPES:
        entry = registry.get(cls.__name__)
        assert entry.provider.builtin and entry.load() is cls
    assert set(registry.names()) == {cls.__name__ for cls in CORE_ELEMENT_TYPES}


def test_the_element_types_plugin_imports_its_types_only_when_its_hook_runs():
    code = (
        "import sys, ganglion._builtin.element_types\n"
        "assert 'ganglion.types' not in sys.modules, 'types imported by the plugin module'\n"
        "from ganglion.plugins import PluginManager\n"
        "PluginManager(entry_points=False).registry('element_types')\n"
        "assert 'torch' not in sys.modules, 'torch imported by the hook'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_types_does_not_import_torch():
    code = "import sys, ganglion.types; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- wiring checks without tensors ----------------------------------------------------------
class _Encoder:
    output_types = {
        "outputs": NeuralType(("B", "D", "T"), EncodedRepresentation()),
        "lengths": NeuralType(("B",), LengthsType()),
        "logits": [NeuralType(("B", "D"), LogitsType())],
    }


class _Decoder:
    input_types = {
        "encoder_output": NeuralType(("B", "D", "T"), ChannelType()),
        "transposed": NeuralType(("B", "T", "D"), EncodedRepresentation()),
        "logits": [[NeuralType(("B", "D"), LogitsType())]],
    }


class _Untyped:
    pass


def test_check_connection_without_tensors():
    check = check_connection(_Encoder(), "outputs", _Decoder(), "encoder_output")
    assert check.ok and check.result == R.GREATER
    assert check.reason == (
        "_Encoder.outputs (B,D,T:EncodedRepresentation) -> _Decoder.encoder_output "
        "(B,D,T:ChannelType): EncodedRepresentation is a kind of ChannelType"
    )
    result, reason = check_connection(_Encoder(), "outputs", _Decoder(), "transposed")
    assert result == R.TRANSPOSE_SAME and "a transpose would make them SAME" in reason
    assert check_connection(_Encoder(), "logits", _Decoder(), "logits").result == (
        R.CONTAINER_SIZE_MISMATCH
    )
    unchecked = check_connection(_Untyped(), "x", _Decoder(), "encoder_output")
    assert unchecked == (R.UNCHECKED, "_Untyped declares no output types") and not unchecked.ok


def test_check_connection_names_the_class_and_port_of_a_malformed_declaration():
    class Broken:
        output_types = {"outputs": [NeuralType("B"), NeuralType("B")]}

    with pytest.raises(NeuralTypeError) as info:
        check_connection(Broken(), "outputs", _Decoder(), "encoder_output")
    assert (info.value.owner, info.value.port) == ("Broken", "outputs")
    assert str(info.value).startswith("Broken: output port 'outputs': a list port type holds")


def test_check_connection_unknown_port_lists_the_ports():
    with pytest.raises(UnknownNameError) as info:
        check_connection(_Encoder(), "output", _Decoder(), "encoder_output")
    assert str(info.value) == (
        "_Encoder has no output port 'output'. Did you mean 'outputs'? "
        "Output ports: outputs, lengths, logits."
    )
