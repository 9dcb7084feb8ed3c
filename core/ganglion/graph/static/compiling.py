"""How a static graph compiles: the backend (counting what it compiles and keeping the
graphs for ``repr`` and ``debug``), and which axes are dynamic from the first call."""

from __future__ import annotations

import inspect
import logging
import operator
import os
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

__all__ = ["CompileLog", "dynamic_axes", "mark_dynamic", "own_code", "own_function", "user_frames"]

logger = logging.getLogger("ganglion.graph.static")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is logged (not the stream at the
    time debugging was turned on), so redirections such as pytest's capture still see it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_GANGLION_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def user_frames(stack_trace: str | None, *, depth: int, only_user: bool) -> list[str]:
    """``file:line`` of the innermost ``depth`` frames of an fx node's stack trace (user code
    only: not torch's, not ganglion's core)."""
    if not stack_trace:
        return []
    frames = []
    for line in stack_trace.splitlines():
        line = line.strip()
        if not line.startswith('File "'):
            continue
        path, _, rest = line[len('File "') :].partition('", line ')
        number = rest.split(",", 1)[0]
        absolute = os.path.abspath(path)
        if only_user and absolute.startswith((_TORCH_DIR + os.sep, _GANGLION_DIR + os.sep)):
            continue
        frames.append(f"{path}:{number}")
    return frames[-depth:] if depth > 0 else frames


class CompileLog:
    """The backend a static graph compiles with: it wraps the real one, counts the graphs it
    compiles and keeps them (their operations feed ``repr`` and ``debug``)."""

    def __init__(self, backend: str, options: Mapping[str, Any], owner: str) -> None:
        self.backend = backend
        self.options = dict(options)
        self.owner = owner
        self.count = 0
        self.graphs: list[torch.fx.GraphModule] = []
        self.verbosity = -1
        self.max_py_stack_depth = 2
        self.only_user_py_stack = True
        from torch._dynamo.utils import guard_failures

        self._seen_failures = {code: len(r) for code, r in guard_failures.items()}

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
        self.count += 1
        self.graphs.append(gm)
        reasons = self._recompile_reasons()
        if self.verbosity >= 1:
            for reason in reasons:
                logger.info("%s: recompiling %s", self.owner, reason)
        if self.verbosity >= 0:
            ops = sum(
                1 for n in gm.graph.nodes if n.op in ("call_function", "call_method", "call_module")
            )
            logger.info(
                "%s: compiled graph %d with %s (%d operations)",
                self.owner,
                self.count,
                self.backend,
                ops,
            )
            if self.verbosity >= 1:
                for line in self.op_lines(gm):
                    logger.info("%s:   %s", self.owner, line)
            if self.verbosity >= 2:
                logger.info("%s: graph %d code:\n%s", self.owner, self.count, gm.code.strip())
        if self.backend == "inductor":
            from torch._inductor.compile_fx import compile_fx

            return compile_fx(gm, example_inputs, config_patches=self.options or None)
        from torch._dynamo import lookup_backend

        return lookup_backend(self.backend)(gm, example_inputs)

    def _recompile_reasons(self) -> list[str]:
        """Why dynamo compiles this frame again: the guards of its earlier graphs that failed
        (``torch._dynamo``'s record of guard failures, read since the last compile)."""
        from torch._dynamo.utils import guard_failures

        compile_id = torch._guards.CompileContext.current_compile_id()
        frame = getattr(compile_id, "frame_id", None)
        out = []
        for code, reasons in list(guard_failures.items()):
            new = reasons[self._seen_failures.get(code, 0) :]
            self._seen_failures[code] = len(reasons)
            if not getattr(compile_id, "frame_compile_id", None):
                continue  # a first compile of this frame: nothing failed
            where = f"{code.co_name} ({code.co_filename}:{code.co_firstlineno})"
            for reason in new:
                if reason.startswith(f"{frame}/"):
                    out.append(f"{where}: {reason.partition(': ')[2] or reason}")
        return out

    def op_lines(self, gm: torch.fx.GraphModule, *, recomputed: bool = False) -> Iterator[str]:
        """One line per operation: module path, target, output shape, user source lines; the
        operations inside a higher-order op (an activation checkpoint's body) are listed in its
        place, those that backward recomputes marked ``[recomputed]``."""
        for node in gm.graph.nodes:
            if node.op not in ("call_function", "call_method", "call_module"):
                continue
            body = _hop_body(gm, node)
            if body is not None:
                name = getattr(node.target, "__name__", str(node.target))
                yield from self.op_lines(body, recomputed=recomputed or "checkpoint" in name)
                continue
            if node.target is operator.getitem and _hop_body(gm, node.args[0]) is not None:
                continue  # unpacking a higher-order op's outputs
            stack = node.meta.get("nn_module_stack") or {}
            path = _module_path(stack)
            value = node.meta.get("example_value")
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else ""
            where = user_frames(
                node.meta.get("stack_trace"),
                depth=self.max_py_stack_depth,
                only_user=self.only_user_py_stack,
            )
            target = getattr(node.target, "__name__", str(node.target))
            mark = " [recomputed]" if recomputed else ""
            yield (
                f"{path or '-'}: {target} {list(shape) if shape != '' else ''} {' < '.join(reversed(where))}".rstrip()
                + mark
            )

    def ops_by_module(self) -> dict[str, list[str]]:
        """Operation lines of every compiled graph, by the registered module they run in
        (``-`` for operations of ``build`` itself)."""
        out: dict[str, list[str]] = {}
        for gm in self.graphs:
            for line in self.op_lines(gm):
                path, _, rest = line.partition(": ")
                top = path.split(".", 1)[0]
                out.setdefault(top, []).append(rest if top == "-" else f"{path}: {rest}")
        return out


def _hop_body(gm: torch.fx.GraphModule, node: Any) -> torch.fx.GraphModule | None:
    """The subgraph a higher-order op node (``tag_activation_checkpoint``, ``wrap``) runs."""
    if not (
        isinstance(node, torch.fx.Node)
        and isinstance(node.target, torch._ops.HigherOrderOperator)
        and node.args
        and isinstance(node.args[0], torch.fx.Node)
        and node.args[0].op == "get_attr"
    ):
        return None
    body = getattr(gm, str(node.args[0].target), None)
    return body if isinstance(body, torch.fx.GraphModule) else None


def describe(value: Any) -> Any:
    """``value`` with each tensor replaced by its shape and dtype (kept for ``repr``: no
    reference to the tensors themselves)."""
    if isinstance(value, torch.Tensor):
        return _TensorInfo(tuple(value.shape), str(value.dtype).removeprefix("torch."))
    if isinstance(value, tuple):
        items = [describe(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    return value


class _TensorInfo:
    __slots__ = ("dtype", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: str) -> None:
        self.shape, self.dtype = shape, dtype

    def __repr__(self) -> str:
        return f"tensor{list(self.shape)} {self.dtype}"


def _module_path(stack: Mapping[str, Any]) -> str:
    """The innermost module path of a node, relative to the graph (``model.fc``)."""
    if not stack:
        return ""
    path = str(list(stack.values())[-1][0])
    for prefix in ("L['self'].", "L['self']"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    path = path.replace("__dict__['", "").replace("']", "")
    return path.replace("._handle.module.", ".").removesuffix("._handle.module")


def own_code(method: Any) -> Any:
    """``method`` (a bound ``build``) running a private copy of its code object.

    Dynamo keeps its compiled graphs on the code object and stops compiling a code object
    after ``torch._dynamo.config.recompile_limit`` (8) entries; every graph instance has its own
    backend, so without a copy the ninth instance of one ``StaticGraph`` subclass would run
    eagerly without a word, and instances would count each other's compiles.
    """
    return types.MethodType(own_function(method.__func__), method.__self__)


def own_function(func: Any) -> Any:
    """A copy of the function ``func`` with a code object of its own (see :func:`own_code`)."""
    copy = types.FunctionType(
        func.__code__.replace(),
        func.__globals__,
        func.__name__,
        func.__defaults__,
        func.__closure__,
    )
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__qualname__ = func.__qualname__
    copy.__module__ = func.__module__
    copy.__doc__ = func.__doc__
    copy.__dict__.update(func.__dict__)
    return copy


_DYNAMIC_KINDS = ("Batch", "Time", "Sequence")


def dynamic_axes(
    build: Callable[..., Any],
    modules: Mapping[str, torch.nn.Module],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> dict[str, tuple[int, ...]]:
    """Parameter name of ``build`` -> the axes to mark dynamic: those its neural type (the
    input port of that name on a registered module) declares Batch, Time or Sequence."""
    ports: dict[str, Any] = {}
    for module in modules.values():
        for sub in module.modules():
            for name, spec in (getattr(sub, "input_ports", None) or {}).items():
                ports.setdefault(name, spec)
    try:
        bound = inspect.signature(build).bind(*args, **kwargs)
    except TypeError:
        return {}
    out: dict[str, tuple[int, ...]] = {}
    for name, value in bound.arguments.items():
        spec = ports.get(name)
        if (
            spec is None
            or not isinstance(value, torch.Tensor)
            or getattr(spec, "axes", None) is None
        ):
            continue
        axes = tuple(
            i for i, ax in enumerate(spec.axes) if ax.kind.name in _DYNAMIC_KINDS and i < value.ndim
        )
        if axes:
            out[name] = axes
    return out


def mark_dynamic(
    build: Callable[..., Any],
    axes: Mapping[str, tuple[int, ...]],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> None:
    """Mark those axes of this call's tensors dynamic (``torch._dynamo.mark_dynamic``)."""
    if not axes:
        return
    bound = inspect.signature(build).bind(*args, **kwargs)
    for name, dims in axes.items():
        value = bound.arguments.get(name)
        if isinstance(value, torch.Tensor):
            for dim in dims:
                if value.shape[dim] > 1:  # a size-1 axis is specialised by dynamo anyway
                    torch._dynamo.mark_dynamic(value, dim)
