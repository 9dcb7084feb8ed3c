"""The `ganglion` command: listings, versions, and staying light (no torch import)."""

import json
import os
import subprocess
import sys

import pytest

from ganglion import __version__
from ganglion.cli import main
from ganglion.plugins import ENV_ALLOW, ENV_BLOCK


def ganglion(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ganglion", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout


def test_plugins_all_shows_core_builtins_with_counts_and_names(capsys):
    assert main(["plugins", "--all"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:3] == ["PLUGIN", "DISTRIBUTION", "VERSION"] and "optimizers" in header
    from ganglion.plugins import get_plugin_manager

    builtin = get_plugin_manager().registry("optimizers").by_provider("ganglion.optim")
    assert {"adam", "adamw", "sgd", "rmsprop"} <= set(builtin)
    row = next(line.split() for line in out.splitlines() if line.startswith("ganglion.optim "))
    assert row[1:3] == ["ganglion-core", __version__]
    assert row[3 + header[3:].index("optimizers")] == str(len(builtin))
    assert "optimizers: " + ", ".join(builtin) in out


def test_plugins_json_is_stable_and_sorted(capsys):
    main(["plugins", "--json", "--all"])
    first = capsys.readouterr().out
    main(["plugins", "--json", "--all"])
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert list(data) == sorted(data)
    builtin = next(p for p in data["plugins"] if p["name"] == "ganglion.optim")
    assert {"CyclicLR", "ExponentialLR", "ReduceLROnPlateau", "StepLR"} <= set(
        builtin["registers"]["schedulers"]["names"]
    )


def test_plugins_without_all_hides_builtins(capsys):
    main(["plugins", "--json"])
    assert not any(p["builtin"] for p in json.loads(capsys.readouterr().out)["plugins"])


def test_list_kind_shows_each_name_with_its_provider(capsys):
    main(["list", "optimizers"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "PROVIDER", "TARGET"]
    adam = next(line for line in lines if line.startswith("adam "))
    assert f"ganglion-core {__version__}" in adam and "torch.optim:Adam" in adam
    main(["list", "element-types", "--json"])
    entries = json.loads(capsys.readouterr().out)
    logits = next(e for e in entries if e["name"] == "LogitsType")
    assert logits["provider"]["distribution"] == "ganglion-core"


def test_list_rejects_an_unknown_kind(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "optimisers"])
    assert exc.value.code == 2
    assert "invalid choice: 'optimisers'" in capsys.readouterr().err


def test_version_lists_core_and_plugins():
    from importlib.metadata import entry_points

    env = {k: v for k, v in os.environ.items() if k not in (ENV_ALLOW, ENV_BLOCK)}
    lines = ganglion("--version", env=env).splitlines()
    assert lines[0] == f"ganglion-core {__version__}"
    # one line per installed plugin distribution (none in tox's core env: the core line only)
    installed = {
        (ep.dist.metadata["Name"], ep.dist.version) for ep in entry_points(group="ganglion")
    }
    for name, version in installed:
        assert any(line.startswith(f"{name} {version}") for line in lines[1:]), (name, lines)
    assert len(lines) == 1 + len(installed)


def test_python_dash_m_matches_the_console_script():
    import shutil

    script = shutil.which("ganglion", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert script, "the ganglion console script is not installed next to this python"
    via_script = subprocess.run(
        [script, "plugins", "--json", "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert via_script == ganglion("plugins", "--json", "--all")


@pytest.mark.parametrize("args", [["plugins", "--all"], ["list", "optimizers"], ["--version"]])
def test_listing_commands_never_import_torch(args):
    """`python -X importtime` records every module imported; torch must not be among them."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ganglion", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "ganglion.cli" in imported  # the trace really covers the command
    heavy = {m for m in imported if m.split(".")[0] in {"torch", "numpy", "omegaconf", "hydra"}}
    assert heavy == set()


def _optimizer_plugin(tmp_path, monkeypatch, module, *registrations):
    lines = ["from ganglion import hookimpl", "", "@hookimpl", "def register_optimizers(register):"]
    lines += [f"    register({name!r}, {target!r})" for name, target in registrations]
    (tmp_path / f"{module}.py").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


@pytest.fixture
def twin_plugins(ganglion_entry_points, tmp_path, monkeypatch):
    """Two plugins that both register the optimizer 'twin'."""
    first = _optimizer_plugin(
        tmp_path, monkeypatch, "cli_first", ("twin", "torch.optim:SGD"), ("solo", "torch.optim:SGD")
    )
    second = _optimizer_plugin(tmp_path, monkeypatch, "cli_second", ("twin", "torch.optim:Adam"))
    ganglion_entry_points.add("first", first)
    ganglion_entry_points.add("second", second)


def test_list_marks_a_name_two_plugins_register_and_shows_both(twin_plugins, capsys):
    assert main(["list", "optimizers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    twins = [line.split() for line in lines if line.startswith("twin")]
    assert [(row[1], row[2], row[-1]) for row in twins] == [
        ("!", "plugin", "torch.optim:SGD"),
        ("!", "plugin", "torch.optim:Adam"),
    ]
    assert "'first'" in " ".join(lines[1:]) and "'second'" in " ".join(lines[1:])
    assert any(line.startswith("solo ") and "!" not in line for line in lines)
    note = next(line for line in lines if line.startswith("! twin: "))
    assert note.startswith("! twin: conflict: registered by plugin 'first'")
    assert " and plugin 'second'" in note
    assert "GANGLION_DISABLE_PLUGINS=first or GANGLION_DISABLE_PLUGINS=second" in note


def test_list_json_includes_the_conflict_with_both_providers(twin_plugins, capsys):
    assert main(["list", "optimizers", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["solo"]["conflict"] is None and entries["adam"]["conflict"] is None
    conflict = entries["twin"]["conflict"]
    assert [(p["plugin"], p["target"]) for p in conflict["providers"]] == [
        ("first", "torch.optim:SGD"),
        ("second", "torch.optim:Adam"),
    ]
    assert conflict["message"].startswith("optimizer 'twin' is registered by both")


def test_plugins_listing_marks_the_conflicting_name_under_each_plugin(twin_plugins, capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "  optimizers: solo, twin !" in out and "  optimizers: twin !" in out
    assert "  optimizers 'twin': optimizer 'twin' is registered by both" in out
