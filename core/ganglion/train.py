"""``ganglion train``: compose a config with Hydra, check it, and train the model it names.

::

    ganglion train --config-path conf --config-name my_model \\
        trainer.max_epochs=50 model.optim=adam model.optim.lr=.0004 \\
        +trainer.fast_dev_run=true ~model.test_ds

The config has the seed documentation's three sections plus a ``seed``:

``trainer``
    Any ``pytorch_lightning.Trainer`` argument (defaults:
    :class:`ganglion.conf.schema.TrainerConfig`). Arguments that take objects accept
    ``{_target_: <class path>, ...}`` (``callbacks: [{_target_: pytorch_lightning.callbacks.
    EarlyStopping, monitor: val_loss}]``); the class must be of the kind the argument takes.
``exp_manager``
    The experiment directory, loggers, checkpoints and resume (:mod:`ganglion.exp_manager`).
``model``
    ``_target_`` names the model: a name registered through the ``register_models`` hook
    (``ganglion list models``) or the import path of a ``ModelPT`` subclass. Everything else
    is the model's own config. The config saved with the run and in the archive holds the
    class's full import path.
``seed``
    Seeds every generator before the model is built and at each training step (so a resumed
    run draws the same numbers as an uninterrupted one); ``null`` leaves them alone.

Composition, lowest precedence first: the core's dataclass defaults, the YAML named by
``--config-name`` (found in ``--config-path``, in the core's configs or in any installed
plugin's ``register_configs`` dirs; a plugin may also register a dataclass as a config), then
the command line: ``key=value``, ``+key=value`` (add), ``++key=value`` (add or set),
``~key`` (remove), ``group=option`` and the seed's form ``model.optim=adam`` (an optimizer
preset of the ``model/optim`` group; it replaces the optimizer settings but keeps ``sched``).
``--cfg job`` prints the composed config; ``-m`` runs a sweep (``-m model.optim.lr=.1,.01``)
through Hydra's multirun and launchers; ``--help`` lists config groups.

Before anything is trained or created, the whole config is checked: a misspelled key
(``trainer.max_epoch=3``, ``model.optim.lrr=1``) names the key and the closest known one, a
value of the wrong type names the key and the type expected. Then: the Trainer is built, the
model, the experiment (``exp_manager``), ``trainer.fit``, ``trainer.test`` when the model has
a test set, and the best model is packaged as a ``.ganglion`` archive; the end of the output
says where the archive, the logs and the checkpoints are.
"""

from __future__ import annotations

import argparse
import collections.abc
import contextlib
import dataclasses
import inspect
import json
import os
import sys
import typing
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ganglion.errors import ConfigError, GanglionError, did_you_mean, omegaconf_error_message
from ganglion.optim import CORE_CONFIGS_SEARCH_PATH as _CORE_CONFIGS
from ganglion.optim import KEEP_ON_PRESET as _KEEP_ON_PRESET

__all__ = [
    "TrainResult",
    "compose_config",
    "run_argv",
    "train",
    "validate_config",
]

#: ConfigStore names of the configs ``ganglion train`` composes with.
PRIMARY_NAME = "ganglion_train"
ROOT_DEFAULTS_NAME = "ganglion_train_root_defaults"
_PRESET_PROBE_NAME = "ganglion_train_preset_probe"
#: Top-level keys every training config has (others, e.g. ``name``, are the user's own).
SECTIONS = ("trainer", "exp_manager", "model")
#: OmegaConf resolver of ``hydra.sweep.dir``'s default, ``<exp_dir>/multirun/<time>`` (see
#: :func:`_exp_dir`); a ``hydra.sweep.dir`` in the YAML or on the command line replaces it.
_EXP_DIR_RESOLVER = "ganglion.exp_dir"
#: The overrides of the sweep job being trained (read by the DDP processes it starts).
_SWEEP_JOB_ENV = "GANGLION_SWEEP_JOB"
#: OmegaConf's names of value types -> Python's
_OMEGACONF_TYPES = {"Integer": "int", "Float": "float", "Boolean": "bool", "String": "str"}


@dataclasses.dataclass
class TrainResult:
    """What a training run produced."""

    model: Any
    trainer: Any
    log_dir: Path | None
    checkpoint_dir: Path | None
    best_checkpoint: Path | None
    archive: Path | None
    test_results: list[dict[str, float]] | None

    def summary(self) -> str:
        """The lines ``ganglion train`` prints at the end."""
        lines = ["Training done."]
        if self.archive is not None:
            lines.append(f"  model archive: {self.archive}")
        if self.log_dir is not None:
            lines.append(f"  logs:          {self.log_dir}  (tensorboard --logdir {self.log_dir})")
        if self.checkpoint_dir is not None:
            best = f"  (best: {self.best_checkpoint.name})" if self.best_checkpoint else ""
            lines.append(f"  checkpoints:   {self.checkpoint_dir}{best}")
        if self.log_dir is None:
            lines.append("  nothing was saved (fast_dev_run, or exp_manager disabled)")
        return "\n".join(lines)


# -- config sources ---------------------------------------------------------------------------
def _config_sources() -> list[str]:
    """Hydra search-path entries from ``register_configs``; dataclass or mapping entries are
    stored in Hydra's ConfigStore under their registered name instead."""
    from hydra.core.config_store import ConfigStore

    from ganglion.plugins import registry
    from ganglion.registry import import_target

    sources: list[str] = []
    store = ConfigStore.instance()
    for entry in registry("configs"):
        target = entry.target
        if isinstance(target, str) and target.startswith(("pkg://", "file://")):
            if target not in sources:
                sources.append(target)
            continue
        problem = None
        if isinstance(target, str) and ":" in target:
            try:
                target = import_target(target)
            except Exception as exc:  # one broken plugin must not stop every training run
                problem = f"points at {entry.target!r}, which failed to import: {exc}"
        if problem is None and (
            (isinstance(target, type) and dataclasses.is_dataclass(target))
            or isinstance(target, Mapping)
        ):
            store.store(name=entry.name, node=target)
            continue
        warnings.warn(
            f"config '{entry.name}' registered by {entry.provider} is left out: "
            + (
                problem
                or f"{target!r} is not 'pkg://package.conf', 'file:///abs/dir', a dataclass "
                "or a mapping"
            ),
            stacklevel=2,
        )
    return sources


_HELP_HEADER = """ganglion train: compose a config with Hydra and train the model it names.

Usage: ganglion train [--config-path DIR] --config-name NAME [OVERRIDE ...] [-m] [--cfg job]
  key=value        set a key          +key=value   add a key      ~key   remove a key
  model.optim=adam pick an optimizer preset (ganglion list optimizers)
  -m a=1,2 b=x,y   sweep (Hydra multirun); --cfg job prints the composed config
"""


def _primary_node(config_name: str | None, search_path: list[str]) -> dict[str, Any]:
    from ganglion.conf.schema import EXP_MANAGER_SCHEMA_NAME, TRAINER_SCHEMA_NAME

    defaults: list[Any] = [
        "_self_",  # first: the hydra settings below yield to the user's config and command line
        TRAINER_SCHEMA_NAME,
        EXP_MANAGER_SCHEMA_NAME,
        ROOT_DEFAULTS_NAME,
    ]
    if config_name:
        defaults.append(f"{config_name}@_global_")
    defaults.append({"override hydra/job_logging": "stdout"})  # no log file in the working dir
    return {
        "defaults": defaults,
        "hydra": {
            "searchpath": list(search_path),
            "run": {"dir": "."},
            # jobs of a sweep write nothing of Hydra's own but multirun.yaml, kept with the runs
            "sweep": {
                "dir": f"${{{_EXP_DIR_RESOLVER}:}}/multirun/${{now:%Y-%m-%d_%H-%M-%S}}",
                "subdir": ".",
            },
            "output_subdir": None,  # exp_manager saves the config in the run directory
            "job": {"chdir": False},
            "help": {"app_name": "ganglion train", "header": _HELP_HEADER},
        },
    }


def _exp_dir(*, _root_: Any) -> str:
    """The ``_EXP_DIR_RESOLVER`` resolver: ``exp_manager.exp_dir`` of the config being run
    (default :data:`ganglion.exp_manager.DEFAULT_EXP_DIR`), ``~`` expanded, absolute."""
    from ganglion.exp_manager import DEFAULT_EXP_DIR

    exp_dir = OmegaConf.select(_root_, "exp_manager.exp_dir", default=None)
    return str(Path(exp_dir or DEFAULT_EXP_DIR).expanduser().absolute())


def _store_primary(config_name: str | None) -> None:
    """Store the primary config (and the base configs) in the ConfigStore, with the plugins'
    config sources on its search path."""
    from hydra.core.config_store import ConfigStore

    from ganglion.conf.schema import register_base_configs

    OmegaConf.register_new_resolver(_EXP_DIR_RESOLVER, _exp_dir, replace=True)
    store = ConfigStore.instance()
    register_base_configs(store)
    store.store(name=ROOT_DEFAULTS_NAME, node={"seed": 42})
    search_path = [s for s in _config_sources() if s != _CORE_CONFIGS]
    search_path.append(_CORE_CONFIGS)  # the core's presets come after the plugins'
    store.store(name=PRIMARY_NAME, node=_primary_node(config_name, search_path))
    store.store(name=_PRESET_PROBE_NAME, node={"hydra": {"searchpath": search_path}})


def _config_dir(config_path: str | None) -> str:
    if config_path is None:
        return _CORE_CONFIGS
    if config_path.startswith(("pkg://", "file://")):
        return config_path
    path = Path(config_path).expanduser().absolute()
    if not path.is_dir():
        raise ConfigError(f"--config-path: no directory at {config_path!r} ({path})")
    return str(path)


@contextlib.contextmanager
def _hydra_context(config_dir: str) -> Iterator[None]:
    from hydra import initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # whatever an earlier run left behind
    if config_dir.startswith("pkg://"):
        ctx = initialize_config_module(
            config_dir[len("pkg://") :], version_base="1.3", job_name="train"
        )
    else:
        ctx = initialize_config_dir(
            config_dir.removeprefix("file://"), version_base="1.3", job_name="train"
        )
    with ctx:
        yield


# -- overrides --------------------------------------------------------------------------------
def _parse_overrides(overrides: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(f"cannot parse the command-line overrides: {exc}") from None


def _first_of_sweeps(overrides: Sequence[str]) -> list[str]:
    """Each sweep (``a=1,2``, ``range(…)``) replaced by its first value: one job to check."""
    out = []
    for text, override in zip(overrides, _parse_overrides(overrides)):
        if override.is_sweep_override():
            try:
                first = next(iter(override.sweep_string_iterator()))
            except Exception:  # glob() needs a live config loader: leave it out of the check
                continue
            out.append(f"{override.get_key_element()}={first}")
        else:
            out.append(text)
    return out


def _sweep_values(override: Any) -> list[str]:
    if not override.is_sweep_override():
        return [override.value()] if isinstance(override.value(), str) else []
    try:
        return list(override.sweep_string_iterator())
    except Exception:
        return []


def _rewrite_group_overrides(overrides: list[str]) -> tuple[list[str], set[str]]:
    """``model.optim=adam`` -> ``model/optim=adam`` where ``model/optim`` is a config group of
    the search path (sweeps too: ``model.optim=adam,sgd``); returns the new list and the groups
    rewritten this way. A plain name that is not an option of the group is an error."""
    from hydra.core.global_hydra import GlobalHydra

    from ganglion.optim.presets import is_plain_name as _is_plain_name
    from ganglion.optim.presets import rewrite_preset_overrides

    loader = GlobalHydra.instance().config_loader()
    options: dict[str, list[str]] = {}
    out: list[str] = []
    rewritten: set[str] = set()
    for text, override in zip(overrides, _parse_overrides(overrides)):
        key = override.key_or_group
        values = _sweep_values(override)
        if (
            "." not in key
            or key.startswith("hydra.")
            or override.package is not None
            or not (values and all(_is_plain_name(v) for v in values))
        ):
            out.append(text)
            continue
        group = key.replace(".", "/")
        if group not in options:
            options[group] = loader.get_group_options(group, config_name=_PRESET_PROBE_NAME)
        if not options[group]:
            out.append(text)
            continue
        for value in values:  # an unknown preset: the error lists the known ones
            rewrite_preset_overrides([f"{key}={value}"], {group: options[group]})
        lhs, _, value_text = text.partition("=")
        prefix = lhs[: len(lhs) - len(lhs.lstrip("+~"))]
        out.append(f"{prefix}{group}={value_text}")
        rewritten.add(group)
    return out, rewritten


def _preset_keys(groups: set[str], overrides: Sequence[str]) -> dict[tuple[str, str], set[str]]:
    """The keys each preset chosen on the command line sets (for the replace semantics)."""
    from hydra import compose

    out: dict[tuple[str, str], set[str]] = {}
    for override in _parse_overrides(overrides):
        group = override.key_or_group
        if group not in groups:
            continue
        for option in _sweep_values(override):
            cfg = compose(config_name=_PRESET_PROBE_NAME, overrides=[f"+{group}={option}"])
            node = OmegaConf.select(cfg, group.replace("/", "."))
            out[(group, option)] = set(node.keys()) if isinstance(node, DictConfig) else set()
    return out


def _replace_presets(
    cfg: DictConfig,
    job_overrides: Sequence[str],
    groups: set[str],
    preset_keys: Mapping[tuple[str, str], set[str]],
) -> DictConfig:
    """Drop the keys a dotted-form preset (``model.optim=adam``) replaced: those of the
    config's previous settings that the preset does not set, that the command line does not
    set, and that the group does not keep (``sched``)."""
    if not groups:
        return cfg
    parsed = _parse_overrides(job_overrides)
    chosen = {o.key_or_group: o.value() for o in parsed if o.key_or_group in groups}
    set_on_cli = {o.key_or_group for o in parsed if not o.is_delete()}
    for group, option in chosen.items():
        keys = preset_keys.get((group, str(option)))
        package = group.replace("/", ".")
        node = OmegaConf.select(cfg, package)
        if keys is None or not isinstance(node, DictConfig):
            continue
        keep = set(_KEEP_ON_PRESET.get(group, ()))
        with _open(cfg):
            for key in list(node.keys()):
                if key not in keys and key not in keep and f"{package}.{key}" not in set_on_cli:
                    del node[key]
    return cfg


@contextlib.contextmanager
def _open(cfg: DictConfig) -> Iterator[None]:
    from omegaconf import open_dict

    with open_dict(cfg):
        yield


def _compose(config_name: str | None, overrides: list[str]) -> tuple[DictConfig, set[str]]:
    """Compose (inside a Hydra context). An override of a group absent from the defaults
    list is retried as an addition (``+model/optim=adam``); returns the config and the keys
    that had to become additions."""
    from hydra import compose
    from hydra.errors import ConfigCompositionException, HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides)
    added: set[str] = set()
    for _ in range(len(overrides) + 1):
        try:
            return compose(config_name=PRIMARY_NAME, overrides=overrides), added
        except ConfigCompositionException as exc:
            message = str(exc)
            fixed = False
            if "No match in the defaults list" in message:
                for i, text in enumerate(overrides):
                    key = text.partition("=")[0]
                    if f"Could not override '{key}'" in message and not key.startswith("+"):
                        overrides[i] = "+" + text
                        added.add(key)
                        fixed = True
                        break
            if not fixed:
                raise ConfigError(_composition_message(exc, config_name, overrides)) from None
        except (HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(_composition_message(exc, config_name, overrides)) from None
    raise ConfigError(f"cannot compose the config with overrides {overrides}")


def _composition_message(exc: Exception, config_name: str | None, overrides: list[str]) -> str:
    """A Hydra/OmegaConf composition error as one sentence naming the key (and, for an
    unknown key, the closest known one; for a bad value, the type expected)."""
    import re

    cause = exc.__cause__ or exc.__context__
    text = str(exc)
    detail = str(cause) if cause is not None else ""
    full_key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
    missing = re.search(r"Could not (?:override|append to|delete from) '([^']+)'", text)
    if missing and re.search(r"not in struct|not in '|Key '[^']*' not|not found", detail + text):
        return _unknown_key_message(missing.group(1).lstrip("+~"), config_name, overrides)
    converted = re.search(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", detail)
    if converted and full_key:
        value, given, expected = converted.groups()
        if str(full_key).startswith("trainer."):
            annotation = _trainer_parameters().get(str(full_key).split(".", 1)[1])
            if annotation is not None:
                expected = _type_name(annotation)
        expected = _OMEGACONF_TYPES.get(expected, expected)
        return f"{full_key}: expected {expected}, got {value!r} ({given})"
    if "Cannot find primary config" in text or (
        "Could not load" in text and config_name and config_name in text
    ):
        return (
            f"--config-name {config_name}: no such config in --config-path, the core's configs or "
            f"any installed plugin's configs ({text.strip().splitlines()[0]})"
        )
    lines = [line.strip() for line in (text + "\n" + detail).splitlines() if line.strip()]
    reason = " ".join(dict.fromkeys(lines))
    if full_key:
        return f"{full_key}: {reason}"
    return f"cannot compose the config: {reason}"


def _unknown_key_message(key: str, config_name: str | None, overrides: list[str]) -> str:
    """'Unknown key trainer.max_epoch … Did you mean max_epochs?', with the candidates the
    section really accepts (Trainer arguments, optimizer params, dataclass fields, or the
    keys beside it in the composed config)."""
    parent, _, leaf = key.rpartition(".")
    candidates: list[str] = []
    what = f"'{parent}'" if parent else "the config"
    if parent == "trainer":
        candidates = list(_trainer_parameters())
        what = "pytorch_lightning.Trainer's arguments"
    elif parent in ("exp_manager", "exp_manager.checkpoint_callback_params"):
        from ganglion.conf.schema import CheckpointCallbackParams, ExpManagerConfig

        schema = ExpManagerConfig if parent == "exp_manager" else CheckpointCallbackParams
        candidates = [f.name for f in dataclasses.fields(schema)]
    else:
        # compose without the offending override to see what the section holds
        rest = [o for o in overrides if o.partition("=")[0].lstrip("+~") != key]
        with contextlib.suppress(Exception):
            from hydra import compose

            cfg = compose(config_name=PRIMARY_NAME, overrides=rest)
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if isinstance(node, DictConfig):
                candidates = [str(k) for k in node]
            if parent in ("model.optim", "model.optim.sched") and isinstance(node, DictConfig):
                candidates = sorted(set(candidates) | _optim_keys(node, parent))
                what = f"'{parent}' (the keys its {parent.rsplit('.', 1)[-1]} takes)"
    hint = did_you_mean(leaf, candidates)
    add = f" To add a new key on purpose use +{key}=..."
    return f"Unknown key {key}: not among {what}.{hint}{add}"


def _optim_keys(node: DictConfig, parent: str) -> set[str]:
    from ganglion import optim

    name = node.get("name")
    keys: set[str] = set()
    if not isinstance(name, str):
        return keys
    with contextlib.suppress(GanglionError):
        if parent == "model.optim":
            params = optim.optimizer_params(name)
            keys |= set(optim.OPTIM_KEYS)
        else:
            params = optim.scheduler_params(name)
            keys |= set(optim.SCHED_KEYS)
        if params is not None:
            keys |= {f.name for f in dataclasses.fields(params)}
    return keys


# -- the Trainer's arguments ------------------------------------------------------------------
def _trainer_parameters() -> dict[str, Any]:
    """Trainer argument -> annotation."""
    from pytorch_lightning import Trainer

    try:
        hints = typing.get_type_hints(Trainer.__init__)
    except Exception:  # an annotation that does not evaluate: fall back to the raw ones
        hints = {}
    out = {}
    for name, param in inspect.signature(Trainer.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        annotation = hints.get(name, param.annotation)
        out[name] = Any if annotation is inspect.Parameter.empty else annotation
    return out


def _matches(value: Any, annotation: Any) -> bool:
    """Whether a config value fits an annotation (the subset Trainer arguments use)."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is _union_type()):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.Iterable):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args else Any
        return all(_matches(v, item) for v in value)
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return False
        k_type, v_type = args if len(args) == 2 else (Any, Any)
        return all(_matches(k, k_type) and _matches(v, v_type) for k, v in value.items())
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (Path, os.PathLike):
        return isinstance(value, (str, os.PathLike))
    if annotation is timedelta:
        return isinstance(value, timedelta)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # a typing construct this check does not know: let Lightning judge


def _union_type() -> Any:
    import types

    return getattr(types, "UnionType", typing.Union)


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is _union_type():
        return " or ".join(dict.fromkeys(_type_name(a) for a in args))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.Iterable):
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin in (dict, collections.abc.Mapping):
        return "a mapping"
    if isinstance(annotation, type):
        if annotation.__module__ == "builtins":
            return annotation.__name__
        return f"a {annotation.__name__} ({{_target_: ...}})"
    return str(annotation)


def _object_bases(annotation: Any) -> tuple[type, ...]:
    """The non-builtin classes an annotation names (what a ``_target_`` may build)."""
    found: list[type] = []

    def walk(a: Any) -> None:
        for arg in typing.get_args(a):
            walk(arg)
        if isinstance(a, type) and a.__module__ not in ("builtins", "datetime", "pathlib"):
            found.append(a)

    walk(annotation)
    return tuple(found)


def _build_objects(value: Any, key: str, annotation: Any) -> Any:
    """``{_target_: cls, **kwargs}`` entries of a Trainer argument, built; the class must be
    of a kind the argument takes (a Callback for ``callbacks`` …)."""
    if isinstance(value, list):
        return [_build_objects(v, f"{key}[{i}]", annotation) for i, v in enumerate(value)]
    if not (isinstance(value, dict) and "_target_" in value):
        return value
    from hydra.utils import get_class

    bases = _object_bases(annotation)
    target = str(value["_target_"])
    try:
        cls = get_class(target)
    except Exception as exc:
        raise ConfigError(f"{key}._target_: cannot import {target!r}: {exc}") from None
    if not bases or not issubclass(cls, bases):
        kinds = " or ".join(dict.fromkeys(b.__name__ for b in bases)) or "no object"
        raise ConfigError(f"{key}._target_: {target!r} is not a {kinds}, which {key} takes")
    kwargs = {k: v for k, v in value.items() if k != "_target_"}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot build {target} from {kwargs}: {exc}") from None


def _check_trainer(trainer_cfg: DictConfig, exp_cfg: DictConfig) -> dict[str, Any]:
    """Trainer keyword arguments from ``trainer:``, every key and value checked."""
    from ganglion.exp_manager import _wants_loggers

    params = _trainer_parameters()
    try:
        values = OmegaConf.to_container(trainer_cfg, resolve=True)
    except Exception as exc:
        raise ConfigError(omegaconf_error_message(exc, "trainer")) from None
    assert isinstance(values, dict)
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        key = f"trainer.{name}"
        if name not in params:
            raise ConfigError(
                f"Unknown key {key}: not an argument of pytorch_lightning.Trainer."
                f"{did_you_mean(str(name), params)}"
            )
        built = _build_objects(value, key, params[name])
        if not _matches(built, params[name]):
            raise ConfigError(
                f"{key}: expected {_type_name(params[name])}, got {value!r} "
                f"({type(value).__name__})"
            )
        kwargs[str(name)] = built
    wants_loggers = _wants_loggers(exp_cfg)
    if wants_loggers and kwargs.get("logger") not in (None, False):
        raise ConfigError(
            "trainer.logger is set but exp_manager creates the loggers: set trainer.logger=false, "
            "or exp_manager.create_tensorboard_logger/create_csv_logger/create_wandb_logger=false"
        )
    if exp_cfg.create_checkpoint_callback and kwargs.get("enable_checkpointing"):
        raise ConfigError(
            "trainer.enable_checkpointing is true but exp_manager creates the checkpoint "
            "callback: set trainer.enable_checkpointing=false, or "
            "exp_manager.create_checkpoint_callback=false"
        )
    if wants_loggers:
        kwargs["logger"] = False
    if exp_cfg.create_checkpoint_callback:
        kwargs["enable_checkpointing"] = False
    return kwargs


# -- checking the whole config ----------------------------------------------------------------
def validate_config(cfg: Any) -> DictConfig:
    """Check a composed training config; returns it (a ``DictConfig``).

    Checks every ``trainer`` key against ``pytorch_lightning.Trainer`` (name and type),
    ``exp_manager`` against :class:`~ganglion.conf.schema.ExpManagerConfig`, that
    ``model._target_`` names a registered model (or a ``ModelPT`` subclass), ``model.optim``
    through :mod:`ganglion.optim` (optimizer and scheduler names, keys and types), and
    ``seed``. Raises :class:`ConfigError` naming the key; creates nothing.
    """
    return _validate(cfg)[0]


def _validate(cfg: Any) -> tuple[DictConfig, DictConfig, dict[str, Any]]:
    """:func:`validate_config`; returns the config, the checked ``exp_manager`` config and the
    Trainer's keyword arguments (its ``_target_`` objects built), for :func:`_train`."""
    from ganglion.exp_manager import check_exp_manager_config

    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    trainer_cfg = cfg.get("trainer")
    if trainer_cfg is None:
        trainer_cfg = OmegaConf.create({})
    if not isinstance(trainer_cfg, DictConfig):
        raise ConfigError(f"trainer must be a mapping of Trainer arguments, got {trainer_cfg!r}")
    exp_cfg = check_exp_manager_config(cfg.get("exp_manager"))
    trainer_kwargs = _check_trainer(trainer_cfg, exp_cfg)

    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed: expected an integer or null, got {seed!r}")

    model_cfg = cfg.get("model")
    if not isinstance(model_cfg, DictConfig):
        raise ConfigError(
            "model: the config has no model section; give --config-name <config> or "
            "+model._target_=<registered model> (ganglion list models)"
        )
    target = model_cfg.get("_target_")
    if not isinstance(target, str) or not target:
        from ganglion.plugins import registry

        known = ", ".join(registry("models").names()) or "none installed"
        raise ConfigError(
            f"model._target_: name the model to train (a registered model or the import path "
            f"of a ModelPT subclass), got {target!r}. Registered models: {known}."
        )
    _model_class(target)
    optim_cfg = model_cfg.get("optim")
    if optim_cfg is not None:
        _check_optim(optim_cfg)
    return cfg, exp_cfg, trainer_kwargs


def _model_class(target: str) -> type:
    from ganglion.model import ModelPT, _resolve_model_class
    from ganglion.plugins import registry

    if "." not in target and ":" not in target:
        registry("models").get(target, key="model._target_")  # unknown: close matches, known
    cls = _resolve_model_class(target, key="model._target_")
    assert issubclass(cls, ModelPT)
    return cls


def _check_optim(optim_cfg: Any) -> None:
    """Build the optimizer and scheduler over a stand-in parameter: every name, key and type
    of ``model.optim`` goes through the same checks as the real build."""
    import torch

    from ganglion.optim.building import build_optimization
    from ganglion.optim.building import optim_config_dict as _as_dict

    plain = _as_dict(optim_cfg, "model.optim")
    plain.pop("param_groups", None)  # they select the real model's parameters
    stand_in = [torch.nn.Parameter(torch.zeros(1))]
    build_optimization(stand_in, plain, max_steps=1000)


# -- training ---------------------------------------------------------------------------------
def train(cfg: Any) -> TrainResult:
    """Train the model of a composed config (see the module docstring); returns where the
    results are. ``ganglion train`` calls this once per job."""
    with _quiet_adverts():
        return _train(*_validate(cfg))


@contextlib.contextmanager
def _quiet_adverts() -> Iterator[None]:
    """Drop Lightning's "💡 Tip: try installing …" promotions from the run's output."""
    import logging

    class NoAdverts(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip")

    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    quiet = NoAdverts()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _train(cfg: DictConfig, exp_cfg: DictConfig, trainer_kwargs: dict[str, Any]) -> TrainResult:
    """Train with what :func:`_validate` returned for ``cfg``."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ProgressBar

    from ganglion.exp_manager import StepSeedCallback, ThrottledProgressBar, exp_manager

    callbacks = trainer_kwargs.get("callbacks") or []
    if not isinstance(callbacks, list):
        callbacks = [callbacks]
    seed = cfg.get("seed")
    if seed is not None:
        pl.seed_everything(seed, workers=True, verbose=False)
        callbacks.append(StepSeedCallback(seed))
    if trainer_kwargs.get("enable_progress_bar", True) and not any(
        isinstance(cb, ProgressBar) for cb in callbacks
    ):
        callbacks.append(ThrottledProgressBar())
    trainer_kwargs["callbacks"] = callbacks

    trainer = pl.Trainer(**trainer_kwargs)
    model_cls = _model_class(cfg.model._target_)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    model_cfg.pop("_target_")
    model = model_cls.from_config_dict(model_cfg, trainer=trainer, where="model")
    with _open(cfg):  # the saved config names the class by its full path
        cfg.model._target_ = f"{model_cls.__module__}.{model_cls.__qualname__}"

    log_dir = checkpoint = None
    if not trainer.fast_dev_run:
        log_dir = exp_manager(trainer, exp_cfg, run_config=cfg)
        checkpoint = trainer.checkpoint_callback
    trainer.fit(model)
    trainer.ckpt_path = None  # test the model in memory (the best weights), not the resumed ckpt
    test_results = None
    if _has_loaders(model.test_dataloader()):
        test_results = trainer.test(model)

    archive = best = ckpt_dir = None
    if checkpoint is not None:
        ckpt_dir = Path(checkpoint.dirpath) if checkpoint.dirpath else None
        best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
        archive = getattr(checkpoint, "saved_archive", None)
    result = TrainResult(model, trainer, log_dir, ckpt_dir, best, archive, test_results)
    if trainer.is_global_zero:
        print(result.summary(), flush=True)
    return result


def _has_loaders(loaders: Any) -> bool:
    """Whether a ``*_dataloader()`` result holds a loader: ``None`` and an empty list, tuple
    or mapping do not. Never ``len()`` of a loader itself (an iterable dataset has none)."""
    if loaders is None:
        return False
    if isinstance(loaders, (list, tuple, Mapping)):
        return len(loaders) > 0
    return True


# -- the command ------------------------------------------------------------------------------
def compose_config(
    config_name: str | None = None,
    overrides: Sequence[str] = (),
    *,
    config_path: str | None = None,
) -> DictConfig:
    """Compose a training config as ``ganglion train`` does (without training).

    Args:
        config_name: the YAML or registered config (``None``: only the core's defaults).
        overrides: command-line overrides (``trainer.max_epochs=3``, ``+k=v``, ``~k``,
            ``model.optim=adam``).
        config_path: a directory searched first for ``config_name``.

    Raises:
        ConfigError: the config cannot be composed (unknown key, wrong type, unknown
            config or preset), naming the key.
    """
    composer = _Composer(config_name, config_path)
    with composer.context():
        cfg, _ = composer.compose(list(overrides), multirun=False)
    return cfg


class _Composer:
    """Composition shared by :func:`compose_config` and the command's pre-flight check."""

    def __init__(self, config_name: str | None, config_path: str | None) -> None:
        self.config_name = config_name
        self.config_dir = _config_dir(config_path)
        self.groups: set[str] = set()
        self.preset_keys: dict[tuple[str, str], set[str]] = {}

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        _store_primary(self.config_name)
        with _hydra_context(self.config_dir):
            yield

    def compose(self, overrides: list[str], *, multirun: bool) -> tuple[DictConfig, list[str]]:
        """Compose one job (the first of a sweep); returns it and the overrides to hand to
        Hydra for the real run (presets rewritten, group additions marked with ``+``)."""
        rewritten, self.groups = _rewrite_group_overrides(overrides)
        self.preset_keys = _preset_keys(self.groups, rewritten)
        first = _first_of_sweeps(rewritten) if multirun else rewritten
        # hydra.* settings do not change the job's config; the compose API refuses some
        job = [o for o in first if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
        cfg, added = _compose(self.config_name, job)
        rewritten = ["+" + o if o.partition("=")[0] in added else o for o in rewritten]
        job = ["+" + o if o.partition("=")[0] in added else o for o in job]
        cfg = _replace_presets(cfg, job, self.groups, self.preset_keys)
        return cfg, rewritten


#: Environment variables Lightning's DDP launcher sets in the process that starts the others.
_DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def _end_distributed(saved_env: Mapping[str, str | None]) -> None:
    """Between two jobs of a sweep run in one process: leave no process group and none of the
    launcher's variables behind, so the next job's DDP launcher starts its own processes."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for name, value in saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _hydra_args_parser() -> argparse.ArgumentParser:
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = "ganglion train"
    return parser


def run_argv(argv: Sequence[str]) -> int:
    """The ``ganglion train`` command: Hydra's command line, then :func:`train` per job.

    The config is composed and checked here first, so a mistake is reported before Hydra
    starts anything (and before any directory exists). Returns the exit status: 0, 1 when a
    job failed, 2 for a config error.
    """
    parser = _hydra_args_parser()
    args = parser.parse_args(list(argv))
    sweep_job = os.environ.get(_SWEEP_JOB_ENV)
    if args.multirun and sweep_job is not None and os.environ.get("LOCAL_RANK", "0") != "0":
        # a process Lightning's DDP launcher started for one job of a sweep: it reruns the
        # sweep's command line, but must train that job only
        args.multirun = False
        hydra_settings = [o for o in args.overrides if o.startswith(("hydra.", "hydra/"))]
        args.overrides = [*json.loads(sweep_job), *hydra_settings]
    informational = bool(args.help or args.hydra_help or args.info or args.shell_completion)
    try:
        composer = _Composer(args.config_name, args.config_path)
        with composer.context():
            cfg, overrides = composer.compose(list(args.overrides), multirun=bool(args.multirun))
        if args.cfg == "job" and not args.multirun:
            return _print_cfg(cfg, args)
        if not informational and not args.cfg:
            validate_config(cfg)
    except GanglionError as exc:
        print(f"ganglion train: error: {exc}", file=sys.stderr)
        return 2
    return _run_hydra_jobs(args, composer, overrides, parser)


def _print_cfg(cfg: DictConfig, args: argparse.Namespace) -> int:
    """``--cfg job``: the config as it will be trained (presets replaced), not only as Hydra
    composed it. ``--cfg hydra|all`` are Hydra's own views."""
    node: Any = cfg
    if args.package:
        node = OmegaConf.select(cfg, args.package)
        if node is None:
            print(f"ganglion train: error: --package {args.package}: no such key", file=sys.stderr)
            return 2
    if isinstance(node, (DictConfig, ListConfig)):
        if args.resolve:
            OmegaConf.resolve(node)
        print(OmegaConf.to_yaml(node), end="")
    else:
        print(node)
    return 0


def _run_hydra_jobs(
    args: argparse.Namespace, composer: _Composer, overrides: list[str], parser: Any
) -> int:
    from hydra import version
    from hydra._internal.utils import _run_hydra
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    failures: list[tuple[str, BaseException]] = []

    def task(job_cfg: DictConfig) -> Any:
        job_overrides = list(HydraConfig.get().overrides.task)
        if args.multirun:  # for DDP processes Lightning starts with the sweep's command line
            os.environ[_SWEEP_JOB_ENV] = json.dumps(job_overrides)
        saved_env = {k: os.environ.get(k) for k in _DISTRIBUTED_ENV}
        try:
            cfg = _replace_presets(job_cfg, job_overrides, composer.groups, composer.preset_keys)
            return train(cfg)
        except Exception as exc:  # reported after Hydra returns, with the full traceback
            failures.append((" ".join(job_overrides), exc))
        finally:
            if args.multirun:
                _end_distributed(saved_env)
        return None

    args.overrides = overrides
    args.config_name = PRIMARY_NAME
    args.config_path = composer.config_dir
    version.setbase("1.3")
    GlobalHydra.instance().clear()  # the ConfigStore keeps what composer.context() stored
    try:
        _run_hydra(
            args=args,
            args_parser=parser,
            task_function=task,
            config_path=composer.config_dir,
            config_name=PRIMARY_NAME,
        )
    finally:
        GlobalHydra.instance().clear()
    status = 0
    for job, exc in failures:
        where = f" (job: {job})" if args.multirun and job else ""
        if isinstance(exc, GanglionError):
            print(f"ganglion train: error{where}: {exc}", file=sys.stderr)
            status = max(status, 2)
        elif len(failures) == 1 and not args.multirun:
            raise exc
        else:
            import traceback

            print(f"ganglion train: job failed{where}:", file=sys.stderr)
            traceback.print_exception(exc)
            status = 1 if status == 0 else status
    return status
