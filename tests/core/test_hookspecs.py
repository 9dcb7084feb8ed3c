"""The plugin contract is complete and documented."""

import inspect

from ganglion import hookspecs
from ganglion.hookspecs import HOOK_KINDS


def _hook_functions():
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and name.startswith("register_")
    }


def test_every_hook_named_in_design_exists_and_maps_to_a_kind():
    expected = {
        "register_modules",
        "register_models",
        "register_element_types",
        "register_optimizers",
        "register_schedulers",
        "register_losses",
        "register_artifact_handlers",
        "register_configs",
        "register_pretrained",
    }
    assert set(_hook_functions()) == expected
    assert set(HOOK_KINDS) == expected


def test_every_hook_is_documented_with_when_what_and_an_example():
    for name, fn in _hook_functions().items():
        doc = inspect.getdoc(fn) or ""
        assert "Called" in doc, f"{name}: docstring must say when it is called"
        assert "Example::" in doc and "@hookimpl" in doc, f"{name}: docstring needs an example"
        assert list(inspect.signature(fn).parameters) == ["register"], name


def test_every_hook_is_listed_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in _hook_functions():
        assert f"`{name}`" in readme, f"README.md does not document hook {name}"
