"""The README's "Write your own plugin" example works as written, through a real entry point."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def readme_plugin_example():
    """The (path -> source) files and the entry points of the README's plugin example."""
    text = README.read_text()
    section = text.split("## Write your own plugin", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    files, entry_points = {}, None
    for lang, body in blocks:
        if lang == "toml":
            entry_points = tomllib.loads(body)["project"]["entry-points"]["ganglion"]
        elif lang == "python":
            first, _, rest = body.partition("\n")
            files[first.removeprefix("# ").strip()] = rest
    return files, entry_points


def test_readme_example_is_short():
    files, entry_points = readme_plugin_example()
    python_lines = sum(len([ln for ln in src.splitlines() if ln.strip()]) for src in files.values())
    assert python_lines <= 20 and entry_points == {"pitch": "ganglion_pitch.plugin"}


def test_readme_plugin_is_discovered_listed_and_usable(tmp_path):
    files, entry_points = readme_plugin_example()
    for rel, source in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (tmp_path / "ganglion_pitch" / "__init__.py").write_text("")
    # what `pip install .` would leave behind: metadata with the entry point
    dist_info = tmp_path / "ganglion_pitch-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ganglion-pitch\nVersion: 1.0\n"
    )
    lines = [f"{name} = {value}" for name, value in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("[ganglion]\n" + "\n".join(lines) + "\n")

    code = (
        "import sys, torch\n"
        "from ganglion.plugins import get_plugin_manager\n"
        "m = get_plugin_manager()\n"
        "assert 'pitch' in m.plugins, m.failed_plugins\n"
        "opt = m.registry('optimizers').get('nesterov')\n"
        "cls = opt.load()\n"
        "o = cls([torch.nn.Parameter(torch.ones(2))], lr=0.1)\n"
        "et = m.registry('element_types').resolve('PitchContourType')\n"
        "print(opt.provider.distribution, o.defaults['nesterov'], et.__name__)\n"
    )
    # only the README plugin: the test env may hold other plugins registering the same names
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "GANGLION_PLUGINS": "pitch"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ganglion-pitch", "True", "PitchContourType"]
    listing = subprocess.run(
        [sys.executable, "-m", "ganglion", "list", "optimizers"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert re.search(r"^nesterov\s+ganglion-pitch 1.0 \(plugin 'pitch'\)", listing, re.M)
