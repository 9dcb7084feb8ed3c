"""The op view: the operations of a traced module, one row per op, as a table or JSON.

:func:`ops` traces a module with ``torch.export`` (non-strict: the module's Python runs as
written, on fake tensors) and lists every node of the resulting graph as an :class:`Op`: its
name, its op (the ATen operator, or ``input`` / ``parameter`` / ``buffer`` / ``output``), its
arguments (the names of the ops it reads, or constants), its users, its output shape and
dtype, tags, and the user source line that created it::

    from ganglion.graph import ops

    view = ops(encoder)                    # example inputs from encoder.input_example()
    print(view)                            # an aligned table
    view["linear"].location                # 'mypkg/encoder.py:41'
    view.to_json()                         # the same rows as JSON

Tags say where an op belongs: ``module`` (the path of the submodule whose ``forward`` made
it, neural modules included), ``port`` and ``neural_type`` on the graph's inputs and on the
ops producing its outputs (when the module declares ports), ``parameter`` / ``buffer`` (the
state-dict key a weight input holds) and ``recomputed`` on ops inside an activation-
checkpointed region (``torch.utils.checkpoint``): torch recomputes them in the backward pass
instead of keeping their outputs; the tag holds the ``file:line`` of the checkpoint call.

What can be traced:

* a :class:`~ganglion.module.NeuralModule` or :class:`~ganglion.model.ModelPT` (its
  ``forward``); example inputs default to ``module.input_example()``;
* a :class:`~ganglion.graph.NeuralGraph`: its inputs go by name (``ops(g, x=...)``) or by
  position in the graph's input order;
* any object with a ``trace_target()`` method (the hook ``StaticGraph`` uses): it returns the
  ``torch.nn.Module`` whose ``forward`` is the computation, and that module is traced. The
  object's own ``input_example()`` / ``input_ports`` / ``output_ports`` are used when it has
  them, else the target's.

The same tracing serves :func:`ganglion.graph.export`.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ganglion.graph.errors import GraphError

__all__ = ["Op", "OpView", "Traced", "ops", "trace"]


# -- the rows ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One operation of a traced graph.

    ``kind`` is ``input`` (a user input), ``parameter``, ``buffer``, ``constant``, ``call``
    (an operator call) or ``output``; ``op`` the operator (``aten.linear.default``) or the
    kind for the others; ``args`` the names of the ops read (constants as their ``repr``);
    ``users`` the ops reading this one; ``shape`` (symbolic sizes as strings, ``batch``,
    ``s1``...) and ``dtype`` of the output (``None`` when it is not one tensor); ``location``
    the innermost user source line (``file:line``) and ``stack`` the user frames, outermost
    first (``file:line in function``).
    """

    name: str
    kind: str
    op: str
    args: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    shape: tuple[int | str, ...] | None = None
    dtype: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    location: str | None = None
    stack: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """This op as plain data (lists, dicts, strings, numbers)."""
        data = asdict(self)
        data["args"] = list(self.args)
        data["users"] = list(self.users)
        data["shape"] = None if self.shape is None else list(self.shape)
        data["tags"] = dict(self.tags)
        data["stack"] = list(self.stack)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Op:
        """The op :meth:`to_dict` gave."""
        shape = data.get("shape")
        return cls(
            name=data["name"],
            kind=data["kind"],
            op=data["op"],
            args=tuple(data.get("args", ())),
            users=tuple(data.get("users", ())),
            shape=None if shape is None else tuple(shape),
            dtype=data.get("dtype"),
            tags=dict(data.get("tags", {})),
            location=data.get("location"),
            stack=tuple(data.get("stack", ())),
        )


class OpView:
    """The ops of one traced module, in execution order.

    Iterate over it, index it by op name (``view["linear"]``), filter it
    (:meth:`in_module`, :meth:`tagged`), print it (an aligned table) or turn it into JSON
    (:meth:`to_json`; :meth:`from_json` reads it back). ``program`` is the
    ``torch.export.ExportedProgram`` the view was read from (``None`` for a view read from
    JSON).
    """

    def __init__(self, ops: list[Op], *, title: str = "", program: Any = None) -> None:
        self.ops = list(ops)
        self.title = title
        self.program = program
        self._by_name = {op.name: op for op in self.ops}

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, name: str) -> Op:
        try:
            return self._by_name[name]
        except KeyError:
            from ganglion.errors import did_you_mean

            raise KeyError(f"no op named {name!r}.{did_you_mean(name, self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def calls(self) -> list[Op]:
        """The operator calls (no inputs, weights or output)."""
        return [op for op in self.ops if op.kind == "call"]

    @property
    def inputs(self) -> list[Op]:
        """The user inputs, in order."""
        return [op for op in self.ops if op.kind == "input"]

    def in_module(self, path: str) -> list[Op]:
        """The ops made inside submodule ``path`` (``"encoder"`` includes
        ``"encoder.layers.0"``)."""
        return [
            op
            for op in self.ops
            if (m := op.tags.get("module")) is not None and (m == path or m.startswith(path + "."))
        ]

    def tagged(self, tag: str) -> list[Op]:
        """The ops carrying ``tag`` (``"recomputed"``, ``"neural_type"``, ...)."""
        return [op for op in self.ops if tag in op.tags]

    # -- output ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The view as plain data: ``{"title": ..., "ops": [op.to_dict(), ...]}``."""
        return {"title": self.title, "ops": [op.to_dict() for op in self.ops]}

    def to_json(self, indent: int | None = None) -> str:
        """The view as a JSON document (:meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OpView:
        """The view :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls([Op.from_dict(d) for d in data["ops"]], title=data.get("title", ""))

    def __str__(self) -> str:
        header = ("name", "op", "args", "users", "shape", "dtype", "module", "source", "tags")
        rows = [header]
        for op in self.ops:
            tags = {k: v for k, v in op.tags.items() if k != "module"}
            rows.append(
                (
                    op.name,
                    op.op,
                    _clip(", ".join(op.args), 40),
                    _clip(", ".join(op.users), 30),
                    "" if op.shape is None else "[" + ", ".join(str(s) for s in op.shape) + "]",
                    (op.dtype or "").replace("torch.", ""),
                    op.tags.get("module", ""),
                    _short_location(op.location),
                    " ".join(f"{k}={v}" if v is not True else k for k, v in tags.items()),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [self.title] if self.title else []
        for index, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<OpView {self.title or ''} {len(self.calls)} calls, {len(self.ops)} ops>"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_location(location: str | None) -> str:
    if not location:
        return ""
    try:
        relative = os.path.relpath(location)
    except ValueError:  # another drive (Windows)
        return location
    return location if relative.startswith("..") else relative


# -- what to trace ----------------------------------------------------------------------
@dataclass
class Traced:
    """A traced module and what the trace was made from (shared by ops and export)."""

    #: the torch.export.ExportedProgram
    program: Any
    #: the module traced (the adapter, for a forward that takes ``*args`` / ``**kwargs``)
    module: torch.nn.Module
    #: the inputs it was traced on, by name (what ``module(**inputs)`` takes)
    inputs: dict[str, Any]
    #: input name -> NeuralType, output name -> NeuralType (empty when undeclared)
    input_types: dict[str, Any]
    output_types: dict[str, Any]
    #: the ``dynamic_shapes`` given to torch.export (None: static)
    dynamic_shapes: dict[str, Any] | None
    #: what was traced, for messages ("TaylorNet 'taylornet0'")
    what: str
    #: how many of ``inputs`` (in order) the program takes by position; the rest by name
    positional: int = 0

    def call_args(self, inputs: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``inputs`` by name as the exported program takes them: ``(args, kwargs)``."""
        names = list(inputs)
        return (
            tuple(inputs[n] for n in names[: self.positional]),
            {n: inputs[n] for n in names[self.positional :]},
        )


def describe(obj: Any) -> str:
    """``ClassName 'name'`` for messages."""
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} {name!r}" if isinstance(name, str) else type(obj).__name__


def resolve_target(obj: Any) -> torch.nn.Module:
    """The ``nn.Module`` to trace for ``obj``: itself, or what its ``trace_target()`` returns
    (the hook objects that are not a module themselves, such as ``StaticGraph``, define)."""
    hook = getattr(obj, "trace_target", None)
    if callable(hook):
        target = hook()
        if not isinstance(target, torch.nn.Module):
            raise GraphError(
                f"{describe(obj)}.trace_target() returned {type(target).__name__}; it must "
                "return the torch.nn.Module whose forward is the computation"
            )
        return target
    if isinstance(obj, torch.nn.Module):
        return obj
    raise GraphError(
        f"cannot trace a {type(obj).__name__}: give a NeuralModule, a ModelPT, a NeuralGraph, "
        "a torch.nn.Module or an object with a trace_target() method"
    )


def _ports(obj: Any, target: torch.nn.Module, which: str) -> dict[str, Any]:
    for owner in (obj, target):
        try:
            ports = getattr(owner, which, None)
        except Exception:  # a port property that needs a config the object lacks
            ports = None
        if ports:
            return dict(ports)
    return {}


def example_inputs_of(obj: Any, target: torch.nn.Module) -> tuple[Any, ...]:
    """``input_example()`` of ``obj`` (else of its trace target), refused when empty."""
    for owner in (obj, target):
        make = getattr(owner, "input_example", None)
        if callable(make):
            example = make()
            if example is not None and not isinstance(example, tuple):
                example = tuple(example) if isinstance(example, list) else (example,)
            if example:
                return example
            break
    raise GraphError(
        f"{describe(obj)} gives no example inputs (no input_example(), or every port is "
        "optional); pass them: ops(module, x, lengths) / export(module, path, "
        "example_inputs=(x, lengths))"
    )


def _var_args(forward: Any) -> bool:
    kinds = {p.kind for p in inspect.signature(forward).parameters.values()}
    return bool(kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD})


class _NamedInputs(torch.nn.Module):
    """A view of a module whose ``forward(*args, **kwargs)`` takes its inputs by name (a
    ``NeuralGraph``): same children, parameters and buffers (the very dicts, so state-dict
    keys and module paths are the module's own), and a ``forward`` with one explicit
    parameter per input, which torch.export needs to name the inputs and mark their axes."""

    def __init__(self, module: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        for attr in ("_modules", "_parameters", "_buffers"):
            object.__setattr__(self, attr, getattr(module, attr))
        object.__setattr__(self, "_wrapped", module)
        object.__setattr__(self, "_names", tuple(names))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        result = self._wrapped.forward(**dict(zip(self._names, args)), **kwargs)
        if isinstance(result, tuple) and hasattr(result, "_fields"):
            # a graph's named tuple of outputs: a plain tuple, which .pt2 files can hold
            # (the names are the output ports')
            return tuple(result)
        return result


def _named_view(module: torch.nn.Module, names: list[str]) -> torch.nn.Module:
    # torch.export reads the names from inspect.signature(forward): a subclass per name list
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]

    def forward(self: _NamedInputs, *args: Any, **kwargs: Any) -> Any:
        return _NamedInputs.forward(self, *args, **kwargs)

    forward.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cls = type(type(module).__name__, (_NamedInputs,), {"forward": forward})
    cls.__module__ = type(module).__module__
    view = cls(module, names)
    view.train(module.training)
    return view


def bind_inputs(
    obj: Any, target: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The module to trace and its inputs by name (positional inputs named after the
    forward's parameters, or the declared input ports for a ``*args`` forward)."""
    if _var_args(target.forward):
        ports = list(_ports(obj, target, "input_ports"))
        if len(args) > len(ports):
            raise GraphError(
                f"{describe(obj)} takes {len(ports)} input(s) "
                f"({', '.join(ports) or 'none declared'}), got {len(args)} positional example "
                "values; give them by name"
            )
        inputs = dict(zip(ports, args))
        for name, value in kwargs.items():
            if name in inputs:
                raise GraphError(f"{describe(obj)}: example input {name!r} given twice")
            inputs[name] = value
        order = [p for p in ports if p in inputs] + [n for n in inputs if n not in ports]
        inputs = {n: inputs[n] for n in order}
        return _named_view(target, list(inputs)), inputs
    try:
        bound = inspect.signature(target.forward).bind(*args, **kwargs)
    except TypeError as exc:
        raise GraphError(f"{describe(obj)}: the example inputs do not fit forward: {exc}") from exc
    return target, dict(bound.arguments)


def dynamic_shapes_for(inputs: Mapping[str, Any], types: Mapping[str, Any]) -> dict[str, Any]:
    """torch.export ``dynamic_shapes`` from the inputs' neural types (``types``: input name ->
    NeuralType): every Batch axis is one shared ``Dim("batch")`` (so lengths tensors share the
    batch size of the data), every Time/Sequence axis is ``Dim.DYNAMIC`` (dynamic; torch
    relates equal lengths itself), and other axes (features, channels) stay static. An input
    without a declared type is static."""
    from torch.export import Dim

    from ganglion.types.axes import AxisKind

    batch = Dim("batch")

    def spec(value: Any, port_type: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return type(value)(spec(v, port_type) for v in value)
        if not isinstance(value, torch.Tensor):
            return None
        axes = getattr(port_type, "axes", None)
        if axes is None or len(axes) != value.dim():
            return None
        dims: dict[int, Any] = {}
        for index, axis in enumerate(axes):
            if axis.kind is AxisKind.Batch and axis.size is None:
                dims[index] = batch
            elif axis.kind in (AxisKind.Time, AxisKind.Sequence) and axis.size is None:
                dims[index] = Dim.DYNAMIC
        return dims or None

    return {name: spec(value, types.get(name)) for name, value in inputs.items()}


def _plain(value: Any) -> Any:
    """``value`` with its tensors detached: no ``neural_type`` attribute (torch.export saves
    the example inputs, and ``torch.load(weights_only=True)`` refuses unknown classes)."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _attached_type(value: Any) -> Any:
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return getattr(value, "neural_type", None) if isinstance(value, torch.Tensor) else None


def positional_count(module: torch.nn.Module, names: list[str]) -> int:
    """How many of ``names`` (in order) can go to ``module``'s forward by position."""
    params = [
        p
        for p in inspect.signature(module.forward).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    count = 0
    for param, name in zip(params, names):
        if param.name != name:
            break
        count += 1
    return count


def trace(
    obj: Any,
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    dynamic: bool = False,
) -> Traced:
    """Trace ``obj`` with ``torch.export`` (non-strict) on example inputs (``args`` /
    ``kwargs``, else ``input_example()``), recording the source line, the module path and
    activation checkpointing of every op (see :func:`ops`). ``dynamic``: mark the batch and
    time axes of the inputs dynamic (:func:`dynamic_shapes_for`)."""
    target = resolve_target(obj)
    kwargs = dict(kwargs or {})
    if not args and not kwargs:
        args = example_inputs_of(obj, target)
    module, inputs = bind_inputs(obj, target, tuple(args), kwargs)
    input_types = _ports(obj, target, "input_ports")
    for name, value in inputs.items():
        attached = _attached_type(value)
        if attached is not None and name not in input_types:
            input_types[name] = attached
    output_types = _ports(obj, target, "output_ports")
    inputs = {name: _plain(value) for name, value in inputs.items()}
    shapes = dynamic_shapes_for(inputs, input_types) if dynamic else None
    if shapes is not None and all(v is None for v in shapes.values()):
        shapes = None
    # a graph takes its inputs by name (so does its program); others as their forward does
    positional = 0 if isinstance(module, _NamedInputs) else positional_count(module, list(inputs))
    names = list(inputs)
    args = tuple(inputs[n] for n in names[:positional])
    kwargs = {n: inputs[n] for n in names[positional:]}
    with _Provenance(module):
        try:
            program = torch.export.export(module, args, kwargs, dynamic_shapes=shapes, strict=False)
        except Exception as exc:
            raise GraphError(_trace_failure(describe(obj), exc)) from exc
    return Traced(
        program, module, inputs, input_types, output_types, shapes, describe(obj), positional
    )


def _trace_failure(what: str, exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    detail = first[0] if first else type(exc).__name__
    return (
        f"torch.export could not trace {what}: {type(exc).__name__}: {detail} (the full "
        "reason is chained below; code that branches on tensor values or sizes needs "
        "torch.cond / torch._check, see the torch.export documentation)"
    )


# -- provenance: source lines, module paths, checkpointed regions -------------------------
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_STDLIB_DIR = sysconfig.get_paths()["stdlib"] + os.sep
_GANGLION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# ganglion's own call machinery: a frame here is never the line that made an op
_MACHINERY = (
    os.path.join(_GANGLION_DIR, "module.py"),
    os.path.join(_GANGLION_DIR, "typechecking") + os.sep,
    os.path.join(_GANGLION_DIR, "graph") + os.sep,
)
_CHECKPOINT_FILE = os.path.join(_TORCH_DIR, "utils", "checkpoint.py")
_MAX_STACK = 8
# node.meta["custom"] keys
_SOURCE, _STACK, _MODULE, _RECOMPUTED = (
    "ganglion.source",
    "ganglion.stack",
    "ganglion.module",
    "ganglion.recomputed",
)


def _is_user_file(filename: str) -> bool:
    return not (
        filename.startswith((_TORCH_DIR, _STDLIB_DIR, *_MACHINERY)) or filename.startswith("<")
    )


def _user_frames() -> tuple[list[str], str | None]:
    """The user frames of the current Python stack (innermost first, at most
    ``_MAX_STACK``) and where a ``torch.utils.checkpoint`` call on the stack was made."""
    frames: list[str] = []
    checkpoint_at: str | None = None
    frame = sys._getframe(2)
    in_checkpoint = False
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == _CHECKPOINT_FILE:
            in_checkpoint = True
        elif _is_user_file(filename):
            where = f"{filename}:{frame.f_lineno}"
            if in_checkpoint and checkpoint_at is None:
                checkpoint_at = where  # the user line calling checkpoint
            if len(frames) < _MAX_STACK:
                frames.append(f"{where} in {frame.f_code.co_name}")
        frame = frame.f_back
    return frames, checkpoint_at


class _Provenance(torch.overrides.TorchFunctionMode):
    """While torch.export traces: every torch call records, in the custom metadata that
    torch copies onto the nodes it makes (``torch.fx.traceback.preserve_node_meta``), the
    user source line, the path of the module whose forward runs (global forward hooks, so
    neural modules' own ``__call__`` is seen too) and whether a ``torch.utils.checkpoint``
    call is on the stack."""

    def __init__(self, root: torch.nn.Module) -> None:
        super().__init__()
        self._paths = {id(m): name for name, m in root.named_modules(remove_duplicate=False)}
        self._modules: list[str] = []

    def __enter__(self) -> _Provenance:
        import torch.fx.traceback as fx_traceback
        from torch.nn.modules import module as nn_module

        self._preserve = fx_traceback.preserve_node_meta()
        self._preserve.__enter__()
        self._hooks = (
            nn_module.register_module_forward_pre_hook(self._enter_module),
            nn_module.register_module_forward_hook(self._leave_module, always_call=True),
        )
        return super().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        super().__exit__(*exc_info)
        for hook in self._hooks:
            hook.remove()
        self._preserve.__exit__(*exc_info)

    def _enter_module(self, module: torch.nn.Module, args: Any) -> None:
        path = self._paths.get(id(module))
        self._modules.append(self._modules[-1] if path is None and self._modules else path or "")

    def _leave_module(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if self._modules:
            self._modules.pop()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        import torch.fx.traceback as fx_traceback

        frames, checkpoint_at = _user_frames()
        note: dict[str, Any] = {_STACK: frames[::-1]}
        if frames:
            note[_SOURCE] = frames[0].rsplit(" in ", 1)[0]
        if self._modules:
            note[_MODULE] = self._modules[-1]
        if checkpoint_at is not None:
            note[_RECOMPUTED] = checkpoint_at
        with fx_traceback.annotate(note):
            return func(*args, **(kwargs or {}))


# -- the view -----------------------------------------------------------------------------
#: higher-order ops that mark an activation-checkpointed region in graphs torch.compile /
#: strict tracing make (their body is recomputed in the backward pass)
_CHECKPOINT_OPS = ("tag_activation_checkpoint", "checkpoint")


def ops(module_or_graph: Any, *example_inputs: Any, **example_kwargs: Any) -> OpView:
    """The operations of ``module_or_graph`` traced on the example inputs (see the module
    docstring for what can be traced and the tags).

    Example::

        view = ops(encoder, torch.randn(2, 64, 100), torch.tensor([100, 80]))
        for op in view.in_module("encoder.layers.0"):
            print(op.name, op.op, op.shape, op.location)
    """
    traced = trace(module_or_graph, example_inputs, example_kwargs)
    return view_of(traced)


def view_of(traced: Traced) -> OpView:
    """The :class:`OpView` of a :class:`Traced` program."""
    from torch.export.graph_signature import InputKind

    program = traced.program
    graph = program.graph
    specs = {spec.arg.name: spec for spec in program.graph_signature.input_specs}
    kinds = {
        InputKind.USER_INPUT: "input",
        InputKind.PARAMETER: "parameter",
        InputKind.BUFFER: "buffer",
        InputKind.CONSTANT_TENSOR: "constant",
        InputKind.CUSTOM_OBJ: "constant",
        InputKind.TOKEN: "constant",
    }
    user_inputs = _user_input_names(traced)
    outputs = _output_ports(traced, graph)
    recomputed_nodes = _checkpoint_bodies(program.graph_module)
    rows = []
    for node in graph.nodes:
        tags: dict[str, Any] = {}
        custom = node.meta.get("custom") or {}
        module = custom.get(_MODULE)
        if module is None:
            stack = node.meta.get("nn_module_stack")
            if stack:
                module = list(stack.values())[-1][0]
        if module:
            tags["module"] = module
        if node.op == "placeholder":
            spec = specs.get(node.name)
            kind = kinds.get(spec.kind, "input") if spec is not None else "input"
            op_name = kind
            if kind in ("parameter", "buffer", "constant") and spec.target:
                tags[kind] = spec.target
            if kind == "input":
                port = user_inputs.get(node.name)
                if port is not None:
                    tags["port"] = port
                    port_type = traced.input_types.get(port)
                    if port_type is not None:
                        tags["neural_type"] = str(port_type)
        elif node.op == "output":
            kind, op_name = "output", "output"
        elif node.op == "get_attr":
            kind, op_name = "constant", "get_attr"
        else:
            kind, op_name = "call", _op_name(node.target)
        if node.name in outputs:
            port, port_type = outputs[node.name]
            tags["output"] = port
            if port_type is not None:
                tags["neural_type"] = str(port_type)
        if custom.get(_RECOMPUTED):
            tags["recomputed"] = custom[_RECOMPUTED]
        elif node.name in recomputed_nodes:
            tags["recomputed"] = recomputed_nodes[node.name]
        shape, dtype = _shape_dtype(node.meta.get("val"))
        stack = tuple(custom.get(_STACK) or ())
        location = custom.get(_SOURCE)
        if location is None and node.meta.get("stack_trace"):
            stack = _frames_of(node.meta["stack_trace"])
            location = stack[-1].rsplit(" in ", 1)[0] if stack else None
        if kind != "call":
            location, stack = (location, stack) if kind == "output" else (None, ())
        rows.append(
            Op(
                name=node.name,
                kind=kind,
                op=op_name,
                args=tuple(_arg_names(node.args, node.kwargs)),
                users=tuple(u.name for u in node.users),
                shape=shape,
                dtype=dtype,
                tags=tags,
                location=location,
                stack=stack,
            )
        )
    return OpView(rows, title=f"ops of {traced.what}", program=program)


def _op_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", None)
    if isinstance(target, torch._ops.OpOverload):
        return str(target)  # aten.linear.default
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.name()}"
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module and name else repr(target)


def _arg_names(args: Any, kwargs: Mapping[str, Any]) -> list[str]:
    names: list[str] = []

    def visit(value: Any, key: str | None = None) -> None:
        prefix = f"{key}=" if key else ""
        if isinstance(value, torch.fx.Node):
            names.append(prefix + value.name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, key)
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(v, str(k))
        else:
            names.append(prefix + repr(value))

    visit(args)
    visit(dict(kwargs))
    return names


def _shape_dtype(value: Any) -> tuple[tuple[int | str, ...] | None, str | None]:
    if isinstance(value, torch.Tensor):
        shape = tuple(s if isinstance(s, int) else str(s) for s in value.shape)
        return shape, str(value.dtype)
    if isinstance(value, (torch.SymInt, int)):
        return (), "int"
    return None, None


def _frames_of(stack_trace: str) -> tuple[str, ...]:
    """``file:line in function`` frames of an fx ``stack_trace``, user frames only."""
    frames = []
    for line in stack_trace.splitlines():
        line = line.strip()
        if not line.startswith('File "'):
            continue
        filename, _, rest = line[6:].partition('", line ')
        lineno, _, func = rest.partition(", in ")
        if _is_user_file(filename):
            frames.append(f"{filename}:{lineno} in {func}")
    return tuple(frames)


def _user_input_names(traced: Traced) -> dict[str, str]:
    """placeholder name -> input name, for the user inputs (nested inputs: ``name[i]``)."""
    from torch.utils._pytree import tree_flatten_with_path

    specs = traced.program.graph_signature.input_specs
    from torch.export.graph_signature import InputKind

    placeholders = [s.arg.name for s in specs if s.kind is InputKind.USER_INPUT]
    leaves, _ = tree_flatten_with_path(traced.inputs)
    names = []
    for path, value in leaves:
        if value is None or not isinstance(value, torch.Tensor):
            continue
        key = getattr(path[0], "key", str(path[0]))
        names.append(key if len(path) == 1 else f"{key}" + "".join(str(p) for p in path[1:]))
    if len(names) != len(placeholders):
        return {}
    return dict(zip(placeholders, names))


def _output_ports(traced: Traced, graph: Any) -> dict[str, tuple[str, Any]]:
    """node name -> (output name, NeuralType or None) for the nodes the graph returns."""
    output = next(n for n in graph.nodes if n.op == "output")
    returned = [a for a in output.args[0] if isinstance(a, torch.fx.Node)]
    names = list(traced.output_types)
    if len(names) != len(returned):
        names = [f"output_{i}" if len(returned) > 1 else "output" for i in range(len(returned))]
    result = {}
    for node, name in zip(returned, names):
        result.setdefault(node.name, (name, traced.output_types.get(name)))
    return result


def _checkpoint_bodies(graph_module: Any) -> dict[str, str]:
    """Nodes inside checkpoint higher-order ops (graphs from torch.compile or strict
    tracing), and the ops themselves: name -> the checkpoint op's name."""
    found: dict[str, str] = {}
    for node in graph_module.graph.nodes:
        target = node.target
        if isinstance(target, torch._ops.HigherOrderOperator) and target.name() in (
            _CHECKPOINT_OPS
        ):
            found[node.name] = node.name
            body = node.args[0] if node.args else None
            if isinstance(body, torch.fx.Node) and body.op == "get_attr":
                found[body.name] = node.name
    return found
