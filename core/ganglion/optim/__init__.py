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

The package, one idea per module:

* :mod:`~ganglion.optim.lookup`: registered names -> classes and their params dataclasses;
* :mod:`~ganglion.optim.argspec`: which keys a class takes, checked values;
* :mod:`~ganglion.optim.building`: :func:`build_optimization` and its two halves;
* :mod:`~ganglion.optim.param_groups`: ``param_groups`` (which parameters get which options);
* :mod:`~ganglion.optim.max_steps`: the run's step count for schedulers left null;
* :mod:`~ganglion.optim.presets`: ``model.optim=adam`` (presets of the ``model/optim`` config
  group) and :func:`compose_optim_config`, which composes a ``model.optim`` node from a base
  config and command-line overrides the way ``ganglion train`` does;
* :mod:`~ganglion.optim.params`: the params dataclasses of torch's optimizers and schedulers.

Importing this package imports no torch; the build functions do.
"""

from ganglion.optim.building import (
    OPTIM_KEYS,
    SCHED_KEYS,
    build_optimization,
    build_optimizer,
    build_scheduler,
)
from ganglion.optim.lookup import get_optimizer, get_scheduler, optimizer_params, scheduler_params
from ganglion.optim.max_steps import compute_max_steps, max_steps_from_trainer
from ganglion.optim.presets import (
    CORE_CONFIGS_SEARCH_PATH,
    KEEP_ON_PRESET,
    compose_optim_config,
    rewrite_preset_overrides,
)

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
    "rewrite_preset_overrides",
    "scheduler_params",
]
