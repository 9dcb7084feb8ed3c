"""The core's base configs for ``ganglion train``, as structured dataclasses.

A training config has three sections (the seed documentation's layout)::

    trainer:      # any argument of pytorch_lightning.Trainer
    exp_manager:  # experiment dir, loggers, checkpoints, resume (ganglion.exp_manager)
    model:        # _target_ (a registered model) and the model's own config

``ganglion train`` composes, lowest precedence first: these dataclasses, then the YAML named
by ``--config-name`` (and any dataclass config it extends through its ``defaults`` list), then
the command line. So a YAML needs to state only what differs from the defaults here, and
``trainer.max_epochs=3`` works on the command line even when the YAML never mentions it.

* :class:`TrainerConfig` lists the Trainer arguments ganglion sets a default for. The node is
  open: any other Trainer argument can be set in a YAML or added on the command line
  (``+trainer.fast_dev_run=true``); every key and value is checked against
  ``pytorch_lightning.Trainer``'s signature before anything runs.
* :class:`ExpManagerConfig` (with :class:`CheckpointCallbackParams`) is closed and typed: a
  misspelled key or a value of the wrong type is an error naming the key.

Importing this module imports neither torch nor Hydra; :func:`register_base_configs` puts the
dataclasses in Hydra's ConfigStore when ``ganglion train`` runs (never at import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CheckpointCallbackParams",
    "ExpManagerConfig",
    "TrainerConfig",
    "TRAINER_SCHEMA_NAME",
    "EXP_MANAGER_SCHEMA_NAME",
    "register_base_configs",
]

#: ConfigStore names of the base configs (placed under ``trainer`` / ``exp_manager``).
TRAINER_SCHEMA_NAME = "ganglion_trainer_defaults"
EXP_MANAGER_SCHEMA_NAME = "ganglion_exp_manager_defaults"


@dataclass
class TrainerConfig:
    """Defaults for ``trainer:``; every field is a ``pytorch_lightning.Trainer`` argument.

    Values that differ from Lightning's own defaults, and why:

    * ``max_epochs=1000``: Lightning's implicit default, stated so it does not warn.
    * ``num_sanity_val_steps=0``: ganglion validates the config before training, and the
      sanity pass costs a few validation batches at every start and every resume.
    * ``logger=False``, ``enable_checkpointing=False``: ``exp_manager`` creates the loggers
      and the checkpoint callback (set ``exp_manager.create_*`` to false to manage them here).

    ``devices``, ``precision`` and ``strategy`` are typed ``Any`` because Lightning accepts
    several types for each (``devices: 2``, ``devices: [0, 1]``, ``devices: auto``); they are
    checked against the Trainer's signature like every other key.
    """

    accelerator: Any = "auto"
    strategy: Any = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"
    max_epochs: int | None = 1000
    max_steps: int = -1
    max_time: Any = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    val_check_interval: Any = None
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    num_sanity_val_steps: int = 0
    log_every_n_steps: int = 50
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    deterministic: Any = None
    benchmark: bool | None = None
    sync_batchnorm: bool = False
    use_distributed_sampler: bool = True
    default_root_dir: str | None = None
    logger: Any = False
    enable_checkpointing: bool = False


@dataclass
class CheckpointCallbackParams:
    """``exp_manager.checkpoint_callback_params``: Lightning ``ModelCheckpoint`` arguments
    (with ganglion's defaults) plus two keys of ganglion's own, ``save_best_model`` and
    ``save_ganglion_on_train_end``.

    ``dirpath`` defaults to ``<log_dir>/checkpoints`` and ``filename`` to
    ``<name>--{<monitor>:.4f}-{epoch}``. ``train_time_interval`` is a duration string
    (``"00:30:00"`` or ``"1:00:00:00"`` for a day).
    """

    dirpath: str | None = None
    filename: str | None = None
    monitor: str | None = "val_loss"
    verbose: bool = True
    save_last: bool = True
    save_top_k: int = 3
    save_weights_only: bool = False
    save_on_exception: bool = False
    mode: str = "min"
    auto_insert_metric_name: bool = True
    every_n_train_steps: int | None = None
    every_n_epochs: int | None = None
    train_time_interval: str | None = None
    save_on_train_epoch_end: bool | None = None
    enable_version_counter: bool = True
    #: package the model as ``<dirpath>/<name>.ganglion`` when training ends
    save_ganglion_on_train_end: bool = True
    #: when training ends, the model left in memory (tested by ``ganglion train``, packed in
    #: that archive) holds the best checkpoint's weights rather than the last ones, with or
    #: without an archive; falls back to the last weights when nothing was monitored
    save_best_model: bool = True


@dataclass
class ExpManagerConfig:
    """``exp_manager:`` — where a run writes and what it writes (see :func:`exp_manager`).

    The run directory is ``<exp_dir>/<name>/<version>``; ``version`` defaults to the start
    time (``2024-05-01_12-30-00``) or, with ``resume_if_exists``, to no version level at all,
    so that a restarted job finds the previous one (as in the seed documentation).
    """

    exp_dir: str | None = None
    name: str = "default"
    version: str | None = None
    use_datetime_version: bool = True
    explicit_log_dir: str | None = None
    resume_if_exists: bool = False
    resume_ignore_no_checkpoint: bool = False
    resume_from_checkpoint: str | None = None
    create_tensorboard_logger: bool = True
    summary_writer_kwargs: dict[str, Any] = field(default_factory=dict)
    create_csv_logger: bool = True
    csv_logger_kwargs: dict[str, Any] = field(default_factory=dict)
    create_wandb_logger: bool = False
    wandb_logger_kwargs: dict[str, Any] = field(default_factory=dict)
    create_checkpoint_callback: bool = True
    checkpoint_callback_params: CheckpointCallbackParams = field(
        default_factory=CheckpointCallbackParams
    )
    files_to_copy: list[str] = field(default_factory=list)


def register_base_configs(store: Any = None) -> None:
    """Put the base configs in Hydra's ConfigStore (``store`` or the global instance).

    Called by ``ganglion train`` before it composes; safe to call repeatedly.
    """
    from omegaconf import OmegaConf

    if store is None:
        from hydra.core.config_store import ConfigStore

        store = ConfigStore.instance()
    # the trainer node goes in as a plain mapping: a dataclass node would refuse Trainer
    # arguments it does not list (callbacks: [...] in a YAML); ganglion train checks every key
    # and value against the Trainer's signature instead
    trainer_defaults = OmegaConf.to_container(OmegaConf.structured(TrainerConfig))
    store.store(name=TRAINER_SCHEMA_NAME, node=trainer_defaults, package="trainer")
    store.store(name=EXP_MANAGER_SCHEMA_NAME, node=ExpManagerConfig, package="exp_manager")
