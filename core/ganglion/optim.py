"""Build an optimizer and a learning-rate scheduler from a ``model.optim`` config.

The whole API a model needs is one call::

    from ganglion.optim import build_optimization

    optimizer, scheduler = build_optimization(model, cfg.model.optim, max_steps=total_steps)
    # in LightningModule.configure_optimizers:
    if scheduler is None:
        return optimizer
    return {"optimizer": optimizer, "lr_scheduler": scheduler}

``build_optimization(params_or_model, optim_cfg, *, max_steps=None, key="model.optim")``

* ``params_or_model``: an ``nn.Module`` (its trainable parameters, by name, so that
  ``param_groups`` can select them), an iterable of parameters, or of torch param-group dicts.
* ``optim_cfg``: the ``model.optim`` node (``DictConfig``, ``dict`` or dataclass instance).
* ``max_steps``: the run's total optimizer steps, used by schedulers whose ``sched.max_steps``
  is null (compute it with :func:`compute_max_steps` or :func:`max_steps_from_trainer`, or pass
  Lightning's ``trainer.estimated_stepping_batches`` from inside ``configure_optimizers``). It
  may be a zero-argument callable, called only when a scheduler needs the value, so a run whose
  schedule has no use for it never has to count batches.
* returns ``(optimizer, scheduler_config)``; ``scheduler_config`` is ``None`` when the config
  has no ``sched``, else the dict Lightning expects under ``"lr_scheduler"``
  (``scheduler``, ``interval``, ``frequency`` and, for plateau schedulers, ``monitor`` and
  ``reduce_on_plateau``).

The config, as in the seed documentation::

    optim:
      name: novograd              # a registered optimizer (ganglion list optimizers)
      lr: 0.01                    # every other key is an argument of that optimizer
      betas: [0.8, 0.25]
      weight_decay: 0.001
      param_groups:               # optional: per-group settings, first match wins
        - match: ["*.bias"]       # glob(s) on parameter names (model.named_parameters())
          module_types: [LayerNorm]   # and/or the class of the module owning the parameter
          weight_decay: 0.0
      sched:                      # optional
        name: CosineAnnealing     # a registered scheduler (ganglion list schedulers)
        max_steps: null           # null: taken from the max_steps argument (trainer + data)
        monitor: val_loss         # for plateau schedulers
        reduce_on_plateau: false
        interval: step            # Lightning: step the scheduler every "step" or "epoch"
        frequency: 1
        warmup_steps: 1000        # every other key is an argument of that scheduler
        warmup_ratio: null
        min_lr: 1e-9

Names are looked up in the ``optimizers`` / ``schedulers`` registries, so optimizers from
plugins (``novograd`` from ganglion-optim) and ones registered at run time with
:func:`ganglion.register_optimizer` work the same as torch's. Each registered class may carry
a ``params`` dataclass; its fields are the keys the config may set, with ``'???'`` marking a
required value. Every mistake is a :class:`~ganglion.errors.ConfigError` naming the config key:
an unknown name or key (with close matches and the known list), a missing required value, a
value of the wrong type. An unknown optimizer or scheduler name raises
:class:`~ganglion.errors.UnknownNameError` instead (also naming the key, with close matches, the
known names and, for names of ganglion's own plugins, the distribution to install). A key the
chosen optimizer does not take is never dropped silently.

Parameter groups: parameters with ``requires_grad=False`` are left out; each entry of
``param_groups`` takes the parameters whose name matches one of its ``match`` globs or whose
owning module is (a subclass of) one of its ``module_types``, unless an earlier entry took them;
an entry that takes nothing is an error (a typo would otherwise change nothing). Parameters no
entry takes form the first group, with the top-level options.

:func:`compose_optim_config` composes a ``model.optim`` node from a base config and
command-line overrides through Hydra, the way ``ganglion train`` does, including optimizer
presets (``model.optim=adam``) from the ``model/optim`` config group;
:func:`resolve_group_overrides` is the rewriting of ``model.optim=adam`` into Hydra's group
syntax that it (and a command line) needs.

Importing this module imports no torch; the build functions do.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ganglion.errors import ConfigError, did_you_mean, omegaconf_error_message
from ganglion.registry import singular

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from omegaconf import DictConfig

    from ganglion.registry import Entry

__all__ = [
    "CORE_CONFIGS_SEARCH_PATH",
    "KEEP_ON_PRESET",
    "OPTIM_KEYS",
    "SCHED_KEYS",
    "build_optimization",
    "build_optimizer",
    "build_scheduler",
    "compose_optim_config",
    "compute_max_steps",
    "get_optimizer",
    "get_scheduler",
    "max_steps_from_trainer",
    "optimizer_params",
    "resolve_group_overrides",
    "scheduler_params",
]

MISSING = "???"

#: Keys of ``model.optim`` that ganglion reads itself (everything else goes to the optimizer).
OPTIM_KEYS = ("name", "sched", "param_groups")

#: Keys of ``model.optim.sched`` that ganglion reads itself, for every scheduler. ``max_steps``
#: is also passed to schedulers whose params take it.
SCHED_KEYS = ("name", "max_steps", "monitor", "reduce_on_plateau", "interval", "frequency")

#: Keys of one ``param_groups`` entry that select parameters (the rest are optimizer options).
GROUP_SELECTORS = ("match", "module_types")


# -- looking up names ------------------------------------------------------------------------
def get_optimizer(name: str, *, key: str = "model.optim.name") -> type:
    """The optimizer class registered as ``name`` (an error naming ``key`` if unknown)."""
    return _entry("optimizers", name, key).load()


def get_scheduler(name: str, *, key: str = "model.optim.sched.name") -> type:
    """The scheduler class registered as ``name`` (an error naming ``key`` if unknown)."""
    return _entry("schedulers", name, key).load()


def optimizer_params(name: str, *, key: str = "model.optim.name") -> type | None:
    """The params dataclass registered with optimizer ``name`` (``None`` if it has none).

    Example::

        >>> optimizer_params("novograd")()
        NovogradParams(lr='???', betas=(0.95, 0.98), eps=1e-08, weight_decay=0.0, ...)
    """
    return _entry("optimizers", name, key).load_metadata("params")


def scheduler_params(name: str, *, key: str = "model.optim.sched.name") -> type | None:
    """The params dataclass registered with scheduler ``name`` (``None`` if it has none)."""
    return _entry("schedulers", name, key).load_metadata("params")


def _entry(kind: str, name: Any, key: str) -> Entry:
    """The registry entry of ``name`` (a required, registered name; errors name ``key``)."""
    from ganglion.plugins import registry

    if not isinstance(name, str) or not name or name == MISSING:
        known = ", ".join(registry(kind).names()) or "none"
        raise ConfigError(
            f"{key} is required: the name of a registered {singular(kind)}, got {name!r}. "
            f"Known: {known}."
        )
    return registry(kind).get(name, key=key)


def _lookup(kind: str, cfg: Mapping[str, Any], key: str) -> tuple[Any, _ArgSpec, str]:
    """``(class, spec, what)`` of the class that ``cfg`` (the node at ``key``) names; ``what``
    (``"optimizer 'adam'"``) is how errors refer to it."""
    entry = _entry(kind, cfg.get("name"), f"{key}.name")
    cls = entry.load()
    spec = _ArgSpec.of(cls, entry.load_metadata("params"), skip_first=True)
    return cls, spec, f"{singular(kind)} '{entry.name}'"


def _construct(
    cls: Any, first: Any, options: dict[str, Any], spec: _ArgSpec, *, key: str, what: str
) -> Any:
    """``cls(first, **options)``; an argument it rejects is a config error naming ``key``."""
    try:
        return cls(first, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {what} ({spec.target}) rejected the config: {exc}") from exc


# -- the one call a model makes --------------------------------------------------------------
def build_optimization(
    params_or_model: Any,
    optim_cfg: Any,
    *,
    max_steps: int | Callable[[], int] | None = None,
    key: str = "model.optim",
) -> tuple[torch.optim.Optimizer, dict[str, Any] | None]:
    """Build the optimizer and (optionally) the scheduler that ``optim_cfg`` describes.

    Args:
        params_or_model: an ``nn.Module``, an iterable of parameters, or of param-group dicts.
        optim_cfg: the ``model.optim`` node (``DictConfig``, mapping or dataclass instance).
        max_steps: total optimizer steps of the run, for schedulers whose ``sched.max_steps``
            is null (see :func:`compute_max_steps`), or a callable returning it, called only
            when such a scheduler needs it.
        key: where ``optim_cfg`` lives in the full config; errors name keys under it.

    Returns:
        ``(optimizer, scheduler_config)``, the latter ``None`` without ``sched`` or else a
        Lightning ``lr_scheduler`` dict.

    Raises:
        ConfigError: an unknown name or key, a missing or ill-typed value (naming the key).
    """
    cfg = _as_dict(optim_cfg, key)
    optimizer = build_optimizer(params_or_model, cfg, key=key)
    sched_cfg = cfg.get("sched")
    if sched_cfg is None:
        return optimizer, None
    scheduler = build_scheduler(optimizer, sched_cfg, max_steps=max_steps, key=f"{key}.sched")
    return optimizer, scheduler


def build_optimizer(
    params_or_model: Any, optim_cfg: Any, *, key: str = "model.optim"
) -> torch.optim.Optimizer:
    """Build the optimizer of ``optim_cfg`` (``sched`` is ignored here) over the parameters.

    See :func:`build_optimization` for the arguments and the config's shape.
    """
    cfg = _as_dict(optim_cfg, key)
    cls, spec, what = _lookup("optimizers", cfg, key)
    given = {k: v for k, v in cfg.items() if k not in OPTIM_KEYS}
    options = spec.resolve(given, key=key, what=what)
    groups = _param_groups(params_or_model, cfg.get("param_groups"), spec, key=key, what=what)
    return _construct(cls, groups, options, spec, key=key, what=what)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    sched_cfg: Any,
    *,
    max_steps: int | Callable[[], int] | None = None,
    key: str = "model.optim.sched",
) -> dict[str, Any] | None:
    """Build the scheduler of ``sched_cfg`` on ``optimizer``; returns Lightning's scheduler dict.

    ``sched_cfg.max_steps`` wins over the ``max_steps`` argument; either is passed to schedulers
    whose params take ``max_steps``. ``interval`` defaults to ``"step"`` (``"epoch"`` for plateau
    schedulers, whose metric is logged per epoch), ``frequency`` to 1, and ``monitor`` to
    ``"val_loss"`` for plateau schedulers. Returns ``None`` when ``sched_cfg`` is ``None``.
    """
    if sched_cfg is None:
        return None
    cfg = _as_dict(sched_cfg, key)
    cls, spec, what = _lookup("schedulers", cfg, key)
    given = {k: v for k, v in cfg.items() if k not in SCHED_KEYS}
    steps = cfg.get("max_steps")
    if "max_steps" in spec.fields:
        if steps is None:
            steps = max_steps() if callable(max_steps) else max_steps
        if isinstance(steps, float):
            # Lightning's estimated_stepping_batches is a float: inf for an unbounded run
            if not math.isfinite(steps):
                raise ConfigError(
                    f"{key}.max_steps: the run has no step bound (trainer.max_epochs and "
                    f"trainer.max_steps are both -1), but {what} needs one; set {key}.max_steps"
                )
            if steps.is_integer():
                steps = int(steps)
        if steps is not None:
            given["max_steps"] = steps
        elif spec.fields["max_steps"] == MISSING:
            raise ConfigError(
                f"{key}.max_steps is required by {what}: set it, or leave it null and let the "
                "model compute it from the trainer (max_epochs/max_steps, "
                "accumulate_grad_batches, devices) and the size of the training data"
            )
    elif cfg.get("max_steps") is not None:
        _check_int(cfg["max_steps"], f"{key}.max_steps", minimum=1)
    options = spec.resolve(given, key=key, what=what)

    interval = cfg.get("interval")
    frequency = cfg.get("frequency", 1)
    if frequency is None:
        frequency = 1
    _check_int(frequency, f"{key}.frequency", minimum=1)
    scheduler = _construct(cls, optimizer, options, spec, key=key, what=what)

    from torch.optim.lr_scheduler import ReduceLROnPlateau

    plateau = cfg.get("reduce_on_plateau")
    if plateau is None:
        plateau = False
    if not isinstance(plateau, bool):
        raise ConfigError(f"{key}.reduce_on_plateau must be true or false, got {plateau!r}")
    # torch's plateau scheduler is always stepped with the metric, whatever the flag says (the
    # seed's config carries `reduce_on_plateau: false` for every scheduler); the flag is for
    # other schedulers whose step() takes the monitored metric
    plateau = plateau or isinstance(scheduler, ReduceLROnPlateau)
    if interval is None:
        interval = "epoch" if plateau else "step"
    if interval not in ("step", "epoch"):
        raise ConfigError(f"{key}.interval must be 'step' or 'epoch', got {interval!r}")

    out: dict[str, Any] = {"scheduler": scheduler, "interval": interval, "frequency": frequency}
    monitor = cfg.get("monitor")
    if plateau:
        out["reduce_on_plateau"] = True
        out["monitor"] = monitor or "val_loss"
    elif monitor is not None and not isinstance(monitor, str):
        raise ConfigError(f"{key}.monitor must be a metric name, got {monitor!r}")
    # a monitor on a non-plateau scheduler means nothing to Lightning; it is accepted (the seed
    # config always carries one) and left out of the dict so Lightning has nothing to warn about
    return out


# -- max_steps --------------------------------------------------------------------------------
def compute_max_steps(
    *,
    max_epochs: int | None,
    num_batches: int,
    accumulate_grad_batches: int = 1,
    num_devices: int = 1,
    limit_train_batches: int | float = 1.0,
    max_steps: int | None = -1,
) -> int:
    """How many optimizer steps a run takes: the ``max_steps`` of schedulers left null.

    The same count Lightning's ``trainer.estimated_stepping_batches`` gives:

    * ``num_batches``: batches in one epoch of the training dataloader *before* it is split
      across devices; each device sees ``ceil(num_batches / num_devices)``;
    * ``limit_train_batches``: a fraction of those (float) or a cap on them (int), as in the
      Lightning ``Trainer``;
    * ``accumulate_grad_batches``: the optimizer steps once per that many batches, and once more
      at the end of an epoch for a partial accumulation, so an epoch has
      ``ceil(batches / accumulate_grad_batches)`` steps;
    * ``max_epochs`` epochs in all (``None`` or -1: unbounded), capped by ``max_steps``
      (``None`` or -1: no cap). One of the two must be bounded.

    Example::

        >>> compute_max_steps(max_epochs=10, num_batches=1000, accumulate_grad_batches=4,
        ...                   num_devices=2)
        1250
    """
    unbounded_steps = max_steps is None or max_steps == -1
    unbounded_epochs = max_epochs is None or max_epochs == -1
    if not unbounded_steps:
        _check_int(max_steps, "trainer.max_steps", minimum=1)
    if unbounded_epochs:
        if unbounded_steps:
            raise ConfigError(
                "cannot compute the scheduler's max_steps: trainer.max_epochs and "
                "trainer.max_steps are both unbounded; set one of them, or set "
                "model.optim.sched.max_steps"
            )
        return int(max_steps)  # type: ignore[arg-type]
    _check_int(max_epochs, "trainer.max_epochs", minimum=1)
    _check_int(num_batches, "num_batches (batches in the training dataloader)", minimum=1)
    _check_int(accumulate_grad_batches, "trainer.accumulate_grad_batches", minimum=1)
    _check_int(num_devices, "num_devices (trainer.devices x trainer.num_nodes)", minimum=1)

    per_device = math.ceil(num_batches / num_devices)
    if isinstance(limit_train_batches, bool) or not isinstance(limit_train_batches, (int, float)):
        raise ConfigError(
            f"trainer.limit_train_batches must be a fraction or a count, got {limit_train_batches!r}"
        )
    if isinstance(limit_train_batches, float):
        if not 0.0 <= limit_train_batches <= 1.0:
            raise ConfigError(
                "trainer.limit_train_batches as a float is a fraction in [0, 1], "
                f"got {limit_train_batches}"
            )
        per_device = int(per_device * limit_train_batches)
    else:
        per_device = min(per_device, limit_train_batches)
    if per_device < 1:
        raise ConfigError(
            f"no training batches per epoch (num_batches={num_batches}, num_devices="
            f"{num_devices}, limit_train_batches={limit_train_batches}): the scheduler's "
            "max_steps cannot be computed"
        )
    total = math.ceil(per_device / accumulate_grad_batches) * max_epochs
    return total if unbounded_steps else min(total, int(max_steps))  # type: ignore[arg-type]


def max_steps_from_trainer(trainer: Any, num_batches: int | None) -> int:
    """:func:`compute_max_steps` with the settings of a Lightning ``Trainer`` (or ``trainer:``
    config mapping) and the number of batches of the training dataloader.

    ``num_batches`` may be ``None`` when ``trainer.max_steps`` is set and ``max_epochs`` is not.
    From a config mapping, ``devices`` counts as given (an int, a list of ids, a numeric
    string); ``"auto"`` and -1 count as one device, so pass the ``Trainer`` itself for the real
    count on a multi-device machine.
    """
    if isinstance(trainer, Mapping) or _is_dictconfig(trainer):
        get = trainer.get
        devices = get("devices", 1)
        if isinstance(devices, (list, tuple)) or _is_listconfig(devices):
            devices = len(devices)
        elif isinstance(devices, str):
            devices = int(devices) if devices.strip().isdigit() else 1
        elif devices in (None, -1):
            devices = 1
        num_devices = int(devices) * int(get("num_nodes", 1) or 1)
        max_epochs = get("max_epochs", None)
        max_steps = get("max_steps", -1)
        accumulate = get("accumulate_grad_batches", 1) or 1
        limit = get("limit_train_batches", 1.0)
    else:
        num_devices = int(getattr(trainer, "num_devices", 1)) * int(
            getattr(trainer, "num_nodes", 1)
        )
        max_epochs = trainer.max_epochs
        max_steps = trainer.max_steps
        accumulate = trainer.accumulate_grad_batches
        limit = trainer.limit_train_batches
    if limit is None:
        limit = 1.0
    if max_epochs is None and (max_steps is None or max_steps == -1):
        max_epochs = 1000  # Lightning's own default when neither is set
    if num_batches is None:
        if max_steps is None or max_steps == -1:
            raise ConfigError(
                "cannot compute the scheduler's max_steps without the number of training "
                "batches; set trainer.max_steps or model.optim.sched.max_steps"
            )
        return int(max_steps)
    return compute_max_steps(
        max_epochs=max_epochs,
        num_batches=num_batches,
        accumulate_grad_batches=accumulate,
        num_devices=num_devices,
        limit_train_batches=limit,
        max_steps=max_steps,
    )


# -- argument specs: which keys a class takes ---------------------------------------------------
@dataclasses.dataclass
class _ArgSpec:
    """The keys a registered class takes: from its params dataclass, else its signature."""

    target: str
    fields: dict[str, Any]  # name -> default (MISSING when required)
    params_cls: type | None
    accepts_any: bool  # the signature has **kwargs and no params dataclass narrows it
    signature_names: frozenset[str] | None  # what the class itself accepts, if inspectable

    @classmethod
    def of(cls, target: Any, params_cls: type | None, *, skip_first: bool) -> _ArgSpec:
        path = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
        sig_names: frozenset[str] | None = None
        var_kw = False
        sig_fields: dict[str, Any] = {}
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            params = list(sig.parameters.values())
            if (
                skip_first
                and params
                and params[0].kind
                in (
                    inspect.Parameter.POSITIONAL_ONLY,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                )
            ):
                params = params[1:]
            for p in params:
                if p.kind is inspect.Parameter.VAR_KEYWORD:
                    var_kw = True
                elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
                    empty = p.default is inspect.Parameter.empty
                    sig_fields[p.name] = MISSING if empty else p.default
            sig_names = frozenset(sig_fields)
        if params_cls is not None:
            if not dataclasses.is_dataclass(params_cls):
                raise ConfigError(
                    f"the params registered for {path} must be a dataclass, got {params_cls!r}"
                )
            fields = {}
            for f in dataclasses.fields(params_cls):
                if f.default is not dataclasses.MISSING:
                    fields[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    fields[f.name] = f.default_factory()
                else:
                    fields[f.name] = MISSING
            return cls(path, fields, params_cls, False, None if var_kw else sig_names)
        return cls(path, sig_fields, None, var_kw, None if var_kw else sig_names)

    def check_keys(self, given: Mapping[str, Any], *, key: str, what: str) -> None:
        if self.accepts_any:
            return
        for name in given:
            if name not in self.fields:
                known = ", ".join(sorted(self.fields)) or "none"
                raise ConfigError(
                    f"Unknown key {name!r} ({key}.{name}): {what} does not take it."
                    f"{did_you_mean(name, self.fields)} Known: {known}."
                )

    def resolve(
        self, given: Mapping[str, Any], *, key: str, what: str, partial: bool = False
    ) -> dict[str, Any]:
        """Validated keyword arguments: defaults < ``given``; ``partial`` skips defaults and
        required checks (a param group's overrides)."""
        self.check_keys(given, key=key, what=what)
        values = dict(given) if partial else {**self.fields, **given}
        if self.params_cls is not None:
            values = self._typed(values, key=key, what=what, partial=partial)
        if not partial:
            for name, value in values.items():
                if isinstance(value, str) and value == MISSING:
                    raise ConfigError(
                        f"{key}.{name} is required by {what} and has no default; set it in the "
                        f"config or on the command line ({key}.{name}=...)"
                    )
        for name, value in list(values.items()):
            default = self.fields.get(name)
            if isinstance(default, tuple) and isinstance(value, list):
                if len(value) != len(default):
                    raise ConfigError(
                        f"{key}.{name} must have {len(default)} values (like {list(default)}), "
                        f"got {value!r}"
                    )
                values[name] = tuple(value)
        if self.signature_names is not None:
            # a params field this version of the class does not know: harmless at its
            # default (dropped), an error when the config sets it
            for name in list(values):
                if name not in self.signature_names:
                    if name in given and given[name] != self.fields.get(name):
                        raise ConfigError(
                            f"{key}.{name}: the installed {self.target} does not take {name!r}; "
                            "remove the key or upgrade the package that provides it"
                        )
                    del values[name]
        return values

    def _typed(
        self, values: dict[str, Any], *, key: str, what: str, partial: bool
    ) -> dict[str, Any]:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        assert self.params_cls is not None
        schema = OmegaConf.structured(self.params_cls)
        try:
            merged = OmegaConf.merge(schema, values)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{omegaconf_error_message(exc, key)} (for {what})") from None
        out = OmegaConf.to_container(merged, resolve=True, throw_on_missing=False)
        assert isinstance(out, dict)
        return {k: out[k] for k in values} if partial else out


# -- parameter groups ---------------------------------------------------------------------------
def _param_groups(
    params_or_model: Any, groups_cfg: Any, spec: _ArgSpec, *, key: str, what: str
) -> list[Any]:
    import torch

    if isinstance(params_or_model, torch.nn.Module):
        model = params_or_model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    else:
        if isinstance(params_or_model, torch.Tensor):
            params_or_model = [params_or_model]
        items = list(params_or_model)
        if groups_cfg:
            raise ConfigError(
                f"{key}.param_groups selects parameters by name, but the optimizer was given "
                "bare parameters; pass the model itself to build the optimizer"
            )
        if not items:
            raise ConfigError(f"{key}: {what} was given no parameters to optimize")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                if "params" not in item:
                    raise ConfigError(f"{key}.param_groups[{i}] has no 'params' (its tensors)")
                options = {k: v for k, v in item.items() if k != "params"}
                resolved = spec.resolve(
                    options, key=f"{key}.param_groups[{i}]", what=what, partial=True
                )
                out.append({"params": item["params"], **resolved})
            else:
                out.append(item)
        return out

    if not named:
        raise ConfigError(f"{key}: the model has no trainable parameters for {what}")
    if not groups_cfg:
        return [p for _, p in named]
    if not isinstance(groups_cfg, Sequence) or isinstance(groups_cfg, (str, bytes)):
        raise ConfigError(
            f"{key}.param_groups must be a list of groups, each with 'match' and/or "
            f"'module_types' and the options to set, got {groups_cfg!r}"
        )

    owners = _owner_types(model)
    claimed: dict[str, int] = {}
    groups: list[dict[str, Any]] = []
    for i, group in enumerate(groups_cfg):
        gkey = f"{key}.param_groups[{i}]"
        if not isinstance(group, Mapping):
            raise ConfigError(f"{gkey} must be a mapping, got {group!r}")
        patterns = _str_list(group.get("match"), f"{gkey}.match")
        types = _str_list(group.get("module_types"), f"{gkey}.module_types")
        if not patterns and not types:
            raise ConfigError(
                f"{gkey} selects no parameters: give 'match' (globs on parameter names such as "
                "'*.bias') and/or 'module_types' (module class names such as LayerNorm)"
            )
        options = {k: v for k, v in group.items() if k not in GROUP_SELECTORS}
        resolved = spec.resolve(options, key=gkey, what=what, partial=True)
        selected = []
        for pname, param in named:
            if pname in claimed:
                continue
            hit = any(fnmatch.fnmatchcase(pname, pat) for pat in patterns) or bool(
                types and owners.get(pname, set()) & set(types)
            )
            if hit:
                claimed[pname] = i
                selected.append(param)
        if not selected:
            sample = ", ".join(n for n, _ in named[:8]) + (", ..." if len(named) > 8 else "")
            raise ConfigError(
                f"{gkey} matches no trainable parameter not already taken by an earlier group "
                f"(match={patterns}, module_types={types}). Parameter names look like: {sample}"
            )
        groups.append({"params": selected, **resolved})
    rest = [p for n, p in named if n not in claimed]
    if rest:
        groups.insert(0, {"params": rest})  # the default group keeps the top-level options
    return groups


def _owner_types(model: Any) -> dict[str, set[str]]:
    """Parameter name -> class names (with bases) of the module that owns it directly."""
    out: dict[str, set[str]] = {}
    for mname, module in model.named_modules():
        names = {c.__name__ for c in type(module).__mro__}
        for pname, _ in module.named_parameters(recurse=False):
            out[f"{mname}.{pname}" if mname else pname] = names
    return out


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{key} must be a string or a list of strings, got {value!r}")


# -- config plumbing --------------------------------------------------------------------------
def _is_dictconfig(obj: Any) -> bool:
    return type(obj).__name__ == "DictConfig" and type(obj).__module__.startswith("omegaconf")


def _is_listconfig(obj: Any) -> bool:
    return type(obj).__name__ == "ListConfig" and type(obj).__module__.startswith("omegaconf")


def _as_dict(cfg: Any, key: str) -> dict[str, Any]:
    """A plain dict of a DictConfig / mapping / dataclass instance (interpolations resolved)."""
    if _is_dictconfig(cfg) or dataclasses.is_dataclass(cfg):
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            node = OmegaConf.structured(cfg) if dataclasses.is_dataclass(cfg) else cfg
            out = OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_error_message(exc, key)) from None
        return dict(out)  # type: ignore[arg-type]
    if isinstance(cfg, Mapping):
        return {k: _plain(v) for k, v in cfg.items()}
    raise ConfigError(f"{key} must be a mapping (the optimizer's config), got {cfg!r}")


def _plain(value: Any) -> Any:
    if _is_dictconfig(value) or _is_listconfig(value):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True, throw_on_missing=False)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _check_int(value: Any, key: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")


# -- composing model.optim from presets and command-line overrides ----------------------------
OPTIM_GROUP = "model/optim"
#: The core's Hydra config source (its presets: ``model/optim/adam.yaml``, ...).
CORE_CONFIGS_SEARCH_PATH = "pkg://ganglion.conf"
#: Config group -> the keys a preset chosen with the dotted form (``model.optim=adam``) keeps
#: from the config it replaces: a schedule applies to any optimizer.
KEEP_ON_PRESET: dict[str, tuple[str, ...]] = {OPTIM_GROUP: ("sched",)}


def resolve_group_overrides(
    overrides: Iterable[str], groups: Mapping[str, Iterable[str]]
) -> list[str]:
    """Turn ``model.optim=adam`` into Hydra's group override ``model/optim=adam``.

    Hydra reads ``a.b=x`` as "set the value a.b"; the seed documentation's
    ``model.optim=adam`` means "use the adam preset of the model/optim config group". An
    override ``a.b=x`` is rewritten to ``a/b=x`` when ``a/b`` is a group in ``groups``
    (group -> its options) and ``x`` a plain name; a plain name that is not an option is an error
    listing the options. Anything else passes through unchanged.
    """
    out = []
    for override in overrides:
        lhs, sep, value = override.partition("=")
        key = lhs.lstrip("+~")
        group = key.replace(".", "/")
        if sep and "." in key and group in groups and _is_plain_name(value):
            options = sorted(groups[group])
            if value not in options:
                raise ConfigError(
                    f"{key}={value}: no preset {value!r} in config group {group}."
                    f"{did_you_mean(value, options)} Known: {', '.join(options) or 'none'}."
                )
            out.append(f"{lhs[: len(lhs) - len(key)]}{group}={value}")
        else:
            out.append(override)
    return out


def _is_plain_name(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c in "_-" for c in value)


def compose_optim_config(
    overrides: Sequence[str] = (),
    *,
    base: Any = None,
    search_path: Sequence[str] | None = None,
) -> DictConfig:
    """Compose ``model.optim`` with Hydra, from a base node and command-line style overrides.

    Args:
        overrides: e.g. ``["model.optim=adam", "model.optim.lr=.0004",
            "model.optim.betas=[.8,.5]"]``. ``model.optim=<preset>`` picks a preset of the
            ``model/optim`` config group (``conf/model/optim/<preset>.yaml`` in the core or a
            plugin); the other forms are Hydra's (``key=value``, ``+key=value``, ``~key``).
        base: the ``model.optim`` node of the model's config (mapping or ``DictConfig``), or
            ``None``. A preset replaces it, all but its ``sched``, which applies to any optimizer.
        search_path: Hydra config sources; by default every source registered through the
            ``register_configs`` hook (the core's ``pkg://ganglion.conf`` and the plugins').

    Returns:
        The composed ``model.optim`` node, ready for :func:`build_optimization`.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if search_path is None:
        from ganglion.plugins import registry

        search_path = [e.load() for e in registry("configs")]
    base_node = {} if base is None else _as_dict(base, "model.optim")

    # the primary config lives in Hydra's in-memory store under a name of our own; plugins'
    # config sources join through hydra.searchpath, as in a primary config file
    primary_name = "_ganglion_compose_optim"
    extra = [s for s in search_path if s != CORE_CONFIGS_SEARCH_PATH]
    hydra_node = {"searchpath": list(extra)} if extra else {}
    store = ConfigStore.instance()
    if GlobalHydra.instance().is_initialized():
        raise ConfigError(
            "compose_optim_config cannot run inside a Hydra application (Hydra is already "
            "initialized); there, the application's own composition applies the overrides"
        )
    with initialize_config_module("ganglion.conf", version_base="1.3"):
        store.store(name=primary_name, node={"hydra": hydra_node} if extra else {})
        loader = GlobalHydra.instance().config_loader()
        options = {OPTIM_GROUP: loader.get_group_options(OPTIM_GROUP, config_name=primary_name)}
        preset = None
        rest = []
        for override in resolve_group_overrides(overrides, options):
            lhs, _, value = override.partition("=")
            if lhs.lstrip("+") == OPTIM_GROUP:
                preset = value  # the last choice wins, as on Hydra's command line
            else:
                rest.append(override)
        inline: dict[str, Any] = dict(base_node)
        defaults: list[Any] = []
        if preset is not None:
            defaults.append({OPTIM_GROUP: preset})
            keep = KEEP_ON_PRESET.get(OPTIM_GROUP, ())
            inline = {k: base_node[k] for k in keep if base_node.get(k)}
        defaults.append("_self_")
        primary: dict[str, Any] = {"defaults": defaults, "model": {"optim": inline}}
        if extra:
            primary["hydra"] = hydra_node
        store.store(name=primary_name, node=primary)
        try:
            cfg = compose(config_name=primary_name, overrides=rest)
        except Exception as exc:
            from hydra.errors import HydraException
            from omegaconf.errors import OmegaConfBaseException

            if isinstance(exc, (HydraException, OmegaConfBaseException)):
                raise ConfigError(f"cannot compose model.optim: {exc}") from None
            raise
    optim = OmegaConf.select(cfg, "model.optim")
    if optim is None:
        optim = OmegaConf.create({})
    return optim
