"""The run directory: where it is, what is saved in it, and whether the run failed.

``<exp_dir>/<name>/<version>`` (``exp_dir`` defaults to ``./ganglion_experiments``, ``version``
to the start time; ``explicit_log_dir`` replaces the three). Saved there when a run starts: the
composed config (``config.yaml``), the command line (``cmd-args.log``, one line per start) and
the versions of Python, the libraries and every ganglion plugin (``versions.json``). A run
that fails after it started leaves a ``FAILED`` file with the error and its traceback (a run
started again in the same directory removes it).

Importing this module imports no torch.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from ganglion.errors import ConfigError, GanglionError

__all__ = [
    "CHECKPOINT_DIR",
    "DEFAULT_EXP_DIR",
    "FAILED_MARKER",
    "VERSION_ENV",
    "checkpoint_dir",
    "clear_failed",
    "command_line",
    "mark_failed",
    "package_versions",
    "resolve_log_dir",
    "write_run_files",
]

#: Default parent of every run directory.
DEFAULT_EXP_DIR = "ganglion_experiments"
#: Set by global rank 0 so that processes it spawns (Lightning's DDP launcher) use its version.
VERSION_ENV = "GANGLION_EXP_VERSION"
#: The checkpoints' folder in the run directory (unless ``checkpoint_callback_params.dirpath``).
CHECKPOINT_DIR = "checkpoints"
#: The file a failed run leaves in its directory (the error and its traceback).
FAILED_MARKER = "FAILED"
#: Libraries whose versions are saved with every run.
_LIBRARIES = (
    "ganglion-core",  # the core distribution (its import package is ganglion)
    "torch",
    "pytorch-lightning",
    "lightning-fabric",
    "hydra-core",
    "omegaconf",
    "torchdata",
    "torchmetrics",
    "tensorboard",
    "wandb",
)


def resolve_log_dir(cfg: Any, *, global_rank: int = 0) -> tuple[Path, str, str | None]:
    """``(log_dir, name, version)`` of a run with the checked ``exp_manager`` config ``cfg``;
    creates nothing.

    The version, when not given: none with ``resume_if_exists`` (the run lives in
    ``<exp_dir>/<name>``); else the id of the external launcher that started every rank at
    once (SLURM ``slurm-<job>.<step>``, torchrun ``torchrun-<run id>``); else, in processes
    Lightning spawned, the version global rank 0 chose (``$GANGLION_EXP_VERSION``); else the
    start time (``%Y-%m-%d_%H-%M-%S``, with ``_1``, ``_2``… when taken) or, with
    ``use_datetime_version=false``, ``version_<n>``.
    """
    if cfg.explicit_log_dir:
        path = Path(cfg.explicit_log_dir).expanduser().absolute()
        return path, cfg.name, None
    exp_dir = Path(cfg.exp_dir or DEFAULT_EXP_DIR).expanduser().absolute()
    base = exp_dir / cfg.name
    version = cfg.version
    if version is None and not cfg.resume_if_exists:
        version = _launcher_version()
        if version is None and global_rank > 0:
            version = os.environ.get(VERSION_ENV)
        if version is None:
            version = _new_version(base, cfg.use_datetime_version)
    if version is not None:
        version = str(version)
        if not version or "/" in version or version in (".", ".."):
            raise ConfigError(f"exp_manager.version must be a plain folder name, got {version!r}")
    return (base / version if version else base), cfg.name, version


def _launcher_version() -> str | None:
    env = os.environ
    if env.get("SLURM_JOB_ID") and int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return f"slurm-{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', '0')}"
    run_id = env.get("TORCHELASTIC_RUN_ID")
    if run_id and run_id != "none" and int(env.get("WORLD_SIZE", "1") or 1) > 1:
        return f"torchrun-{run_id}"
    return None


def _new_version(base: Path, use_datetime: bool) -> str:
    if use_datetime:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        version, n = stamp, 0
        while (base / version).exists():  # two runs started within the same second
            n += 1
            version = f"{stamp}_{n}"
        return version
    n = 0
    while (base / f"version_{n}").exists():
        n += 1
    return f"version_{n}"


def checkpoint_dir(cfg: Any, log_dir: Path) -> Path:
    """Where the checkpoints of a run in ``log_dir`` go, with the checked ``exp_manager``
    config ``cfg``."""
    dirpath = cfg.checkpoint_callback_params.dirpath
    return Path(dirpath).expanduser().absolute() if dirpath else log_dir / CHECKPOINT_DIR


# -- files saved with the run ---------------------------------------------------------------
def package_versions() -> dict[str, Any]:
    """Python, platform, the main libraries and every installed ganglion plugin's version."""
    libraries = {}
    for name in _LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    plugins = {}
    try:
        from ganglion.plugins import get_plugin_manager

        for info in get_plugin_manager().describe()["plugins"]:
            plugins[info["name"]] = {
                "distribution": info["distribution"],
                "version": info["version"],
            }
    except GanglionError:  # a broken plugin must not stop a run that does not use it
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": libraries,
        "plugins": plugins,
    }


def write_run_files(log_dir: Path, run_config: Any, files_to_copy: list[str]) -> None:
    """Save ``config.yaml`` (``run_config``, when given), a line of ``cmd-args.log``,
    ``versions.json`` and a copy of each of ``files_to_copy`` in ``log_dir``; remove the
    ``FAILED`` marker an earlier run in the same directory left."""
    from omegaconf import DictConfig, OmegaConf

    from ganglion.archive import atomic_write_text

    clear_failed(log_dir)
    if run_config is not None:
        if not isinstance(run_config, DictConfig):
            run_config = OmegaConf.create(run_config)
        atomic_write_text(log_dir / "config.yaml", OmegaConf.to_yaml(run_config))
    command = " ".join(shlex.quote(a) for a in command_line())
    with open(log_dir / "cmd-args.log", "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {command}\n")
    atomic_write_text(
        log_dir / "versions.json", json.dumps(package_versions(), indent=2, sort_keys=True) + "\n"
    )
    for src in files_to_copy:  # checked by check_exp_manager_config
        path = Path(src).expanduser()
        shutil.copy2(path, log_dir / path.name)


def command_line() -> list[str]:
    """This process's command line as a user would type it again."""
    import __main__

    spec = getattr(__main__, "__spec__", None)
    if spec is not None and sys.argv and sys.argv[0].endswith("__main__.py"):
        return [sys.executable, "-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    return [sys.executable, *sys.argv]


# -- a failed run ---------------------------------------------------------------------------
def mark_failed(log_dir: Path, error: BaseException) -> Path:
    """Write ``log_dir/FAILED``: when, the error, and its traceback; returns its path.

    The run directory then says by itself that what is in it is the remains of a run that did
    not finish (checkpoints up to the failure, logs, no final archive)."""
    from ganglion.archive import atomic_write_text

    # Lightning turns Ctrl+C into SystemExit(1) after its graceful shutdown
    what = "was interrupted" if isinstance(error, (KeyboardInterrupt, SystemExit)) else "failed"
    text = (
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}  the run {what}: "
        f"{type(error).__name__}: {error}\n\n" + "".join(traceback.format_exception(error))
    )
    return atomic_write_text(log_dir / FAILED_MARKER, text)


def clear_failed(log_dir: Path) -> None:
    """Remove the ``FAILED`` marker of an earlier run in ``log_dir`` (a resumed run)."""
    (log_dir / FAILED_MARKER).unlink(missing_ok=True)
