"""@typecheck: what it checks, what it records, its messages, switches, and compile/export."""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import subprocess
import sys
import threading

import pytest
import torch

from ganglion import NeuralModule, typecheck
from ganglion.typechecking import ENV_SWITCH, enabled_from_env
from ganglion.types import (
    AxisKind,
    AxisType,
    ChannelType,
    ElementType,
    EncodedRepresentation,
    LabelsType,
    LengthsType,
    LogitsType,
    LossType,
    NeuralType,
    NeuralTypeComparisonResult,
    NeuralTypeError,
    VoidType,
    check_connection,
)

R = NeuralTypeComparisonResult


class Spectro(ChannelType):
    """Spectrogram-like test type."""


class MelSpectro(Spectro):
    """Mel flavour."""


class Sound(ElementType):
    """Audio-like test type."""

    parameters = ("freq",)


class Encoder(NeuralModule):
    """Two typed inputs, two typed outputs; the shape of an ASR encoder."""

    def __init__(self, dim: int = 4):
        super().__init__()
        self.proj = torch.nn.Conv1d(dim, dim, 1)
        self.reads = 0

    @property
    def input_types(self):
        self.reads += 1
        return {
            "audio_signal": NeuralType(("B", "D", "T"), Spectro()),
            "length": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self):
        return {
            "outputs": NeuralType(("B", "D", "T"), EncodedRepresentation()),
            "encoded_lengths": NeuralType(("B",), LengthsType()),
        }

    @typecheck()
    def forward(self, audio_signal, length):
        return self.proj(audio_signal), length


class PlainEncoder(Encoder):
    """The same module without @typecheck, for compile/export comparisons."""

    def forward(self, audio_signal, length):
        return self.proj(audio_signal), length


class Decoder(NeuralModule):
    @property
    def input_types(self):
        return {"encoder_output": NeuralType(("B", "D", "T"), EncodedRepresentation())}

    @property
    def output_types(self):
        return {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    @typecheck()
    def forward(self, encoder_output):
        return encoder_output.transpose(1, 2)


def spectrogram(element: ElementType | None = None) -> torch.Tensor:
    """A [2, 4, 6] tensor typed B,D,T with ``element`` (Spectro by default)."""
    x = torch.randn(2, 4, 6)
    x.neural_type = NeuralType(("B", "D", "T"), element or Spectro())
    return x


# -- the public name -------------------------------------------------------------------------
def test_public_typecheck_is_the_decorator_whatever_is_imported_first():
    code = (
        "import ganglion.typechecking.wrapper, ganglion.training.experiment\n"
        "import ganglion\n"
        "from ganglion import exp_manager, typecheck\n"
        "from ganglion.typechecking import typecheck as decorator\n"
        "print(typecheck is decorator is ganglion.typecheck, callable(exp_manager),\n"
        "      type(exp_manager).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "function"]


def test_no_public_name_of_ganglion_shares_a_submodules_name():
    import pkgutil
    import types

    import ganglion

    submodules = {info.name for info in pkgutil.iter_modules(ganglion.__path__)}
    objects = {
        name
        for name in ganglion.__all__
        if not isinstance(getattr(ganglion, name), types.ModuleType)
    }
    assert {"typecheck", "exp_manager", "ModelPT"} <= objects
    assert "typechecking" in submodules and not objects & submodules


# -- the happy paths -----------------------------------------------------------------------
def test_positional_and_keyword_calls_check_and_tag_outputs():
    enc = Encoder()
    length = torch.tensor([6, 5])
    for outputs, lengths in (
        enc(spectrogram(), length),
        enc(audio_signal=spectrogram(), length=length),
        enc(spectrogram(), length=length),
    ):
        assert outputs.neural_type is enc.output_types["outputs"]
        assert lengths.neural_type is NeuralType(("B",), LengthsType())
    # typed outputs feed the next module: full comparison, accepted
    logits = Decoder()(outputs)
    assert logits.neural_type is NeuralType(("B", "T", "D"), LogitsType())


def test_subtypes_are_accepted_and_untyped_tensors_checked_by_shape():
    enc = Encoder()
    out, _ = enc(spectrogram(element=MelSpectro()), torch.tensor([6, 5]))  # GREATER
    assert out.shape == (2, 4, 6)
    out, _ = enc(torch.randn(2, 4, 6), torch.tensor([6, 5]))  # untyped: rank 3 is right
    assert out.neural_type.elements_type == EncodedRepresentation()


def test_ports_are_read_once_per_module_and_reset_rereads_them():
    enc = Encoder()
    for _ in range(3):
        enc(spectrogram(), torch.tensor([6, 5]))
    assert enc.reads == 1
    typecheck.reset(enc)
    enc(spectrogram(), torch.tensor([6, 5]))
    assert enc.reads == 2


# -- the messages ----------------------------------------------------------------------------
def _error(fn, *args, **kwargs) -> NeuralTypeError:
    with pytest.raises(NeuralTypeError) as info:
        fn(*args, **kwargs)
    return info.value


def test_transposed_input_message():
    x = torch.randn(2, 6, 4)
    x.neural_type = NeuralType(("B", "T", "D"), Spectro())
    error = _error(Encoder(), x, torch.tensor([6, 5]))
    assert str(error) == (
        "Encoder.forward: input port 'audio_signal': expected B,D,T:Spectro, got B,T,D:Spectro "
        "(shape (2, 6, 4)). TRANSPOSE_SAME: axis 1: expected Dimension, got Time; axis 2: "
        "expected Time, got Dimension — a transpose would make them SAME"
    )
    assert (error.owner, error.port, error.result) == (
        "Encoder.forward",
        "audio_signal",
        R.TRANSPOSE_SAME,
    )


def test_parameter_mismatch_message():
    class Resampler(NeuralModule):
        @property
        def input_types(self):
            return {"audio": NeuralType(("B", "T"), Sound(16000))}

        @typecheck()
        def forward(self, audio):
            return audio

    audio = torch.randn(2, 80)
    audio.neural_type = NeuralType(("B", "T"), Sound(8000))
    error = _error(Resampler(), audio)
    assert error.result == R.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert str(error).endswith(
        "SAME_TYPE_INCOMPATIBLE_PARAMS: Sound(16000) vs Sound(8000): same type, incompatible "
        "parameters (freq: expected 16000, got 8000)"
    )


def test_element_type_messages():
    enc = Encoder()
    generic = spectrogram(element=ChannelType())
    error = _error(enc, generic, torch.tensor([6, 5]))
    assert error.result == R.LESS
    assert str(error).endswith(
        "LESS: ChannelType is more general than Spectro: the port needs Spectro or one of its "
        "subtypes"
    )
    error = _error(enc, spectrogram(element=LogitsType()), torch.tensor([6, 5]))
    assert str(error).endswith("INCOMPATIBLE: LogitsType is not a kind of Spectro")
    error = _error(enc, spectrogram(element=VoidType()), torch.tensor([6, 5]))
    assert "got VoidType (elements of unknown meaning)" in str(error)


def test_untyped_rank_message():
    error = _error(Encoder(), torch.randn(2, 4), torch.tensor([6, 5]))
    assert str(error) == (
        "Encoder.forward: input port 'audio_signal': expected B,D,T:Spectro, got an untyped "
        "tensor of shape (2, 4). INCOMPATIBLE: expected 3 axes (B,D,T), got a tensor with 2 "
        "(shape (2, 4))"
    )


def test_declared_sizes_are_enforced_on_tensors():
    class Fixed(NeuralModule):
        @property
        def input_types(self):
            return {"x": NeuralType((AxisType(AxisKind.Batch), AxisType(AxisKind.Dimension, 16)))}

        @typecheck()
        def forward(self, x):
            return x

    Fixed()(torch.randn(3, 16))
    error = _error(Fixed(), torch.randn(3, 8))
    assert error.result == R.DIM_INCOMPATIBLE
    assert str(error).endswith(
        "DIM_INCOMPATIBLE: axis 1 (Dimension): expected size 16, got 8 (shape (3, 8))"
    )
    # a typed tensor whose type records no size passes when its actual size is right
    typed = torch.randn(3, 16)
    typed.neural_type = NeuralType(("B", "D"))
    Fixed()(typed)
    typed_bad = torch.randn(3, 8)
    typed_bad.neural_type = NeuralType(("B", "D"))
    assert _error(Fixed(), typed_bad).result == R.DIM_INCOMPATIBLE


def test_output_messages():
    class Wrong(NeuralModule):
        @property
        def output_types(self):
            return {"a": NeuralType(("B", "T")), "b": NeuralType(("B",))}

        @typecheck()
        def forward(self, x, count=2, rank=2):
            return tuple(x.reshape((2,) + (3,) * (rank - 1)).clone() for _ in range(count))

    error = _error(Wrong(), torch.randn(2, 3), count=3)
    assert error.result == R.CONTAINER_SIZE_MISMATCH
    assert str(error) == (
        "Wrong.forward: output ports: expected B,T, got 3 values. CONTAINER_SIZE_MISMATCH: the "
        "method returned 3 values, but output_types declares 2 ports (a, b)"
    )
    error = _error(Wrong(), torch.randn(2, 3), count=2)  # 'b' gets a rank-2 tensor
    assert str(error).startswith("Wrong.forward: output port 'b': expected B, got an untyped")


# -- optional, missing and None --------------------------------------------------------------
class WithOptional(NeuralModule):
    @property
    def input_types(self):
        return {
            "x": NeuralType(("B", "T")),
            "mask": NeuralType(("B", "T"), optional=True),
            "length": NeuralType(("B",), LengthsType()),
        }

    @typecheck()
    def forward(self, x, mask=None, length=None):
        return x


def test_optional_ports_accept_none_and_required_ones_do_not():
    m = WithOptional()
    m(torch.randn(2, 3), None, torch.tensor([3, 3]))
    m(torch.randn(2, 3), length=torch.tensor([3, 3]))
    error = _error(m, torch.randn(2, 3), torch.ones(2, 3), None)
    assert str(error).endswith(
        "INCOMPATIBLE: the port is not optional; pass a value, or declare it "
        "NeuralType(..., optional=True)"
    )
    error = _error(m, torch.randn(2, 3))  # left out: its default, None, is not accepted
    assert error.port == "length" and "got None" in str(error)


def test_port_that_is_not_a_parameter_is_reported():
    class Misnamed(NeuralModule):
        @property
        def input_types(self):
            return {"signal": NeuralType(("B", "T"))}

        @typecheck()
        def forward(self, audio):
            return audio

    error = _error(Misnamed(), torch.randn(2, 3))
    assert str(error) == (
        "Misnamed.forward: input port 'signal' is not a parameter of forward(audio); rename "
        "the port or the parameter"
    )


# -- containers ------------------------------------------------------------------------------
class Heads(NeuralModule):
    @property
    def input_types(self):
        return {"features": [NeuralType(("B", "D"), ChannelType())]}

    @property
    def output_types(self):
        return {"out": [[NeuralType(("B", "D"), LogitsType())]]}

    @typecheck()
    def forward(self, features):
        return [[f * 2 for f in features], [f * 3 for f in features]]


def test_nested_list_outputs_are_tagged_and_list_inputs_checked_per_item():
    out = Heads()([torch.randn(2, 3), torch.randn(2, 3)])
    assert all(t.neural_type is NeuralType(("B", "D"), LogitsType()) for row in out for t in row)
    error = _error(Heads(), [torch.randn(2, 3), torch.randn(2, 3, 1)])
    assert error.port == "features" and "expected 2 axes (B,D), got a tensor with 3" in str(error)
    error = _error(Heads(), torch.randn(2, 3))
    assert str(error).endswith(
        "CONTAINER_SIZE_MISMATCH: the port takes a list nested 1 deep, got a single tensor"
    )


def test_an_output_keeps_a_more_precise_type_it_already_carries():
    class Passthrough(NeuralModule):
        @property
        def input_types(self):
            return {"spec": NeuralType(("B", "D", "T"), Spectro())}

        @property
        def output_types(self):
            return {"spec": NeuralType(("B", "D", "T"), Spectro())}

        @typecheck()
        def forward(self, spec):
            return spec

    mel = spectrogram(element=MelSpectro())
    assert Passthrough()(mel).neural_type.elements_type == MelSpectro()


def test_an_output_port_with_sizes_keeps_the_type_of_an_input_returned_unchanged():
    class Identity(NeuralModule):
        @property
        def output_types(self):
            return {"y": NeuralType("B=2,T:ChannelType")}

        @typecheck()
        def forward(self, x):
            return x

    declared = NeuralType("B=2,T:ChannelType")
    encoded = NeuralType("B,T:EncodedRepresentation")  # a kind of ChannelType, no sizes
    x = torch.randn(2, 5)
    x.neural_type = encoded
    assert Identity()(x) is x and x.neural_type is encoded  # the caller's tensor keeps it
    # what the port does not accept, and untyped tensors, get the port's type
    logits = torch.randn(2, 5)
    logits.neural_type = NeuralType("B,T:LogitsType")
    assert Identity()(logits).neural_type is declared
    assert Identity()(torch.randn(2, 5)).neural_type is declared
    # the declared sizes are still checked on the tensor itself
    wrong = torch.randn(3, 5)
    wrong.neural_type = encoded
    error = _error(Identity(), wrong)
    assert error.result == R.DIM_INCOMPATIBLE and error.port == "y"
    assert wrong.neural_type is encoded


def test_a_neural_type_attribute_that_is_not_a_neural_type():
    x = torch.randn(2, 4, 6)
    x.neural_type = "B,D,T:Spectro"  # a string, not NeuralType("B,D,T:Spectro")
    error = _error(Encoder(), x, torch.tensor([6, 6]))
    assert error.port == "audio_signal" and str(error).endswith(
        "INCOMPATIBLE: the tensor's neural_type attribute is 'B,D,T:Spectro', not a NeuralType"
    )
    # on an output, the port's type replaces it
    out = torch.randn(2, 4, 6)
    out.neural_type = "B,D,T"
    spec = NeuralType(("B", "D", "T"), Spectro())
    assert Passthrough()(spectrogram(), out)[1].neural_type is spec


class Passthrough(NeuralModule):
    @property
    def output_types(self):
        spec = NeuralType(("B", "D", "T"), Spectro())
        return {"spec": spec, "other": spec}

    @typecheck()
    def forward(self, spec, other):
        return spec, other


def test_a_malformed_port_declaration_names_its_owner_and_port():
    class Bad(NeuralModule):
        @property
        def output_types(self):
            return {"y": [NeuralType("B"), NeuralType("B")]}

        @typecheck()
        def forward(self, x):
            return x

    error = _error(Bad(), torch.randn(2))
    assert (error.owner, error.port) == ("Bad.forward", "y")
    assert str(error).startswith(
        "Bad.forward: output port 'y': a list port type holds exactly one NeuralType"
    )


def test_decorator_types_are_parsed_once_and_port_properties_read_per_object(monkeypatch):
    typecheck_module = sys.modules["ganglion.typechecking.plan"]
    parsed = []
    parse = typecheck_module.parse_port_type

    def counting_parse(text, **kwargs):
        parsed.append(text)
        return parse(text, **kwargs)

    monkeypatch.setattr(typecheck_module, "parse_port_type", counting_parse)

    class Scorer(torch.nn.Module):
        @typecheck(input_types={"x": "B,D:ChannelType"}, output_types={"y": "B:LogitsType"})
        def forward(self, x):
            return x.sum(-1)

    for _ in range(3):
        assert Scorer()(torch.randn(2, 3)).neural_type is NeuralType("B:LogitsType")
    assert parsed == ["B,D:ChannelType", "B:LogitsType"]
    assert _error(Scorer(), torch.randn(2)).port == "x"

    class Sized(NeuralModule):  # ports that depend on the instance
        def __init__(self, dim):
            super().__init__()
            self.dim = dim

        @property
        def input_types(self):
            return {"x": NeuralType(f"B,D={self.dim}")}

        @typecheck()
        def forward(self, x):
            return x

    Sized(3)(torch.randn(2, 3))
    Sized(4)(torch.randn(2, 4))
    assert _error(Sized(4), torch.randn(2, 3)).result == R.DIM_INCOMPATIBLE


# -- decorator forms and the other kinds of modules -----------------------------------------
def test_types_declared_on_the_decorator_as_strings_and_bare_decorator():
    class Scorer(torch.nn.Module):
        @typecheck(input_types={"x": "B,D:ChannelType"}, output_types={"y": "B:LogitsType"})
        def forward(self, x):
            return x.sum(-1)

    class Bare(NeuralModule):
        @property
        def output_types(self):
            return {"y": NeuralType(("B",), LogitsType())}

        @typecheck
        def forward(self, x):
            return x.sum(-1)

    assert Scorer()(torch.randn(2, 3)).neural_type is NeuralType("B:LogitsType")
    assert _error(Scorer(), torch.randn(2)).port == "x"
    assert Bare()(torch.randn(2, 3)).neural_type is NeuralType("B:LogitsType")


def test_losses_and_datasets_work_with_typecheck():
    class CrossEntropy(torch.nn.CrossEntropyLoss):
        """A loss that is a torch loss with typed ports (not a NeuralModule)."""

        @property
        def input_types(self):
            return {
                "logits": NeuralType(("B", "D"), LogitsType()),
                "labels": NeuralType(("B",), LabelsType()),
            }

        @property
        def output_types(self):
            return {"loss": NeuralType(elements_type=LossType())}

        @typecheck()
        def forward(self, logits, labels):
            return super().forward(logits, labels)

    class Pairs(torch.utils.data.Dataset):
        @property
        def output_types(self):
            return {
                "logits": NeuralType(("B", "D"), LogitsType()),
                "labels": NeuralType(("B",), LabelsType()),
            }

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.full((3,), float(i)), i % 3

        @typecheck()
        def collate_fn(self, batch):
            features, labels = zip(*batch)
            return torch.stack(features), torch.tensor(labels)

    data = Pairs()
    logits, labels = next(iter(torch.utils.data.DataLoader(data, 4, collate_fn=data.collate_fn)))
    assert logits.neural_type is NeuralType("B,D:LogitsType")
    loss = CrossEntropy()(logits, labels)
    assert loss.neural_type is NeuralType("*:LossType") and loss.ndim == 0
    with pytest.raises(NeuralTypeError, match="expected B:LabelsType"):
        CrossEntropy()(logits, labels.float().unsqueeze(1))


def test_parameters_and_tensor_subclasses_take_the_general_path():
    enc = Encoder()
    weight = torch.nn.Parameter(torch.randn(2, 4, 6))
    assert enc(weight, torch.tensor([6, 5]))[0].shape == (2, 4, 6)
    with pytest.raises(NeuralTypeError, match="expected 3 axes"):
        enc(torch.nn.Parameter(torch.randn(2, 4)), torch.tensor([6, 5]))


def test_modules_copy_and_pickle_after_calls():
    enc = Encoder()
    enc(spectrogram(), torch.tensor([6, 5]))
    for clone in (copy.deepcopy(enc), pickle.loads(pickle.dumps(enc))):
        out, _ = clone(spectrogram(), torch.tensor([6, 5]))
        assert out.neural_type is enc.output_types["outputs"]
        with pytest.raises(NeuralTypeError):
            clone(torch.randn(2, 4), torch.tensor([6, 5]))


def test_check_connection_between_modules():
    assert check_connection(Encoder(), "outputs", Decoder(), "encoder_output").result == R.SAME
    check = check_connection(Decoder(), "logits", Encoder(), "audio_signal")
    assert check.result == R.INCOMPATIBLE and not check.ok
    assert check.reason.startswith("Decoder.logits (B,T,D:LogitsType) -> Encoder.audio_signal")


# -- switches --------------------------------------------------------------------------------
def test_disable_checks_context_turns_checking_and_tagging_off():
    enc = Encoder()
    with typecheck.disable_checks():
        out, _ = enc(torch.randn(2, 4, 6), torch.tensor([6, 5]))
        assert not hasattr(out, "neural_type")
        assert not typecheck.is_enabled()
        with typecheck.disable_checks():
            pass
        assert not typecheck.is_enabled()  # nested blocks restore what they found
    assert typecheck.is_enabled()
    with pytest.raises(NeuralTypeError):
        enc(torch.randn(2, 4), torch.tensor([6, 5]))


def test_set_enabled_returns_the_previous_setting():
    assert typecheck.set_enabled(False) is True
    try:
        WithOptional()(torch.randn(2, 3))  # 'length' missing: not checked while off
        assert typecheck.set_typecheck_enabled(False) is False  # NeMo's name
    finally:
        typecheck.set_enabled(True)
    with pytest.raises(NeuralTypeError):
        WithOptional()(torch.randn(2, 3))


def test_disabling_checks_in_one_thread_leaves_them_on_in_another():
    seen = {}

    def call_in_thread(name):
        seen[name] = typecheck.is_enabled()
        try:
            WithOptional()(torch.randn(2, 3))  # 'length' missing: an error when checked
        except NeuralTypeError:
            seen[name] = "checked"

    with typecheck.disable_checks():
        worker = threading.Thread(target=call_in_thread, args=("worker",))
        worker.start()
        worker.join()
        WithOptional()(torch.randn(2, 3))  # off in this thread
    assert seen == {"worker": "checked"}

    # and the other way round: a thread that turns checks off while this one checks
    off, checked = threading.Event(), threading.Event()

    def disable_and_wait():
        typecheck.set_enabled(False)
        off.set()
        checked.wait()
        seen["disabler"] = typecheck.is_enabled()

    worker = threading.Thread(target=disable_and_wait)
    worker.start()
    off.wait()
    try:
        with pytest.raises(NeuralTypeError):
            WithOptional()(torch.randn(2, 3))
        assert typecheck.is_enabled()
    finally:
        checked.set()
        worker.join()
    assert seen["disabler"] is False


def test_disabling_checks_in_one_asyncio_task_leaves_them_on_in_another():
    async def run():
        off, done = asyncio.Event(), asyncio.Event()

        async def disabled_task():
            with typecheck.disable_checks():
                off.set()
                await done.wait()  # the other task checks while this one is inside the block
                WithOptional()(torch.randn(2, 3))  # not checked here
                return typecheck.is_enabled()

        async def checking_task():
            await off.wait()
            try:
                with pytest.raises(NeuralTypeError):
                    WithOptional()(torch.randn(2, 3))
                return typecheck.is_enabled()
            finally:
                done.set()

        async def set_in_task():
            return typecheck.set_enabled(False)

        results = await asyncio.gather(disabled_task(), checking_task())
        await asyncio.create_task(set_in_task())  # a task's setting ends with the task
        return results, typecheck.is_enabled()

    assert asyncio.run(run()) == ([False, True], True)


def test_every_decorated_method_shares_one_plain_wrapper_function():
    # no code generated per method: the wrapper is one closure over the method and its plan
    codes = {cls.forward.__code__ for cls in (Encoder, Decoder, WithOptional, Heads)}
    assert len(codes) == 1
    assert codes.pop().co_filename.endswith(os.path.join("typechecking", "wrapper.py"))


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("1", True), ("true", True), ("0", False), ("false", False), (" OFF ", False),
     ("no", False)],
)  # fmt: skip
def test_environment_switch_values(value, enabled):
    environ = {} if value is None else {ENV_SWITCH: value}
    assert enabled_from_env(environ) is enabled


def test_environment_switch_turns_checks_off_in_a_new_process():
    code = (
        "import torch\n"
        "from ganglion import typecheck, NeuralModule\n"
        "from ganglion.types import NeuralType\n"
        "class M(NeuralModule):\n"
        "    input_types = {'x': NeuralType(('B', 'T'))}\n"
        "    @typecheck()\n"
        "    def forward(self, x):\n"
        "        return x\n"
        "M()(torch.zeros(3))\n"  # a rank error when checks are on
        "print(typecheck.is_enabled())\n"
    )
    env = {**os.environ, ENV_SWITCH: "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# -- compile and export --------------------------------------------------------------------
def _example():
    return torch.randn(2, 4, 6), torch.tensor([6, 5])


def _graph_targets(gm: torch.fx.GraphModule) -> list[str]:
    return [str(node.target) for node in gm.graph.nodes if node.op == "call_function"]


def test_typed_module_compiles_to_the_plain_modules_graph():
    graphs = {}

    def capture(name):
        def backend(gm, example_inputs):
            graphs[name] = _graph_targets(gm)
            return gm.forward

        return backend

    typed, plain = Encoder(), PlainEncoder()
    plain.load_state_dict(typed.state_dict())
    torch._dynamo.reset()
    x, length = _example()
    out_typed = torch.compile(typed, backend=capture("typed"), fullgraph=True)(x, length)
    out_plain = torch.compile(plain, backend=capture("plain"), fullgraph=True)(x, length)
    assert graphs["typed"] == graphs["plain"] and graphs["typed"]
    torch.testing.assert_close(out_typed, out_plain)
    # under compile nothing is checked (the graph holds no checks): a wrongly typed input
    # that eager mode refuses goes through
    wrong = spectrogram(element=LogitsType())
    with pytest.raises(NeuralTypeError):
        typed(wrong, length)
    compiled = torch.compile(typed, backend="eager", fullgraph=True)
    assert not hasattr(compiled(wrong, length)[0], "neural_type")


def test_typed_module_exports_like_the_plain_one():
    typed, plain = Encoder(), PlainEncoder()
    plain.load_state_dict(typed.state_dict())
    example = _example()
    exported = torch.export.export(typed, example)
    reference = torch.export.export(plain, example)
    assert _graph_targets(exported.graph_module) == _graph_targets(reference.graph_module)
    assert [s.arg.name for s in exported.graph_signature.input_specs][-2:] == [
        "audio_signal",
        "length",
    ]
    torch.testing.assert_close(exported.module()(*example), typed(*example))


def test_typed_module_exports_to_onnx():
    pytest.importorskip("onnxscript")
    typed, plain = Encoder(), PlainEncoder()
    example = _example()
    program = torch.onnx.export(typed.eval(), example, dynamo=True, verbose=False)
    reference = torch.onnx.export(plain.eval(), example, dynamo=True, verbose=False)
    ops = [node.op_type for node in program.model_proto.graph.node]
    assert ops == [node.op_type for node in reference.model_proto.graph.node] and ops
    names = [i.name for i in program.model_proto.graph.input]
    assert names == [i.name for i in reference.model_proto.graph.input]
    assert names[0] == "audio_signal"


class VarPositional(NeuralModule):
    input_types = {"a": NeuralType(("B", "T")), "b": NeuralType(("B",))}

    @typecheck()
    def forward(self, *inputs):
        return inputs[0]


class KeywordOnly(NeuralModule):
    input_types = {"a": NeuralType(("B", "T")), "b": NeuralType(("B",))}

    @typecheck()
    def forward(self, a, *, b):
        return a


class VarKeyword(NeuralModule):
    input_types = {"a": NeuralType(("B", "T")), "b": NeuralType(("B",))}

    @typecheck()
    def forward(self, a, **extra):
        return a


@pytest.mark.parametrize(
    ("module", "by_keyword"),
    [(VarPositional, False), (KeywordOnly, True), (VarKeyword, True)],
)
def test_ports_map_onto_any_signature(module, by_keyword):
    def call(b):
        a = torch.zeros(2, 3)
        return module()(a, b=b) if by_keyword else module()(a, b)

    call(torch.zeros(2))
    error = _error(call, torch.zeros(2, 1))
    assert error.port == "b" and "expected 1 axis (B), got a tensor with 2" in str(error)
    if module is VarKeyword:  # only **extra can leave a required port out unnoticed
        missing = _error(module(), torch.zeros(2, 3))
        assert missing.port == "b" and "it was not given" in str(missing)
    elif module is KeywordOnly:  # Python's own binding, naming the method
        with pytest.raises(TypeError, match=r"KeywordOnly.forward\(\) missing 1 required"):
            module()(torch.zeros(2, 3))


def test_calls_that_leave_arguments_out_behave_as_the_plain_method():
    class Optional(NeuralModule):
        input_types = {"a": NeuralType(("B", "T")), "b": NeuralType(("B",), optional=True)}

        @typecheck()
        def forward(self, a, b=None):
            return a if b is None else a + b[:, None]

    module = Optional()
    assert module(torch.ones(2, 3)).tolist() == [[1.0] * 3] * 2  # b left at its default
    assert module(a=torch.ones(2, 3)).tolist() == [[1.0] * 3] * 2
    error = _error(module, torch.ones(2, 3), torch.ones(2, 1))  # a given b is still checked
    assert error.port == "b"
    with pytest.raises(TypeError, match=r"forward\(\) missing 2 required .*'self' and 'a'"):
        Optional.forward()  # no self at all: Python's own message, not an IndexError
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'a'"):
        module.forward()


def test_a_single_list_port_takes_a_tuple_and_a_single_tensor_port_refuses_one():
    class Split(NeuralModule):
        def __init__(self, as_list: bool):
            super().__init__()
            self.as_list = as_list

        @property
        def output_types(self):
            leaf = NeuralType(("B", "D"), LogitsType())
            return {"parts": [leaf] if self.as_list else leaf}

        @typecheck()
        def forward(self, x):
            return tuple(x.split(2, dim=1))

    parts = Split(as_list=True)(torch.randn(3, 4))
    assert [p.neural_type for p in parts] == [NeuralType("B,D:LogitsType")] * 2
    error = _error(Split(as_list=False), torch.randn(3, 4))
    assert str(error).endswith(
        "CONTAINER_SIZE_MISMATCH: the method returned a tuple of 2 values, but output_types "
        "declares one port ('parts')"
    )


def test_a_failing_input_types_property_is_an_error_not_an_untyped_module():
    class Broken(NeuralModule):
        @property
        def input_types(self):
            return {"x": NeuralType(("B", "T"), self.element)}  # no such attribute

        @typecheck()
        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match="input_types"):
        Broken()(torch.zeros(2, 3))


def test_the_wrapper_keeps_the_signature_defaults_and_odd_parameter_names():
    import functools
    import inspect

    def logged(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            return fn(*args, **kwargs)

        return inner

    class Odd(NeuralModule):
        input_types = {"len": NeuralType(("B", "T")), "_tc_x": NeuralType(("B",))}

        @typecheck()
        @logged  # a decorated method: its defaults come from the signature it shows
        def forward(this, len, /, _tc_x=None, *, getattr=3, scale: float = 2.0):  # noqa: A002
            return len * scale + getattr

    forward = Odd.forward
    own = inspect.signature(forward, follow_wrapped=False)  # what the wrapper itself shows
    assert str(own) == str(inspect.signature(forward.__wrapped__))
    assert str(own).startswith("(this, len, /, _tc_x=None, *, getattr=3, scale:")
    assert forward.__name__ == "forward" and forward.__wrapped__ is not None
    out = Odd()(torch.ones(2, 3), torch.ones(2), scale=1.0)
    assert out.tolist() == [[4.0] * 3] * 2
    error = _error(Odd(), torch.ones(2), torch.ones(2))
    assert error.port == "len"
    error = _error(Odd(), torch.ones(2, 3))  # _tc_x left at None
    assert error.port == "_tc_x"
