"""``GraphConfig``: a static graph's options, each mapped onto a real PyTorch mechanism.

| OneFlow option | what it does here |
|---|---|
| ``set_backend(name)`` | ``torch.compile(backend=name)``: ``inductor`` (default; C++/Triton code), ``aot_eager`` (AOTAutograd graphs run by eager kernels), ``eager`` (Dynamo graphs only) |
| ``enable_amp(mode, dtype)`` | ``torch.autocast(device_type, dtype)`` around the step (default dtype float16 on CUDA, bfloat16 elsewhere) |
| ``set_gradient_accumulation_steps(n)`` | the batch split into ``n`` micro-batches along dim 0; each loss scaled by ``1/n`` before ``backward``; one optimizer step per call |
| ``enable_zero(mode, stage, shard_min_size)`` | stage 1: ``torch.distributed.optim.ZeroRedundancyOptimizer``; stages 2-3: FSDP (``torch.distributed.fsdp.fully_shard``) on modules with at least ``shard_min_size`` parameters; only when ``torch.distributed`` is initialised (else a warning, no effect) |
| ``allow_fuse_model_update_ops(mode)`` | the optimizers' multi-tensor update (``foreach=True`` in each param group that has the key) |
| ``allow_fuse_add_to_output(mode)`` | inductor's ``epilogue_fusion`` (adds and pointwise ops fused into the producing kernel) |
| ``allow_fuse_cast_scale(mode)`` | inductor's ``pattern_matcher`` (casts and scalings folded into neighbouring kernels) |
| ``enable_cudnn_conv_heuristic_search_algo(mode)`` | ``torch.backends.cudnn.benchmark = not mode`` (heuristics instead of timing every algorithm); CUDA only |
| ``enable_straighten_algorithm(mode)`` | inductor's ``reorder_for_locality`` (kernels reordered to keep producers beside consumers) |
| ``enable_compress_memory(mode)`` | inductor's ``reorder_for_peak_memory`` and ``memory_planning`` (buffer reuse planned for the lowest peak) |

Inductor options have no effect with the ``aot_eager`` and ``eager`` backends, and the cuDNN
option none without CUDA: :meth:`GraphConfig.effects` (and the graph's ``repr``) says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BACKENDS", "GraphConfig"]

BACKENDS = ("inductor", "aot_eager", "eager")

#: option -> (inductor config keys it sets, what it maps onto)
_INDUCTOR_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "allow_fuse_add_to_output": (("epilogue_fusion",), "inductor epilogue_fusion"),
    "allow_fuse_cast_scale": (("pattern_matcher",), "inductor pattern_matcher"),
    "enable_straighten_algorithm": (("reorder_for_locality",), "inductor reorder_for_locality"),
    "enable_compress_memory": (
        ("reorder_for_peak_memory", "memory_planning"),
        "inductor reorder_for_peak_memory + memory_planning",
    ),
}


@dataclass
class GraphConfig:
    """The options of one :class:`~ganglion.graph.static.StaticGraph` (OneFlow's names)."""

    backend: str = "inductor"
    amp: bool = False
    amp_dtype: Any = None
    gradient_accumulation_steps: int = 1
    zero: bool = False
    zero_stage: int = 1
    zero_shard_min_size: int = 1024
    fuse_model_update_ops: bool = False
    cudnn_conv_heuristic_search_algo: bool = True
    #: the inductor options set explicitly (option name -> on/off)
    inductor: dict[str, bool] = field(default_factory=dict)
    _frozen: bool = field(default=False, repr=False)

    # -- setters (OneFlow's names) -----------------------------------------------------------
    def set_backend(self, backend: str) -> None:
        """The ``torch.compile`` backend: ``inductor`` (default), ``aot_eager`` or ``eager``."""
        from ganglion.graph.errors import GraphError

        if backend not in BACKENDS:
            from ganglion.errors import did_you_mean

            raise GraphError(
                f"config.set_backend: {backend!r} is not a backend.{did_you_mean(str(backend), BACKENDS)} "
                f"Choose one of {', '.join(BACKENDS)}."
            )
        self._check_open("set_backend")
        self.backend = backend

    def enable_amp(self, mode: bool = True, *, dtype: Any = None) -> None:
        """Autocast the step (``torch.autocast``); ``dtype`` defaults to float16 on CUDA and
        bfloat16 elsewhere (slow on CPUs without native bfloat16)."""
        self._check_open("enable_amp")
        self.amp = bool(mode)
        self.amp_dtype = dtype

    def set_gradient_accumulation_steps(self, value: int) -> None:
        """Split each batch into ``value`` micro-batches along dim 0: one optimizer step per
        call, each micro-batch's loss scaled by ``1/value``."""
        from ganglion.graph.errors import GraphError

        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GraphError(
                f"config.set_gradient_accumulation_steps: expected a whole number >= 1, got "
                f"{value!r}"
            )
        self._check_open("set_gradient_accumulation_steps")
        self.gradient_accumulation_steps = value

    def enable_zero(self, mode: bool = True, *, stage: int = 1, shard_min_size: int = 1024) -> None:
        """Shard optimizer state (stage 1) or also gradients and parameters (2, 3) across the
        processes of ``torch.distributed``; no effect (and a warning) when not distributed."""
        from ganglion.graph.errors import GraphError

        if stage not in (1, 2, 3):
            raise GraphError(f"config.enable_zero: stage must be 1, 2 or 3, got {stage!r}")
        self._check_open("enable_zero")
        self.zero, self.zero_stage, self.zero_shard_min_size = bool(mode), stage, shard_min_size

    def allow_fuse_model_update_ops(self, mode: bool = True) -> None:
        """The optimizers' multi-tensor (``foreach``) update."""
        self._check_open("allow_fuse_model_update_ops")
        self.fuse_model_update_ops = bool(mode)

    def allow_fuse_add_to_output(self, mode: bool = True) -> None:
        """Inductor's epilogue fusion."""
        self._set_inductor("allow_fuse_add_to_output", mode)

    def allow_fuse_cast_scale(self, mode: bool = True) -> None:
        """Inductor's pattern matcher."""
        self._set_inductor("allow_fuse_cast_scale", mode)

    def enable_cudnn_conv_heuristic_search_algo(self, mode: bool = True) -> None:
        """cuDNN picks convolution algorithms by heuristics (``True``) or by timing them."""
        self._check_open("enable_cudnn_conv_heuristic_search_algo")
        self.cudnn_conv_heuristic_search_algo = bool(mode)

    def enable_straighten_algorithm(self, mode: bool = True) -> None:
        """Inductor's kernel reordering for locality."""
        self._set_inductor("enable_straighten_algorithm", mode)

    def enable_compress_memory(self, mode: bool = True) -> None:
        """Inductor's peak-memory reordering and memory planning."""
        self._set_inductor("enable_compress_memory", mode)

    # -- what they do ------------------------------------------------------------------------
    def inductor_options(self) -> dict[str, bool]:
        """The ``torch.compile(options=...)`` these settings give (inductor only)."""
        options: dict[str, bool] = {}
        for name, on in self.inductor.items():
            for key in _INDUCTOR_OPTIONS[name][0]:
                options[key] = on
        return options

    def effects(self, *, cuda: bool = False) -> list[tuple[str, str, str]]:
        """``(option, setting, effect)`` for every option set, the effect saying what it maps
        onto or that it has none with this backend/device."""
        rows = [("backend", self.backend, f"torch.compile(backend={self.backend!r})")]
        if self.amp:
            rows.append(("enable_amp", str(self.amp_dtype or "default"), "torch.autocast"))
        if self.gradient_accumulation_steps > 1:
            rows.append(
                (
                    "set_gradient_accumulation_steps",
                    str(self.gradient_accumulation_steps),
                    "micro-batches along dim 0, loss * 1/n",
                )
            )
        if self.zero:
            rows.append(
                (
                    "enable_zero",
                    f"stage {self.zero_stage}",
                    "ZeroRedundancyOptimizer / FSDP when torch.distributed is initialised",
                )
            )
        if self.fuse_model_update_ops:
            rows.append(("allow_fuse_model_update_ops", "on", "optimizer foreach=True"))
        for name, on in self.inductor.items():
            target = _INDUCTOR_OPTIONS[name][1]
            effect = target if self.backend == "inductor" else f"no effect with {self.backend}"
            rows.append((name, "on" if on else "off", effect))
        if not self.cudnn_conv_heuristic_search_algo:
            rows.append(
                (
                    "enable_cudnn_conv_heuristic_search_algo",
                    "off",
                    "torch.backends.cudnn.benchmark" if cuda else "no effect without CUDA",
                )
            )
        return rows

    def _set_inductor(self, name: str, mode: bool) -> None:
        self._check_open(name)
        self.inductor[name] = bool(mode)

    def _check_open(self, what: str) -> None:
        if self._frozen:
            from ganglion.graph.errors import GraphFrozenError

            raise GraphFrozenError(
                f"config.{what}: the graph is already compiled; set options before its first call"
            )
