"""Third-party plugins found through real entry points (tests/plugins/* installed in the env).

ganglion-sample registers an optimizer, an element type and a module; ganglion-broken ships
one plugin per way of breaking (missing dependency, bad hook signature, raising hook, name
clash). Together they prove discovery, lazy import, the listing, the conflict error, the
unknown-name error and broken-plugin isolation end to end.
"""

import json
import subprocess
import sys

import pytest

from ganglion.errors import DuplicateNameError, UnknownNameError
from ganglion.plugins import PluginManager

pytest.importorskip("ganglion_sample", reason="tests/plugins/ganglion-sample is not installed")
pytest.importorskip("ganglion_broken", reason="tests/plugins/ganglion-broken is not installed")


def run_in_subprocess(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_sample_plugin_is_discovered_with_its_distribution():
    manager = PluginManager()
    info = manager.plugins["sample"]
    assert (info.distribution, info.version, info.entry_point) == (
        "ganglion-sample",
        "0.3.0",
        "ganglion_sample.plugin",
    )
    assert manager.registry("element_types").get("PitchContourType").provider.plugin == "sample"
    assert manager.registry("modules").get("SampleEncoder").provider.version == "0.3.0"


def test_sample_targets_are_imported_lazily_on_first_use():
    code = (
        "import sys\n"
        "from ganglion.plugins import PluginManager\n"
        "m = PluginManager()\n"
        "m.registries()\n"
        "before = 'ganglion_sample.optim' in sys.modules or 'torch' in sys.modules\n"
        "entry = m.registry('element_types').get('PitchContourType')\n"
        "cls = entry.load()\n"
        "print(before, 'ganglion_sample.types' in sys.modules, cls.__name__)\n"
    )
    assert run_in_subprocess(code) == "False True PitchContourType"


def test_each_broken_plugin_is_recorded_and_the_rest_keep_working():
    manager = PluginManager()
    manager.registries()  # hooks run when their kind is first needed
    failed = manager.failed_plugins
    assert "No module named 'ganglion_nonexistent_dependency'" in failed["broken_import"].error
    assert "Argument(s) {'device'} are declared in the hookimpl" in (
        failed["broken_signature"].error
    )
    assert "loss catalogue file is corrupt" in failed["broken_hook"].error
    assert "half_registered_loss" not in manager.registry("losses")  # dropped with its plugin
    assert "sample" in manager.plugins and "clash_only_sgd" in manager.registry("optimizers")


def test_a_name_registered_by_two_distributions_is_an_error_naming_both():
    manager = PluginManager()
    with pytest.raises(DuplicateNameError) as err:
        manager.registry("optimizers").get("sample_sgd")
    msg = str(err.value)
    assert "ganglion-broken 0.0.1 (plugin 'clashing')" in msg
    assert "ganglion-sample 0.3.0 (plugin 'sample')" in msg


def test_disabling_the_clashing_plugin_makes_the_name_usable():
    manager = PluginManager(environ={"GANGLION_DISABLE_PLUGINS": "clashing"})
    cls = manager.registry("optimizers").resolve("sample_sgd")
    assert cls.__name__ == "SampleSGD"
    assert "clashing" in manager.disabled_plugins


def test_allow_list_loads_only_the_named_plugins():
    manager = PluginManager(environ={"GANGLION_PLUGINS": "sample"})
    assert [n for n, i in manager.plugins.items() if not i.builtin] == ["sample"]
    assert manager.failed_plugins == {}
    empty = PluginManager(environ={"GANGLION_PLUGINS": ""})
    assert all(info.builtin for info in empty.plugins.values())


def test_unknown_name_mentions_the_plugins_that_failed():
    manager = PluginManager()
    with pytest.raises(UnknownNameError) as err:
        manager.registry("optimizers").get("sample_sdg", key="model.optim.name")
    msg = str(err.value)
    assert msg.startswith("Unknown optimizer 'sample_sdg' (model.optim.name). Did you mean")
    assert "'sample_sgd'" in msg
    assert "'broken_import' (ModuleNotFoundError" in msg


def test_listing_shows_plugins_failures_and_conflicts_as_json():
    out = subprocess.run(
        [sys.executable, "-m", "ganglion", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    sample = next(p for p in data["plugins"] if p["name"] == "sample")
    assert sample["registers"]["element_types"] == {"count": 1, "names": ["PitchContourType"]}
    assert sample["registers"]["modules"] == {"count": 1, "names": ["SampleEncoder"]}
    assert {f["name"] for f in data["failed"]} == {
        "broken_import",
        "broken_signature",
        "broken_hook",
    }
    assert [(c["kind"], c["name"]) for c in data["conflicts"]] == [("optimizers", "sample_sgd")]
    assert not any(p["builtin"] for p in data["plugins"])
