"""Dotted config paths (``tokenizer.model``, ``decoder.layers.0.vocab``) in plain nested
config data: how ``register_artifact`` keys are set, and how packed artifact references are
turned back into values after a restore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganglion.archive.format import ARTIFACT_SCHEME
from ganglion.errors import GanglionError

__all__ = ["replace_artifact_references", "set_config_value", "split_config_path"]


def split_config_path(config_path: str) -> list[str]:
    """``a.b.c`` -> ``["a", "b", "c"]``; an empty path or component is an error."""
    parts = config_path.split(".")
    if not config_path or any(not p for p in parts):
        raise GanglionError(
            f"artifact key {config_path!r} must be a dotted config path like 'tokenizer.model'"
        )
    return parts


def set_config_value(config: dict[str, Any], config_path: str, value: Any) -> None:
    """Set ``a.b.c`` in a plain nested dict (list items by index), creating missing dicts."""
    parts = split_config_path(config_path)
    node: Any = config
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            nxt = node.get(part)
            if not isinstance(nxt, (dict, list)):
                nxt = node[part] = {}
            node = nxt
        else:
            raise GanglionError(f"cannot set {config_path!r}: {part!r} is not a mapping key")
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise GanglionError(f"cannot set {config_path!r}: {last!r} is not a mapping key")


def replace_artifact_references(config: Any, values_by_member: Mapping[str, str]) -> Any:
    """A copy of ``config`` with every ``ganglion:<member>`` string replaced by its value."""
    if isinstance(config, str) and config.startswith(ARTIFACT_SCHEME):
        return values_by_member.get(config[len(ARTIFACT_SCHEME) :], config)
    if isinstance(config, Mapping):
        return {k: replace_artifact_references(v, values_by_member) for k, v in config.items()}
    if isinstance(config, list):
        return [replace_artifact_references(v, values_by_member) for v in config]
    return config
