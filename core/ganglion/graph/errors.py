"""Errors of neural graphs: each names the graph, module, port or file line at fault."""

from __future__ import annotations

from ganglion.errors import ConfigError, GanglionError

__all__ = [
    "GraphCheckpointError",
    "GraphConfigError",
    "GraphError",
    "GraphFrozenError",
    "GraphWiringError",
]


class GraphError(GanglionError):
    """A graph was used in a way it does not support (no active graph, a bad binding...)."""


class GraphWiringError(GraphError, TypeError):
    """A connection was refused when it was made: an unknown port, types that do not agree,
    a value that is not a symbolic tensor of the active graph. The message starts with the
    ``file.py:LINE`` of the user code that wired it."""


class GraphFrozenError(GraphError):
    """A step was recorded into a graph whose topology is frozen (run, nested, serialised)."""


class GraphConfigError(GraphError, ConfigError):
    """A serialised graph (dict or YAML) could not be rebuilt."""


class GraphCheckpointError(GraphError):
    """A graph checkpoint could not be written or read back into the graph's modules."""
