"""ganglion-tts's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl  # noqa: F401  (hook implementations are added below)
