"""Registries: providers, lazy targets, conflicts and unknown names."""

import sys

import pytest

from ganglion.errors import DuplicateNameError, PluginLoadError, UnknownNameError
from ganglion.registry import Provider, Registry

OPTIM = Provider("optim", "ganglion-optim", "0.1.0")
LION = Provider("lion", "ganglion-lion", "0.2.0")


def test_entry_records_name_target_provider_and_metadata():
    reg = Registry("optimizers")
    entry = reg.add("lion", "collections:OrderedDict", LION, params="x:Y", paper="2023")
    assert (entry.name, entry.target, entry.provider) == ("lion", "collections:OrderedDict", LION)
    assert entry.metadata == {"params": "x:Y", "paper": "2023"}
    assert reg.get("lion") is entry


def test_lazy_target_is_imported_only_on_first_load(monkeypatch):
    monkeypatch.delitem(sys.modules, "fractions", raising=False)
    reg = Registry("optimizers")
    entry = reg.add("frac", "fractions:Fraction", OPTIM)
    assert "fractions" not in sys.modules
    cls = entry.load()
    assert cls.__name__ == "Fraction" and "fractions" in sys.modules
    assert reg.resolve("frac") is cls


def test_same_name_from_two_providers_names_both():
    reg = Registry("optimizers")
    reg.add("lion", "collections:OrderedDict", OPTIM)
    with pytest.raises(DuplicateNameError) as err:
        reg.add("lion", "collections:Counter", LION)
    msg = str(err.value)
    assert "optimizer 'lion' is registered by both" in msg
    assert "ganglion-optim 0.1.0" in msg and "ganglion-lion 0.2.0" in msg
    assert reg.resolve("lion").__name__ == "OrderedDict"


def test_override_replaces_on_purpose():
    reg = Registry("optimizers")
    reg.add("lion", "collections:OrderedDict", OPTIM)
    reg.add("lion", "collections:Counter", LION, override=True)
    assert reg.get("lion").provider == LION


def test_unknown_name_lists_close_matches_key_and_known_names():
    reg = Registry("optimizers")
    for name in ("adam", "adamw", "sgd", "novograd"):
        reg.add(name, "collections:OrderedDict", OPTIM)
    with pytest.raises(UnknownNameError) as err:
        reg.get("adamx", key="model.optim.name")
    assert str(err.value) == (
        "Unknown optimizer 'adamx' (model.optim.name). Did you mean 'adam' or 'adamw'? "
        "Known: adam, adamw, novograd, sgd."
    )


def test_target_that_fails_to_import_names_entry_provider_and_cause():
    reg = Registry("modules")
    reg.add("Ghost", "ganglion_no_such_module:Ghost", LION)
    with pytest.raises(PluginLoadError) as err:
        reg.resolve("Ghost")
    msg = str(err.value)
    assert "module 'Ghost'" in msg and "ganglion-lion 0.2.0" in msg
    assert "No module named 'ganglion_no_such_module'" in msg


def test_malformed_lazy_target_is_rejected_at_registration():
    with pytest.raises(ValueError, match="must look like 'package.module:attribute'"):
        Registry("modules").add("X", "just_a_module", LION)


def test_find_by_target_matches_object_or_path():
    from collections import OrderedDict

    reg = Registry("optimizers")
    reg.add("od", "collections:OrderedDict", OPTIM)
    assert reg.find_by_target(OrderedDict).name == "od"
    assert reg.find_by_target("collections:OrderedDict").name == "od"
    assert reg.find_by_target(dict) is None


def test_locate_imports_colon_and_dotted_paths_and_reports_what_is_missing(tmp_path, monkeypatch):
    from collections import OrderedDict
    from email.mime.text import MIMEText

    from ganglion.registry import locate

    assert locate("collections:OrderedDict") is OrderedDict
    assert locate("collections.OrderedDict") is OrderedDict
    assert locate("email.mime.text.MIMEText") is MIMEText  # a submodule, not an attribute
    assert locate("email.mime.text:MIMEText.as_string") is MIMEText.as_string
    for bad in ("OrderedDict", "collections..OrderedDict", ".collections", "collections:"):
        with pytest.raises(ValueError, match="must look like|is not an import path"):
            locate(bad)
    with pytest.raises(ModuleNotFoundError, match="No module named 'ganglion_no_such_pkg'"):
        locate("ganglion_no_such_pkg.mod.Thing")
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        locate("collections.Nope")
    # a module that exists but lacks a dependency: that is the error, not "not found"
    (tmp_path / "ganglion_needs_dep.py").write_text("import ganglion_missing_dep\nclass X: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="No module named 'ganglion_missing_dep'"):
        locate("ganglion_needs_dep.X")
    # ...also when the missing name shares the module's prefix
    (tmp_path / "ganglion_dep_user.py").write_text("import ganglion_dep\nclass X: ...\n")
    with pytest.raises(ModuleNotFoundError, match="No module named 'ganglion_dep'"):
        locate("ganglion_dep_user.X")


def test_target_or_params_whose_import_calls_sys_exit_is_a_plugin_load_error(tmp_path, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "exits_on_import", raising=False)
    reg = Registry("optimizers")
    reg.add("quits", "exits_on_import:Opt", LION)
    reg.add("fine", "collections:OrderedDict", LION, params="exits_on_import:Params")
    with pytest.raises(PluginLoadError, match=r"points at 'exits_on_import:Opt', which failed "):
        reg.resolve("quits")
    with pytest.raises(PluginLoadError) as err:
        reg.get("fine").load_metadata("params")
    assert str(err.value) == (
        "optimizer 'fine' registered by ganglion-lion 0.2.0 (plugin 'lion') gives "
        "params='exits_on_import:Params', which failed to import: "
        "SystemExit: it called sys.exit(4)"
    )


def test_conflict_recorded_while_loading_names_every_provider_and_blocks_use():
    third = Provider("adam3", "ganglion-adam3", "3.0")
    reg = Registry("optimizers")
    reg.add("lion", "collections:OrderedDict", OPTIM)
    reg.add("lion", "collections:Counter", LION, record_conflict=True)
    reg.add("lion", "collections:deque", third, record_conflict=True)
    assert "lion" in reg and reg.names() == ["lion"]
    conflict = reg.conflict("lion")
    assert conflict.providers == [OPTIM, LION, third]
    assert conflict.message == (
        "optimizer 'lion' is registered by ganglion-optim 0.1.0 (plugin 'optim'), "
        "ganglion-lion 0.2.0 (plugin 'lion') and ganglion-adam3 3.0 (plugin 'adam3'); "
        "uninstall or disable all but one of them (GANGLION_DISABLE_PLUGINS=optim or "
        "GANGLION_DISABLE_PLUGINS=lion or GANGLION_DISABLE_PLUGINS=adam3)"
    )
    with pytest.raises(DuplicateNameError, match="registered by ganglion-optim"):
        reg.resolve("lion")
    assert [p["target"] for p in conflict.as_dict()["providers"]] == [
        "collections:OrderedDict",
        "collections:Counter",
        "collections:deque",
    ]
    assert reg.by_provider("adam3") == ["lion"]
    assert reg.remove_provider("optim") == ["lion"]  # two left: still a conflict
    assert reg.conflict("lion").providers == [LION, third]
    reg.remove_provider("adam3")  # one left: settled
    assert reg.conflict("lion") is None and reg.conflicts() == {}
    assert reg.resolve("lion").__name__ == "Counter"


def test_override_settles_a_recorded_conflict():
    reg = Registry("optimizers")
    reg.add("lion", "collections:OrderedDict", OPTIM)
    reg.add("lion", "collections:Counter", LION, record_conflict=True)
    reg.add("lion", "collections:deque", LION, override=True)
    assert reg.conflicts() == {} and reg.resolve("lion").__name__ == "deque"
