"""Export a module, model or graph to ONNX or to torch.export's ``.pt2``, checked first.

::

    from ganglion.graph.exporting import export

    report = export(model, "model.onnx")               # format from the suffix, else "onnx"
    report = export(graph, "graph.pt2", format="torch")
    print(report)                                      # the largest error per output

What happens, in order:

1. The object is traced with ``torch.export`` (non-strict, in eval mode) on its example inputs
   (``input_example()``, or ``example_inputs``: a tuple by position, a dict by name, or one
   tensor). Anything :func:`ganglion.graph.ops` traces can be exported: a ``NeuralModule``, a
   ``ModelPT`` (its ``forward``), a ``NeuralGraph`` (inputs by name), or an object with a
   ``trace_target()`` method (``StaticGraph``).
2. With ``dynamic=True`` (the default) the axes the inputs' neural types call Batch are one
   dynamic size shared by every input (lengths tensors included), Time and Sequence axes are
   dynamic, and every other axis keeps its example size (``torch.export.Dim``).
3. The program is serialised (``torch.export.save``; ``torch.onnx.export(..., dynamo=True)``)
   and what would be written is run -- loaded back with ``torch.export.load``, or in ONNX
   Runtime -- on the example inputs and, when dynamic, on a second input with another batch
   size and 1.5 times the time length; every output is compared with eager PyTorch. An
   output off by more than ``atol + rtol * |eager|`` anywhere refuses the export
   (:class:`ExportError` naming the output, the input and the largest error) and nothing is
   written.
4. The file is written atomically (it appears complete or not at all) and the
   :class:`ExportReport` -- the largest absolute error per output and input -- is printed
   and returned.

ONNX needs the ``export`` extra: ``pip install "ganglion-core[export]"`` (onnx, onnxscript,
onnxruntime).
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganglion.graph.errors import GraphError
from ganglion.graph.op_view import Traced, trace

__all__ = ["ExportError", "ExportReport", "export", "resized_inputs"]

FORMATS = ("onnx", "torch")
_SUFFIXES = {".onnx": "onnx", ".pt2": "torch"}
#: the packages each format needs beyond torch, and the extra that installs them
_NEEDS = {"onnx": ("onnx", "onnxscript", "onnxruntime"), "torch": ()}


class ExportError(GraphError):
    """An export that could not be made, or was refused by its check."""


@dataclass
class ExportCheck:
    """One comparison with eager PyTorch: the inputs' description and, per output, the
    largest absolute error."""

    inputs: str
    errors: dict[str, float]


@dataclass
class ExportReport:
    """What :func:`export` wrote and how close the exported program came to eager."""

    path: Path
    format: str
    what: str
    #: input name -> {axis index: "batch" | "time"} for the dynamic axes
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    checks: list[ExportCheck] = field(default_factory=list)
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def max_error(self) -> float:
        """The largest absolute error over every check and output."""
        return max((e for c in self.checks for e in c.errors.values()), default=0.0)

    def __str__(self) -> str:
        lines = [f"exported {self.what} -> {self.path} ({self.format})"]
        if self.dynamic_axes:
            axes = "; ".join(
                f"{name}[{', '.join(f'{i}:{k}' for i, k in dims.items())}]"
                for name, dims in self.dynamic_axes.items()
            )
            lines.append(f"  dynamic axes: {axes}")
        else:
            lines.append("  dynamic axes: none (static shapes)")
        runner = "ONNX Runtime" if self.format == "onnx" else "torch.export.load"
        lines.append(
            f"  checked with {runner} against eager (atol {self.atol:g}, rtol {self.rtol:g}):"
        )
        for check in self.checks:
            errors = ", ".join(f"{name} {err:.3g}" for name, err in check.errors.items())
            lines.append(f"    {check.inputs}: largest abs error {errors}")
        return "\n".join(lines)


def export(
    obj: Any,
    path: str | Path,
    format: str | None = None,
    *,
    example_inputs: Any = None,
    dynamic: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    metadata: dict[str, str] | None = None,
    verbose: bool = True,
) -> ExportReport:
    """Export ``obj`` to ``path`` as ONNX (``format="onnx"``) or torch.export's ``.pt2``
    (``format="torch"``), checked against eager first (see the module docstring).

    ``format`` defaults to the path's suffix (``.onnx``, ``.pt2``), else ``"onnx"``.
    ``metadata`` (strings) is stored in the file: ONNX ``metadata_props``, or
    ``metadata.json`` among the ``.pt2``'s extra files. Returns the :class:`ExportReport`
    (printed too unless ``verbose=False``).
    """
    path = Path(path)
    if format is None:
        format = _SUFFIXES.get(path.suffix.lower(), "onnx")
    if format not in FORMATS:
        raise ExportError(f"export format {format!r} is not known; choose 'onnx' or 'torch'")
    require_packages(format)
    args, kwargs = _split_example(example_inputs)
    target_modes = _eval_mode(obj)
    try:
        with torch.no_grad():
            try:
                traced = trace(obj, args, kwargs, dynamic=dynamic)
            except ExportError:
                raise
            except GraphError as exc:
                raise ExportError(f"{exc}; nothing was written to {path}") from exc
            data, runner = _serialise(traced, format, dict(metadata or {}))
            report = ExportReport(
                path, format, traced.what, _axes_of(traced.dynamic_shapes), rtol=rtol, atol=atol
            )
            cases = [("example inputs", traced.inputs)]
            if traced.dynamic_shapes is not None:
                other = resized_inputs(traced.inputs, traced.dynamic_shapes, traced.input_types)
                cases.append(("other sizes", other))
            for label, inputs in cases:
                label = f"{label} ({_sizes(inputs, traced.dynamic_shapes)})"
                report.checks.append(
                    _check(traced, runner, inputs, label, rtol=rtol, atol=atol, path=path)
                )
    finally:
        for module, training in target_modes:
            module.train(training)
    from ganglion.archive.atomic import atomic_output

    with atomic_output(path) as out:
        out.write(data)
    if verbose:
        print(report)
    return report


def require_packages(format: str) -> None:
    """Refuse, naming the extra to install, when a package ``format`` needs is missing."""
    missing = [name for name in _NEEDS[format] if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(
            f"{format.upper()} export needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install the export "
            "extra: pip install 'ganglion-core[export]'"
        )


def _split_example(example: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if example is None:
        return (), {}
    if isinstance(example, dict):
        return (), dict(example)
    if isinstance(example, torch.Tensor):
        return (example,), {}
    return tuple(example), {}


def _eval_mode(obj: Any) -> list[tuple[torch.nn.Module, bool]]:
    """Put every module of ``obj`` (or its trace target) in eval mode; the modes to restore."""
    from ganglion.graph.op_view import resolve_target

    target = resolve_target(obj)
    modes = [(m, m.training) for m in target.modules()]
    target.eval()
    return modes


# -- serialising and running what is written --------------------------------------------
def _serialise(traced: Traced, format: str, metadata: dict[str, str]) -> tuple[bytes, Any]:
    """The file's bytes and a function running them on inputs by name (flat outputs)."""
    if format == "torch":
        import json

        buffer = io.BytesIO()
        extra = {"metadata.json": json.dumps(metadata, sort_keys=True)} if metadata else None
        torch.export.save(traced.program, buffer, extra_files=extra)
        data = buffer.getvalue()
        loaded = torch.export.load(io.BytesIO(data)).module()

        def run_pt2(inputs: dict[str, Any]) -> list[Any]:
            args, kwargs = traced.call_args(inputs)
            return _flat(loaded(*args, **kwargs))

        return data, run_pt2
    return _serialise_onnx(traced, metadata)


def _serialise_onnx(traced: Traced, metadata: dict[str, str]) -> tuple[bytes, Any]:
    import warnings

    import onnxruntime

    names = _output_names(traced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                traced.program, dynamo=True, output_names=names, verbose=False
            )
        except Exception as exc:
            raise ExportError(
                f"torch.onnx could not convert {traced.what}: {type(exc).__name__}: "
                f"{_first_line(exc)}"
            ) from exc
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    data = proto.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = [i.name for i in session.get_inputs()]

    def run_onnx(inputs: dict[str, Any]) -> list[Any]:
        values = [v for v in _flat(inputs) if isinstance(v, torch.Tensor)]
        if len(values) != len(feeds):
            raise ExportError(
                f"the ONNX model of {traced.what} takes {len(feeds)} inputs "
                f"({', '.join(feeds)}), but {len(values)} tensors were given"
            )
        arrays = {n: v.detach().cpu().numpy() for n, v in zip(feeds, values)}
        return [torch.from_numpy(a) for a in session.run(None, arrays)]

    return data, run_onnx


def _output_names(traced: Traced) -> list[str] | None:
    output = next(n for n in traced.program.graph.nodes if n.op == "output")
    count = len(output.args[0])
    names = list(traced.output_types)
    return names if len(names) == count else None


def _flat(value: Any) -> list[Any]:
    from torch.utils._pytree import tree_flatten

    return tree_flatten(value)[0]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


# -- checking -----------------------------------------------------------------------------
def _check(
    traced: Traced,
    runner: Any,
    inputs: dict[str, Any],
    label: str,
    *,
    rtol: float,
    atol: float,
    path: Path,
) -> ExportCheck:
    expected = [v for v in _flat(traced.module(**inputs)) if isinstance(v, torch.Tensor)]
    try:
        got = runner(inputs)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"the exported {traced.what} does not run on the {label}: {type(exc).__name__}: "
            f"{_first_line(exc)}; nothing was written to {path}"
        ) from exc
    names = _output_names(traced) or [f"output_{i}" for i in range(len(expected))]
    if len(got) != len(expected):
        raise ExportError(
            f"the exported {traced.what} returns {len(got)} outputs on the {label}, eager "
            f"{len(expected)}; nothing was written to {path}"
        )
    errors = {}
    for name, want, have in zip(names, expected, got):
        errors[name], within = compare(want, have, rtol=rtol, atol=atol)
        if not within:
            raise ExportError(
                f"export of {traced.what} refused: output {name!r} differs from eager by up "
                f"to {errors[name]:.3g} (largest absolute error) on the {label}, beyond atol "
                f"{atol:g} + rtol {rtol:g} x |eager|; nothing was written to {path}. Loosen "
                "rtol/atol if the difference is expected (reduced precision, another runtime)"
            )
    return ExportCheck(label, errors)


def compare(
    expected: torch.Tensor, got: torch.Tensor, *, rtol: float, atol: float
) -> tuple[float, bool]:
    """The largest absolute error of ``got`` against ``expected``, and whether every element
    is within ``atol + rtol * |expected|`` (a shape or dtype kind mismatch is an infinite
    error)."""
    got = torch.as_tensor(got)
    if tuple(got.shape) != tuple(expected.shape):
        return float("inf"), False
    if expected.numel() == 0:
        return 0.0, True
    want = expected.detach().cpu().double()
    have = got.detach().cpu().double()
    diff = (want - have).abs()
    nan_mismatch = bool((want.isnan() != have.isnan()).any())
    diff = torch.where(want.isnan() & have.isnan(), torch.zeros_like(diff), diff)
    largest = float(diff.max())
    within = not nan_mismatch and bool((diff <= atol + rtol * want.abs()).all())
    return largest, within


# -- a second input of other sizes --------------------------------------------------------
def resized_inputs(
    inputs: dict[str, Any], dynamic_shapes: dict[str, Any], types: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``inputs`` with one more batch row and 1.5 times the length on every dynamic Time /
    Sequence axis: values repeat the example's (rows and frames taken cyclically), so ids
    stay valid; lengths tensors (``LengthsType``) are scaled by the same 1.5."""
    from torch.export import Dim

    types = types or {}

    def resize(value: Any, spec: Any, port_type: Any) -> Any:
        if isinstance(value, (list, tuple)) and isinstance(spec, (list, tuple)):
            return type(value)(resize(v, s, port_type) for v, s in zip(value, spec))
        if not isinstance(value, torch.Tensor) or not spec:
            return value
        out = value
        for axis, dim in spec.items():
            size = value.shape[axis]
            if dim is Dim.DYNAMIC:
                new = max(size * 3 // 2, size + 1)
            else:
                new = size + 1
            index = torch.arange(new, device=value.device) % size
            out = out.index_select(axis, index)
        element = getattr(getattr(value, "neural_type", None) or port_type, "elements_type", None)
        if type(element).__name__ == "LengthsType":
            out = out * 3 // 2 if _any_time(dynamic_shapes) else out
        return out

    return {
        name: resize(value, dynamic_shapes.get(name), types.get(name))
        for name, value in inputs.items()
    }


def _any_time(dynamic_shapes: dict[str, Any]) -> bool:
    from torch.export import Dim

    def walk(spec: Any) -> bool:
        if isinstance(spec, (list, tuple)):
            return any(walk(s) for s in spec)
        return isinstance(spec, dict) and any(d is Dim.DYNAMIC for d in spec.values())

    return any(walk(s) for s in dynamic_shapes.values())


def _axes_of(dynamic_shapes: dict[str, Any] | None) -> dict[str, dict[int, str]]:
    from torch.export import Dim

    axes: dict[str, dict[int, str]] = {}
    for name, spec in (dynamic_shapes or {}).items():
        if isinstance(spec, dict):
            axes[name] = {i: "time" if d is Dim.DYNAMIC else "batch" for i, d in spec.items()}
    return axes


def _sizes(inputs: dict[str, Any], dynamic_shapes: dict[str, Any] | None) -> str:
    """``batch 2, time 16`` from the first input with each dynamic axis kind."""
    from torch.export import Dim

    found: dict[str, int] = {}
    for name, spec in (dynamic_shapes or {}).items():
        value = inputs.get(name)
        if not isinstance(spec, dict) or not isinstance(value, torch.Tensor):
            continue
        for axis, dim in spec.items():
            kind = "time" if dim is Dim.DYNAMIC else "batch"
            found.setdefault(kind, int(value.shape[axis]))
    if not found:
        shapes = [tuple(v.shape) for v in _flat(inputs) if isinstance(v, torch.Tensor)]
        return "shapes " + ", ".join(str(list(s)) for s in shapes)
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
