"""The plugin manager: built-ins, in-process plugins, isolation of broken ones, env switches."""

import subprocess
import sys
import types

import pytest

import ganglion
from ganglion import hookimpl
from ganglion.errors import DuplicateNameError, UnknownNameError
from ganglion.plugins import PluginManager, get_plugin_manager, use_plugin_manager
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
        assert entry.provider.builtin and entry.provider.distribution == "ganglion-core"
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


def test_raising_hook_fails_only_its_plugin_and_drops_its_names(
    ganglion_entry_points, tmp_path, monkeypatch
):
    bad = _hook_source(
        "register_losses",
        "register('half', 'torch.nn:L1Loss')",
        "raise RuntimeError('corrupt catalogue')",
    )
    good = _hook_source("register_losses", "register('good', 'torch.nn:L1Loss')")
    ganglion_entry_points.add("bad", _module(tmp_path, monkeypatch, "bad_losses_plugin", bad))
    ganglion_entry_points.add("good", _module(tmp_path, monkeypatch, "good_losses_plugin", good))
    manager = PluginManager()
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


def _hook_source(hook, *body):
    """The source of a plugin module with one hook, ``hook(register)``, running ``body``."""
    lines = ["import sys", "from ganglion import hookimpl", "", "@hookimpl"]
    lines += [f"def {hook}(register):", *(f"    {line}" for line in body)]
    return "\n".join(lines) + "\n"


GOOD_PLUGIN = _hook_source("register_optimizers", "register('still_here_sgd', 'torch.optim:SGD')")


def _module(tmp_path, monkeypatch, name, source):
    """A module ``name`` importable from ``tmp_path`` for this test only."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("import sys\nsys.exit(3)", "SystemExit: it called sys.exit(3)"),
        ("raise SystemExit('no display')", "SystemExit: it called sys.exit('no display')"),
        ("class Halt(BaseException):\n    pass\nraise Halt('stop')", "Halt: stop"),
        ("1 / 0", "ZeroDivisionError: division by zero"),
    ],
)
def test_plugin_whose_import_exits_is_listed_as_failed_and_the_host_keeps_working(
    ganglion_entry_points, tmp_path, monkeypatch, capsys, source, error
):
    from ganglion.cli import main

    ganglion_entry_points.add("exiting", _module(tmp_path, monkeypatch, "exiting_plugin", source))
    ganglion_entry_points.add("fine", _module(tmp_path, monkeypatch, "fine_plugin", GOOD_PLUGIN))
    manager = PluginManager()
    assert manager.failed_plugins["exiting"].error == error
    assert "exiting" not in manager.plugins and "fine" in manager.plugins
    assert manager.registry("optimizers").get("still_here_sgd").provider.plugin == "fine"
    with use_plugin_manager(manager):
        assert main(["plugins"]) == 0
        assert main(["list", "optimizers"]) == 0
    out = capsys.readouterr().out
    assert f"exiting (exiting_plugin): {error}" in out
    assert "still_here_sgd" in out
    footer = next(line for line in out.splitlines() if "failed to load and may provide" in line)
    assert "exiting" in footer


def test_hook_that_calls_sys_exit_fails_only_its_plugin(
    ganglion_entry_points, tmp_path, monkeypatch
):
    source = _hook_source(
        "register_losses", "register('gone', 'torch.nn:L1Loss')", "sys.exit('catalogue missing')"
    )
    ganglion_entry_points.add("quitter", _module(tmp_path, monkeypatch, "quitter_plugin", source))
    manager = PluginManager()
    losses = manager.registry("losses")  # the hook runs here, not at discovery
    assert "gone" not in losses
    assert manager.failed_plugins["quitter"].error == (
        "SystemExit: it called sys.exit('catalogue missing') (in hook register_losses)"
    )


def test_keyboard_interrupt_while_importing_a_plugin_still_stops_the_host(
    ganglion_entry_points, tmp_path, monkeypatch
):
    name = _module(tmp_path, monkeypatch, "interrupted_plugin", "raise KeyboardInterrupt")
    ganglion_entry_points.add("interrupted", name)
    with pytest.raises(KeyboardInterrupt):
        PluginManager()


def test_name_registered_by_two_plugins_is_a_conflict_naming_both_until_one_goes(
    ganglion_entry_points, tmp_path, monkeypatch
):
    one = _hook_source(
        "register_optimizers",
        "register('twin', 'torch.optim:SGD')",
        "register('only_one', 'torch.optim:SGD')",
    )
    two = _hook_source("register_optimizers", "register('twin', 'torch.optim:Adam')")
    ganglion_entry_points.add("first", _module(tmp_path, monkeypatch, "first_plugin", one))
    ganglion_entry_points.add("second", _module(tmp_path, monkeypatch, "second_plugin", two))
    manager = PluginManager()
    optimizers = manager.registry("optimizers")
    conflict = optimizers.conflict("twin")
    assert [p.plugin for p in conflict.providers] == ["first", "second"]
    assert [e.target for e in conflict.entries] == ["torch.optim:SGD", "torch.optim:Adam"]
    with pytest.raises(DuplicateNameError, match="'twin' is registered by both plugin 'first'"):
        optimizers.get("twin")
    assert optimizers.get("only_one").provider.plugin == "first"  # the rest stays usable
    assert optimizers.by_provider("second") == ["twin"]
    described = [c for c in manager.describe()["conflicts"] if c["name"] == "twin"]
    assert [c["kind"] for c in described] == ["optimizers"]
    assert [p["plugin"] for p in described[0]["providers"]] == ["first", "second"]
    manager.unregister("first")  # one provider left: the name is usable again
    assert optimizers.conflict("twin") is None
    assert optimizers.get("twin").target == "torch.optim:Adam"
