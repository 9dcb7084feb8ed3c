"""The on/off switch of ``@typecheck()``: a context variable, not a process-wide global.

Turning checks off (:func:`set_enabled`, :func:`disable_checks`) affects the current
thread or asyncio task only: a new thread starts with the default, and an asyncio task
starts with a copy of its creator's setting, so one request handler or data-loading thread
that switches checks off never switches them off for another. The environment variable
``GANGLION_TYPECHECK`` sets the default that every thread and task starts from.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

__all__ = [
    "CHECKS_ENABLED",
    "ENABLED_BY_DEFAULT",
    "ENV_SWITCH",
    "disable_checks",
    "enabled_from_env",
    "is_enabled",
    "set_enabled",
]

#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turns every check off.
ENV_SWITCH = "GANGLION_TYPECHECK"


def enabled_from_env(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` leaves checks on (anything but 0/false/no/off, or unset)."""
    value = environ.get(ENV_SWITCH, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


#: Whether a thread or task starts with checks on: read from the environment once, when the
#: checks are first imported (as the old process-wide switch was).
ENABLED_BY_DEFAULT: bool = enabled_from_env(os.environ)

#: Whether checks run in the current context; every decorated call reads it (a
#: ``ContextVar.get`` costs about as much as a dictionary lookup).
CHECKS_ENABLED: ContextVar[bool] = ContextVar(
    "ganglion_typecheck_enabled", default=ENABLED_BY_DEFAULT
)


def is_enabled() -> bool:
    """Whether checks run in the current thread or task."""
    return CHECKS_ENABLED.get()


def set_enabled(enabled: bool = True) -> bool:
    """Turn checks on or off in the current thread or task; returns the previous setting."""
    previous = CHECKS_ENABLED.get()
    CHECKS_ENABLED.set(bool(enabled))
    return previous


@contextlib.contextmanager
def disable_checks() -> Iterator[None]:
    """Context manager: no checks (and no types recorded) inside the ``with`` block, in the
    current thread or task; the setting found on entry is restored on exit."""
    previous = set_enabled(False)
    try:
        yield
    finally:
        # set, not reset(token): a generator may be closed from another context
        CHECKS_ENABLED.set(previous)
