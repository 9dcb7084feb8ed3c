"""The plugin manager: built-ins, in-process plugins, isolation of broken ones, env switches."""

import subprocess
import sys
import types

import pytest

import ganglion
from ganglion import hookimpl
from ganglion.errors import DuplicateNameError, UnknownNameError
from ganglion.plugins import PluginInfo, PluginManager, get_plugin_manager, use_plugin_manager
from ganglion.registry import singular


def make_plugin(name, **hooks):
    """A module object holding the given hook implementations."""
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        fn.__name__ = hook_name
        setattr(module, hook_name, hookimpl(fn))
    return module


def test_builtins_register_torch_optimizers_through_the_hooks():
    manager = PluginManager(entry_points=False)
    optimizers = manager.registry("optimizers")
    for name in ("sgd", "adam", "adamw", "adadelta", "adamax", "adagrad", "rmsprop", "rprop"):
        entry = optimizers.get(name)
        assert entry.provider.builtin and entry.provider.distribution == "ganglion"
    assert optimizers.get("adam").target == "torch.optim:Adam"
    assert "StepLR" in manager.registry("schedulers")
    assert "LogitsType" in manager.registry("element_types")


def test_no_manager_exists_until_asked_for():
    # in a fresh process: here the conftest resets the current manager before each test
    code = (
        "import ganglion, ganglion.plugins\n"
        "assert ganglion.plugins._current is None, 'importing created a plugin manager'\n"
        "manager = ganglion.plugins.get_plugin_manager()\n"
        "assert ganglion.plugins.get_plugin_manager() is manager\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_in_process_plugin_registers_with_its_name_as_provider(ganglion_plugins_isolated):
    plugin = make_plugin(
        "mine", register_optimizers=lambda register: register("mysgd", "torch.optim:SGD")
    )
    ganglion.plugins.register(plugin, name="mine")
    entry = ganglion.get_registry("optimizers").get("mysgd")
    assert entry.provider.plugin == "mine"


def test_plugin_registered_after_a_kind_was_filled_is_still_seen(ganglion_plugins_isolated):
    assert "late" not in ganglion.get_registry("losses")
    ganglion.plugins.register(
        make_plugin("late", register_losses=lambda register: register("late", "torch.nn:L1Loss")),
        name="late",
    )
    assert "late" in ganglion.get_registry("losses")


def test_class_instance_plugin_works_too(ganglion_plugins_isolated):
    class Plugin:
        @hookimpl
        def register_schedulers(self, register):
            register("flat", "torch.optim.lr_scheduler:ConstantLR", params=None)

    ganglion.plugins.register(Plugin(), name="obj")
    assert ganglion.get_registry("schedulers").get("flat").provider.plugin == "obj"


def test_runtime_register_optimizer_is_usable_by_name(ganglion_plugins_isolated):
    class MySGD:
        pass

    class MySGDParams:
        pass

    ganglion.register_optimizer("mysgd", MySGD, params=MySGDParams)
    entry = ganglion.get_registry("optimizers").get("mysgd")
    assert entry.load() is MySGD and entry.metadata["params"] is MySGDParams
    with pytest.raises(DuplicateNameError, match="registered by both ganglion"):
        ganglion.register_optimizer("adam", MySGD)
    ganglion.register_optimizer("adam", MySGD, override=True)
    assert ganglion.get_registry("optimizers").resolve("adam") is MySGD


def test_in_process_plugin_clash_is_raised_at_once_and_rolled_back(ganglion_plugins_isolated):
    ganglion.get_registry("optimizers")  # fill first, so the clash is found on register
    plugin = make_plugin(
        "dup", register_optimizers=lambda register: register("adam", "torch.optim:SGD")
    )
    with pytest.raises(DuplicateNameError, match="'adam' is registered by both"):
        ganglion.plugins.register(plugin, name="dup")
    assert "dup" not in ganglion_plugins_isolated.plugins
    assert ganglion.get_registry("optimizers").get("adam").target == "torch.optim:Adam"


def test_raising_hook_fails_only_its_plugin_and_drops_its_names():
    def bad(register):
        register("half", "torch.nn:L1Loss")
        raise RuntimeError("corrupt catalogue")

    manager = PluginManager(entry_points=False)
    manager._add(
        PluginInfo(name="bad"),
        lambda: make_plugin("bad", register_losses=bad),
    )
    manager._add(
        PluginInfo(name="good"),
        lambda: make_plugin(
            "good", register_losses=lambda register: register("good", "torch.nn:L1Loss")
        ),
    )
    losses = manager.registry("losses")
    assert "good" in losses and "half" not in losses
    assert "RuntimeError: corrupt catalogue" in manager.failed_plugins["bad"].error
    with pytest.raises(UnknownNameError) as err:
        losses.get("half")
    assert "these plugins failed to load and may provide it: 'bad'" in str(err.value)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ganglion.GanglionError, match="Did you mean 'optimizers'"):
        PluginManager(entry_points=False).registry("optimizer")


def test_use_plugin_manager_restores_the_previous_one():
    outer = get_plugin_manager()
    inner = PluginManager(entry_points=False)
    with use_plugin_manager(inner):
        assert get_plugin_manager() is inner
    assert get_plugin_manager() is outer


def test_runtime_register_functions_are_named_after_their_kind():
    assert ganglion.plugins.register_element_type.__name__ == "register_element_type"
    assert ganglion.plugins.register_element_type.__doc__.startswith(
        "Register an element type by name at run time"
    )
    assert ganglion.plugins.register_module.__doc__.startswith("Register a module by name")
    assert ganglion.plugins.register_loss.__name__ == "register_loss"
    assert ganglion.plugins.register_loss.__doc__.startswith("Register a loss by name")
    assert [singular(k) for k in ("losses", "optimizers", "artifact_handlers")] == [
        "loss",
        "optimizer",
        "artifact handler",
    ]
