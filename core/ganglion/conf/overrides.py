"""Command-line overrides (``key=value``, ``+key=value``, ``~key``, sweeps ``a=1,2``), read
with Hydra's own override grammar so that ganglion and Hydra agree on what a line means.

Importing this module imports no Hydra; the functions do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ganglion.errors import ConfigError

__all__ = ["first_of_sweeps", "parse_overrides", "sweep_values"]


def parse_overrides(overrides: Sequence[str]) -> list[Any]:
    """Hydra's ``Override`` objects of ``overrides``; a line Hydra cannot parse is a
    :class:`ConfigError` quoting Hydra's reason."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(f"cannot parse the command-line overrides: {exc}") from None


def sweep_values(override: Any) -> list[str]:
    """The string values an override sets: one for ``k=v``, each of a sweep ``k=a,b``; none
    when the value is not a string (a list, a mapping) or the sweep cannot be listed here."""
    if not override.is_sweep_override():
        return [override.value()] if isinstance(override.value(), str) else []
    try:
        return list(override.sweep_string_iterator())
    except Exception:  # glob() needs a live config loader: nothing to list
        return []


def first_of_sweeps(overrides: Sequence[str]) -> list[str]:
    """Each sweep (``a=1,2``, ``range(…)``) replaced by its first value: the first job of a
    multirun, to check before Hydra starts any."""
    out = []
    for text, override in zip(overrides, parse_overrides(overrides)):
        if override.is_sweep_override():
            try:
                first = next(iter(override.sweep_string_iterator()))
            except Exception:  # glob() needs a live config loader: leave it out of the check
                continue
            out.append(f"{override.get_key_element()}={first}")
        else:
            out.append(text)
    return out
