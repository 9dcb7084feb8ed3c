"""Build helper shared by the plugin distributions' ``setup.py`` files.

Inside this monorepo a plugin's requirement on the core (or on a sibling plugin) points at the
checkout itself (``ganglion @ file:///.../repo``), so ``pip install ./plugins/asr`` installs the
core from the same checkout with no package index involved.

Set ``GANGLION_PLAIN_REQUIREMENTS=1`` to get plain version ranges instead: when building
distributions for an index, and when installing the core and plugins editable in one pip
command (``pip install -e . -e plugins/asr``), where pip would otherwise see the editable core
and the ``file://`` requirement as two different sources of ``ganglion``.
"""

from __future__ import annotations

import os
from pathlib import Path

SERIES = ">=0.1,<0.2"


def _local(dist: str, path: Path) -> str:
    if os.environ.get("GANGLION_PLAIN_REQUIREMENTS") or not (path / "pyproject.toml").is_file():
        return f"{dist}{SERIES}"
    return f"{dist} @ {path.resolve().as_uri()}"


def requirements(setup_py: Path, extra: list[str], plugins: tuple[str, ...] = ()) -> list[str]:
    """The install requirements of the plugin whose ``setup.py`` is ``setup_py``."""
    plugins_dir = setup_py.resolve().parent.parent
    reqs = [_local("ganglion", plugins_dir.parent)]
    reqs += [_local(f"ganglion-{name}", plugins_dir / name) for name in plugins]
    return reqs + list(extra)
