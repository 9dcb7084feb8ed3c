"""Shared test setup: every test starts with no plugin manager, so it gets a fresh one;
tests/core is on sys.path, so any test folder can ``import ganglion_train_fixtures``; and
that module's classes are allowed as configs' ``_target_`` (the suite's own model and data,
allowed the way a user allows theirs: ``ganglion.targets.allow_targets``)."""

import sys
from pathlib import Path

import pytest

from ganglion.plugins import set_plugin_manager
from ganglion.targets import allow_targets

_FIXTURES_DIR = str(Path(__file__).resolve().parent / "core")  # ganglion_train_fixtures.py
if _FIXTURES_DIR not in sys.path:
    sys.path.insert(0, _FIXTURES_DIR)


@pytest.fixture(autouse=True)
def _fresh_plugin_manager():
    """Nothing a test registers leaks into the next: the manager is rebuilt on first use."""
    previous = set_plugin_manager(None)
    yield
    set_plugin_manager(previous)


@pytest.fixture(autouse=True)
def _train_fixtures_allowed():
    with allow_targets("ganglion_train_fixtures"):
        yield
