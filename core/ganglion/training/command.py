"""The ``ganglion train`` command line: Hydra's, with a pre-flight check.

``ganglion train --config-path DIR --config-name NAME [OVERRIDE ...] [-m] [--cfg job]``: the
config is composed and checked here first (:mod:`~ganglion.training.composition`,
:mod:`~ganglion.training.validation`), so a mistake is reported before Hydra starts anything
and before any directory exists; then Hydra runs :func:`~ganglion.training.run.train` once
per job (``-m``: a sweep, through Hydra's launchers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ganglion.errors import GanglionError
from ganglion.training.composition import PRIMARY_NAME, Composer
from ganglion.training.run import train
from ganglion.training.validation import validate_config

__all__ = ["run_argv"]

#: The overrides of the sweep job being trained (read by the DDP processes it starts).
SWEEP_JOB_ENV = "GANGLION_SWEEP_JOB"
#: Environment variables Lightning's DDP launcher sets in the process that starts the others.
DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


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
    sweep_job = os.environ.get(SWEEP_JOB_ENV)
    if args.multirun and sweep_job is not None and os.environ.get("LOCAL_RANK", "0") != "0":
        # a process Lightning's DDP launcher started for one job of a sweep: it reruns the
        # sweep's command line, but must train that job only
        args.multirun = False
        hydra_settings = [o for o in args.overrides if o.startswith(("hydra.", "hydra/"))]
        args.overrides = [*json.loads(sweep_job), *hydra_settings]
    informational = bool(args.help or args.hydra_help or args.info or args.shell_completion)
    try:
        composer = Composer(args.config_name, args.config_path)
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
    args: argparse.Namespace, composer: Composer, overrides: list[str], parser: Any
) -> int:
    from hydra import version
    from hydra._internal.utils import _run_hydra
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    failures: list[tuple[str, BaseException]] = []

    def task(job_cfg: DictConfig) -> Any:
        job_overrides = list(HydraConfig.get().overrides.task)
        if args.multirun:  # for DDP processes Lightning starts with the sweep's command line
            os.environ[SWEEP_JOB_ENV] = json.dumps(job_overrides)
        saved_env = {k: os.environ.get(k) for k in DISTRIBUTED_ENV}
        try:
            return train(composer.presets.apply(job_cfg, job_overrides))
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
