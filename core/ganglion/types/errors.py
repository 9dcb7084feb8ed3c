"""Errors of the neural type system."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganglion.errors import GanglionError

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.types.comparison import NeuralTypeComparisonResult


class NeuralTypeError(GanglionError, TypeError):
    """A value or a connection does not match the neural type a port declares.

    The message names the owner (module class and method), the port, the expected and the
    given type and the reason; the same facts are attributes for programs that inspect them.
    """

    def __init__(
        self,
        message: str,
        *,
        owner: str | None = None,
        port: str | None = None,
        expected: Any = None,
        given: Any = None,
        result: NeuralTypeComparisonResult | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.owner = owner
        self.port = port
        self.expected = expected
        self.given = given
        self.result = result
        self.reason = reason


class NeuralTypeSyntaxError(GanglionError, ValueError):
    """A neural type written as text (``"B,T:AudioSignal(16000)"``) could not be parsed.

    ``text`` is the offending string and ``position`` the 0-based index of the problem.
    """

    def __init__(self, text: str, position: int, problem: str, *, where: str | None = None):
        self.text = text
        self.position = position
        self.problem = problem
        self.where = where
        origin = f" ({where})" if where else ""
        caret = " " * (position + 2) + "^"
        super().__init__(
            f"invalid neural type {text!r}{origin} at position {position}: {problem}\n"
            f"  {text}\n{caret}"
        )
