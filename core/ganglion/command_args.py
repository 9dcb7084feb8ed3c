"""Argument types the ganglion commands (and plugins' commands) share: argparse ``type=``
callables that turn a command-line word into a number or refuse it with a message argparse
prints as ``error: argument --jobs: must be at least 1, got 0``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["fraction", "whole_number"]


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            need = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            raise argparse.ArgumentTypeError(f"{need}, got {value}")
        return value

    return parse


def fraction(*, below_one: bool = False) -> Callable[[str], float]:
    """An argparse type: a number in [0, 1] (in [0, 1) with ``below_one``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a fraction, got {text!r}") from None
        if below_one and not 0 <= value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 0 and under 1, got {value}")
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {value}")
        return value

    return parse
