"""Shared test setup: every test starts with no plugin manager, so it gets a fresh one; and
tests/core is on sys.path, so any test folder can ``import ganglion_train_fixtures``."""

import sys
from pathlib import Path

import pytest

from ganglion.plugins import set_plugin_manager

_FIXTURES_DIR = str(Path(__file__).resolve().parent / "core")  # ganglion_train_fixtures.py
if _FIXTURES_DIR not in sys.path:
    sys.path.insert(0, _FIXTURES_DIR)


@pytest.fixture(autouse=True)
def _fresh_plugin_manager():
    """Nothing a test registers leaks into the next: the manager is rebuilt on first use."""
    previous = set_plugin_manager(None)
    yield
    set_plugin_manager(previous)
