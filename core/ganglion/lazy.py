"""Package attributes imported on first access (PEP 562), so importing a package stays cheap.

Example (in a package's ``__init__.py``)::

    _LAZY = {"NeuralGraph": "ganglion.graph.neural_graph:NeuralGraph"}
    __getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, namespace: dict[str, Any], table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``table`` maps a public name to
    ``"module"`` or ``"module:attribute"``; a value is imported on first access and cached in
    ``namespace`` (the package's ``globals()``), so the next access is a plain attribute."""

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = target.partition(":")
        value: Any = importlib.import_module(module_name)
        if attr:
            value = getattr(value, attr)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
