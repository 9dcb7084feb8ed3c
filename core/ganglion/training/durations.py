"""Durations in the forms a config gives them: ``"HH:MM:SS"``, ``"DD:HH:MM:SS"`` (the form of
Lightning's ``trainer.max_time``), a number of seconds, or a ``timedelta``."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from ganglion.errors import ConfigError

__all__ = ["parse_duration"]


def parse_duration(value: Any, key: str = "duration") -> float:
    """Seconds of ``value``: ``"HH:MM:SS"``, ``"DD:HH:MM:SS"``, a number of seconds (also as
    a string, ``"90"``) or a ``timedelta``; each field may have a fraction (``"00:00:01.5"``).

    Example::

        >>> parse_duration("00:13:00"), parse_duration("1:00:00:30"), parse_duration(90)
        (780.0, 86430.0, 90.0)

    Raises:
        ConfigError: any other form, or a duration that is not positive and finite; names
            ``key``.
    """
    forms = "'HH:MM:SS', 'DD:HH:MM:SS' or a number of seconds"
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            numbers = [float(p) for p in value.strip().split(":")]
        except ValueError:
            numbers = []
        if len(numbers) == 1:
            seconds = numbers[0]
        elif len(numbers) in (3, 4):
            days = numbers[0] if len(numbers) == 4 else 0.0
            hours, minutes, secs = numbers[-3:]
            seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
        else:
            raise ConfigError(f"{key}: expected {forms}, got {value!r}")
    else:
        raise ConfigError(f"{key}: expected {forms}, got {value!r}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"{key}: the duration must be positive and finite, got {value!r}")
    return seconds
