"""``StaticGraph.verify``: the eager ``build`` and the compiled one side by side on the same
inputs, and how far they drift apart.

Both runs start from the same weights, buffers, gradients and random-number state; after
each run everything is put back in place (``copy_`` into the same tensors, so the compiled
code's guards still hold), so verifying never changes what the next training step sees. The
optimizers, schedulers, grad scaler and ``train_step`` are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ganglion.graph.static.static_graph import StaticGraph

__all__ = ["Divergence", "VerifyReport", "verify"]


@dataclass(frozen=True)
class Divergence:
    """How far one compiled value is from its eager counterpart.

    ``max_abs`` is ``max |compiled - eager|``; ``max_rel`` is ``max |compiled - eager| / |eager|``
    over the elements where ``eager`` is not zero (``inf`` when they differ where it is);
    ``ratio`` is ``max |compiled - eager| / (atol + rtol * |eager|)``: the value is ``ok`` when
    it is at most 1 (``torch.allclose``'s rule)."""

    kind: str  # "output", "gradient" or "buffer"
    name: str
    shape: tuple[int, ...] | None
    max_abs: float
    max_rel: float
    ratio: float
    ok: bool
    note: str = ""


class VerifyReport:
    """What :meth:`StaticGraph.verify` found: one :class:`Divergence` per output, and for a
    training graph per parameter gradient (unscaled) and per updated buffer.

    ``ok`` says every value is within ``rtol``/``atol``; ``worst`` is the value furthest
    outside (or nearest to) its tolerance; ``str()`` prints an aligned table."""

    def __init__(
        self, graph: str, backend: str, entries: list[Divergence], rtol: float, atol: float
    ) -> None:
        self.graph = graph
        self.backend = backend
        self.entries = entries
        self.rtol = rtol
        self.atol = atol

    @property
    def ok(self) -> bool:
        """Whether every output (and gradient, and buffer) agrees within tolerance."""
        return all(e.ok for e in self.entries)

    @property
    def worst(self) -> Divergence | None:
        """The entry with the largest divergence relative to its tolerance."""
        if not self.entries:
            return None
        return max(self.entries, key=lambda e: (not e.ok, _sortable(e.ratio)))

    @property
    def outputs(self) -> list[Divergence]:
        return [e for e in self.entries if e.kind == "output"]

    @property
    def gradients(self) -> list[Divergence]:
        return [e for e in self.entries if e.kind == "gradient"]

    @property
    def buffers(self) -> list[Divergence]:
        return [e for e in self.entries if e.kind == "buffer"]

    def __getitem__(self, name: str) -> Divergence:
        for entry in self.entries:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.entries)
        raise KeyError(f"verify report of {self.graph} has no entry {name!r}; entries: {known}")

    def __str__(self) -> str:
        head = (
            f"verify {self.graph} (eager vs compiled with {self.backend}, "
            f"rtol {self.rtol:g}, atol {self.atol:g}): "
        )
        worst = self.worst
        if worst is None:
            return head + "nothing to compare"
        head += "ok" if self.ok else "DIVERGES"
        head += f"; worst {worst.kind} {worst.name}: max abs {_num(worst.max_abs)}"
        rows = [("kind", "name", "shape", "max abs", "max rel", "ok", "")]
        for e in self.entries:
            shape = "-" if e.shape is None else str(list(e.shape))
            rows.append(
                (
                    e.kind,
                    e.name,
                    shape,
                    _num(e.max_abs),
                    _num(e.max_rel),
                    "yes" if e.ok else "NO",
                    e.note,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        right = {3, 4}
        lines = [head]
        for row in rows:
            cells = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        worst = self.worst
        where = f", worst {worst.name} abs {_num(worst.max_abs)}" if worst is not None else ""
        return f"VerifyReport({self.graph}: {'ok' if self.ok else 'diverges'}, {len(self.entries)} values{where})"


def verify(
    graph: StaticGraph, args: tuple[Any, ...], kwargs: dict[str, Any], rtol: float, atol: float
) -> VerifyReport:
    """Run ``graph.build`` eagerly and compiled on ``args``/``kwargs`` and compare."""
    from ganglion.graph.errors import GraphError
    from ganglion.graph.static.compiling import mark_dynamic
    from ganglion.graph.static.scaling import BackwardScaling
    from ganglion.graph.static.static_graph import StaticGraph, _split

    if type(graph).build is StaticGraph.build:
        raise GraphError(f"{type(graph).__name__} does not define build(); define it")
    if not (rtol >= 0 and atol >= 0):
        raise GraphError(f"{graph.name}.verify: rtol and atol must be >= 0, got {rtol}, {atol}")
    if graph._compiled is None:
        graph._compile(args, kwargs)
    if graph._first_call_compiles is None:  # compile for the shapes the first call will see
        mark_dynamic(graph.build, graph._dynamic, args, kwargs)

    training = graph.is_training
    steps = graph.config.gradient_accumulation_steps if training else 1
    micro = _split(args, kwargs, steps, graph.name) if steps > 1 else [(args, kwargs)]
    scale = 1.0
    if training and graph._grad_scaler is not None and graph._grad_scaler.is_enabled():
        scale = float(graph._grad_scaler.get_scale())  # read only: the scaler is not touched
    params = _named_parameters(graph)
    buffers = _named_buffers(graph)
    snapshot = _Snapshot(params, buffers)

    def run(step: Any) -> tuple[Any, dict[str, torch.Tensor | None], dict[str, torch.Tensor]]:
        snapshot.reset()
        outs = []
        with graph._autocast():
            if training:
                factor = torch.tensor(scale / steps, device=graph._device())
                with getattr(graph, "_scaling", BackwardScaling)(factor):
                    for margs, mkwargs in micro:
                        outs.append(step(*margs, **mkwargs))
            else:
                with torch.no_grad():
                    outs.append(step(*args, **kwargs))
        grads = {
            name: None if p.grad is None else p.grad.detach().float() / scale
            for name, p in params.items()
        }
        after = {name: b.detach().clone() for name, b in buffers.items()}
        if training and steps > 1 and all(isinstance(o, torch.Tensor) for o in outs):
            out: Any = torch.stack([o.detach() for o in outs])
        else:
            out = _detached(outs[0]) if len(outs) == 1 else [_detached(o) for o in outs]
        return out, grads, after

    try:
        eager_out, eager_grads, eager_buffers = run(graph.build)
        compiled_out, compiled_grads, compiled_buffers = run(graph._compiled)
    finally:
        snapshot.restore()

    entries = list(_compare_tree("output", "out", eager_out, compiled_out, rtol, atol))
    if training:
        for name in params:
            e, c = eager_grads[name], compiled_grads[name]
            if e is None and c is None:
                continue
            entries.extend(_compare_tree("gradient", name, e, c, rtol, atol))
    for name, before in snapshot.buffers.items():
        e, c = eager_buffers[name], compiled_buffers[name]
        if torch.equal(e, before) and torch.equal(c, before):
            continue  # not updated by the step (only running statistics and the like are shown)
        entries.extend(_compare_tree("buffer", name, e, c, rtol, atol))
    return VerifyReport(graph.name, graph.config.backend, entries, rtol, atol)


class _Snapshot:
    """Weights, buffers, gradients and random-number state, put back in place after a run."""

    def __init__(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]) -> None:
        self.params = params
        self.values = {name: p.detach().clone() for name, p in params.items()}
        self.grads = {name: p.grad for name, p in params.items()}
        self.buffers = {name: b.detach().clone() for name, b in buffers.items()}
        self.buffer_refs = buffers
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def reset(self) -> None:
        """The state before a run: saved values, no gradients, the saved random state."""
        self._copy_back()
        for p in self.params.values():
            p.grad = None
        self._rng_back()

    def restore(self) -> None:
        """Everything as it was before verify, the original gradient tensors included."""
        self._copy_back()
        for name, p in self.params.items():
            p.grad = self.grads[name]
        self._rng_back()

    def _copy_back(self) -> None:
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(self.values[name])
            for name, b in self.buffer_refs.items():
                b.copy_(self.buffers[name])

    def _rng_back(self) -> None:
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)


def _named_parameters(graph: StaticGraph) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for module_name, module in graph._modules.items():
        for name, p in module.named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out[f"{module_name}.{name}"] = p
    return out


def _named_buffers(graph: StaticGraph) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for module_name, module in graph._modules.items():
        for name, b in module.named_buffers():
            if id(b) not in seen:
                seen.add(id(b))
                out[f"{module_name}.{name}"] = b
    return out


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        items = [_detached(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_detached(v) for v in value]
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


def _compare_tree(
    kind: str, name: str, eager: Any, compiled: Any, rtol: float, atol: float
) -> Iterator[Divergence]:
    if isinstance(eager, torch.Tensor) or isinstance(compiled, torch.Tensor):
        yield _compare_tensor(kind, name, eager, compiled, rtol, atol)
    elif isinstance(eager, (tuple, list)) and isinstance(compiled, (tuple, list)):
        if type(eager) is not type(compiled) or len(eager) != len(compiled):
            yield _mismatch(kind, name, f"eager gives {_what(eager)}, compiled {_what(compiled)}")
            return
        for i, (e, c) in enumerate(zip(eager, compiled)):
            yield from _compare_tree(kind, f"{name}[{i}]", e, c, rtol, atol)
    elif isinstance(eager, dict) and isinstance(compiled, dict):
        if list(eager) != list(compiled):
            yield _mismatch(kind, name, f"keys {list(eager)} (eager) vs {list(compiled)}")
            return
        for key in eager:
            yield from _compare_tree(
                kind, f"{name}[{key!r}]", eager[key], compiled[key], rtol, atol
            )
    elif eager is None and compiled is None:
        return
    else:
        same = type(eager) is type(compiled) and eager == compiled
        yield Divergence(
            kind, name, None, 0.0 if same else math.inf, 0.0 if same else math.inf,
            0.0 if same else math.inf, bool(same), "" if same else f"{eager!r} vs {compiled!r}",
        )  # fmt: skip


def _compare_tensor(
    kind: str, name: str, eager: Any, compiled: Any, rtol: float, atol: float
) -> Divergence:
    if not (isinstance(eager, torch.Tensor) and isinstance(compiled, torch.Tensor)):
        return _mismatch(kind, name, f"eager gives {_what(eager)}, compiled {_what(compiled)}")
    shape = tuple(eager.shape)
    if eager.shape != compiled.shape:
        return _mismatch(
            kind, name, f"shape {list(eager.shape)} (eager) vs {list(compiled.shape)}", shape
        )
    note = "" if eager.dtype == compiled.dtype else f"dtype {eager.dtype} vs {compiled.dtype}"
    if eager.numel() == 0:
        return Divergence(kind, name, shape, 0.0, 0.0, 0.0, True, note)
    e = eager.detach().to(torch.float64)
    c = compiled.detach().to(torch.float64)
    both_nan = torch.isnan(e) & torch.isnan(c)
    diff = torch.where(both_nan, torch.zeros_like(e), (c - e).abs())
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
    diff = torch.where(e == c, torch.zeros_like(diff), diff)  # equal infinities
    max_abs = float(diff.max())
    nonzero = e != 0
    rel = diff[nonzero] / e[nonzero].abs()
    max_rel = float(rel.max()) if rel.numel() else 0.0
    if bool(((diff > 0) & ~nonzero).any()):
        max_rel = math.inf
    bound = atol + rtol * e.abs()
    ratio_t = torch.where(diff == 0, torch.zeros_like(diff), diff / bound)
    ratio = float(ratio_t.max())
    return Divergence(kind, name, shape, max_abs, max_rel, ratio, ratio <= 1.0, note)


def _mismatch(kind: str, name: str, note: str, shape: tuple[int, ...] | None = None) -> Divergence:
    return Divergence(kind, name, shape, math.inf, math.inf, math.inf, False, note)


def _what(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)}"
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__ if value is not None else "None"


def _num(value: float) -> str:
    return f"{value:.3e}" if math.isfinite(value) else str(value)


def _sortable(value: float) -> float:
    return math.inf if math.isnan(value) else value
