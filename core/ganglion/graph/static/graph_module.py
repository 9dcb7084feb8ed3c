"""Per-module options of a static graph (OneFlow's ``GraphModule``) and the proxy through
which ``build`` calls each registered module."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["GraphModule", "ModuleProxy"]


class GraphModule:
    """Options for one module of a :class:`~ganglion.graph.static.StaticGraph`, from
    ``graph.graph_module("name")``.

    - ``activation_checkpointing = True``: the module's activations are not kept for
      backward but recomputed (``torch.utils.checkpoint.checkpoint(use_reentrant=False)``),
      trading compute for peak memory.
    - ``set_stage(stage_id, placement=None)``: the pipeline stage the module belongs to
      (``torch.distributed.pipelining`` when distributed; recorded and shown otherwise).
    """

    def __init__(self, name: str, module: torch.nn.Module) -> None:
        self.name = name
        self.module = module
        self._activation_checkpointing = False
        self.stage_id: int | None = None
        self.placement: Any = None
        self._frozen = False

    @property
    def activation_checkpointing(self) -> bool:
        """Whether the module's activations are recomputed in backward."""
        return self._activation_checkpointing

    @activation_checkpointing.setter
    def activation_checkpointing(self, mode: bool) -> None:
        self._check_open("activation_checkpointing")
        self._activation_checkpointing = bool(mode)

    def set_stage(self, stage_id: int, placement: Any = None) -> None:
        """Put the module in pipeline stage ``stage_id`` (``placement``: its device(s))."""
        from ganglion.graph.errors import GraphError

        if isinstance(stage_id, bool) or not isinstance(stage_id, int) or stage_id < 0:
            raise GraphError(
                f"{self.name}.set_stage: stage_id must be an int >= 0, got {stage_id!r}"
            )
        self._check_open("set_stage")
        self.stage_id, self.placement = stage_id, placement

    def describe(self) -> str:
        """The options set, for ``repr``."""
        parts = []
        if self._activation_checkpointing:
            parts.append("activation_checkpointing (recomputed in backward)")
        if self.stage_id is not None:
            where = f", placement {self.placement}" if self.placement is not None else ""
            parts.append(f"stage {self.stage_id}{where}")
        return ", ".join(parts)

    def _check_open(self, what: str) -> None:
        if self._frozen:
            from ganglion.graph.errors import GraphFrozenError

            raise GraphFrozenError(
                f"{self.name}.{what}: the graph is already compiled; set module options "
                "before its first call"
            )

    def __repr__(self) -> str:
        return f"GraphModule({self.name}: {type(self.module).__name__}{'; ' + self.describe() if self.describe() else ''})"


class ModuleProxy:
    """What ``self.<name>`` gives inside a static graph: calls the module with its options
    applied; every other attribute is the module's own."""

    def __init__(self, handle: GraphModule) -> None:
        self.__dict__["_handle"] = handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        handle = self._handle
        if handle._activation_checkpointing and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            return checkpoint(handle.module, *args, use_reentrant=False, **kwargs)
        return handle.module(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle.module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._handle.module, name, value)

    # containers (ModuleList, Sequential, ModuleDict): special methods are looked up on the
    # type, so __getattr__ alone does not forward them
    def __iter__(self) -> Any:
        return iter(self._handle.module)

    def __len__(self) -> int:
        return len(self._handle.module)

    def __getitem__(self, key: Any) -> Any:
        return self._handle.module[key]

    def __repr__(self) -> str:
        return f"ModuleProxy({self._handle.module!r})"
