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

``ganglion_entry_points``
    Adds entry points to the ``ganglion`` group for one test, as if a distribution declaring
    them were installed, so a plugin module is loaded the way ``pip install`` would have it
    loaded (one at a time, failures recorded) without building or installing anything::

        def test_my_plugin_loads(ganglion_entry_points):
            ganglion_entry_points.add("lion", "ganglion_lion.plugin")
            manager = PluginManager()
            assert "lion" in manager.plugins, manager.failed_plugins

Importing this module imports neither torch nor pytest's heavy parts.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from typing import Any

import pytest

from ganglion.plugins import ENTRY_POINT_GROUP, PluginManager, use_plugin_manager


class EntryPointStub:
    """Entry points added to the ``ganglion`` group, on top of the installed ones."""

    def __init__(self) -> None:
        self.added: list[importlib.metadata.EntryPoint] = []

    def add(self, name: str, value: str) -> None:
        """Declare the plugin ``name`` = ``value`` (``"package.module"``), like a
        ``[project.entry-points.ganglion]`` line; it has no distribution."""
        self.added.append(importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP))


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


@pytest.fixture
def ganglion_entry_points(monkeypatch: pytest.MonkeyPatch) -> EntryPointStub:
    """Entry points added for one test to what ``importlib.metadata`` reports as installed."""
    stub = EntryPointStub()
    installed = importlib.metadata.entry_points

    def entry_points(**params: Any) -> importlib.metadata.EntryPoints:
        found = installed(**params)
        if params.get("group") == ENTRY_POINT_GROUP:
            found = importlib.metadata.EntryPoints([*found, *stub.added])
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return stub
