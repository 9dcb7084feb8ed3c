"""Shared test setup: every test starts with no plugin manager, so it gets a fresh one."""

import pytest

from ganglion.plugins import set_plugin_manager


@pytest.fixture(autouse=True)
def _fresh_plugin_manager():
    """Nothing a test registers leaks into the next: the manager is rebuilt on first use."""
    previous = set_plugin_manager(None)
    yield
    set_plugin_manager(previous)
