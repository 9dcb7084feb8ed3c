"""Composing a training config with Hydra, as ``ganglion train`` does.

Lowest precedence first: the core's dataclass defaults (:mod:`ganglion.conf.schema`), the
YAML named by ``--config-name`` (found in ``--config-path``, in the core's configs or in any
installed plugin's ``register_configs`` dirs; a plugin may also register a dataclass as a
config), then the command line: ``key=value``, ``+key=value`` (add), ``++key=value`` (add or
set), ``~key`` (remove), ``group=option`` and the seed's form ``model.optim=adam`` (an
optimizer preset, :mod:`ganglion.optim.presets`).

:func:`compose_config` is the Python entry; :class:`Composer` is what the command uses for
its pre-flight check. Every composition error is a :class:`~ganglion.errors.ConfigError`
naming the key, or the file, line and column of a YAML syntax error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganglion.conf.overrides import first_of_sweeps
from ganglion.conf.sources import CORE_CONFIGS_SEARCH_PATH
from ganglion.errors import ConfigError, yaml_error_message
from ganglion.optim.presets import PresetChoices, rewrite_preset_overrides
from ganglion.training.composition_errors import (
    composition_message,
    undecodable_message,
)

__all__ = ["PRIMARY_NAME", "Composer", "compose_config"]

#: ConfigStore names of the configs ``ganglion train`` composes with.
PRIMARY_NAME = "ganglion_train"
ROOT_DEFAULTS_NAME = "ganglion_train_root_defaults"
#: a config holding only the search path, to list and probe presets
PRESET_PROBE_NAME = "ganglion_train_preset_probe"
#: OmegaConf resolver of ``hydra.sweep.dir``'s default, ``<exp_dir>/multirun/<time>`` (see
#: :func:`_exp_dir`); a ``hydra.sweep.dir`` in the YAML or on the command line replaces it.
EXP_DIR_RESOLVER = "ganglion.exp_dir"

HELP_HEADER = """ganglion train: compose a config with Hydra and train the model it names.

Usage: ganglion train [--config-path DIR] --config-name NAME [OVERRIDE ...] [-m] [--cfg job]
  key=value        set a key          +key=value   add a key      ~key   remove a key
  model.optim=adam pick an optimizer preset (ganglion list optimizers)
  -m a=1,2 b=x,y   sweep (Hydra multirun); --cfg job prints the composed config
"""


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
            config or preset, a YAML syntax error), naming the key or the file and line.
    """
    composer = Composer(config_name, config_path)
    with composer.context():
        cfg, _ = composer.compose(list(overrides), multirun=False)
    return cfg


class Composer:
    """Composition shared by :func:`compose_config` and the command's pre-flight check.

    Args:
        config_name: ``--config-name`` (``None``: only the core's defaults).
        config_path: ``--config-path``: a directory, ``pkg://…`` or ``file://…``.

    Raises:
        ConfigError: ``config_path`` is not a directory.
    """

    def __init__(self, config_name: str | None, config_path: str | None) -> None:
        self.config_name = config_name
        #: the primary config directory Hydra is started with
        self.config_dir = _config_dir(config_path)
        #: the optimizer presets the last :meth:`compose` chose with the dotted form
        self.presets = PresetChoices()

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """Hydra initialized on :attr:`config_dir`, the primary config stored."""
        _store_primary(self.config_name)
        with _hydra_context(self.config_dir):
            yield

    def compose(self, overrides: list[str], *, multirun: bool) -> tuple[DictConfig, list[str]]:
        """Compose one job (the first of a sweep) inside :meth:`context`; returns it and the
        overrides to hand to Hydra for the real run (presets rewritten, group additions
        marked with ``+``)."""
        import yaml

        try:
            return self._compose(overrides, multirun=multirun)
        except yaml.YAMLError as exc:
            raise ConfigError(yaml_error_message(exc)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(undecodable_message(exc, self.config_dir)) from None

    def _compose(self, overrides: list[str], *, multirun: bool) -> tuple[DictConfig, list[str]]:
        from hydra.core.global_hydra import GlobalHydra

        loader = GlobalHydra.instance().config_loader()
        rewritten, groups = rewrite_preset_overrides(
            overrides, lambda group: loader.get_group_options(group, config_name=PRESET_PROBE_NAME)
        )
        self.presets = PresetChoices.probe(rewritten, groups, probe_config=PRESET_PROBE_NAME)
        first = first_of_sweeps(rewritten) if multirun else rewritten
        # hydra.* settings do not change the job's config; the compose API refuses some
        job = [o for o in first if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
        cfg, added = _compose_adding_groups(self.config_name, job)
        rewritten = ["+" + o if o.partition("=")[0] in added else o for o in rewritten]
        job = ["+" + o if o.partition("=")[0] in added else o for o in job]
        return self.presets.apply(cfg, job), rewritten


def _compose_adding_groups(
    config_name: str | None, overrides: list[str]
) -> tuple[DictConfig, set[str]]:
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
                raise ConfigError(
                    composition_message(exc, config_name, overrides, primary=PRIMARY_NAME)
                ) from None
        except (HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(
                composition_message(exc, config_name, overrides, primary=PRIMARY_NAME)
            ) from None
    raise ConfigError(f"cannot compose the config with overrides {overrides}")


# -- the primary config and Hydra's context -----------------------------------------------------
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
                "dir": f"${{{EXP_DIR_RESOLVER}:}}/multirun/${{now:%Y-%m-%d_%H-%M-%S}}",
                "subdir": ".",
            },
            "output_subdir": None,  # exp_manager saves the config in the run directory
            "job": {"chdir": False},
            "help": {"app_name": "ganglion train", "header": HELP_HEADER},
        },
    }


def _exp_dir(*, _root_: Any) -> str:
    """The ``EXP_DIR_RESOLVER`` resolver: ``exp_manager.exp_dir`` of the config being run
    (default :data:`ganglion.training.run_directory.DEFAULT_EXP_DIR`), ``~`` expanded,
    absolute."""
    from ganglion.training.run_directory import DEFAULT_EXP_DIR

    exp_dir = OmegaConf.select(_root_, "exp_manager.exp_dir", default=None)
    return str(Path(exp_dir or DEFAULT_EXP_DIR).expanduser().absolute())


def _store_primary(config_name: str | None) -> None:
    """Store the primary config (and the base configs) in the ConfigStore, with the plugins'
    config sources on its search path."""
    from hydra.core.config_store import ConfigStore

    from ganglion.conf.schema import register_base_configs
    from ganglion.conf.sources import config_search_path

    OmegaConf.register_new_resolver(EXP_DIR_RESOLVER, _exp_dir, replace=True)
    store = ConfigStore.instance()
    register_base_configs(store)
    store.store(name=ROOT_DEFAULTS_NAME, node={"seed": 42})
    search_path = config_search_path()  # the core's presets come after the plugins'
    store.store(name=PRIMARY_NAME, node=_primary_node(config_name, search_path))
    store.store(name=PRESET_PROBE_NAME, node={"hydra": {"searchpath": search_path}})


def _config_dir(config_path: str | None) -> str:
    if config_path is None:
        return CORE_CONFIGS_SEARCH_PATH
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
