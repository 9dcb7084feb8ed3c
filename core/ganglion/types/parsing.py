"""Neural types as short strings, for configs, YAML and serialized graphs.

Grammar (spaces are allowed between any two tokens)::

    port_type    := "[" port_type "]" | neural_type      (a list of values of that type)
    neural_type  := [axes] [":" element] ["?"]
    axes         := "*"                                  (layout open: any rank)
                  | "()"                                 (a scalar: no axes)
                  | axis ("," axis)*
    axis         := KIND ["=" SIZE]                      (B, T=10, Batch, Any, dim=128)
    element      := NAME ["(" arguments ")"]             (LogitsType, AudioSignal(16000))

* ``KIND`` is an axis kind's short token or name, in any case (see :class:`AxisKind`).
* ``NAME`` is an element type's registered name (the ``register_element_types`` hook);
  left out, the elements are ``VoidType``. Arguments are Python literals, by position or
  ``name=value``.
* With no axes (``":LossType"``, or ``"*:LossType"``) the layout is open.
* A trailing ``?`` marks an optional port.

Examples: ``"B,D,T:SpectrogramType"``, ``"B,T:AudioSignal(16000)"``, ``"B:LengthsType?"``,
``"B=64,T=10,D=128:SpectrogramType"``, ``"B,Any,Any"``, ``"[[B,D:LogitsType]]"``.

``str(neural_type)`` writes this form (sizes, optional flag and element parameters
included) and parsing it gives the same object back. In YAML, quote the string when it
starts with ``[`` or contains ``, `` inside a flow sequence.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from ganglion.errors import UnknownNameError, did_you_mean
from ganglion.types.axes import AxisKind, AxisType
from ganglion.types.elements import ElementType, VoidType
from ganglion.types.errors import NeuralTypeSyntaxError

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.types.neural_type import NeuralType

#: A port's declared type: a NeuralType, or a (nested) one-item list of them.
PortType = Any


def parse_neural_type(
    text: str,
    *,
    element_types: Mapping[str, type[ElementType]] | None = None,
    where: str | None = None,
) -> NeuralType:
    """The :class:`NeuralType` written as ``text``; containers (``[...]``) are refused."""
    result = parse_port_type(text, element_types=element_types, where=where)
    if isinstance(result, list):
        raise NeuralTypeSyntaxError(
            text,
            0,
            "a list type ([...]) is a port type, not a NeuralType; use parse_port_type",
            where=where,
        )
    return result


def parse_port_type(
    text: str | list[Any],
    *,
    element_types: Mapping[str, type[ElementType]] | None = None,
    where: str | None = None,
) -> PortType:
    """A port's type from text: a :class:`NeuralType`, or nested one-item lists of one.

    Accepts the YAML shapes too: ``"[[B,D:LogitsType]]"`` or ``[["B,D:LogitsType"]]``.
    """
    if isinstance(text, (list, tuple)):
        if len(text) != 1:
            raise NeuralTypeSyntaxError(
                repr(text),
                0,
                f"a list port type holds exactly one type, got {len(text)}",
                where=where,
            )
        return [parse_port_type(text[0], element_types=element_types, where=where)]
    if not isinstance(text, str):
        raise TypeError(f"a neural type is written as a string, got {text!r}")
    parser = _Parser(text, element_types, where)
    result = parser.port_type()
    parser.skip_ws()
    if parser.pos != len(text):
        parser.fail(f"unexpected {text[parser.pos]!r} after the type")
    return result


def parse_element_type(
    text: str,
    *,
    element_types: Mapping[str, type[ElementType]] | None = None,
    where: str | None = None,
) -> ElementType:
    """The element type written as ``text`` (``"AudioSignal(16000)"``, ``"LogitsType"``)."""
    parser = _Parser(text, element_types, where)
    parser.skip_ws()
    element = parser.element()
    parser.skip_ws()
    if parser.pos != len(text):
        parser.fail(f"unexpected {text[parser.pos]!r} after the element type")
    return element


def format_neural_type(neural_type: NeuralType) -> str:
    """The compact string of ``neural_type`` (the inverse of :func:`parse_neural_type`)."""
    axes = neural_type.axes
    if axes is None:
        head = "*"
    elif not axes:
        head = "()"
    else:
        head = ",".join(str(ax) for ax in axes)
    element = neural_type.elements_type
    # plain VoidType elements go unsaid ("B,T"), except as the whole type ("*")
    tail = "" if type(element) is VoidType else f":{element}"
    return head + tail + ("?" if neural_type.optional else "")


def format_port_type(port_type: PortType) -> str:
    """``"[[B,D:LogitsType]]"`` for ``[[NeuralType(('B','D'), LogitsType())]]``."""
    if isinstance(port_type, (list, tuple)):
        return f"[{format_port_type(port_type[0])}]"
    return format_neural_type(port_type)


def resolve_element_class(
    name: str, *, element_types: Mapping[str, type[ElementType]] | None = None
) -> type[ElementType]:
    """The element type class registered (or given in ``element_types``) as ``name``.

    Errors do not say where ``name`` was written: the parser's syntax error around them does.
    """
    if element_types and name in element_types:
        cls = element_types[name]
    else:
        from ganglion.plugins import registry

        registered = registry("element_types")
        if element_types and name not in registered:
            # the caller's own types first, then the registered ones
            hint = did_you_mean(name, [*element_types, *registered.names()])
            raise UnknownNameError(
                f"Unknown element type {name!r}.{hint} Given here: "
                f"{', '.join(sorted(element_types))}. Registered: "
                f"{', '.join(registered.names()) or 'none'}."
            )
        cls = registered.resolve(name)
    if not (isinstance(cls, type) and issubclass(cls, ElementType)):
        raise TypeError(f"element type {name!r} is registered as {cls!r}, not an ElementType")
    return cls


class _Parser:
    """A small recursive-descent parser over one string; errors carry the position."""

    def __init__(
        self, text: str, element_types: Mapping[str, type[ElementType]] | None, where: str | None
    ) -> None:
        self.text = text
        self.pos = 0
        self.element_types = element_types
        self.where = where

    # -- helpers ----------------------------------------------------------------------
    def fail(self, problem: str, pos: int | None = None) -> NoReturn:
        raise NeuralTypeSyntaxError(
            self.text, self.pos if pos is None else pos, problem, where=self.where
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def word(self) -> tuple[str, int]:
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        return self.text[start : self.pos], start

    # -- grammar ----------------------------------------------------------------------
    def port_type(self) -> PortType:
        if self.peek() == "[":
            open_at = self.pos
            self.pos += 1
            inner = self.port_type()
            if self.peek() != "]":
                self.fail(f"expected ']' to close the '[' at position {open_at}")
            self.pos += 1
            return [inner]
        return self.neural_type()

    def neural_type(self) -> NeuralType:
        from ganglion.types.neural_type import NeuralType

        axes = self.axes()
        element: ElementType = VoidType()
        if self.peek() == ":":
            self.pos += 1
            element = self.element()
        optional = False
        if self.peek() == "?":
            self.pos += 1
            optional = True
        return NeuralType(axes, element, optional)

    def axes(self) -> tuple[AxisType, ...] | None:
        ch = self.peek()
        if ch in ("", ":", "?", "]"):
            return None
        if ch == "*":
            self.pos += 1
            return None
        if ch == "(":
            self.pos += 1
            if self.peek() != ")":
                self.fail("expected ')' after '(': '()' is the scalar type (no axes)")
            self.pos += 1
            return ()
        axes = [self.axis()]
        while self.peek() == ",":
            self.pos += 1
            axes.append(self.axis())
        if self.peek() not in ("", ":", "?", "]"):
            self.fail(f"expected ',', ':' or '?' after an axis, got {self.peek()!r}")
        return tuple(axes)

    def axis(self) -> AxisType:
        token, start = self.word()
        if not token:
            got = repr(self.peek()) if self.peek() else "the end"
            known = ", ".join(k.token for k in AxisKind.kinds())
            self.fail(f"expected an axis kind ({known}), got {got}")
        try:
            kind = AxisKind(token)
        except ValueError as exc:
            self.fail(str(exc), start)
        size = None
        if self.peek() == "=":
            self.pos += 1
            digits, at = self.word()
            if not digits.isdigit():
                self.fail(f"expected a size (an integer) after '{token}='", at)
            size = int(digits)
        return AxisType(kind, size)

    def element(self) -> ElementType:
        name, start = self.word()
        if not name or not name[0].isalpha():
            got = repr(self.peek()) if self.peek() else "the end"
            self.fail(f"expected an element type name after ':', got {got}", start)
        try:
            cls = resolve_element_class(name, element_types=self.element_types)
        except (UnknownNameError, TypeError) as exc:
            self.fail(str(exc), start)
        except Exception as exc:  # a plugin's lazy target failed to import
            self.fail(f"{type(exc).__name__}: {exc}", start)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if self.peek() == "(":
            args, kwargs = self.arguments()
        try:
            return cls(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            self.fail(f"{name}: {exc}", start)
        raise AssertionError("unreachable")  # pragma: no cover

    def arguments(self) -> tuple[list[Any], dict[str, Any]]:
        open_at = self.pos
        depth, quote, i = 0, "", self.pos
        while i < len(self.text):
            ch = self.text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        else:
            self.fail(f"expected ')' to close the '(' at position {open_at}", len(self.text))
        inner = self.text[open_at + 1 : i]
        source = f"_({inner})"
        try:
            call = ast.parse(source, mode="eval").body
        except SyntaxError as exc:
            offset = (exc.offset or 3) - 3  # "_(" is two characters, offsets are 1-based
            self.fail(f"bad arguments: {exc.msg}", open_at + 1 + max(offset, 0))
        assert isinstance(call, ast.Call)
        args, kwargs = [], {}
        for node in call.args:
            args.append(self._literal(node, open_at))
        for kw in call.keywords:
            if kw.arg is None:
                self.fail("'**' is not allowed in element type arguments", open_at + 1)
            kwargs[kw.arg] = self._literal(kw.value, open_at)
        self.pos = i + 1
        return args, kwargs

    def _literal(self, node: ast.expr, open_at: int) -> Any:
        try:
            return ast.literal_eval(node)
        except ValueError:
            self.fail(
                "element type arguments must be literals (numbers, strings, True, False, None)",
                open_at + node.col_offset - 1,
            )
