"""Pytest helpers for ganglion and for third-party plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so these fixtures are available in
any project that has ganglion installed:

``ganglion_plugins``
    A fresh :class:`~ganglion.plugins.PluginManager` (built-ins and installed entry points),
    made current for the duration of the test and dropped afterwards, so nothing one test
    registers leaks into another::

        def test_my_optimizer(ganglion_plugins):
            ganglion_plugins.register(my_plugin_module, name="mine")
            assert "lion" in ganglion_plugins.registry("optimizers")

``ganglion_plugins_isolated``
    The same with the built-ins only: no installed plugin is loaded.

Importing this module imports neither torch nor pytest's heavy parts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ganglion.plugins import PluginManager, use_plugin_manager


@pytest.fixture
def ganglion_plugins() -> Iterator[PluginManager]:
    """A fresh plugin manager with built-ins and installed plugins, current for one test."""
    with use_plugin_manager(PluginManager()) as manager:
        yield manager


@pytest.fixture
def ganglion_plugins_isolated() -> Iterator[PluginManager]:
    """A fresh plugin manager with the core's built-ins only, current for one test."""
    with use_plugin_manager(PluginManager(entry_points=False)) as manager:
        yield manager
