"""ganglion-asr's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl


@hookimpl
def register_configs(register):
    register("asr", "pkg://ganglion_asr.conf")
