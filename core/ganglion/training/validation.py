"""Checking a composed training config before anything is built or created.

:func:`validate_config` checks every section: ``trainer`` against Lightning's ``Trainer``
(:mod:`~ganglion.training.trainer_args`), ``exp_manager`` against
:class:`~ganglion.conf.schema.ExpManagerConfig`, ``model._target_`` (a registered model or a
``ModelPT`` subclass), the batch size of each of the model's data sections (``*_ds``),
``model.optim`` through :mod:`ganglion.optim` (optimizer and scheduler names, keys and types),
and ``seed``. Each mistake is a :class:`~ganglion.errors.ConfigError` naming the key and what
would fix it; nothing is created, so ``ganglion train`` reports it before any run directory
exists.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganglion.errors import ConfigError, omegaconf_error_message

__all__ = ["ValidatedConfig", "model_class", "validate", "validate_config"]


@dataclasses.dataclass
class ValidatedConfig:
    """A checked training config and what the checks produced for the run."""

    #: the whole config
    cfg: DictConfig
    #: ``exp_manager`` merged over its defaults
    exp_cfg: DictConfig
    #: the ``Trainer``'s keyword arguments, ``_target_`` objects built
    trainer_kwargs: dict[str, Any]


def validate_config(cfg: Any) -> DictConfig:
    """Check a composed training config; returns it (a ``DictConfig``).

    Checks every ``trainer`` key against ``pytorch_lightning.Trainer`` (name, type, and the
    values Lightning refuses, such as ``devices=0``), ``exp_manager`` against
    :class:`~ganglion.conf.schema.ExpManagerConfig`, that ``model._target_`` names a
    registered model (or a ``ModelPT`` subclass), that every ``model.<name>_ds.batch_size`` is
    a positive integer, ``model.optim`` through :mod:`ganglion.optim` (optimizer and scheduler
    names, keys and types), and ``seed``. Raises :class:`ConfigError` naming the key; creates
    nothing.
    """
    return validate(cfg).cfg


def validate(cfg: Any) -> ValidatedConfig:
    """:func:`validate_config`, returning also what the run is built with."""
    from ganglion.training.experiment import check_exp_manager_config
    from ganglion.training.trainer_args import trainer_kwargs

    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    trainer_cfg = cfg.get("trainer")
    if trainer_cfg is None:
        trainer_cfg = OmegaConf.create({})
    if not isinstance(trainer_cfg, DictConfig):
        raise ConfigError(f"trainer must be a mapping of Trainer arguments, got {trainer_cfg!r}")
    exp_cfg = check_exp_manager_config(cfg.get("exp_manager"))
    kwargs = trainer_kwargs(trainer_cfg, exp_cfg)

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
    model_class(target)
    _check_batch_sizes(model_cfg)
    optim_cfg = model_cfg.get("optim")
    if optim_cfg is not None:
        _check_optim(optim_cfg)
    return ValidatedConfig(cfg, exp_cfg, kwargs)


def model_class(target: str) -> type:
    """The ``ModelPT`` subclass ``model._target_`` names, under the ``_target_`` policy
    (:mod:`ganglion.targets`); an unknown short name lists close matches and the models."""
    from ganglion.model import resolve_model_class

    return resolve_model_class(target, key="model._target_")


def _check_batch_sizes(model_cfg: DictConfig) -> None:
    """Every data section's (``model.<name>_ds``) ``batch_size``, where given, is an integer
    >= 1: a 0 or negative one would fail deep inside the data loader, after the run started."""
    from omegaconf.errors import OmegaConfBaseException

    for name in model_cfg:
        name = str(name)
        if not name.endswith("_ds") or OmegaConf.is_missing(model_cfg, name):
            continue
        key = f"model.{name}.batch_size"
        try:
            value = OmegaConf.select(model_cfg, f"{name}.batch_size", default=None)
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_error_message(exc, key)) from None
        if value is None:
            continue  # not given (or ???): the data section's default (or its own error)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{key} must be an integer >= 1 (samples per batch), got {value!r}; "
                f"set it with {key}=<n>"
            )


def _check_optim(optim_cfg: Any) -> None:
    """Build the optimizer and scheduler over a stand-in parameter: every name, key and type
    of ``model.optim`` goes through the same checks as the real build."""
    import torch

    from ganglion.optim.building import build_optimization, optim_config_dict

    plain = optim_config_dict(optim_cfg, "model.optim")
    plain.pop("param_groups", None)  # they select the real model's parameters
    stand_in = [torch.nn.Parameter(torch.zeros(1))]
    build_optimization(stand_in, plain, max_steps=1000)
