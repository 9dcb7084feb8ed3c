"""The one ``_target_`` policy: registered names, plugin classes, explicit allowances."""

import sys
import threading

import pytest

from ganglion.errors import UnknownNameError
from ganglion.module import NeuralModule
from ganglion.targets import (
    ENV_ALLOW_TARGETS,
    TargetRefusedError,
    allow_targets,
    check_targets,
    resolve_target,
)


class Registered(NeuralModule):
    """A module a test registers in-process."""


@pytest.fixture
def outsider(tmp_path, monkeypatch):
    """A package on sys.path that no plugin provides; importing it leaves a mark."""
    pkg = tmp_path / "outsider_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(tmp_path / 'imported')!r}).write_text('yes')\n"
        "class Layer:\n    pass\n"
        "def run():\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "outsider_pkg", raising=False)
    monkeypatch.delenv(ENV_ALLOW_TARGETS, raising=False)
    return tmp_path / "imported"


def test_registered_name_and_its_import_path_resolve(ganglion_plugins):
    ganglion_plugins.registry("modules").add("registered_mod", Registered)
    path = f"{Registered.__module__}.{Registered.__qualname__}"
    assert resolve_target("registered_mod", key="k") is Registered
    assert resolve_target(path, key="k") is Registered
    assert resolve_target(path.replace(".Registered", ":Registered"), key="k") is Registered


def test_class_of_a_plugin_package_resolves_and_base_is_checked(ganglion_plugins):
    assert resolve_target("ganglion.module.NeuralModule", key="k") is NeuralModule
    with pytest.raises(
        TargetRefusedError,
        match=r"enc\._target_: 'ganglion.errors.ConfigError'"
        r" is the class ganglion.errors.ConfigError, not a NeuralModule",
    ):
        resolve_target("ganglion.errors.ConfigError", key="enc._target_", base=NeuralModule)


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "builtins.eval"])
def test_foreign_code_is_refused_with_the_key(ganglion_plugins, target):
    with pytest.raises(TargetRefusedError) as err:
        resolve_target(target, key="model.encoder._target_")
    msg = str(err.value)
    assert msg.startswith(f"model.encoder._target_: {target!r} is neither a registered name")
    assert ENV_ALLOW_TARGETS in msg and "register_module" in msg


def test_refusal_happens_before_the_module_is_imported(ganglion_plugins, outsider):
    with pytest.raises(TargetRefusedError):
        resolve_target("outsider_pkg.Layer", key="k")
    assert "outsider_pkg" not in sys.modules and not outsider.exists()


def test_functions_are_refused_even_inside_allowed_packages(ganglion_plugins):
    with pytest.raises(TargetRefusedError, match="is a function, not a class"):
        resolve_target("ganglion.registry.locate", key="k")
    with pytest.raises(TargetRefusedError, match="not a class"):
        resolve_target("torch.nn.functional.relu", key="k")


def test_torch_layers_are_allowed_but_only_layers(ganglion_plugins):
    import torch

    assert resolve_target("torch.nn.Linear", key="k") is torch.nn.Linear
    with pytest.raises(TargetRefusedError, match="only layers"):
        resolve_target("torch.nn.Parameter", key="k")


def test_allow_targets_is_scoped_to_the_block_and_the_thread(ganglion_plugins, outsider):
    seen = {}

    def other_thread():
        try:
            resolve_target("outsider_pkg.Layer", key="k")
            seen["other"] = "allowed"
        except TargetRefusedError:
            seen["other"] = "refused"

    with allow_targets("outsider_pkg"):
        cls = resolve_target("outsider_pkg.Layer", key="k")
        assert cls.__name__ == "Layer" and outsider.exists()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["other"] == "refused"
    with pytest.raises(TargetRefusedError):
        resolve_target("outsider_pkg.Layer", key="k")


def test_an_allowed_prefix_covers_submodules_not_lookalikes(ganglion_plugins, outsider):
    with allow_targets("outsider"), pytest.raises(TargetRefusedError):
        resolve_target("outsider_pkg.Layer", key="k")  # 'outsider' is not 'outsider_pkg'
    with allow_targets("outsider_pkg.Layer"):
        assert resolve_target("outsider_pkg:Layer", key="k").__name__ == "Layer"


def test_environment_variable_allows_prefixes(ganglion_plugins, outsider, monkeypatch):
    monkeypatch.setenv(ENV_ALLOW_TARGETS, "somewhere_else, outsider_pkg")
    assert resolve_target("outsider_pkg.Layer", key="k").__name__ == "Layer"


def test_unknown_short_name_lists_close_matches(ganglion_plugins):
    ganglion_plugins.registry("models").add("tiny_regressor", Registered)
    with pytest.raises(
        UnknownNameError,
        match=r"Unknown model 'tiny_regresor' \(model\._target_\)"
        r".*Did you mean 'tiny_regressor'",
    ):
        resolve_target("tiny_regresor", key="model._target_", kinds=("models", "modules"))


def test_custom_error_class_for_callers_with_their_own_errors(ganglion_plugins):
    class Refused(Exception):
        pass

    with pytest.raises(Refused, match="'os.system'"):
        resolve_target("os.system", key="k", error=Refused)
    with pytest.raises(Refused, match="got 3"):
        resolve_target(3, key="k", error=Refused)


def test_check_targets_walks_a_whole_config_and_survives_deep_nesting(ganglion_plugins):
    config = {"a": {"_target_": "torch.nn.ReLU"}, "b": [{"c": {"_target_": "torch.nn.Tanh"}}]}
    found = dict(check_targets(config, source="model_config.yaml"))
    assert set(found) == {"a._target_", "b[0].c._target_"}
    deep: dict = {"_target_": "os.system"}
    for _ in range(5000):
        deep = {"x": deep}
    with pytest.raises(TargetRefusedError, match=r"^model_config.yaml: x\.x\..*_target_"):
        check_targets(deep, source="model_config.yaml")
