"""NeuralModule: configs (to/from, _target_ rules), freezing, num_weights, input_example."""

from __future__ import annotations

import pathlib

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from ganglion import NeuralModule, typecheck
from ganglion.errors import ConfigError, UnknownNameError
from ganglion.hookspecs import hookimpl
from ganglion.targets import TargetRefusedError, allow_targets
from ganglion.types import (
    AxisKind,
    AxisType,
    ChannelType,
    EncodedRepresentation,
    IndexType,
    LengthsType,
    MaskType,
    NeuralType,
    NeuralTypeError,
)


class Projection(NeuralModule):
    """A typed Linear layer."""

    def __init__(self, dim_in: int, dim_out: int = 8, activation: str = "relu", *, bias=True):
        super().__init__()
        self.linear = torch.nn.Linear(dim_in, dim_out, bias=bias)
        self.activation = activation

    @property
    def input_types(self):
        return {
            "x": NeuralType((AxisType(AxisKind.Batch), AxisType(AxisKind.Dimension, 16))),
            "mask": NeuralType(("B",), MaskType(), optional=True),
        }

    @property
    def output_types(self):
        return {"y": NeuralType(("B", "D"), EncodedRepresentation())}

    @typecheck()
    def forward(self, x, mask=None):
        return self.linear(x)


class Stack(NeuralModule):
    """Holds other modules and plain options: nested configs."""

    def __init__(self, first: NeuralModule, second: NeuralModule, options: dict | None = None):
        super().__init__()
        self.first, self.second, self.options = first, second, options


class WithCallable(NeuralModule):
    def __init__(self, fn=torch.tanh, scale: float = 1.0, path=pathlib.Path("/tmp/x")):
        super().__init__()
        self.fn, self.scale, self.path = fn, scale, path


class TakesConfig(NeuralModule):
    """Receives a sub-config as the DictConfig NeMo-style modules expect."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg


class NotAModule:
    pass


# -- configs ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def allow_this_module(request):
    """The classes above are the user's own: allowed explicitly, as a user would."""
    if "not_allowed" in request.fixturenames:
        yield
        return
    with allow_targets(__name__):
        yield


def test_to_config_dict_holds_the_full_class_path_and_every_argument():
    cfg = Projection(16, activation="gelu").to_config_dict()
    assert isinstance(cfg, DictConfig)
    assert OmegaConf.to_container(cfg) == {
        "_target_": f"{Projection.__module__}.Projection",
        "dim_in": 16,
        "dim_out": 8,
        "activation": "gelu",
        "bias": True,
    }


def test_from_config_dict_round_trips():
    original = Projection(16, 4, bias=False)
    clone = NeuralModule.from_config_dict(original.to_config_dict())
    assert type(clone) is Projection and clone.linear.out_features == 4
    assert clone.linear.bias is None
    assert clone.to_config_dict() == original.to_config_dict()
    # called on the class itself, _target_ may be left out
    assert Projection.from_config_dict({"dim_in": 16}).linear.in_features == 16


def test_targets_may_be_registered_names_or_import_paths(ganglion_plugins_isolated):
    class Plugin:
        @hookimpl
        def register_modules(self, register):
            register("Projection", Projection)

    ganglion_plugins_isolated.register(Plugin(), name="local")
    by_name = NeuralModule.from_config_dict({"_target_": "Projection", "dim_in": 16})
    # the saved config names the class by its full path, not the short name typed
    assert by_name.to_config_dict()["_target_"] == f"{Projection.__module__}.Projection"
    colon = NeuralModule.from_config_dict(
        {"_target_": f"{Projection.__module__}:Projection", "dim_in": 16}
    )
    assert type(colon) is Projection
    with pytest.raises(UnknownNameError) as info:
        NeuralModule.from_config_dict({"_target_": "Projectoin", "dim_in": 16})
    assert "Did you mean 'Projection'" in str(info.value)
    assert "(config._target_)" in str(info.value)


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("os.system", "'os.system' is neither a registered name nor a class of an installed"),
        ("collections.OrderedDict", "refused without being imported"),
        (f"{__name__}.NotAModule", "NotAModule, not a NeuralModule"),
        ("ganglion.errors.ConfigError", "is the class ganglion.errors.ConfigError, not a Neural"),
        ("ganglion.no_such_module.Thing", "cannot import 'ganglion.no_such_module.Thing'"),
    ],
)
def test_targets_that_are_not_neural_modules_are_refused(target, what):
    with pytest.raises(ConfigError) as info:
        NeuralModule.from_config_dict({"_target_": target}, where="model.encoder")
    assert str(info.value).startswith("model.encoder._target_: ")
    assert what in str(info.value)


@pytest.fixture
def not_allowed():
    """Marks a test that runs without the allowance above."""


def test_the_users_own_classes_need_registering_or_allowing_but_cls_is_trusted(not_allowed):
    with pytest.raises(TargetRefusedError, match="register_module"):
        NeuralModule.from_config_dict({"_target_": f"{__name__}.Projection", "dim_in": 3})
    # the caller named the class itself: its own path is accepted
    built = Projection.from_config_dict({"_target_": f"{__name__}.Projection", "dim_in": 3})
    assert type(built) is Projection and built.linear.in_features == 3
    with pytest.raises(TargetRefusedError):  # but not a different class through it
        Projection.from_config_dict({"_target_": f"{__name__}.Stack"})


def test_target_must_be_a_subclass_of_the_class_asked():
    with pytest.raises(ConfigError, match="is a Stack, not a Projection"):
        Projection.from_config_dict({"_target_": f"{__name__}.Stack"})


def test_bad_arguments_name_the_config():
    with pytest.raises(ConfigError) as info:
        NeuralModule.from_config_dict({"_target_": f"{__name__}.Projection"}, where="model.head")
    assert str(info.value).startswith(
        f"model.head: cannot build {__name__}.Projection from the config:"
    )
    assert "dim_in" in str(info.value)
    with pytest.raises(ConfigError, match="_partial_ and _args_ are not supported"):
        NeuralModule.from_config_dict({"_target_": f"{__name__}.Projection", "_partial_": True})


def test_nested_modules_become_nested_configs_and_are_rebuilt():
    stack = Stack(Projection(16), Projection(16, 2), options={"depth": 2, "names": ["a", "b"]})
    cfg = stack.to_config_dict()
    assert cfg.first._target_ == f"{__name__}.Projection" and cfg.second.dim_out == 2
    clone = NeuralModule.from_config_dict(cfg)
    assert isinstance(clone.first, Projection) and clone.second.linear.out_features == 2
    assert clone.options == {"depth": 2, "names": ["a", "b"]}
    assert clone.to_config_dict() == cfg
    # _recursive_: false passes the sub-config as it is
    raw = NeuralModule.from_config_dict(
        {"_target_": f"{__name__}.TakesConfig", "_recursive_": False, "cfg": cfg.first}
    )
    assert isinstance(raw.cfg, DictConfig) and raw.cfg.dim_in == 16


def test_convert_controls_the_container_type():
    kept = NeuralModule.from_config_dict({"_target_": f"{__name__}.TakesConfig", "cfg": {"a": 1}})
    assert isinstance(kept.cfg, DictConfig) and kept.cfg.a == 1
    plain = NeuralModule.from_config_dict(
        {"_target_": f"{__name__}.TakesConfig", "_convert_": "all", "cfg": {"a": [1]}}
    )
    assert plain.cfg == {"a": [1]} and type(plain.cfg) is dict


def test_arguments_a_config_cannot_hold_are_reported():
    with pytest.raises(ConfigError) as info:
        WithCallable(fn=torch.sigmoid).to_config_dict()
    assert str(info.value).startswith("WithCallable(fn=...): a builtin_function_or_method")
    # a default of that kind, left alone, is not saved: rebuilding uses the same default
    cfg = WithCallable(scale=2.0).to_config_dict()
    assert "fn" not in cfg and cfg.scale == 2.0 and cfg.path == "/tmp/x"


def test_classes_defined_in_functions_cannot_be_saved():
    class Local(NeuralModule):
        pass

    with pytest.raises(ConfigError, match="defined inside a function"):
        Local().to_config_dict()


def test_init_is_cooperative():
    class Tagging(torch.nn.Module):
        def __init__(self, *args, tag=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.tag = tag

    class Mixed(NeuralModule, Tagging):
        def __init__(self, size: int, tag: str):
            super().__init__(tag=tag)
            self.size = size

    mixed = Mixed(3, tag="t")
    assert mixed.tag == "t" and mixed.size == 3 and mixed._init_args == ((3,), {"tag": "t"})


# -- freezing -------------------------------------------------------------------------------
def test_freeze_and_unfreeze():
    module = Projection(16)
    assert module.num_weights == 16 * 8 + 8
    module.freeze()
    assert module.num_weights == 0 and not module.training
    assert not any(p.requires_grad for p in module.parameters())
    module.unfreeze()
    assert module.num_weights == 136 and module.training


def test_freeze_as_a_context_restores_the_previous_state():
    module = Projection(16)
    module.linear.bias.requires_grad_(False)  # a partly frozen module stays so
    with module.freeze() as frozen:
        assert frozen is module and module.num_weights == 0 and not module.linear.training
    assert module.training and module.linear.weight.requires_grad
    assert not module.linear.bias.requires_grad
    module.eval()
    module.freeze()
    with module.unfreeze():
        assert module.num_weights == 136 and module.training
    assert module.num_weights == 0 and not module.training


# -- input examples ---------------------------------------------------------------------------
def test_input_example_follows_the_input_types():
    module = Projection(16)
    example = module.input_example()
    assert len(example) == 1  # the optional mask is left out
    (x,) = example
    assert x.shape == (2, 16) and x.dtype == torch.float32
    assert x.neural_type is module.input_types["x"]
    assert module(*example).shape == (2, 8)
    torch.testing.assert_close(module.input_example()[0], x)  # examples repeat


def test_input_example_element_types_choose_values():
    class Tokens(NeuralModule):
        @property
        def input_types(self):
            return {
                "ids": NeuralType(("B", "T"), IndexType()),
                "features": [NeuralType(("B", "D", "T"), ChannelType())],
                "length": NeuralType(("B",), LengthsType()),
                "mask": NeuralType(("B", "T"), MaskType()),
            }

    ids, features, length, mask = Tokens().input_example(batch=3, length=5, dim=4)
    assert ids.dtype == torch.long and ids.shape == (3, 5)
    assert isinstance(features, list) and features[0].shape == (3, 4, 5)
    assert length.tolist() == [5, 5, 5] and mask.dtype == torch.bool


def test_input_example_needs_declared_axes():
    class Untyped(NeuralModule):
        pass

    class Open(NeuralModule):
        @property
        def input_types(self):
            return {"x": NeuralType(None, ChannelType())}

    with pytest.raises(NeuralTypeError, match="declares no input_types"):
        Untyped().input_example()
    with pytest.raises(NeuralTypeError, match="input port 'x' declares no axes"):
        Open().input_example()


def test_input_example_exports():
    module = Projection(16).eval()
    exported = torch.export.export(module, module.input_example())
    torch.testing.assert_close(
        exported.module()(*module.input_example()), module(*module.input_example())
    )
