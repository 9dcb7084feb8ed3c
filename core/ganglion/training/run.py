"""One training run: build the Trainer and the model, set up the experiment, fit, test, and
say where everything is.

:func:`train` is what ``ganglion train`` calls once per job (after Hydra composed it); it can
be called directly with a config mapping. A run that fails after its run directory was
created leaves a ``FAILED`` file there (:func:`~ganglion.training.run_directory.mark_failed`)
and the output says where.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ganglion.errors import ConfigError
from ganglion.training.validation import ValidatedConfig, model_class, validate

__all__ = ["TrainResult", "train"]


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


def train(cfg: Any) -> TrainResult:
    """Train the model of a composed config (see :mod:`ganglion.training`); returns where the
    results are. The config is checked first (:func:`~ganglion.training.validate_config`),
    before anything is built or created.

    Raises:
        ConfigError: a mistake in the config (before anything is created), or one found while
            the run is built (Lightning refusing a Trainer argument, the model its config).
    """
    checked = validate(cfg)
    with _quiet_adverts():
        return _run(checked)


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


def _run(checked: ValidatedConfig) -> TrainResult:
    from ganglion.training.experiment import exp_manager
    from ganglion.training.run_directory import mark_failed

    cfg = checked.cfg
    trainer = _build_trainer(cfg, checked.trainer_kwargs)
    model_cls = model_class(cfg.model._target_)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    model_cfg.pop("_target_")
    model = model_cls.from_config_dict(model_cfg, trainer=trainer, where="model")
    with open_dict(cfg):  # the saved config names the class by its full path
        cfg.model._target_ = f"{model_cls.__module__}.{model_cls.__qualname__}"
    if trainer.fast_dev_run:
        _size_schedule_for_the_full_run(model, trainer, cfg.get("trainer") or {})

    log_dir = checkpoint = None
    if not trainer.fast_dev_run:
        log_dir = exp_manager(trainer, checked.exp_cfg, run_config=cfg)
        checkpoint = trainer.checkpoint_callback
    try:
        trainer.fit(model)
        trainer.ckpt_path = None  # test the model in memory (the best weights), not the ckpt
        test_results = None
        if _has_loaders(model.test_dataloader()):
            test_results = trainer.test(model)
    except BaseException as exc:
        if log_dir is not None and trainer.is_global_zero:
            marker = mark_failed(log_dir, exc)
            print(
                f"ganglion train: the run stopped before it finished; {log_dir} is marked as "
                f"failed ({marker.name} holds the error)",
                file=sys.stderr,
                flush=True,
            )
        raise

    archive = best = ckpt_dir = None
    if checkpoint is not None:
        ckpt_dir = Path(checkpoint.dirpath) if checkpoint.dirpath else None
        best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
        archive = getattr(checkpoint, "saved_archive", None)
    result = TrainResult(model, trainer, log_dir, ckpt_dir, best, archive, test_results)
    if trainer.is_global_zero:
        print(result.summary(), flush=True)
    return result


def _build_trainer(cfg: DictConfig, trainer_kwargs: dict[str, Any]) -> Any:
    """Lightning's ``Trainer`` with the run's callbacks added (per-step seeding when the
    config has a ``seed``, the throttled progress bar); a value Lightning refuses is a
    :class:`ConfigError` naming ``trainer``."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ProgressBar
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    from ganglion.training.callbacks import StepSeedCallback, ThrottledProgressBar

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
    try:
        return pl.Trainer(**trainer_kwargs)
    except MisconfigurationException as exc:
        raise ConfigError(f"trainer: Lightning refuses the arguments: {exc}") from None


def _size_schedule_for_the_full_run(model: Any, trainer: Any, trainer_cfg: Mapping) -> None:
    """Under ``fast_dev_run``, size a scheduler whose ``max_steps`` is null for the run the
    config describes, not for the one batch fast_dev_run trains.

    Lightning replaces the run's bounds with a run of ``fast_dev_run`` batches, so the step
    count a scheduler gets from the trainer is 1, and a schedule with a warmup of 100 steps
    (sized for the real run) refuses it. fast_dev_run checks the config's code paths; it
    should build, and check, the schedule the real run will use. The count comes from the
    config's ``trainer`` settings (without ``fast_dev_run``), the devices Lightning found and
    the model's training dataloader, and is written into the model's config as
    ``optim.sched.max_steps`` (nothing is saved in a fast_dev_run).
    """
    from ganglion.optim.building import optim_config_dict
    from ganglion.optim.lookup import lookup_class
    from ganglion.optim.max_steps import max_steps_from_trainer

    model_cfg = getattr(model, "cfg", None)
    optim = model_cfg.get("optim") if isinstance(model_cfg, DictConfig) else None
    sched = optim.get("sched") if isinstance(optim, DictConfig) else None
    if not isinstance(sched, DictConfig) or sched.get("max_steps") is not None:
        return
    _, spec, _ = lookup_class("schedulers", optim_config_dict(sched), "model.optim.sched")
    if "max_steps" not in spec.fields:
        return
    loader = model.train_dataloader()
    try:
        num_batches = len(loader) if loader is not None else None
    except TypeError:  # an iterable dataset: no length, as in the real run
        num_batches = None
    settings = {k: v for k, v in dict(trainer_cfg).items() if k != "fast_dev_run"}
    settings["devices"] = trainer.num_devices
    settings["num_nodes"] = trainer.num_nodes
    steps = max_steps_from_trainer(settings, num_batches)
    with open_dict(model_cfg):
        model_cfg.optim.sched.max_steps = steps
    model.cfg = model_cfg  # the model's saved hyperparameters follow


def _has_loaders(loaders: Any) -> bool:
    """Whether a ``*_dataloader()`` result holds a loader: ``None`` and an empty list, tuple
    or mapping do not. Never ``len()`` of a loader itself (an iterable dataset has none)."""
    if loaders is None:
        return False
    if isinstance(loaders, (list, tuple, Mapping)):
        return len(loaders) > 0
    return True
