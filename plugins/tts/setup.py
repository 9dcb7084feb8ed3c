"""Adds the dependency on the core (and sibling plugins) to ganglion-tts's metadata."""

import sys
from pathlib import Path

from setuptools import setup

EXTRA: list[str] = []  # nothing beyond the core and ganglion-asr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
try:  # inside the monorepo: depend on this checkout's core
    from _monorepo import requirements
except ImportError:  # an unpacked sdist: plain version ranges
    install_requires = ["ganglion>=0.1,<0.2", "ganglion-asr>=0.1,<0.2"] + EXTRA
else:
    install_requires = requirements(Path(__file__), EXTRA, plugins=("asr",))

setup(install_requires=install_requires)
