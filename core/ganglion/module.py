"""``NeuralModule``: a ``torch.nn.Module`` with typed ports and a config it can be rebuilt from.

A neural module declares its ports with the ``input_types`` / ``output_types`` properties
(port name -> :class:`~ganglion.types.NeuralType`) and usually decorates ``forward`` with
:func:`~ganglion.typechecking.typecheck`. Its constructor arguments are remembered, so
:meth:`NeuralModule.to_config_dict` gives a Hydra-style config (``_target_`` plus arguments)
and :meth:`NeuralModule.from_config_dict` builds the module back from one.

Example::

    class Projection(NeuralModule):
        def __init__(self, dim_in: int, dim_out: int):
            super().__init__()
            self.linear = torch.nn.Linear(dim_in, dim_out)

        @property
        def input_types(self):
            return {"x": NeuralType(("B", "D"), ChannelType())}

        @property
        def output_types(self):
            return {"y": NeuralType(("B", "D"), EncodedRepresentation())}

        @typecheck()
        def forward(self, x):
            return self.linear(x)

    cfg = Projection(16, 8).to_config_dict()
    # {'_target_': 'mypkg.Projection', 'dim_in': 16, 'dim_out': 8}
    clone = NeuralModule.from_config_dict(cfg)
"""

from __future__ import annotations

import enum
import inspect
import pathlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.compiler import is_compiling

from ganglion.errors import ConfigError
from ganglion.graph.activity import RECORDING, active_graph
from ganglion.graph.naming import check_name, registry_of
from ganglion.types.axes import AxisKind
from ganglion.types.errors import NeuralTypeError
from ganglion.types.ports import split_port_type

__all__ = ["NeuralModule", "resolve_module_class"]

# Hydra's reserved keys; the ones ganglion understands are handled, the rest refused
_RESERVED = ("_target_", "_recursive_", "_convert_", "_partial_", "_args_")

#: how many times any module was frozen or unfrozen (freeze(), unfreeze(), leaving their
#: contexts): a graph's run plan compares it to know when to look at its modules again
FREEZE_CHANGES = [0]


class NeuralModule(torch.nn.Module):
    """Base class of neural modules: regular modules, losses, anything with typed ports.

    It adds no ``__init__`` of its own (``nn.Module``'s passes its arguments on along the
    MRO), so the class mixes with other ``nn.Module`` bases such as Lightning's
    ``LightningModule``.
    """

    #: which name registry the instances are listed in (``AppState().modules``)
    _name_kind = "module"

    def __new__(cls, *args: Any, **kwargs: Any) -> NeuralModule:
        self = super().__new__(cls)
        # remembered for to_config_dict(): the arguments of the outermost constructor call
        self.__dict__["_init_args"] = (args, kwargs)
        registry_of(cls._name_kind).add(self)  # the automatic name: taylornet0, ...
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # inside an active graph's context a call records a step (ganglion.graph); otherwise
        # this is nn.Module.__call__ itself, with one test of an empty list added
        if RECORDING and not is_compiling():
            graph = active_graph()
            if graph is not None:
                return graph.record(self, args, kwargs)
        if self._compiled_call_impl is not None:
            return self._compiled_call_impl(*args, **kwargs)
        return self._call_impl(*args, **kwargs)

    # -- names ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """This module's unique name: its class name in lower case plus the smallest free
        number (``taylornet0``) unless set. Setting a name another live module holds, or
        renaming a module already recorded in a graph, is an error."""
        name = registry_of(self._name_kind).name_of(self)
        if name is None:  # an object made without __new__ (unpickled): named on first use
            name = registry_of(self._name_kind).add(self)
        return name

    @name.setter
    def name(self, value: str) -> None:
        check_name(value, what=f"{type(self).__name__}.name")
        in_graph = sorted(g.name for g in self.__dict__.get("_ganglion_graphs", ()))
        if in_graph and value != self.name:
            from ganglion.graph.errors import GraphError

            raise GraphError(
                f"{self.name} is recorded in graph(s) {', '.join(in_graph)}: a module's "
                "name is fixed once it is in a graph; set the name before wiring it"
            )
        registry_of(self._name_kind).add(self, value)

    # -- typed ports ------------------------------------------------------------------
    @property
    def input_ports(self) -> Mapping[str, Any]:
        """The input ports, resolved: a read-only mapping port name -> NeuralType (strings
        parsed; the ports of ``@typecheck(input_types=...)`` on ``forward`` when the module
        declares no ``input_types``; empty when it declares none at all)."""
        return self._resolved_ports("input")

    @property
    def output_ports(self) -> Mapping[str, Any]:
        """The output ports, resolved (see :attr:`input_ports`)."""
        return self._resolved_ports("output")

    def _resolved_ports(self, direction: str) -> Mapping[str, Any]:
        from ganglion.typechecking.plan import normalize_ports
        from ganglion.types.ports import declared_types

        types = declared_types(self, f"{direction}_types")
        if types is None:
            deco = getattr(type(self).forward, "__typecheck__", None)
            types = getattr(deco, f"{direction}_types", None)
        resolved = normalize_ports(types, type(self).__name__, direction)
        return MappingProxyType(resolved or {})

    # -- typed ports ------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, Any] | None:
        """Input ports: an ordered mapping of port name -> NeuralType (``None``: untyped)."""
        return None

    @property
    def output_types(self) -> Mapping[str, Any] | None:
        """Output ports: an ordered mapping of port name -> NeuralType (``None``: untyped)."""
        return None

    def input_example(self, batch: int = 2, length: int = 16, dim: int = 8) -> tuple[Any, ...]:
        """Example inputs built from ``input_types``, in port order: ``module(*example)``.

        Each tensor carries its port's type. Axes with a declared size get that size;
        others get ``batch`` (Batch), ``length`` (Time, Sequence) or ``dim`` (the rest).
        Element types choose the values (float noise, zeros for labels and indices, full
        lengths for ``LengthsType``). Optional ports are left out (``None`` where a later
        port needs a position). Override when a module needs specific sizes it does not
        declare. Used by export (``torch.export.export(module, module.input_example())``).
        """
        types = self.input_types
        if not types:
            raise NeuralTypeError(
                f"{type(self).__name__}.input_example: the module declares no input_types; "
                "declare them or override input_example()",
                owner=type(self).__name__,
            )
        defaults = {AxisKind.Batch: batch, AxisKind.Time: length, AxisKind.Sequence: length}
        example: list[Any] = []
        for name, spec in types.items():
            where = f"{type(self).__name__}: input port '{name}'"
            depth, leaf = split_port_type(spec, where=where, owner=type(self).__name__, port=name)
            if leaf.optional:
                example.append(None)
                continue
            if leaf.axes is None:
                raise NeuralTypeError(
                    f"{where} declares no axes, so no example can be shaped for it; declare "
                    "its axes or override input_example()",
                    owner=type(self).__name__,
                    port=name,
                )
            shape = tuple(
                ax.size if ax.size is not None else defaults.get(ax.kind, dim) for ax in leaf.axes
            )
            longest = [
                s
                for ax, s in zip(leaf.axes, shape)
                if ax.kind in (AxisKind.Time, AxisKind.Sequence)
            ]
            value: Any = leaf.elements_type.example_tensor(
                shape, length=max(longest) if longest else length
            )
            value.neural_type = leaf
            for _ in range(depth):
                value = [value]
            example.append(value)
        while example and example[-1] is None:
            example.pop()
        return tuple(example)

    # -- freezing ---------------------------------------------------------------------
    def freeze(self) -> _RestoreOnExit:
        """Stop training this module: no gradients for its parameters, eval mode.

        Also a context manager that restores the previous state on exit::

            with encoder.freeze():
                features = encoder(x)
        """
        restore = _RestoreOnExit(self)
        FREEZE_CHANGES[0] += 1
        for param in self.parameters():
            param.requires_grad_(False)
        self.eval()
        return restore

    def unfreeze(self) -> _RestoreOnExit:
        """Train this module again: gradients for every parameter, train mode.

        Also a context manager that restores the previous state on exit.
        """
        restore = _RestoreOnExit(self)
        FREEZE_CHANGES[0] += 1
        for param in self.parameters():
            param.requires_grad_(True)
        self.train()
        return restore

    @property
    def num_weights(self) -> int:
        """Number of trainable weights (elements of parameters that require gradients)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -- configs ----------------------------------------------------------------------
    def to_config_dict(self) -> DictConfig:
        """This module as a config: ``_target_`` (the full class path) and its arguments.

        The arguments are those the module was constructed with, defaults included; values
        must be plain data (numbers, strings, lists, dicts, configs) or neural modules, which
        become nested configs. Override for modules built from anything else.
        """
        cls = type(self)
        if "<locals>" in cls.__qualname__:
            raise ConfigError(
                f"{cls.__qualname__} is defined inside a function, so a config could not "
                "import it back; define it at module level"
            )
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError as exc:  # pragma: no cover - the constructor already accepted them
            raise ConfigError(f"{cls.__name__}: cannot map its arguments: {exc}") from exc
        passed = set(bound.arguments)
        bound.apply_defaults()
        config: dict[str, Any] = {"_target_": f"{cls.__module__}.{cls.__qualname__}"}
        for index, (name, value) in enumerate(bound.arguments.items()):
            if index == 0:
                continue  # self
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise ConfigError(
                        f"{cls.__name__}.to_config_dict: *{name} arguments have no names, so "
                        "a config cannot hold them; take named arguments instead"
                    )
                continue
            items = value.items() if kind is inspect.Parameter.VAR_KEYWORD else [(name, value)]
            for key, item in items:
                try:
                    config[key] = _config_value(item, f"{cls.__name__}({key}=...)")
                except ConfigError:
                    if key in passed or kind is inspect.Parameter.VAR_KEYWORD:
                        raise
                    # a default the config cannot hold: rebuilding uses the same default
        return OmegaConf.create(config)

    @classmethod
    def from_config_dict(
        cls, config: Mapping[str, Any] | DictConfig, *, where: str = "config"
    ) -> NeuralModule:
        """Build a module from a config with ``_target_`` and arguments.

        ``_target_`` is a registered module name (``register_modules`` hook) or an import
        path (``"package.module.Class"`` or ``"package.module:Class"``) that the ``_target_``
        policy allows (:mod:`ganglion.targets`: registered classes, classes of installed
        plugins, explicitly allowed packages; ``cls`` itself when called on a subclass); it
        must name a :class:`NeuralModule` subclass (of ``cls`` when called on a subclass) — a
        config cannot call arbitrary functions. Without ``_target_``, ``cls`` itself is built.
        Nested configs with a ``_target_`` are built first (``_recursive_: false`` turns
        that off); ``_convert_: all`` passes plain dicts and lists instead of OmegaConf
        containers. ``where`` (the config's key) is named in errors.
        """
        if isinstance(config, DictConfig):
            cfg = config
        elif isinstance(config, Mapping):
            cfg = OmegaConf.create(dict(config))
        else:
            raise ConfigError(f"{where}: expected a mapping with _target_, got {config!r}")
        target = cfg.get("_target_")
        if target is None:
            if cls is NeuralModule:
                raise ConfigError(
                    f"{where}: no _target_; name the module class to build "
                    "(a registered module name or an import path)"
                )
            module_cls: type[NeuralModule] = cls
        else:
            module_cls = resolve_module_class(
                str(target), key=f"{where}._target_", trusted=None if cls is NeuralModule else cls
            )
            if not issubclass(module_cls, cls):
                raise ConfigError(
                    f"{where}._target_: {target!r} is a {module_cls.__name__}, not a "
                    f"{cls.__name__}; use {module_cls.__name__}.from_config_dict or "
                    "NeuralModule.from_config_dict"
                )
        if cfg.get("_partial_") or cfg.get("_args_"):
            raise ConfigError(
                f"{where}: _partial_ and _args_ are not supported for neural modules; "
                "give the arguments by name"
            )
        recursive = bool(cfg.get("_recursive_", True))
        convert = str(cfg.get("_convert_", "none")).lower()
        kwargs = {}
        for key in cfg:
            if key in _RESERVED:
                continue
            kwargs[str(key)] = _build_value(cfg[key], f"{where}.{key}", recursive, convert)
        try:
            return module_cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"{where}: cannot build {module_cls.__module__}.{module_cls.__qualname__} "
                f"from the config: {exc}"
            ) from exc


class _RestoreOnExit:
    """What ``freeze()`` / ``unfreeze()`` return: a context restoring the previous state."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self._grads = [(p, p.requires_grad) for p in module.parameters()]
        self._modes = [(m, m.training) for m in module.modules()]

    def __enter__(self) -> torch.nn.Module:
        return self.module

    def __exit__(self, *exc_info: Any) -> None:
        FREEZE_CHANGES[0] += 1
        for param, requires_grad in self._grads:
            param.requires_grad_(requires_grad)
        for module, training in self._modes:
            module.training = training


def resolve_module_class(
    target: str, *, key: str = "_target_", trusted: type | None = None
) -> type[NeuralModule]:
    """The :class:`NeuralModule` subclass named by ``target``, under the one ``_target_``
    policy (:mod:`ganglion.targets`): a registered module name, a registered class's import
    path, a class of an installed plugin, or an explicitly allowed one. ``trusted`` is a class
    the caller named itself (``MyModule.from_config_dict``): its own path is accepted."""
    from ganglion.registry import qualified_name
    from ganglion.targets import kinds_first, normalise_path, resolve_target

    if trusted is not None and normalise_path(target) == normalise_path(qualified_name(trusted)):
        return trusted
    return resolve_target(target, key=key, base=NeuralModule, kinds=kinds_first("modules"))


def _config_value(value: Any, where: str) -> Any:
    """A constructor argument as plain config data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, NeuralModule):
        return OmegaConf.to_container(value.to_config_dict())
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _config_value(value.value, where)
    if isinstance(value, Mapping):
        return {str(k): _config_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_config_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(
        f"{where}: a {type(value).__name__} cannot be stored in a config; pass plain values "
        "(numbers, strings, lists, dicts) or neural modules, or override to_config_dict()"
    )


def _build_value(value: Any, where: str, recursive: bool, convert: str) -> Any:
    """A config value as a constructor argument (nested ``_target_`` configs built)."""
    if isinstance(value, DictConfig):
        if recursive and "_target_" in value:
            return NeuralModule.from_config_dict(value, where=where)
        if recursive:
            built = {
                str(k): _build_value(value[k], f"{where}.{k}", recursive, convert) for k in value
            }
            if any(isinstance(v, torch.nn.Module) for v in built.values()) or convert != "none":
                return built
        return value if convert == "none" else OmegaConf.to_container(value, resolve=True)
    if isinstance(value, ListConfig):
        if recursive:
            built_list = [
                _build_value(v, f"{where}[{i}]", recursive, convert) for i, v in enumerate(value)
            ]
            if any(isinstance(v, torch.nn.Module) for v in built_list) or convert != "none":
                return built_list
        return value if convert == "none" else OmegaConf.to_container(value, resolve=True)
    return value
