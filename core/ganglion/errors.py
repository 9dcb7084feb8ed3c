"""Exceptions raised by ganglion.

Every error says what was wrong, where (file, key, port, plugin) and, where it can,
what would fix it. They all derive from :class:`GanglionError` so callers can catch
the whole family at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class GanglionError(Exception):
    """Base class of every error ganglion raises on purpose."""


class RegistryError(GanglionError, LookupError):
    """A registry lookup or registration failed."""


class UnknownNameError(RegistryError, KeyError):
    """A name was looked up that no plugin registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(RegistryError):
    """Two providers registered the same name for the same kind."""


class PluginLoadError(GanglionError):
    """A plugin failed to load; raised only when something of that plugin is used."""


class ConfigError(GanglionError, ValueError):
    """A configuration value is missing, misspelled or of the wrong type."""


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Names in ``known`` that look like ``name`` (case-insensitive), best first."""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A ``" Did you mean 'x'?"`` sentence, or an empty string when nothing is close."""
    hits = close_matches(name, known)
    if not hits:
        return ""
    return " Did you mean " + " or ".join(repr(h) for h in hits) + "?"


def check_known_keys(given: Iterable[str], known: Iterable[str], *, where: str) -> None:
    """Raise a :class:`ConfigError` naming every key of ``given`` not in ``known``, with a
    did-you-mean for each and the known keys (``where`` says whose keys: a config path)."""
    known = set(known)
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown:
        hints = "".join(did_you_mean(k, known) for k in unknown)
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}.{hints} "
            f"Known: {', '.join(sorted(known)) or 'none'}."
        )


def omegaconf_error_message(exc: Exception, key: str) -> str:
    """``"<key>.<bad key>: <reason>"`` for an OmegaConf error raised while reading or merging
    the config at ``key``; a full key that already starts with ``key`` is not prefixed twice."""
    full = str(getattr(exc, "full_key", None) or getattr(exc, "key", None) or "")
    lines = str(exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if not full:
        return f"{key}: {reason}"
    if full == key or full.startswith((f"{key}.", f"{key}[")):
        return f"{full}: {reason}"
    return f"{key}.{full}: {reason}"


def yaml_error_message(exc: Any) -> str:
    """A YAML syntax error (``yaml.MarkedYAMLError``) as "<file>, line L, column C: ..."."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is None:
        name, position = getattr(exc, "name", None), getattr(exc, "position", None)
        if name is not None and position is not None:  # yaml.reader.ReaderError: bad bytes
            reason = str(exc).strip().splitlines()[0]
            return f"{name}, byte {position}: not a YAML text file: {reason}. Fix or replace it."
        return f"a config file is not valid YAML: {exc}; fix its syntax"
    message = (
        f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}"
    )
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and start is not mark:
        message += f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
    return message + ". Fix the syntax there."
