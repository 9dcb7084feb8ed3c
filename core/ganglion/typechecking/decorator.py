"""The ``typecheck`` decorator: what users write, and its switches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from ganglion.typechecking import switch
from ganglion.typechecking.plan import PLAN_PREFIX, normalize_ports
from ganglion.typechecking.wrapper import wrap
from ganglion.types.ports import declared_types

__all__ = ["typecheck"]

F = TypeVar("F", bound=Callable[..., Any])


class typecheck:  # noqa: N801  (lower case: the name NeMo users know)
    """Decorator that checks a method's inputs and outputs against neural types.

    ``@typecheck()`` reads the ports from the object's ``input_types`` / ``output_types``;
    ``@typecheck(input_types=..., output_types=...)`` declares them on the method instead
    (values may be NeuralTypes or their strings, ``"B,T:LogitsType"``). ``@typecheck``
    without parentheses works too. See :mod:`ganglion.typechecking` for what is checked.

    Checks are on unless ``GANGLION_TYPECHECK=0``; :meth:`disable_checks` and
    :meth:`set_enabled` turn them off in the current thread or asyncio task only.
    """

    def __new__(cls, input_types: Any = None, output_types: Any = None) -> Any:
        if (
            callable(input_types)
            and not isinstance(input_types, Mapping)
            and (output_types is None)
        ):
            return cls()(input_types)  # used bare: @typecheck
        return super().__new__(cls)

    def __init__(
        self,
        input_types: Mapping[str, Any] | None = None,
        output_types: Mapping[str, Any] | None = None,
    ) -> None:
        self.input_types = input_types
        self.output_types = output_types
        # direction -> (the declared mapping, its ports with strings parsed): parsed on the
        # first object's first call (element types may come from plugins loaded later)
        self._parsed: dict[str, tuple[Any, dict[str, Any] | None]] = {}

    def __call__(self, fn: F) -> F:
        wrapper = wrap(fn, self)
        wrapper.__typecheck__ = self  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    def port_types(self, obj: Any, direction: str, owner: str) -> dict[str, Any] | None:
        """The ports of one direction (``"input"`` or ``"output"``) for ``obj``: those given
        to the decorator (parsed once), else the object's ``input_types``/``output_types``
        (read per object: a property may depend on the instance)."""
        declared = getattr(self, f"{direction}_types")
        if declared is None:
            return normalize_ports(declared_types(obj, f"{direction}_types"), owner, direction)
        cached = self._parsed.get(direction)
        if cached is None or cached[0] is not declared:
            cached = self._parsed[direction] = (
                declared,
                normalize_ports(declared, owner, direction),
            )
        return cached[1]

    # -- switches ---------------------------------------------------------------------
    @staticmethod
    def is_enabled() -> bool:
        """Whether checks run in the current thread or task."""
        return switch.is_enabled()

    @staticmethod
    def set_enabled(enabled: bool = True) -> bool:
        """Turn checks on or off in the current thread or asyncio task (a new thread starts
        from the ``GANGLION_TYPECHECK`` default); returns the previous setting."""
        return switch.set_enabled(enabled)

    #: NeMo's name for :meth:`set_enabled`.
    set_typecheck_enabled = set_enabled

    @staticmethod
    def disable_checks() -> AbstractContextManager[None]:
        """Context manager: no checks (and no types recorded) inside the ``with`` block, in
        the current thread or asyncio task."""
        return switch.disable_checks()

    @staticmethod
    def reset(obj: Any) -> None:
        """Forget ``obj``'s cached ports, after changing what its ``input_types`` or
        ``output_types`` return (they are read once per object otherwise)."""
        state = getattr(obj, "__dict__", None)
        if state:
            for key in [k for k in state if isinstance(k, str) and k.startswith(PLAN_PREFIX)]:
                del state[key]
