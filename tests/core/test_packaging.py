"""Packaging: each plugin depends on the core (and siblings) of this very checkout."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture
def monorepo():
    spec = importlib.util.spec_from_file_location("_monorepo", REPO / "plugins" / "_monorepo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_requires_the_core_of_this_checkout(monorepo, monkeypatch):
    monkeypatch.delenv("GANGLION_PLAIN_REQUIREMENTS", raising=False)
    reqs = monorepo.requirements(REPO / "plugins" / "tts" / "setup.py", ["numpy>=1.24"], ("asr",))
    assert reqs == [
        f"ganglion @ {REPO.resolve().as_uri()}",
        f"ganglion-asr @ {(REPO / 'plugins' / 'asr').resolve().as_uri()}",
        "numpy>=1.24",
    ]


def test_plain_requirements_for_editable_installs_and_releases(monorepo, monkeypatch):
    monkeypatch.setenv("GANGLION_PLAIN_REQUIREMENTS", "1")
    reqs = monorepo.requirements(REPO / "plugins" / "asr" / "setup.py", [])
    assert reqs == ["ganglion>=0.1,<0.2"]


@pytest.mark.parametrize("name", ["optim", "asr", "nlp", "tts"])
def test_each_plugin_declares_its_entry_point_and_readme(name):
    import tomllib

    root = REPO / "plugins" / name
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"ganglion-{name}"
    assert project["entry-points"]["ganglion"] == {name: f"ganglion_{name}.plugin"}
    assert (root / "README.md").read_text().startswith(f"# ganglion-{name}")
    assert (root / f"ganglion_{name}" / "plugin.py").is_file()
