"""The ``trainer:`` section: every key an argument of Lightning's ``Trainer``, every value of
the type that argument takes, objects built from ``{_target_: ...}`` entries.

:func:`trainer_kwargs` turns the section into the ``Trainer``'s keyword arguments, or raises a
:class:`~ganglion.errors.ConfigError` naming the key: a misspelled argument (with the closest
one), a value of the wrong type (with the type expected), a value Lightning would refuse
(``trainer.devices=0``), a ``_target_`` of the wrong kind, or a conflict with what
``exp_manager`` creates (loggers, the checkpoint callback).
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import re
import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

from ganglion.errors import ConfigError, did_you_mean, omegaconf_error_message

__all__ = ["build_trainer_objects", "trainer_kwargs", "trainer_parameters", "type_name"]


def trainer_parameters() -> dict[str, Any]:
    """Lightning ``Trainer`` argument -> its annotation (``Any`` where it has none)."""
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


def trainer_kwargs(trainer_cfg: Any, exp_cfg: Any) -> dict[str, Any]:
    """The ``Trainer``'s keyword arguments from ``trainer:`` (a ``DictConfig``), every key and
    value checked, objects built; ``logger`` and ``enable_checkpointing`` turned off where the
    checked ``exp_manager`` config ``exp_cfg`` creates loggers / the checkpoint callback."""
    from omegaconf import OmegaConf

    from ganglion.training.loggers import wants_loggers

    params = trainer_parameters()
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
        built = build_trainer_objects(value, key, params[name])
        if not _matches(built, params[name]):
            raise ConfigError(
                f"{key}: expected {type_name(params[name])}, got {value!r} ({type(value).__name__})"
            )
        kwargs[str(name)] = built
    _check_counts(kwargs)
    creates_loggers = wants_loggers(exp_cfg)
    if creates_loggers and kwargs.get("logger") not in (None, False):
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
    if creates_loggers:
        kwargs["logger"] = False
    if exp_cfg.create_checkpoint_callback:
        kwargs["enable_checkpointing"] = False
    return kwargs


#: Counting arguments whose type check lets through values Lightning refuses: key -> minimum.
_MINIMUMS = {"num_nodes": 1, "accumulate_grad_batches": 1, "fast_dev_run": 0}


def _check_counts(kwargs: dict[str, Any]) -> None:
    """Values of the right type that Lightning would refuse with a traceback (or, for
    ``devices=0``, with an error that does not name the config key)."""
    if "devices" in kwargs:
        _check_devices(kwargs["devices"])
    for name, minimum in _MINIMUMS.items():
        value = kwargs.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value < minimum:
            raise ConfigError(f"trainer.{name} must be >= {minimum}, got {value}")


def _check_devices(devices: Any) -> None:
    fix = (
        "give a number of devices >= 1 (trainer.devices=1), -1 for every device, 'auto', "
        "or a list of device ids (trainer.devices=[0,1])"
    )
    count: int | None = None
    if isinstance(devices, int) and not isinstance(devices, bool):
        count = devices
    elif isinstance(devices, str) and re.fullmatch(r"\s*-?\d+\s*", devices):
        count = int(devices)
    elif isinstance(devices, (list, tuple)):
        if not devices:
            raise ConfigError(f"trainer.devices=[] selects no device: {fix}")
        bad = [d for d in devices if isinstance(d, bool) or not isinstance(d, int) or d < 0]
        if bad:
            raise ConfigError(f"trainer.devices: device ids are integers >= 0, got {bad}: {fix}")
    if count is not None and count != -1 and count < 1:
        raise ConfigError(f"trainer.devices={devices!r} selects no device: {fix}")


def build_trainer_objects(value: Any, key: str, annotation: Any) -> Any:
    """``{_target_: cls, **kwargs}`` entries of a Trainer argument (at ``key``), built; the
    class must be of a kind the argument takes (a ``Callback`` for ``callbacks`` …) and pass
    the ``_target_`` policy (:mod:`ganglion.targets`: Lightning's callbacks, loggers and
    profilers, plugin classes, explicitly allowed packages). Lists
    are built entry by entry; other values are returned as they are."""
    if isinstance(value, list):
        return [build_trainer_objects(v, f"{key}[{i}]", annotation) for i, v in enumerate(value)]
    if not (isinstance(value, dict) and "_target_" in value):
        return value
    from ganglion.targets import resolve_target

    bases = _object_bases(annotation)
    target = str(value["_target_"])
    if not bases:
        raise ConfigError(f"{key}._target_: {key} takes no object built from a _target_")
    cls = resolve_target(target, key=f"{key}._target_", base=bases, error=ConfigError)
    kwargs = {k: v for k, v in value.items() if k != "_target_"}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot build {target} from {kwargs}: {exc}") from None


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


def _matches(value: Any, annotation: Any) -> bool:
    """Whether a config value fits an annotation (the subset Trainer arguments use)."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
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


def type_name(annotation: Any) -> str:
    """How a message names the type an annotation asks for (``int or null``)."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(type_name(a) for a in args))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.Iterable):
        return f"a list of {type_name(args[0])}" if args else "a list"
    if origin in (dict, collections.abc.Mapping):
        return "a mapping"
    if isinstance(annotation, type):
        if annotation.__module__ == "builtins":
            return annotation.__name__
        return f"a {annotation.__name__} ({{_target_: ...}})"
    return str(annotation)
