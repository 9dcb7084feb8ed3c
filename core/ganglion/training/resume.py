"""Resume: which checkpoint a run continues from, and where its logs pick up.

``resume_if_exists`` continues from the newest ``*last*.ckpt`` of the run's checkpoint
directory (without one that is an error unless ``resume_ignore_no_checkpoint`` is set);
``resume_from_checkpoint`` names a checkpoint explicitly. Logs written after the checkpoint by
the interrupted run are dropped (TensorBoard ``purge_step``, CSV rows), so a resumed run's logs
read like an uninterrupted one: :func:`logging_step` says from which step.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from omegaconf import DictConfig

from ganglion.errors import ConfigError, GanglionError
from ganglion.training.run_directory import checkpoint_dir

__all__ = ["find_resume_checkpoint", "kept_csv_rows", "logging_step"]


def find_resume_checkpoint(cfg: DictConfig, log_dir: Path) -> Path | None:
    """The checkpoint a run in ``log_dir`` resumes from (``None``: a fresh start), with the
    checked ``exp_manager`` config ``cfg``; an error when ``resume_if_exists`` finds nothing
    to resume and ``resume_ignore_no_checkpoint`` is not set."""
    if cfg.resume_from_checkpoint is not None:
        return Path(cfg.resume_from_checkpoint).absolute()
    if not cfg.resume_if_exists:
        return None
    ckpt_dir = checkpoint_dir(cfg, log_dir)
    candidates = sorted(ckpt_dir.glob("*last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        if cfg.resume_ignore_no_checkpoint:
            warnings.warn(
                f"exp_manager.resume_if_exists: no checkpoint in {ckpt_dir}; training starts "
                "from scratch (resume_ignore_no_checkpoint=true)",
                stacklevel=3,
            )
            return None
        raise ConfigError(
            f"exp_manager.resume_if_exists is true but there is no last checkpoint in {ckpt_dir}; "
            "set exp_manager.resume_ignore_no_checkpoint=true to start from scratch when there "
            "is nothing to resume"
        )
    return candidates[-1]  # the newest "last" checkpoint


def logging_step(checkpoint_path: Path) -> int:
    """The step the interrupted run's logs are valid up to (exclusive): the checkpoint's
    count of optimizer-stepping batches, which is what Lightning logs as ``step``."""
    import torch

    try:
        ckpt = torch.load(checkpoint_path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:
        raise GanglionError(
            f"cannot read the checkpoint to resume from, {checkpoint_path}: "
            f"{type(exc).__name__}: {exc}. Delete it to resume from an earlier one."
        ) from exc
    try:
        fit_loop = ckpt["loops"]["fit_loop"]
        step = int(fit_loop["epoch_loop.state_dict"]["_batches_that_stepped"])
        total = fit_loop["epoch_loop.batch_progress"]["total"]
    except (KeyError, TypeError):
        return int(ckpt.get("global_step", 0))
    if total["completed"] == total["processed"] - 1:
        # saved in on_train_batch_end, before that batch was counted and its metrics logged;
        # Lightning counts it on restart (the same rule as its loops' restart stage)
        step += 1
    return step


def kept_csv_rows(metrics_file: Path, resume_step: int) -> list[dict[str, str]]:
    """Rows of an interrupted run's ``metrics.csv`` logged before the resumed checkpoint."""
    if not metrics_file.is_file():
        return []
    with open(metrics_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept = []
    for row in rows:
        try:
            step = int(float(row.get("step") or 0))
        except ValueError:
            continue
        if step < resume_step:
            kept.append(row)
    return kept
