"""Built-in plugin: the core's own models."""

from ganglion.hookspecs import hookimpl


@hookimpl
def register_models(register):
    register("GraphModel", "ganglion.graph.model:GraphModel")
