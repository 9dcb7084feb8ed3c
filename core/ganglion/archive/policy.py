"""What a restored config may contain: ``_target_`` entries the one ``_target_`` policy
accepts (:mod:`ganglion.targets`), and no OmegaConf resolver calls (an archived config is
stored resolved)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ganglion.archive.errors import UnsafeArchiveError
from ganglion.targets import resolve_target

__all__ = ["check_config"]


def _resolver_names(text: str) -> list[str]:
    """OmegaConf resolvers a string calls (``${oc.env:HOME}`` -> ``["oc.env"]``)."""
    names = []
    for match in re.finditer(r"\$\{\s*([\w.\-]+)\s*:", text):
        start = match.start()
        if start and text[start - 1] == "\\":
            continue  # an escaped literal
        names.append(match.group(1))
    return names


def check_config(config: Any, *, source: str) -> None:
    """Refuse a restored config that names unregistered code or calls OmegaConf resolvers.

    Every ``_target_`` goes through :func:`ganglion.targets.resolve_target` (refused ones
    raise :class:`UnsafeArchiveError` before anything is imported); a string calling a resolver
    (``${oc.env:SECRET}``, or any custom one) is refused, since saved configs are resolved.
    ``source`` (the archive and member) prefixes the messages.
    """

    def walk(node: Any, key: str) -> None:
        if isinstance(node, Mapping):
            for k, value in node.items():
                child = f"{key}.{k}" if key else str(k)
                if k == "_target_":
                    resolve_target(value, key=f"{source}: {child}", error=UnsafeArchiveError)
                else:
                    walk(value, child)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{key}[{i}]")
        elif isinstance(node, str):
            resolvers = _resolver_names(node)
            if resolvers:
                raise UnsafeArchiveError(
                    f"{source}: {key} calls the OmegaConf resolver {resolvers[0]!r} ({node!r}); "
                    "archived configs are stored resolved, so resolvers are refused"
                )

    walk(config, "")
