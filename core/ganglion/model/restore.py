"""Rebuilding a model from a ``.ganglion`` archive (what ``ModelPT.restore_from`` does).

In order, so that a bad archive is refused before any of the model's code runs and before
anything sized by its config is allocated:

1. the archive is opened and checked (:class:`~ganglion.archive.ModelArchive`), the config read
   and checked against the ``_target_`` policy, the model class looked up
   (:func:`archived_class`); a file not verified before has every member checked against its
   sha256 (weights included, read mapped or copied) before any of the model's code runs or
   anything is written; the artifacts are unpacked into the cache;
2. the model is built on the meta device and what it builds compared with the weights'
   header (:mod:`ganglion.model.loading`): a config whose shapes do not match the weights is
   refused here, in milliseconds, whatever size it asks for;
3. the weights (read now, for a file verified before) are assigned to the model, which is the
   one its constructor makes, with no random initialisation paid for.

Nothing is allocated beyond what the archive's weights need (none of it when they are mapped)
before the config's shapes have been checked against them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganglion.archive import (
    CONFIG_NAME,
    MANIFEST_NAME,
    ArchiveError,
    ModelArchive,
    UnsafeArchiveError,
    refusal,
    replace_artifact_references,
)
from ganglion.archive.weights import entry_dtype
from ganglion.conf.values import as_dictconfig, to_plain
from ganglion.errors import (
    ConfigError,
    GanglionError,
    omegaconf_error_message,
    yaml_error_message,
)
from ganglion.model.artifacts import UnpackedArtifacts, restoring
from ganglion.model.classes import MODEL_KINDS
from ganglion.model.loading import TensorSpec, build_with_weights
from ganglion.registry import qualified_name
from ganglion.targets import resolve_target

if TYPE_CHECKING:  # pragma: no cover
    import pytorch_lightning as pl
    import torch

    from ganglion.model.base import ModelPT

__all__ = ["archived_class", "load_override_config", "restore_model", "weight_specs"]


def restore_model(
    cls: type[ModelPT],
    restore_path: str | os.PathLike[str],
    *,
    override_config_path: Any = None,
    map_location: str | torch.device | None = None,
    strict: bool = True,
    return_config: bool = False,
    trainer: pl.Trainer | None = None,
    mmap: bool | None = None,
) -> Any:
    """What ``cls.restore_from(...)`` returns (see :meth:`ModelPT.restore_from
    <ganglion.model.ModelPT.restore_from>` for the arguments)."""
    path = Path(restore_path).expanduser()
    with ModelArchive.open(path) as archive:
        if override_config_path is not None:
            config = load_override_config(override_config_path)
            trusted = True  # the caller's own config, not the archive's
        else:
            config = archive.read_config()
            trusted = False
        if return_config:
            return OmegaConf.create(config)
        model_cls = archived_class(archive, cls)
        if not trusted:
            archive.check_config(config)
        elif not archive.verified_before:
            # unused, but checked too (it is small), so that mark_verified() stamps the file
            archive.verify_member(CONFIG_NAME)
        specs = weight_specs(archive)  # the header only: no tensor data is read
        archive.artifact_handlers()  # every artifact kind has its handler installed
        if archive.verified_before:  # a known-good, unchanged file: read once the model fits

            def read() -> Mapping[str, torch.Tensor]:
                return archive.read_weights(mmap=mmap)

        else:  # everything is verified before any of the model's code runs or a file is written
            archive.verify_artifacts()  # small members first: a bad archive fails fast
            weights = archive.read_weights(mmap=mmap)

            def read() -> Mapping[str, torch.Tensor]:
                return weights

        values = archive.materialize_artifacts()
        records = list(archive.artifacts)
        by_member = {r.member: values[r.config_path] for r in records}
        config = replace_artifact_references(config, by_member)
        unpacked = UnpackedArtifacts(values, by_member, {r.config_path: r for r in records})

        def build() -> torch.nn.Module:
            try:
                return model_cls(cfg=OmegaConf.create(config), trainer=trainer)
            except ConfigError as exc:
                if trusted:  # the caller's own config: their error, as it is
                    raise
                raise refusal(
                    path,
                    f"{CONFIG_NAME} does not build a {model_cls.__name__}: {exc}",
                    ArchiveError,
                ) from exc

        with restoring(unpacked):
            model = build_with_weights(
                build,
                specs,
                read,
                strict=strict,
                source=str(path),
            )
            registered = model.artifacts
            for record in records:  # the artifacts the constructor did not register stay packed
                if record.config_path not in registered:
                    model.register_artifact(record.config_path, None)
        archive.mark_verified()
    if map_location is not None:
        model = model.to(map_location)
    return model


def weight_specs(archive: ModelArchive) -> dict[str, TensorSpec]:
    """Name -> shape and dtype of every tensor in the archive's weights (tied names
    included), from the weights header alone."""
    header = archive.weights_header()
    specs = {
        e.name: TensorSpec(e.shape, entry_dtype(e, archive=archive.path)) for e in header.entries
    }
    for alias, original in header.aliases.items():
        specs[alias] = specs[original]
    return specs


def load_override_config(override: Any) -> dict[str, Any]:
    """The config ``override_config_path`` gives: a mapping, or a YAML file holding one."""
    key = "override_config_path"
    if isinstance(override, DictConfig | Mapping):
        return to_plain(as_dictconfig(override, key=key), key=key, lenient=True)
    path = Path(os.fspath(override)).expanduser()
    if not path.is_file():
        raise ConfigError(f"{key}: no config file at {path}")
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{key}: {yaml_error_message(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{key}: {path} is not UTF-8 text ({exc}); save it as UTF-8") from None
    except RecursionError:
        raise ConfigError(
            f"{key}: {path} nests lists and mappings too deeply for a config"
        ) from None
    except OmegaConfBaseException as exc:
        raise ConfigError(omegaconf_error_message(exc, f"{key} ({path})")) from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{key}: {path} does not hold a mapping")
    return to_plain(cfg, key=f"{key} ({path})", lenient=True)


def archived_class(archive: ModelArchive, cls: type[ModelPT]) -> type[ModelPT]:
    """The class to build for ``archive`` when ``cls.restore_from`` is called.

    The model the manifest names (a registered model name, or else the class path, which
    must pass the ``_target_`` policy); on a subclass ``cls``, that class if it is a subclass
    of ``cls``, or ``cls`` if it is a subclass of that class. A class no plugin registers is
    accepted only when the caller names it (``TheClass.restore_from``).
    """
    from ganglion.model.base import ModelPT
    from ganglion.plugins import registry

    name, recorded = archive.model_name, archive.model_class
    found: Any = None
    error: GanglionError | None = None
    try:
        if name is not None:
            found = registry("models").resolve(name, key=f"{MANIFEST_NAME} model.name")
        else:
            found = resolve_target(
                recorded,
                key=f"Refused archive {archive.path}: {MANIFEST_NAME} model.class",
                kinds=MODEL_KINDS,
                error=UnsafeArchiveError,
            )
    except GanglionError as exc:
        error = exc
    if found is None:
        if cls is not ModelPT and qualified_name(cls) == recorded:
            found = cls  # the caller names the class itself: their choice to trust it
        elif isinstance(error, ArchiveError):
            raise error
        else:
            raise refusal(
                archive.path,
                f"it holds the model {name or recorded!r} ({recorded}), which no installed "
                f"plugin registers. {error}",
                ArchiveError,
            ) from None
    if not (isinstance(found, type) and issubclass(found, ModelPT)):
        raise refusal(archive.path, f"its model {name or recorded!r} is not a ModelPT")
    if cls is ModelPT or issubclass(found, cls):
        return found
    if issubclass(cls, found):
        return cls
    raise ArchiveError(
        f"{archive.path} holds a {found.__name__} ({qualified_name(found)}), not a "
        f"{cls.__name__}; restore it with {found.__name__}.restore_from or ModelPT.restore_from"
    )
