"""Built-in plugin: the core's own Hydra configs (trainer, exp_manager, optimizer presets)."""

from ganglion.hookspecs import hookimpl


@hookimpl
def register_configs(register):
    register("ganglion", "pkg://ganglion.conf")
