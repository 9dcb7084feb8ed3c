"""Packaging as users meet it: static metadata, plain version ranges, and no requirement that
pip could resolve to the unrelated project called ``ganglion`` on the public index.

What installing from wheels does end to end is checked by ``scripts/check_wheels.sh`` (the
``wheels`` tox environment); these tests read the metadata that script relies on.
"""

from __future__ import annotations

import configparser
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import ganglion

REPO = Path(__file__).parents[2]
PLUGINS = ("optim", "asr", "nlp", "tts")
#: every distribution of this checkout: the core, the four plugins, the two test plugins
PROJECTS = [
    REPO,
    *(REPO / "plugins" / name for name in PLUGINS),
    *sorted(p for p in (REPO / "tests" / "plugins").iterdir() if (p / "pyproject.toml").is_file()),
]
#: the name on the public index that belongs to an unrelated project
TAKEN = "ganglion"


def project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def requirements(root: Path) -> list[Requirement]:
    """Every requirement a distribution declares, optional ones included."""
    meta = project(root)
    lines = list(meta.get("dependencies", []))
    for extra in meta.get("optional-dependencies", {}).values():
        lines += extra
    return [Requirement(line) for line in lines]


def test_the_core_distribution_is_ganglion_core():
    assert project(REPO)["name"] == "ganglion-core"
    assert project(REPO)["version"] == ganglion.__version__
    assert project(REPO)["scripts"] == {"ganglion": "ganglion.cli:main"}


@pytest.mark.parametrize("root", PROJECTS, ids=lambda p: p.name)
def test_no_distribution_requires_the_name_of_the_unrelated_project(root):
    names = [canonicalize_name(req.name) for req in requirements(root)]
    assert TAKEN not in names
    assert canonicalize_name(project(root)["name"]) != TAKEN


def test_the_readme_plugin_example_requires_ganglion_core():
    text = (REPO / "README.md").read_text()
    section = text.split("## Write your own plugin", 1)[1].split("\n## ", 1)[0]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    deps = [Requirement(line) for line in tomllib.loads(toml)["project"]["dependencies"]]
    assert [canonicalize_name(r.name) for r in deps] == ["ganglion-core"]


@pytest.mark.parametrize("root", PROJECTS, ids=lambda p: p.name)
def test_metadata_is_static_with_plain_requirements(root):
    meta = project(root)
    assert "dynamic" not in meta, "dependencies must be listed in pyproject.toml"
    assert not (root / "setup.py").exists()
    for req in requirements(root):
        assert req.url is None, f"{root.name}: {req} points at a file or URL"
    assert meta["requires-python"] == ">=3.11"  # co_qualname, tomllib, ExceptionGroup …


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_requires_the_core_series_it_is_built_with(name):
    reqs = {canonicalize_name(r.name): r for r in requirements(REPO / "plugins" / name)}
    core = reqs["ganglion-core"]
    assert core.specifier == SpecifierSet(">=0.1,<0.2")
    assert ganglion.__version__ in core.specifier
    # siblings as ranges too (tts on asr for its audio types)
    for sibling in (n for n in reqs if n.startswith("ganglion-") and n != "ganglion-core"):
        version = project(REPO / "plugins" / sibling.removeprefix("ganglion-"))["version"]
        assert version in reqs[sibling].specifier
    if name == "tts":
        assert "ganglion-asr" in reqs


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_declares_its_entry_point_and_readme(name):
    root = REPO / "plugins" / name
    meta = project(root)
    assert meta["name"] == f"ganglion-{name}"
    assert meta["entry-points"]["ganglion"] == {name: f"ganglion_{name}.plugin"}
    assert (root / "README.md").read_text().startswith(f"# ganglion-{name}")
    assert (root / f"ganglion_{name}" / "plugin.py").is_file()


def test_installed_plugins_require_ganglion_core_not_the_taken_name():
    """The metadata pip actually installed (editable or not) says the same as the files."""
    found = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if dist.entry_points.select(group="ganglion"):
            found[name] = [canonicalize_name(Requirement(r).name) for r in dist.requires or ()]
    assert TAKEN not in {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
    for name, required in found.items():
        assert TAKEN not in required, name
        if name in {f"ganglion-{p}" for p in PLUGINS}:
            assert "ganglion-core" in required, name


def test_ruff_targets_the_oldest_supported_python():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    assert tool["ruff"]["target-version"] == "py311"


def test_constraints_pin_the_libraries_whose_private_attributes_are_used():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = req.specifier
    assert {"torch", "pytorch-lightning", "hydra-core", "omegaconf"} <= set(pins)
    for name in ("pytorch-lightning", "hydra-core", "omegaconf"):
        (spec,) = pins[name]
        assert spec.operator == "==", f"{name} must be pinned to the tested version"
        # the suite runs with what is pinned (tox and scripts/setup.sh pass PIP_CONSTRAINT)
        assert metadata.version(name) in pins[name], name


def test_no_environment_switch_changes_what_is_installed():
    """One way to install: no variable that rewrites requirements (the old monorepo switch)."""
    texts = {
        "tox.ini": (REPO / "tox.ini").read_text(),
        "scripts/setup.sh": (REPO / "scripts" / "setup.sh").read_text(),
        "README.md": (REPO / "README.md").read_text(),
    }
    for where, text in texts.items():
        assert "GANGLION_PLAIN_REQUIREMENTS" not in text, where
    assert not (REPO / "plugins" / "_monorepo.py").exists()


def test_the_test_command_installs_a_plugin_from_wheels():
    """CI runs .venv/bin/tox, whose default environments include the wheels check."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    assert "wheels" in [e.strip() for e in tox["tox"]["env_list"].split(",")]
    assert "scripts/check_wheels.sh" in tox["testenv:wheels"]["commands"]
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith(".venv/bin/tox")
    script = (REPO / "scripts" / "check_wheels.sh").read_text()
    assert "--find-links" in script and "ganglion-asr" in script
