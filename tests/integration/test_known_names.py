"""The core's table of names our plugins provide (ganglion/known_names.py) matches the plugins."""

import pytest

from ganglion.known_names import KNOWN
from ganglion.plugins import PluginManager

OURS = ("ganglion-optim", "ganglion-asr", "ganglion-nlp", "ganglion-tts")


@pytest.mark.parametrize("kind", sorted(KNOWN))
def test_known_table_lists_exactly_what_our_installed_plugins_register(kind):
    manager = PluginManager()
    installed = {i.distribution for i in manager.plugins.values()} & set(OURS)
    if not installed:
        pytest.skip("none of ganglion's own plugins is installed")
    registered = {
        entry.name: entry.provider.distribution
        for entry in manager.registry(kind)
        if entry.provider.distribution in installed
    }
    known = {name: dist for name, dist in KNOWN[kind].items() if dist in installed}
    assert known == registered
