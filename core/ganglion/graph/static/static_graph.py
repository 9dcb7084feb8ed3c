"""``StaticGraph``: OneFlow's ``nn.Graph`` on ``torch.compile``."""

from __future__ import annotations

import itertools
import logging
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from ganglion.graph.errors import GraphError
from ganglion.graph.static.compiling import CompileLog, dynamic_axes, mark_dynamic, own_code
from ganglion.graph.static.config import GraphConfig
from ganglion.graph.static.graph_module import GraphModule, ModuleProxy
from ganglion.graph.static.scaling import BackwardScaling

__all__ = ["StaticGraph"]

_counters: dict[type, Iterator[int]] = {}
_counters_lock = threading.Lock()


def _next_name(cls: type) -> str:
    with _counters_lock:
        counter = _counters.setdefault(cls, itertools.count())
        return f"{cls.__name__}_{next(counter)}"


class StaticGraph:
    """A step compiled once and run many times (OneFlow's ``nn.Graph``).

    Subclass it: call ``super().__init__()`` first, assign the eager modules
    (``self.model = model``), describe one step in :meth:`build`, and call the instance::

        class TrainGraph(StaticGraph):
            def __init__(self):
                super().__init__()
                self.model = model
                self.add_optimizer(optimizer, lr_sch=scheduler)
                self.config.set_gradient_accumulation_steps(2)

            def build(self, x, y):
                loss = loss_fn(self.model(x), y)
                loss.backward()
                return loss

        step = TrainGraph()
        for x, y in loader:
            loss = step(x, y)      # forward, backward, clipping, optimizer, scheduler

    The first call compiles ``build`` (``torch.compile`` with the configured backend); the
    axes that the modules' neural types declare Batch/Time/Sequence are dynamic from then on,
    so new batch sizes and lengths do not recompile. A graph without optimizers is an
    evaluation graph: it runs under ``torch.no_grad``.
    """

    def __init__(self) -> None:
        state = self.__dict__
        state["_modules"] = {}
        state["_handles"] = {}
        state["config"] = GraphConfig()
        state["_optimizers"] = []
        state["_grad_scaler"] = None
        state["_compiled"] = None
        state["_scaling"] = BackwardScaling
        state["_log"] = None
        state["_first_call_compiles"] = None
        state["_dynamic"] = {}
        state["train_step"] = 0
        state["_name"] = _next_name(type(self))
        state["_debug_level"] = -1

    # -- modules ------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_modules" not in self.__dict__:
            raise GraphError(
                f"{type(self).__name__}: call super().__init__() first in __init__, before "
                f"setting {name!r}"
            )
        if isinstance(value, torch.nn.Module):
            if self._compiled is not None:
                raise GraphError(f"{self.name}: modules are added before the first call")
            handle = GraphModule(name, value)
            self._modules[name] = value
            self._handles[name] = handle
            object.__setattr__(self, name, ModuleProxy(handle))
            return
        if name in self._modules:
            raise GraphError(
                f"{self.name}: {name!r} is a module of the graph; it cannot be replaced"
            )
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # reached only when an attribute is missing: without super().__init__() every piece of
        # the graph's state is (a clear error, not an AttributeError on a private name)
        if "_modules" not in self.__dict__ and not name.startswith("__"):
            raise GraphError(
                f"{type(self).__name__}: call super().__init__() first in __init__ "
                f"(StaticGraph's state is missing: {name!r})"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def graph_module(self, name: str) -> GraphModule:
        """The per-module options of the module registered as ``name``."""
        try:
            return self._handles[name]
        except KeyError:
            from ganglion.errors import did_you_mean

            raise GraphError(
                f"{self.name} has no module {name!r}.{did_you_mean(name, self._handles)} "
                f"Modules: {', '.join(self._handles) or 'none'}."
            ) from None

    @property
    def modules(self) -> Mapping[str, torch.nn.Module]:
        """The registered modules by name."""
        return dict(self._modules)

    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """The registered modules' parameters (each once)."""
        seen: set[int] = set()
        for module in self._modules.values():
            for param in module.parameters():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield param

    @property
    def name(self) -> str:
        """``ClassName_<n>``, numbered per class."""
        return self._name

    # -- optimizers ---------------------------------------------------------------------------
    def add_optimizer(self, optimizer: torch.optim.Optimizer, *, lr_sch: Any = None) -> None:
        """Train with ``optimizer`` (and step ``lr_sch`` after it): ``build`` then calls
        ``loss.backward()`` and returns the loss. Param groups may set ``clip_grad_max_norm``
        and ``clip_grad_norm_type``. A ``ReduceLROnPlateau`` is stepped with the step's loss
        (the mean over micro-batches)."""
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise GraphError(
                f"{self.name}.add_optimizer: expected a torch.optim.Optimizer, got "
                f"{type(optimizer).__name__}"
            )
        if lr_sch is not None and getattr(lr_sch, "optimizer", optimizer) is not optimizer:
            raise GraphError(f"{self.name}.add_optimizer: lr_sch steps another optimizer")
        if self._compiled is not None:
            raise GraphError(f"{self.name}: optimizers are added before the first call")
        self._optimizers.append((optimizer, lr_sch))

    def set_grad_scaler(self, grad_scaler: Any) -> None:
        """Scale the loss before backward and unscale before the step (``torch.amp.GradScaler``
        for a dynamic scale, :class:`StaticGradScaler` for a static one)."""
        if not isinstance(grad_scaler, torch.amp.GradScaler):
            raise GraphError(
                f"{self.name}.set_grad_scaler: expected a torch.amp.GradScaler or "
                f"StaticGradScaler, got {type(grad_scaler).__name__}"
            )
        self.__dict__["_grad_scaler"] = grad_scaler

    @property
    def is_training(self) -> bool:
        """Whether the graph trains (has an optimizer)."""
        return bool(self._optimizers)

    # -- running ------------------------------------------------------------------------------
    def build(self, *args: Any, **kwargs: Any) -> Any:
        """One step; override it."""
        raise GraphError(
            f"{type(self).__name__} does not define build(); define it to describe the "
            "computation (a training graph's build calls loss.backward() and returns the loss)"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).build is StaticGraph.build:
            self.build(*args, **kwargs)  # the base build: says what to define
        if self._compiled is None:
            self._compile(args, kwargs)
        first = self._first_call_compiles is None
        if first:
            mark_dynamic(self.build, self._dynamic, args, kwargs)
        try:
            with self._autocast():
                if self._optimizers:
                    out = self._train_step(args, kwargs)
                else:
                    with torch.no_grad():
                        out = self._compiled(*args, **kwargs)
        except torch._dynamo.exc.BackendCompilerFailed as exc:
            reason = str(exc.inner_exception).strip().splitlines()
            raise GraphError(
                f"{self.name}: the {self.config.backend} backend failed to compile build: "
                f"{type(exc.inner_exception).__name__}: {reason[0] if reason else ''}. "
                "Try config.set_backend('aot_eager') (no code generation), or run with "
                "graph.debug(1) to see the operation it failed on"
            ) from exc
        if first:
            self.__dict__["_first_call_compiles"] = self._log.count
        from ganglion.graph.static.compiling import describe

        self.__dict__["_last_call"] = (describe(args), describe(kwargs), describe(out))
        return out

    def _autocast(self) -> Any:
        import contextlib

        if not self.config.amp:
            return contextlib.nullcontext()
        device = self._device()
        dtype = self.config.amp_dtype or (torch.float16 if device == "cuda" else torch.bfloat16)
        return torch.autocast(device_type=device, dtype=dtype)

    def _device(self) -> str:
        param = next(self.parameters(), None)
        return param.device.type if param is not None else "cpu"

    def _compile(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        config = self.config
        config._frozen = True
        for handle in self._handles.values():
            handle._frozen = True
        if config.fuse_model_update_ops:
            for optimizer, _ in self._optimizers:
                for group in optimizer.param_groups:
                    if "foreach" in group:
                        group["foreach"] = True
        if not config.cudnn_conv_heuristic_search_algo and torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True
        if config.zero:
            self._apply_zero()
        options = config.inductor_options() if config.backend == "inductor" else {}
        log = CompileLog(config.backend, options, self.name)
        log.verbosity = self._debug_level
        log.max_py_stack_depth, log.only_user_py_stack = self.__dict__.get(
            "_debug_stack", (2, True)
        )
        self.__dict__["_log"] = log
        self.__dict__["_dynamic"] = dynamic_axes(self.build, self._modules, args, kwargs)
        self.__dict__["_compiled"] = torch.compile(own_code(self.build), backend=log)
        self.__dict__["_scaling"] = BackwardScaling.private()

    def _apply_zero(self) -> None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            warnings.warn(
                f"{self.name}: enable_zero has no effect: torch.distributed is not "
                "initialised (one process)",
                stacklevel=4,
            )
            return
        if self.config.zero_stage == 1:
            from torch.distributed.optim import ZeroRedundancyOptimizer

            wrapped = []
            for optimizer, scheduler in self._optimizers:
                zero = ZeroRedundancyOptimizer(
                    # the groups themselves (shared dicts): per-group options, clipping and the
                    # scheduler's learning rates reach the sharded optimizer
                    optimizer.param_groups,
                    optimizer_class=type(optimizer),
                    **optimizer.defaults,
                )
                # ZeRO steps for it: the scheduler must not warn that it was never stepped
                optimizer._opt_called = True  # type: ignore[attr-defined]
                wrapped.append((zero, scheduler))
            self.__dict__["_optimizers"] = wrapped
            return
        from torch.distributed.fsdp import fully_shard

        # sharding replaces a module's parameters: the optimizers' groups are pointed at the
        # new ones (in place, before any step: their state is still empty)
        names = {
            id(p): (mname, pname)
            for mname, module in self._modules.items()
            for pname, p in module.named_parameters()
        }
        for optimizer, _ in self._optimizers:
            for group in optimizer.param_groups:
                stray = [p for p in group["params"] if id(p) not in names]
                if stray:
                    raise GraphError(
                        f"{self.name}: enable_zero stage {self.config.zero_stage} shards the "
                        "graph's modules, but an optimizer holds parameters of no registered "
                        "module; register every trained module on the graph"
                    )
        places = [
            [[names[id(p)] for p in group["params"]] for group in optimizer.param_groups]
            for optimizer, _ in self._optimizers
        ]
        for module in self._modules.values():
            if sum(p.numel() for p in module.parameters()) >= self.config.zero_shard_min_size:
                fully_shard(module, reshard_after_forward=self.config.zero_stage == 3)
        current = {
            (mname, pname): p
            for mname, module in self._modules.items()
            for pname, p in module.named_parameters()
        }
        for (optimizer, _), groups in zip(self._optimizers, places):
            for group, keys in zip(optimizer.param_groups, groups):
                group["params"] = [current[key] for key in keys]

    def _train_step(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
        steps = self.config.gradient_accumulation_steps
        micro = _split(args, kwargs, steps, self.name) if steps > 1 else [(args, kwargs)]
        scaler = self._grad_scaler
        factor = torch.tensor(1.0 / steps, device=self._device())
        if scaler is not None:
            factor = scaler.scale(factor)
        losses = []
        with self._scaling(factor) as scaling:
            for margs, mkwargs in micro:
                loss = self._compiled(*margs, **mkwargs)
                if not isinstance(loss, torch.Tensor):
                    raise GraphError(
                        f"{self.name}.build must return the loss (a tensor) when the graph "
                        f"trains, got {type(loss).__name__}"
                    )
                losses.append(loss.detach())
        if scaling.calls < len(micro):
            raise GraphError(
                f"{self.name}.build must call loss.backward() when the graph has an optimizer"
            )
        for optimizer, _ in self._optimizers:
            if scaler is not None:
                scaler.unscale_(optimizer)
            for group in optimizer.param_groups:
                max_norm = group.get("clip_grad_max_norm")
                if max_norm:
                    torch.nn.utils.clip_grad_norm_(
                        group["params"], max_norm, norm_type=group.get("clip_grad_norm_type", 2.0)
                    )
            if scaler is not None:
                scaler.step(optimizer)
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.update()
        for _, scheduler in self._optimizers:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(float(torch.stack(losses).mean()))  # its metric: this step's loss
            elif scheduler is not None:
                scheduler.step()
        self.__dict__["train_step"] = self.train_step + 1
        return torch.stack(losses) if steps > 1 else losses[0]

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Modules, optimizers, schedulers, grad scaler and ``train_step``: plain data that
        ``torch.save`` / ``torch.load(weights_only=True)`` round-trip.

        With ZeRO stage 1 each rank holds a shard of the optimizer state: every rank must call
        this (the shards are gathered on rank 0, a collective); rank 0's result is the whole
        state, which every rank then loads. The other ranks get ``None`` for those optimizers.
        """
        return {
            "name": self.name,
            "train_step": self.train_step,
            "modules": {name: m.state_dict() for name, m in self._modules.items()},
            "optimizers": [_optimizer_state(opt) for opt, _ in self._optimizers],
            "lr_schedulers": [
                s.state_dict() if s is not None else None for _, s in self._optimizers
            ],
            "grad_scaler": self._grad_scaler.state_dict()
            if self._grad_scaler is not None
            else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where the graph that wrote ``state`` stopped."""
        from ganglion.errors import check_known_keys

        if not isinstance(state, Mapping):
            raise GraphError(
                f"{self.name}.load_state_dict: expected a mapping, got {type(state).__name__}"
            )
        keys = ("name", "train_step", "modules", "optimizers", "lr_schedulers", "grad_scaler")
        check_known_keys(state, keys, where=f"{self.name}.load_state_dict")
        modules = state.get("modules", {})
        missing = sorted(set(self._modules) - set(modules))
        extra = sorted(set(modules) - set(self._modules))
        if missing or extra:
            raise GraphError(
                f"{self.name}.load_state_dict: modules differ: missing {missing or 'none'}, "
                f"unexpected {extra or 'none'}"
            )
        optimizers = state.get("optimizers", [])
        if len(optimizers) != len(self._optimizers):
            raise GraphError(
                f"{self.name}.load_state_dict: the state has {len(optimizers)} optimizer(s), "
                f"the graph {len(self._optimizers)}"
            )
        if any(opt_state is None for opt_state in optimizers):
            raise GraphError(
                f"{self.name}.load_state_dict: the state holds no optimizer state (ZeRO stage 1 "
                "gathers it on rank 0 only): load the state that rank 0 saved, on every rank"
            )
        for name, module in self._modules.items():
            module.load_state_dict(modules[name])
        schedulers = state.get("lr_schedulers") or [None] * len(optimizers)
        for (optimizer, scheduler), opt_state, sch_state in zip(
            self._optimizers, optimizers, schedulers
        ):
            optimizer.load_state_dict(opt_state)
            if scheduler is not None and sch_state is not None:
                scheduler.load_state_dict(sch_state)
        if self._grad_scaler is not None and state.get("grad_scaler") is not None:
            self._grad_scaler.load_state_dict(state["grad_scaler"])
        self.__dict__["train_step"] = int(state.get("train_step", 0))

    # -- debugging ----------------------------------------------------------------------------
    @property
    def recompiles(self) -> int:
        """Graphs compiled after the first call (new shapes, changed guards)."""
        if self._log is None or self._first_call_compiles is None:
            return 0
        return self._log.count - self._first_call_compiles

    def verify(self, *args: Any, rtol: float = 1e-5, atol: float = 1e-6, **kwargs: Any) -> Any:
        """Run ``build`` eagerly and compiled on the same inputs, side by side, and return a
        :class:`~ganglion.graph.static.verify.VerifyReport`: the largest absolute and relative
        divergence per output (and, for a training graph, per unscaled parameter gradient).
        Weights, buffers, gradients, random state and optimizers are left as they were."""
        from ganglion.graph.static.verify import verify

        return verify(self, args, kwargs, rtol=rtol, atol=atol)

    def debug(
        self, v_level: int = 0, *, max_py_stack_depth: int = 2, only_user_py_stack: bool = True
    ) -> None:
        """Log what compiling does, to stderr: level 0 the compile events, 1 also graph breaks
        and recompilations with their reasons and the user source lines of each operation,
        2 also the generated graph code; ``debug(-1)`` turns it off."""
        level = int(v_level)
        traced_breaks = self._debug_level >= 1
        self.__dict__["_debug_level"] = level
        self.__dict__["_debug_stack"] = (int(max_py_stack_depth), bool(only_user_py_stack))
        if self._log is not None:
            self._log.verbosity = level
            self._log.max_py_stack_depth = max_py_stack_depth
            self._log.only_user_py_stack = only_user_py_stack
        from ganglion.graph.static.compiling import StderrHandler, logger

        if level >= 0:  # each graph's CompileLog decides what it logs; the logger stays open
            if not any(isinstance(h, StderrHandler) for h in logger.handlers):
                logger.addHandler(StderrHandler())
                logger.propagate = False  # once, to stderr (not again through the root's handlers)
            logger.setLevel(logging.INFO)
        if level >= 1 or traced_breaks:  # torch's graph-break log; set_logs resets the others
            torch._logging.set_logs(graph_breaks=level >= 1)

    def trace_target(self) -> torch.nn.Module:
        """The ``nn.Module`` whose ``forward`` is :meth:`build` (eager, over the registered
        modules): what :func:`ganglion.graph.ops` and :func:`ganglion.graph.export` trace. An
        evaluation graph's ``build`` only: a training graph's calls ``backward``."""
        if self._optimizers:
            raise GraphError(
                f"{self.name} trains (it has optimizers): its build calls backward, which "
                "cannot be traced or exported; trace an evaluation graph over the same modules"
            )
        return _BuildModule(self)

    def __repr__(self) -> str:
        lines = [
            f"({self.name}: {type(self).__name__}, {'compiled' if self._compiled is not None else 'not compiled yet'}, "
            f"{'training' if self._optimizers else 'evaluation'}, train_step {self.train_step})"
        ]
        lines.append("  (CONFIG)")
        cuda = torch.cuda.is_available()
        for option, setting, effect in self.config.effects(cuda=cuda):
            lines.append(f"    {option}: {setting} -> {effect}")
        ops = self._log.ops_by_module() if self._log is not None else {}
        for name, module in self._modules.items():
            count = sum(p.numel() for p in module.parameters())
            detail = self._handles[name].describe()
            lines.append(
                f"  (MODULE {name}: {type(module).__name__}, {count} parameters"
                f"{'; ' + detail if detail else ''})"
            )
            for op in ops.get(name, []):
                lines.append(f"    {op}")  # ops in a checkpointed region end in [recomputed]
        for op in ops.get("-", []):
            lines.append(f"  (BUILD) {op}")
        last = self.__dict__.get("_last_call")
        if last is not None:
            import inspect

            try:
                bound = inspect.signature(self.build).bind(*last[0], **last[1]).arguments
                given = ", ".join(f"{k}={v!r}" for k, v in bound.items())
            except TypeError:
                given = ", ".join(
                    [repr(a) for a in last[0]] + [f"{k}={v!r}" for k, v in last[1].items()]
                )
            lines.append(f"  (INPUTS of the last call: {given})")
            lines.append(f"  (OUTPUTS of the last call: {last[2]!r})")
        if self._log is not None:
            lines.append(f"  ({self._log.count} graph(s) compiled, {self.recompiles} recompile(s))")
        return "\n".join(lines)


class _BuildModule(torch.nn.Module):
    """A static graph's ``build`` as a module: its modules are children (so tracing sees
    their parameters), its ``forward`` is ``build``."""

    def __init__(self, graph: StaticGraph) -> None:
        super().__init__()
        self.graph_modules = torch.nn.ModuleDict(graph._modules)
        self.__dict__["_graph"] = graph  # not a child: not an nn.Module
        self.__dict__["forward"] = graph.build  # build's own signature, for tracing by name

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # replaced per instance
        return self._graph.build(*args, **kwargs)


def _split(
    args: tuple[Any, ...], kwargs: dict[str, Any], n: int, name: str
) -> list[tuple[Any, Any]]:
    """``n`` micro-batches: every tensor split along dim 0 (equal sizes), the rest shared."""
    sizes = {t.shape[0] for t in _tensors((args, kwargs)) if t.ndim > 0}
    for size in sizes:
        if size % n:
            raise GraphError(
                f"{name}: a batch of {size} does not split into {n} equal micro-batches "
                "(set_gradient_accumulation_steps); use a batch size divisible by it"
            )

    def part(value: Any, i: int) -> Any:
        if isinstance(value, torch.Tensor):
            return value.chunk(n, dim=0)[i] if value.ndim > 0 else value
        if isinstance(value, tuple):
            items = [part(v, i) for v in value]
            return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
        if isinstance(value, list):
            return [part(v, i) for v in value]
        if isinstance(value, dict):
            return {k: part(v, i) for k, v in value.items()}
        return value

    return [(part(args, i), part(kwargs, i)) for i in range(n)]


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """An optimizer's state dict; a ZeroRedundancyOptimizer's shards gathered on rank 0."""
    consolidate = getattr(optimizer, "consolidate_state_dict", None)
    if consolidate is None:
        return optimizer.state_dict()
    import torch.distributed as dist

    consolidate(to=0)
    return optimizer.state_dict() if dist.get_rank() == 0 else None
