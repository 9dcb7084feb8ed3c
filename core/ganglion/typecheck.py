"""``@typecheck()``: check a method's inputs and outputs against declared neural types.

Put it on ``forward`` (or any method) of an object that declares ``input_types`` and/or
``output_types`` — a :class:`~ganglion.module.NeuralModule`, a loss, a dataset's
``collate_fn``::

    class Encoder(NeuralModule):
        @property
        def input_types(self):
            return {"audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
                    "length": NeuralType(("B",), LengthsType())}

        @property
        def output_types(self):
            return {"outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
                    "encoded_lengths": NeuralType(("B",), LengthsType())}

        @typecheck()
        def forward(self, audio_signal, length):
            ...

What it does on each call:

* inputs, passed by position or by keyword: a tensor that carries a type (the output of
  another typed module) is compared with the port's type with the full semantics of
  :meth:`NeuralType.compare`; a tensor with no type is checked on its rank and on the sizes
  the port declares; ``None`` is accepted for optional ports only; lists are checked item by
  item for list ports; other values are not checked;
* outputs: checked on rank and declared sizes, and each output tensor (lists included)
  gets the port's type as ``tensor.neural_type``. A tensor that already carries a type the
  port accepts keeps it (it is the more precise one; a module returning its input unchanged
  must not rewrite its caller's tensor); as for inputs, declared sizes are checked on the
  tensor, not looked for in its type.

An error is a :class:`~ganglion.types.NeuralTypeError` naming the class and method, the
port, the expected and the given type, the comparison result and the reason.

Ports map onto the method's parameters by name, so positional and keyword calls are checked
alike; a port with no parameter of its name is reached through ``*args`` (in declared order)
or ``**kwargs``. A required port left at its default ``None`` is an error.

Cost: the decorated method is replaced by a function generated with the method's own
parameters (so it binds arguments as fast as the method itself); the ports are read once
per object and turned into a plan (call :meth:`typecheck.reset` after changing what
``input_types``/``output_types`` return); each call then does a rank check or a cached
comparison per input and one attribute store per output.

Under ``torch.compile`` and ``torch.export`` (and so ONNX export) nothing is checked and
nothing is recorded: the traced graph is the plain module's. Turn checks off with
``with typecheck.disable_checks():`` or for the whole process with ``GANGLION_TYPECHECK=0``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import linecache
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import torch
from torch.compiler import is_compiling as _is_compiling

from ganglion.types.axes import AxisType
from ganglion.types.comparison import NeuralTypeComparisonResult as R
from ganglion.types.errors import NeuralTypeError
from ganglion.types.neural_type import NeuralType, count_axes
from ganglion.types.parsing import format_port_type, parse_port_type
from ganglion.types.ports import declared_types, split_port_type

__all__ = ["ENV_SWITCH", "typecheck"]

#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turns every check off.
ENV_SWITCH = "GANGLION_TYPECHECK"

F = TypeVar("F", bound=Callable[..., Any])

_Tensor = torch.Tensor
_SAME = R.SAME
_GREATER = R.GREATER
_PLAN_PREFIX = "_typecheck_plan:"


def enabled_from_env(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` leaves checks on (anything but 0/false/no/off, or unset)."""
    value = environ.get(ENV_SWITCH, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


#: Whether checks run; read on every call (a module global is the cheapest read there is).
_enabled: bool = enabled_from_env(os.environ)


# -- the plan: ports turned into what the per-call checks need ---------------------------------
class _Port:
    """One port, precomputed for the hot path."""

    __slots__ = (
        "name",
        "type",
        "semantic",
        "depth",
        "rank",
        "sizes",
        "optional",
        "position",
        "item",
        "spec",
        "plain",
    )

    def __init__(self, name: str, spec: Any, owner: str, direction: str) -> None:
        depth, leaf = split_port_type(
            spec, where=f"{owner}: {direction} port '{name}'", owner=owner, port=name
        )
        self.name = name
        self.spec = spec
        self.type = leaf
        self.depth = depth
        self.rank = leaf.rank
        self.sizes = leaf.sizes
        self.optional = leaf.optional
        self.position: int | None = None
        self.plain = depth == 0  # a tensor port (not a list port): the fast path
        # with enforced sizes, a typed tensor's semantics are compared without them and the
        # sizes are checked on the tensor itself (its type may not record them)
        self.semantic = (
            leaf
            if not leaf.sizes
            else NeuralType(
                tuple(AxisType(ax.kind) for ax in leaf.axes or ()),
                leaf.elements_type,
                leaf.optional,
            )
        )
        # the port of one item of a list port
        self.item: _Port | None = None
        if depth:
            inner = spec[0]
            self.item = _Port(name, inner, owner, direction)


class _Plan:
    """What one object's ports mean for one decorated method, ready for the per-call checks."""

    __slots__ = (
        "owner",
        "inputs",
        "by_param",
        "has_extra",
        "extra_positional",
        "extra_keyword",
        "extra_required",
        "outputs",
        "n_outputs_required",
        "fast_out",
    )

    def __reduce__(self) -> tuple[Any, ...]:
        # plans hold no state worth saving: a pickled or deep-copied object rebuilds its own
        return (_no_plan, ())


def _no_plan() -> None:
    return None


def _normalize_ports(types: Any, owner: str, direction: str) -> dict[str, Any] | None:
    if types is None:
        return None
    if not isinstance(types, Mapping):
        raise NeuralTypeError(
            f"{owner}: {direction}_types must be a mapping of port name -> NeuralType, "
            f"got {type(types).__name__}",
            owner=owner,
        )
    out = {}
    for name, spec in types.items():
        if _leaf_is_str(spec):  # "B,T:LogitsType" or ["B,T:LogitsType"]
            spec = parse_port_type(spec, where=f"{owner} {direction}_types.{name}")
        out[name] = spec
    return out


def _leaf_is_str(spec: Any) -> bool:
    while isinstance(spec, (list, tuple)) and len(spec) == 1:
        spec = spec[0]
    return isinstance(spec, str)


class _Params(NamedTuple):
    """What the plan needs of the method's parameters (``self`` excluded)."""

    named: tuple[str, ...]
    var_positional: bool
    var_keyword: bool


def _types(obj: Any, deco: typecheck, direction: str, owner: str) -> dict[str, Any] | None:
    """The ports of one direction: the decorator's (parsed once), else the object's."""
    declared = getattr(deco, f"{direction}_types")
    if declared is None:  # read per object: a property may depend on the instance
        return _normalize_ports(declared_types(obj, f"{direction}_types"), owner, direction)
    cached = deco._parsed.get(direction)
    if cached is None or cached[0] is not declared:
        cached = deco._parsed[direction] = (declared, _normalize_ports(declared, owner, direction))
    return cached[1]


def _build_plan(obj: Any, fn: Callable[..., Any], deco: typecheck, params: _Params) -> _Plan:
    owner = f"{type(obj).__name__}.{fn.__name__}"
    in_types = _types(obj, deco, "input", owner)
    out_types = _types(obj, deco, "output", owner)
    plan = _Plan()
    plan.owner = owner

    # inputs: map ports onto the method's named parameters (``self`` excluded); ports that
    # are not named parameters go through ``*args`` (in declared order) or ``**kwargs``
    named, var_positional, var_keyword = params
    ports = {n: _Port(n, s, owner, "input") for n, s in (in_types or {}).items()}
    plan.inputs = bool(ports)
    # the tuple the generated wrapper unpacks per named parameter (None: not a port)
    plan.by_param = tuple(
        None if p is None else (p.plain, p.type, p.semantic._results, p.rank, p.sizes, p)
        for p in (ports.get(n) for n in named)
    )
    extra = [port for name, port in ports.items() if name not in named]
    if extra and not (var_positional or var_keyword):
        raise NeuralTypeError(
            f"{owner}: input port '{extra[0].name}' is not a parameter of "
            f"{fn.__name__}({', '.join(named)}); rename the port or the parameter",
            owner=owner,
            port=extra[0].name,
        )
    if var_positional:
        for index, port in enumerate(extra):
            port.position = index
    plan.has_extra = bool(extra)
    plan.extra_positional = tuple(extra) if var_positional else ()
    plan.extra_keyword = {p.name: p for p in extra} if var_keyword else {}
    plan.extra_required = tuple(p for p in extra if not p.optional)

    # outputs
    if out_types is None:
        plan.outputs = None
        plan.fast_out = ()
        plan.n_outputs_required = 0
    else:
        outs = tuple(_Port(n, s, owner, "output") for n, s in out_types.items())
        plan.outputs = outs
        plan.fast_out = tuple((p.plain, p.type, p.rank, p.sizes, p) for p in outs)
        plan.n_outputs_required = max(
            (i + 1 for i, p in enumerate(outs) if not p.optional), default=0
        )
    return plan


# -- per-call checks -----------------------------------------------------------------------
def _check_input(plan: _Plan, port: _Port, value: Any) -> None:
    """Any input value (the general path; the wrapper inlines the plain-tensor case)."""
    if isinstance(value, _Tensor):
        if port.depth:
            _fail_container(plan, "input", port, value)
        given = getattr(value, "neural_type", None)
        if given is None:  # untyped: what the shape can tell
            rank = port.rank
            if rank is not None and value.ndim != rank:
                _fail_rank(plan, "input", port, value)
        elif given is not port.type:  # typed: the full comparison (cached)
            if not isinstance(given, NeuralType):
                _fail_type(plan, port, value, given)
            result = port.semantic.compare(given)
            if result is not _SAME and result is not _GREATER:
                _fail_type(plan, port, value, given)
        if port.sizes:
            _check_sizes(plan, "input", port, value)
    else:
        _check_not_tensor(plan, "input", port, value, _check_input)


def _check_not_tensor(
    plan: _Plan,
    direction: str,
    port: _Port,
    value: Any,
    check: Callable[[_Plan, _Port, Any], None],
) -> None:
    """``None`` (optional ports only) and the items of a list port; other values pass."""
    if value is None:
        if not port.optional:
            _fail_none(plan, direction, port)
    elif port.depth and isinstance(value, (list, tuple)):
        item = port.item
        for v in value:
            check(plan, item, v)  # type: ignore[arg-type]


def _check_sizes(plan: _Plan, direction: str, port: _Port, value: _Tensor) -> None:
    shape = value.shape
    for i, size in port.sizes:
        if shape[i] != size:
            _fail_size(plan, direction, port, value, i)


def _check_output(plan: _Plan, port: _Port, value: Any) -> None:
    """Any output value (the general path; the wrapper inlines the plain-tensor case)."""
    if isinstance(value, _Tensor):
        if port.depth:
            _fail_container(plan, "output", port, value)
        rank = port.rank
        if rank is not None and value.ndim != rank:
            _fail_rank(plan, "output", port, value)
        if port.sizes:
            _check_sizes(plan, "output", port, value)
        declared = port.type
        given = getattr(value, "neural_type", None)
        if given is not declared:
            # compared as the inputs are, without declared sizes (checked on the tensor above)
            if isinstance(given, NeuralType):
                result = port.semantic.compare(given)
                if result is _SAME or result is _GREATER:
                    return  # keep the more precise type the tensor already has
            value.neural_type = declared
    else:
        _check_not_tensor(plan, "output", port, value, _check_output)


def _check_extra(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Ports reached through ``*args`` / ``**kwargs`` rather than named parameters."""
    for port, value in zip(plan.extra_positional, args):
        _check_input(plan, port, value)
    for name, value in kwargs.items():
        port = plan.extra_keyword.get(name)
        if port is not None:
            _check_input(plan, port, value)
    for port in plan.extra_required:
        if port.position is not None and port.position < len(args):
            continue
        if port.name not in kwargs:
            _raise(
                plan,
                "input",
                port,
                R.UNCHECKED,
                "it was not given; pass it, or declare the port optional "
                "(NeuralType(..., optional=True))",
                given="nothing",
            )


def _check_outputs(plan: _Plan, out: Any) -> None:
    """All outputs (the general path; the wrapper inlines a tuple of plain tensors)."""
    ports = plan.outputs
    assert ports is not None
    if len(ports) == 1:
        port = ports[0]
        if not port.depth and isinstance(out, (tuple, list)):
            _raise(
                plan,
                "output",
                port,
                R.CONTAINER_SIZE_MISMATCH,
                f"the method returned a {type(out).__name__} of {len(out)} values, but "
                f"output_types declares one port ('{port.name}')",
                given=f"a {type(out).__name__} of {len(out)}",
            )
        _check_output(plan, port, out)
        return
    if not isinstance(out, (tuple, list)) or not (
        plan.n_outputs_required <= len(out) <= len(ports)
    ):
        count = f"{len(out)} values" if isinstance(out, (tuple, list)) else "one value"
        names = ", ".join(p.name for p in ports)
        _raise(
            plan,
            "output",
            ports[0],
            R.CONTAINER_SIZE_MISMATCH,
            f"the method returned {count}, but output_types declares {len(ports)} ports ({names})",
            given=count,
            port_label="ports",
        )
    for port, value in zip(ports, out):
        _check_output(plan, port, value)


# -- errors (slow path) --------------------------------------------------------------------
def _describe_tensor(value: _Tensor) -> str:
    given = getattr(value, "neural_type", None)
    shape = tuple(value.shape)
    if given is None:
        return f"an untyped tensor of shape {shape}"
    return f"{given} (shape {shape})"


def _raise(
    plan: _Plan,
    direction: str,
    port: _Port,
    result: R,
    reason: str,
    *,
    given: Any,
    port_label: str = "port",
) -> None:
    expected = format_port_type(port.spec)
    where = f"{direction} {port_label}"
    label = f"'{port.name}'" if port_label == "port" else ""
    message = (
        f"{plan.owner}: {where} {label}".rstrip()
        + f": expected {expected}, got {given}. {result.name}: {reason}"
    )
    raise NeuralTypeError(
        message,
        owner=plan.owner,
        port=port.name,
        expected=port.spec,
        given=given,
        result=result,
        reason=reason,
    )


def _fail_rank(plan: _Plan, direction: str, port: _Port, value: _Tensor) -> None:
    axes = ",".join(str(ax) for ax in port.type.axes or ())
    reason = (
        f"expected {count_axes(port.rank)} ({axes or '()'}), got a tensor with {value.ndim} "
        f"(shape {tuple(value.shape)})"
    )
    _raise(plan, direction, port, R.INCOMPATIBLE, reason, given=_describe_tensor(value))


def _fail_size(plan: _Plan, direction: str, port: _Port, value: _Tensor, i: int) -> None:
    axis = (port.type.axes or ())[i]
    reason = (
        f"axis {i} ({axis.kind.name}): expected size {axis.size}, got {value.shape[i]} "
        f"(shape {tuple(value.shape)})"
    )
    _raise(plan, direction, port, R.DIM_INCOMPATIBLE, reason, given=_describe_tensor(value))


def _fail_type(plan: _Plan, port: _Port, value: _Tensor, given: Any) -> None:
    if not isinstance(given, NeuralType):
        _raise(
            plan,
            "input",
            port,
            R.INCOMPATIBLE,
            f"the tensor's neural_type attribute is {given!r}, not a NeuralType",
            given=repr(given),
        )
    result, reason = port.semantic.explain(given)
    _raise(plan, "input", port, result, reason, given=_describe_tensor(value))


def _fail_none(plan: _Plan, direction: str, port: _Port) -> None:
    _raise(
        plan,
        direction,
        port,
        R.INCOMPATIBLE,
        "the port is not optional; pass a value, or declare it NeuralType(..., optional=True)",
        given="None",
    )


def _fail_container(plan: _Plan, direction: str, port: _Port, value: _Tensor) -> None:
    _raise(
        plan,
        direction,
        port,
        R.CONTAINER_SIZE_MISMATCH,
        f"the port takes a list nested {port.depth} deep, got a single tensor",
        given=_describe_tensor(value),
    )


# -- the generated wrapper -----------------------------------------------------------------
# The wrapper is generated with the decorated method's own parameters (as dataclasses and
# attrs generate their methods): Python binds positional and keyword arguments in C, each
# port's value is a local variable, and the checks of a plain tensor run inline — each avoided
# Python call or *args/**kwargs repacking saves about 0.1 µs, and this runs on every forward.

_NAMED = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)

_INPUT_CHECK = """\
        {P}e = {P}p[{i}]
        if {P}e is not None:
            {P}plain, {P}decl, {P}res, {P}rank, {P}sizes, {P}port = {P}e
            if {P}plain and {v}.__class__ is {P}Tensor:
                {P}g = {P}getattr({v}, "neural_type", None)
                if {P}g is None:
                    if {P}rank is not None and {v}.ndim != {P}rank:
                        {P}fail_rank({P}plan, "input", {P}port, {v})
                elif {P}g is not {P}decl:
                    {P}r = {P}res.get({P}g)
                    if {P}r is not {P}SAME and {P}r is not {P}GREATER:
                        {P}check_input({P}plan, {P}port, {v})
                if {P}sizes:
                    {P}check_sizes({P}plan, "input", {P}port, {v})
            else:
                {P}check_input({P}plan, {P}port, {v})
"""

_TEMPLATE = """\
def {P}wrapper({signature}):
    if not {P}module._enabled or {P}is_compiling():
        return {P}fn({call})
    try:
        {P}plan = {self}.__dict__[{P}attr]
    except KeyError:
        {P}plan = None
    except AttributeError:  # an object without __dict__: no cache, still checked
        {P}plan = {P}build({self}, {P}fn, {P}deco, {P}params)
    if {P}plan is None:
        {P}plan = {self}.__dict__[{P}attr] = {P}build({self}, {P}fn, {P}deco, {P}params)
    if {P}plan.inputs:
        {P}p = {P}plan.by_param
{inputs}\
        if {P}plan.has_extra:
            {P}check_extra({P}plan, {var_args}, {var_kwargs})
    {P}out = {P}fn({call})
    {P}fo = {P}plan.fast_out
    {P}n = {P}len({P}fo)
    if {P}n == 1 and {P}out.__class__ is {P}Tensor:
        {P}values = ({P}out,)
    elif {P}n > 1 and {P}out.__class__ is {P}tuple and {P}len({P}out) == {P}n:
        {P}values = {P}out
    else:  # no output types, or lists, None, a wrong count: the general path
        if {P}plan.outputs is not None:
            {P}check_outputs({P}plan, {P}out)
        return {P}out
    for ({P}plain, {P}decl, {P}rank, {P}sizes, {P}port), {P}v in {P}zip({P}fo, {P}values):
        if {P}plain and {P}v.__class__ is {P}Tensor:
            if {P}rank is not None and {P}v.ndim != {P}rank:
                {P}fail_rank({P}plan, "output", {P}port, {P}v)
            if {P}sizes:
                {P}check_sizes({P}plan, "output", {P}port, {P}v)
            {P}g = {P}getattr({P}v, "neural_type", None)
            if {P}g is not {P}decl:
                if {P}g is None:
                    {P}v.neural_type = {P}decl
                else:
                    {P}check_output({P}plan, {P}port, {P}v)
        else:
            {P}check_output({P}plan, {P}port, {P}v)
    return {P}out
"""


def _generate_wrapper(fn: Callable[..., Any], deco: typecheck) -> Callable[..., Any]:
    """A function with ``fn``'s parameters that checks its ports and calls ``fn``."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if not params or params[0].kind not in _NAMED[:2]:
        raise TypeError(
            f"@typecheck() decorates methods; {fn.__qualname__} has no 'self' parameter"
        )
    names = [p.name for p in params]
    prefix, n = "_tc_", 0
    while any(name.startswith(prefix) for name in names):  # never shadow a parameter
        n += 1
        prefix = f"_tc{n}_"
    parts: list[str] = []
    call: list[str] = []
    inputs: list[str] = []
    var_args, var_kwargs = "()", "{}"
    star_written = False
    for index, p in enumerate(params):
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            parts.append(p.name)
            call.append(p.name)
            if index + 1 == len(params) or params[index + 1].kind is not p.kind:
                parts.append("/")
        elif p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            parts.append(p.name)
            call.append(p.name)
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            call.append(f"*{p.name}")
            var_args, star_written = p.name, True
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            if not star_written:
                parts.append("*")
                star_written = True
            parts.append(p.name)
            call.append(f"{p.name}={p.name}")
        else:
            parts.append(f"**{p.name}")
            call.append(f"**{p.name}")
            var_kwargs = p.name
        if index and p.kind in _NAMED:
            position = sum(1 for q in params[1:index] if q.kind in _NAMED)
            inputs.append(_INPUT_CHECK.format(P=prefix, i=position, v=p.name))
    source = _TEMPLATE.format(
        P=prefix,
        signature=", ".join(parts),
        call=", ".join(call),
        self=params[0].name,
        inputs="".join(inputs),
        var_args=var_args,
        var_kwargs=var_kwargs,
    )
    filename = f"<typecheck wrapper of {fn.__module__}.{fn.__qualname__}>"
    namespace: dict[str, Any] = {
        f"{prefix}{name}": value
        for name, value in {
            "module": sys.modules[__name__],  # read _enabled live
            "is_compiling": _is_compiling,
            "fn": fn,
            "deco": deco,
            "params": _Params(
                tuple(p.name for p in params[1:] if p.kind in _NAMED),
                any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params),
                any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
            ),
            "attr": _PLAN_PREFIX + fn.__qualname__,
            "build": _build_plan,
            "Tensor": _Tensor,
            "SAME": _SAME,
            "GREATER": _GREATER,
            "fail_rank": _fail_rank,
            "check_sizes": _check_sizes,
            "check_input": _check_input,
            "check_output": _check_output,
            "check_outputs": _check_outputs,
            "check_extra": _check_extra,
            "getattr": getattr,
            "len": len,
            "zip": zip,
            "tuple": tuple,
        }.items()
    }
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102  (our own template)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    wrapper = namespace[f"{prefix}wrapper"]
    # the defaults of the signature (not fn.__defaults__: fn may itself be a wrapper)
    wrapper.__defaults__ = (
        tuple(
            p.default
            for p in params
            if p.kind in _NAMED[:2] and p.default is not inspect.Parameter.empty
        )
        or None
    )
    wrapper.__kwdefaults__ = {
        p.name: p.default
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
    } or None
    wrapper.__code__ = wrapper.__code__.replace(co_name=fn.__name__, co_qualname=fn.__qualname__)
    functools.update_wrapper(wrapper, fn)
    return wrapper


# -- the decorator -------------------------------------------------------------------------
class typecheck:  # noqa: N801  (lower case: the name NeMo users know)
    """Decorator that checks a method's inputs and outputs against neural types.

    ``@typecheck()`` reads the ports from the object's ``input_types`` / ``output_types``;
    ``@typecheck(input_types=..., output_types=...)`` declares them on the method instead
    (values may be NeuralTypes or their strings, ``"B,T:LogitsType"``). ``@typecheck``
    without parentheses works too. See :mod:`ganglion.typecheck` for what is checked.
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
        wrapper = _generate_wrapper(fn, self)
        wrapper.__typecheck__ = self  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    # -- switches ---------------------------------------------------------------------
    @staticmethod
    def is_enabled() -> bool:
        """Whether checks run (the environment switch and :meth:`set_enabled` decide)."""
        return _enabled

    @staticmethod
    def set_enabled(enabled: bool = True) -> bool:
        """Turn checks on or off for the whole process; returns the previous setting."""
        global _enabled
        previous = _enabled
        _enabled = bool(enabled)
        return previous

    #: NeMo's name for :meth:`set_enabled`.
    set_typecheck_enabled = set_enabled

    @staticmethod
    @contextlib.contextmanager
    def disable_checks() -> Iterator[None]:
        """Context manager: no checks (and no types recorded) inside the ``with`` block."""
        previous = typecheck.set_enabled(False)
        try:
            yield
        finally:
            typecheck.set_enabled(previous)

    @staticmethod
    def reset(obj: Any) -> None:
        """Forget ``obj``'s cached ports, after changing what its ``input_types`` or
        ``output_types`` return (they are read once per object otherwise)."""
        state = getattr(obj, "__dict__", None)
        if state:
            for key in [k for k in state if isinstance(k, str) and k.startswith(_PLAN_PREFIX)]:
                del state[key]
