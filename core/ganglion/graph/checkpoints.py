"""Graph checkpoints: the weights of a graph's modules in one safetensors file.

Keys are ``<module name>.<state-dict key>``; the metadata lists the modules. No pickle is
written or read. Writing is atomic (a temp file renamed into place); reading checks every
requested module's keys and shapes before any weight changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganglion.errors import did_you_mean
from ganglion.graph.errors import GraphCheckpointError

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = ["load_weights", "save_weights"]

_FORMAT = "ganglion.graph.weights"


def _trainable(graph: NeuralGraph) -> list[str]:
    """Modules with parameters (frozen ones included: their weights are still theirs)."""
    return [
        name for name, m in graph.graph_modules.items() if next(m.parameters(), None) is not None
    ]


def _select(graph: NeuralGraph, module_names: Iterable[str] | None, what: str) -> list[str]:
    if module_names is None:
        return _trainable(graph)
    names = [module_names] if isinstance(module_names, str) else list(module_names)
    for name in names:
        if name not in graph.graph_modules:
            raise GraphCheckpointError(
                f"{what}: graph {graph.name!r} has no module {name!r}."
                f"{did_you_mean(name, graph.graph_modules)} Modules: "
                f"{', '.join(graph.graph_modules)}."
            )
    return names


def save_weights(
    graph: NeuralGraph, filename: str | Path, module_names: Iterable[str] | None
) -> Path:
    """Write the named modules' state dicts (default: every module with parameters)."""
    from safetensors.torch import save

    from ganglion.archive.atomic import atomic_output

    path = Path(filename)
    names = _select(graph, module_names, f"{path}")
    if not names:
        raise GraphCheckpointError(
            f"{path}: graph {graph.name!r} has no module with weights to save"
        )
    tensors: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int]] = set()
    for name in names:
        for key, value in graph.graph_modules[name].state_dict().items():
            tensor = value.detach().cpu().contiguous()
            ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
            if ident in seen:  # a weight shared between modules: safetensors wants copies
                tensor = tensor.clone()
            seen.add(ident)
            tensors[f"{name}.{key}"] = tensor
    data = save(
        tensors, metadata={"format": _FORMAT, "graph": graph.name, "modules": ",".join(names)}
    )
    try:
        with atomic_output(path) as out:
            out.write(data)
    except OSError as exc:
        raise GraphCheckpointError(f"{path}: cannot write the checkpoint: {exc.strerror}") from None
    return path


def _read(path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The metadata and a lazy reader of ``path``."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise GraphCheckpointError(f"{path}: no such checkpoint file")
    try:
        handle = safe_open(str(path), framework="pt")
    except (SafetensorError, OSError, ValueError) as exc:
        raise GraphCheckpointError(
            f"{path}: not a graph checkpoint (a safetensors file written by graph.save_to): {exc}"
        ) from None
    metadata = handle.metadata() or {}
    if metadata.get("format") != _FORMAT:
        raise GraphCheckpointError(
            f"{path}: a safetensors file, but not a graph checkpoint (no format "
            f"{_FORMAT!r} in its metadata); write it with graph.save_to()"
        )
    return metadata, handle


def load_weights(
    graph: NeuralGraph, filename: str | Path, module_names: Iterable[str] | None
) -> None:
    """Load the named modules (default: the graph's modules with parameters)."""
    path = Path(filename)
    metadata, handle = _read(path)
    stored = [m for m in metadata.get("modules", "").split(",") if m]
    names = _select(graph, module_names, f"{path}")
    keys = set(handle.keys())
    plans = []
    for name in names:
        if name not in stored:
            raise GraphCheckpointError(
                f"{path}: the checkpoint has no weights for module {name!r} (it holds "
                f"{', '.join(stored) or 'none'}); pass module_names=[...] to restore only some"
            )
        module = graph.graph_modules[name]
        expected = module.state_dict()
        prefix = f"{name}."
        given = {k[len(prefix) :] for k in keys if k.startswith(prefix)}
        missing = sorted(set(expected) - given)
        extra = sorted(given - set(expected))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing[:5])}")
            if extra:
                parts.append(f"unexpected {', '.join(extra[:5])}")
            raise GraphCheckpointError(
                f"{path}: module {name!r} ({type(module).__name__}) does not match the "
                f"checkpoint: {'; '.join(parts)}"
            )
        for key, value in expected.items():
            shape = tuple(handle.get_slice(prefix + key).get_shape())
            if shape != tuple(value.shape):
                raise GraphCheckpointError(
                    f"{path}: {prefix}{key} has shape {list(shape)} in the checkpoint, but "
                    f"module {name!r} has {list(value.shape)}; the module was built with other "
                    "sizes"
                )
        plans.append((module, prefix, list(expected)))
    # everything checked: load
    for module, prefix, module_keys in plans:
        state = {key: handle.get_tensor(prefix + key) for key in module_keys}
        module.load_state_dict(state, strict=True)
