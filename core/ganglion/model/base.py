"""``ModelPT``: the base class of every ganglion model.

A model is a Lightning ``LightningModule`` (so ``Trainer.fit`` trains it) and a
:class:`~ganglion.module.NeuralModule` (typed ports), built from one config::

    model:
      train_ds: {...}          # setup_training_data(cfg.train_ds)
      validation_ds: {...}     # setup_validation_data: one config or a list of them
      test_ds: {...}           # setup_test_data
      optim: {name: adam, lr: 0.001, sched: {...}}   # setup_optimization / configure_optimizers
      encoder: {...}           # the architecture: whatever the model reads

and packaged as one ``.ganglion`` file (:mod:`ganglion.archive`)::

    model.save_to("asr.ganglion")
    model = ModelPT.restore_from("asr.ganglion")         # finds the registered class
    model = EncDecCTCModel.from_pretrained("QuartzNet15x5Base-En")

Models are registered by name through the ``register_models`` hook (or
:func:`ganglion.register_model`); an archive names its model that way, never by an arbitrary
callable. A minimal model::

    class TinyModel(ModelPT):
        def __init__(self, cfg, trainer=None):
            super().__init__(cfg, trainer)
            self.net = torch.nn.Linear(self.cfg.dim, self.cfg.dim)  # self.cfg: a DictConfig

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self(x), y)

    ganglion.register_model("TinyModel", TinyModel)
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.overrides import TorchFunctionMode

from ganglion.archive import (
    ARTIFACT_SCHEME,
    CONFIG_NAME,
    MANIFEST_NAME,
    ArchivedArtifact,
    ArchiveError,
    ArtifactSource,
    ModelArchive,
    get_artifact_handler,
    refusal,
    replace_artifact_references,
    resolve_config_target,
    save_archive,
)
from ganglion.errors import ConfigError, GanglionError
from ganglion.module import NeuralModule
from ganglion.pretrained import PretrainedModelInfo, list_pretrained, resolve_pretrained
from ganglion.registry import locate, qualified_name

__all__ = ["ModelPT"]

#: DataLoader options a dataset config may set; every other key goes to the dataset class.
LOADER_KEYS = (
    "batch_size",
    "shuffle",
    "num_workers",
    "pin_memory",
    "drop_last",
    "persistent_workers",
    "prefetch_factor",
)


@dataclass
class _Restoring:
    """What ``register_artifact`` needs while a model is rebuilt from an archive."""

    by_config_path: dict[str, str]  # artifact key -> unpacked value
    by_member: dict[str, str]  # archive member -> unpacked value
    records: dict[str, ArchivedArtifact]


_RESTORING: contextvars.ContextVar[_Restoring | None] = contextvars.ContextVar(
    "ganglion_restoring", default=None
)


def _as_dictconfig(cfg: Any) -> DictConfig:
    if isinstance(cfg, DictConfig):
        return cfg
    if dataclasses.is_dataclass(cfg):
        return OmegaConf.structured(cfg)
    if isinstance(cfg, Mapping):
        return OmegaConf.create(dict(cfg))
    raise ConfigError(
        f"a model config must be a mapping (DictConfig, dict or dataclass), got {cfg!r}"
    )


def _plain(cfg: Any) -> dict[str, Any]:
    """The config as plain data, interpolations resolved where they can be."""
    try:
        out = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception:  # an interpolation that cannot resolve yet: keep it as written
        out = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return out  # type: ignore[return-value]


class ModelPT(pl.LightningModule, NeuralModule):
    """Base class of ganglion models: a ``LightningModule`` built from a config, packaged as
    a ``.ganglion`` archive.

    Args:
        cfg: the model config (``DictConfig``, ``dict`` or a dataclass instance); kept as
            :attr:`cfg` and saved as the Lightning hyperparameter ``cfg``, so
            ``load_from_checkpoint`` can rebuild the model from a ``.ckpt``.
        trainer: the Lightning ``Trainer`` that will train the model. When given (and the
            model is not being restored), the ``train_ds``, ``validation_ds`` and ``test_ds``
            sections present in ``cfg`` are set up at once.

    Subclasses build their layers in ``__init__`` after calling ``super().__init__(cfg,
    trainer)`` and implement ``forward`` and Lightning's ``training_step`` (and
    ``validation_step`` …). Datasets: either configs with a ``_target_`` dataset class (the
    default :meth:`_setup_dataloader_from_config`), or override that method.
    """

    def __init__(self, cfg: Any, trainer: pl.Trainer | None = None) -> None:
        super().__init__()
        cfg = _as_dictconfig(cfg)
        self._cfg: DictConfig = cfg
        self._artifacts: dict[str, ArtifactSource] = {}
        self._optimizer: torch.optim.Optimizer | None = None
        self._scheduler: dict[str, Any] | None = None
        self._train_dl: Any = None
        self._validation_dl: Any = None
        self._test_dl: Any = None
        self._validation_names: list[str] = []
        # a plain dict, so a Lightning checkpoint loads with torch.load(weights_only=True)
        self.save_hyperparameters({"cfg": _plain(cfg)}, logger=False)
        if trainer is not None:
            self.trainer = trainer
            if _RESTORING.get() is None:
                self._setup_data_from_config()

    # -- config -------------------------------------------------------------------------
    @property
    def cfg(self) -> DictConfig:
        """The model config (what ``save_to`` packs)."""
        return self._cfg

    @cfg.setter
    def cfg(self, cfg: Any) -> None:
        self._cfg = _as_dictconfig(cfg)
        self.save_hyperparameters({"cfg": _plain(self._cfg)}, logger=False)

    def to_config_dict(self) -> DictConfig:
        """The model config with ``_target_`` set to the model's class path."""
        cfg = OmegaConf.create(_plain(self._cfg))
        cfg["_target_"] = f"{type(self).__module__}.{type(self).__qualname__}"
        return cfg

    @classmethod
    def from_config_dict(  # type: ignore[override]
        cls,
        config: Mapping[str, Any] | DictConfig,
        trainer: pl.Trainer | None = None,
        *,
        where: str = "model",
    ) -> ModelPT:
        """Build the model a config names with ``_target_`` (a registered model name or the
        import path of a ``ModelPT`` subclass); without ``_target_``, ``cls`` itself."""
        cfg = _as_dictconfig(config)
        target = cfg.get("_target_")
        if target is None:
            if cls is ModelPT:
                raise ConfigError(f"{where}: no _target_ naming the model class to build")
            model_cls: type[ModelPT] = cls
        else:
            model_cls = _resolve_model_class(str(target), key=f"{where}._target_")
            if not issubclass(model_cls, cls):
                raise ConfigError(
                    f"{where}._target_: {target!r} is a {model_cls.__name__}, not a {cls.__name__}"
                )
            cfg = OmegaConf.create({k: v for k, v in _plain(cfg).items() if k != "_target_"})
        return model_cls(cfg=cfg, trainer=trainer)

    # -- data ---------------------------------------------------------------------------
    def _setup_data_from_config(self) -> None:
        for key, setup in (
            ("train_ds", self.setup_training_data),
            ("validation_ds", self.setup_validation_data),
            ("test_ds", self.setup_test_data),
        ):
            section = self._cfg.get(key)
            if section is not None:
                setup(section)

    def setup_training_data(self, train_data_config: Any) -> None:
        """Build the training dataloader from ``cfg.train_ds``."""
        self._train_dl = self._setup_dataloader_from_config(
            train_data_config, split="train", key="model.train_ds"
        )

    def setup_validation_data(self, val_data_config: Any) -> None:
        """Build the validation dataloader(s) from ``cfg.validation_ds``.

        One dataset config gives one dataloader; a list of them gives several, validated in
        turn (Lightning suffixes their metrics with ``/dataloader_idx_N``). Each may carry a
        ``name``, listed by :attr:`validation_names`.
        """
        configs = _dataset_configs(val_data_config, "model.validation_ds")
        kept = self._dataloaders(configs, "validation")
        self._validation_names = [
            str(c.get("name") or (f"validation_{i}" if len(configs) > 1 else "validation"))
            for i, c, _ in kept
        ]
        self._validation_dl = _one_or_list([loader for _, _, loader in kept])

    def setup_test_data(self, test_data_config: Any) -> None:
        """Build the test dataloader(s) from ``cfg.test_ds`` (one config or a list)."""
        configs = _dataset_configs(test_data_config, "model.test_ds")
        self._test_dl = _one_or_list(
            [loader for _, _, loader in self._dataloaders(configs, "test")]
        )

    def _dataloaders(
        self, configs: list[tuple[str, Any]], split: str
    ) -> list[tuple[int, Any, Any]]:
        """``(index, config, loader)`` of each dataset config whose loader is not None (an
        override may return None for a config that asks for no data, e.g. a null manifest)."""
        built = (
            (i, c, self._setup_dataloader_from_config(c, split=split, key=k))
            for i, (k, c) in enumerate(configs)
        )
        return [item for item in built if item[2] is not None]

    @property
    def validation_names(self) -> list[str]:
        """Names of the validation sets, in dataloader order."""
        return list(self._validation_names)

    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        """Build one dataloader from a dataset config; override for domain datasets.

        The default reads ``_target_`` (a dataset class: a registered name or an import path),
        passes the DataLoader options (:data:`LOADER_KEYS`) to the loader
        (:func:`ganglion.data.resumable_dataloader`: training resumes mid-epoch exactly)
        and every other key (but ``name``) to the dataset class. A dataset with a
        ``collate_fn`` method has it used. ``split`` is ``"train"``, ``"validation"`` or
        ``"test"``; training data is shuffled unless ``shuffle`` says otherwise.
        """
        cfg = _plain(_as_dictconfig(config))
        target = cfg.pop("_target_", None)
        if target is None:
            raise ConfigError(
                f"{key}: no _target_ naming the dataset class; give one, or override "
                f"{type(self).__name__}._setup_dataloader_from_config to build this model's data"
            )
        dataset_cls = _resolve_class(str(target), key=f"{key}._target_")
        loader_args = {k: cfg.pop(k) for k in LOADER_KEYS if k in cfg}
        cfg.pop("name", None)
        loader_args.setdefault("shuffle", split == "train")
        try:
            dataset = dataset_cls(**cfg)
        except TypeError as exc:
            raise ConfigError(f"{key}: cannot build {target} from the config: {exc}") from exc
        collate = getattr(dataset, "collate_fn", None)
        if callable(collate):
            loader_args["collate_fn"] = collate
        try:
            # resumable: a run restarted from a mid-epoch checkpoint sees the same batches
            from ganglion.data import resumable_dataloader

            return resumable_dataloader(dataset, **loader_args)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}: invalid DataLoader options {loader_args}: {exc}") from exc

    def train_dataloader(self) -> Any:
        if self._train_dl is None:
            raise ConfigError(
                f"{type(self).__name__} has no training data: set model.train_ds and pass the "
                "trainer to the model, or call model.setup_training_data(cfg.train_ds)"
            )
        return self._train_dl

    def val_dataloader(self) -> Any:
        return self._validation_dl if self._validation_dl is not None else []

    def test_dataloader(self) -> Any:
        return self._test_dl if self._test_dl is not None else []

    # -- optimization -------------------------------------------------------------------
    def setup_optimization(
        self, optim_config: Any = None, *, max_steps: int | None = None
    ) -> tuple[torch.optim.Optimizer, dict[str, Any] | None]:
        """Build the optimizer and scheduler of ``optim_config`` (default ``cfg.optim``).

        Names go through the ``optimizers`` and ``schedulers`` registries
        (:func:`ganglion.optim.build_optimization`). A scheduler whose ``max_steps`` is null
        gets ``max_steps``, or else the count computed from the attached trainer and the
        training dataloader. Returns ``(optimizer, lightning_scheduler_dict_or_None)`` and
        keeps both for :meth:`configure_optimizers`.
        """
        from ganglion.optim import build_optimization, max_steps_from_trainer

        cfg = optim_config if optim_config is not None else self._cfg.get("optim")
        if cfg is None:
            raise ConfigError(
                "model.optim is missing: add an optim section (name, lr, optional sched)"
            )
        sched = cfg.get("sched") if hasattr(cfg, "get") else None
        if max_steps is None and sched is not None and sched.get("max_steps") is None:
            trainer = self._trainer
            if trainer is not None:
                batches = None
                with contextlib.suppress(TypeError):
                    batches = len(self._train_dl) if self._train_dl is not None else None
                max_steps = max_steps_from_trainer(trainer, batches)
        self._optimizer, self._scheduler = build_optimization(self, cfg, max_steps=max_steps)
        return self._optimizer, self._scheduler

    def configure_optimizers(self) -> Any:
        """Lightning hook: the optimizer (and scheduler) of ``cfg.optim``.

        Built on first use if :meth:`setup_optimization` was not called; a scheduler's null
        ``max_steps`` then comes from ``trainer.estimated_stepping_batches``.
        """
        if self._optimizer is None:
            max_steps = None
            if self._trainer is not None:
                with contextlib.suppress(Exception):  # no dataloader yet: computed below
                    steps = self._trainer.estimated_stepping_batches
                    if math.isfinite(steps):
                        max_steps = int(steps)
            self.setup_optimization(max_steps=max_steps)
        if self._scheduler is None:
            return self._optimizer
        return {"optimizer": self._optimizer, "lr_scheduler": self._scheduler}

    # -- listing --------------------------------------------------------------------------
    @classmethod
    def list_available_models(cls) -> list[PretrainedModelInfo]:
        """Pretrained checkpoints plugins publish for this class and its subclasses (all of
        them for ``ModelPT``), sorted by name."""
        return list_pretrained(None if cls is ModelPT else cls)

    def summarize(self, max_depth: int = 1) -> Any:
        """Lightning's model summary (layers, parameter counts, sizes); print it."""
        from pytorch_lightning.utilities.model_summary import ModelSummary

        return ModelSummary(self, max_depth=max_depth)

    # -- artifacts ------------------------------------------------------------------------
    def register_artifact(
        self,
        config_path: str,
        src: str | os.PathLike[str] | None,
        verify_src_exists: bool = True,
        handler: str | None = None,
    ) -> str | None:
        """Declare a file the model needs (a tokenizer model, a vocabulary), packed by
        ``save_to``; returns the path to use.

        Args:
            config_path: the artifact's key, usually the config key holding its path
                (``"tokenizer.model_path"``); the packed config's value there becomes
                ``ganglion:<hash>_<basename>``.
            src: the file or directory.
            verify_src_exists: when false, a missing ``src`` makes the artifact optional:
                ``None`` is returned and nothing is packed.
            handler: the registered artifact handler (default ``file`` or ``directory``).

        Returns the local path given, or, while the model is being restored, the path of
        the artifact unpacked from the archive (whatever ``src`` says).
        """
        restoring = _RESTORING.get()
        if restoring is not None:
            value = restoring.by_config_path.get(config_path)
            record = restoring.records.get(config_path)
            if value is None and isinstance(src, str) and src.startswith(ARTIFACT_SCHEME):
                member = src[len(ARTIFACT_SCHEME) :]
                value = restoring.by_member.get(member)
                record = next((r for r in restoring.records.values() if r.member == member), None)
            if value is not None and record is not None:
                self._artifacts[config_path] = ArtifactSource(
                    config_path, Path(value), record.handler
                )
                return value
        if src is None or os.fspath(src) == "":
            if verify_src_exists:
                raise GanglionError(f"register_artifact({config_path!r}): no src given")
            return None
        text = os.fspath(src)
        if text.startswith(ARTIFACT_SCHEME):
            raise GanglionError(
                f"register_artifact({config_path!r}): {text!r} names a file inside an archive, "
                "but no archive is being restored; use restore_from to load the model"
            )
        path = Path(text).expanduser()
        if not path.exists():
            if verify_src_exists:
                raise GanglionError(
                    f"register_artifact({config_path!r}): {path} does not exist; pass "
                    "verify_src_exists=False if the artifact is optional"
                )
            return None
        name = handler or ("directory" if path.is_dir() else "file")
        get_artifact_handler(name, key=f"register_artifact({config_path!r}) handler").check(path)
        self._artifacts[config_path] = ArtifactSource(config_path, path.resolve(), name)
        return str(path)

    @property
    def artifacts(self) -> dict[str, ArtifactSource]:
        """The registered artifacts by key (a copy)."""
        return dict(self._artifacts)

    # -- save and restore -------------------------------------------------------------------
    def save_to(self, save_path: str | os.PathLike[str]) -> Path | None:
        """Package the model as one ``.ganglion`` file: config, weights, artifacts, manifest.

        The write is atomic and durable (a temp file fsync'ed, renamed into place, the
        directory fsync'ed): ``save_path`` names the old file or the new one, never half a
        file, even after a power cut; nothing is left running when it returns.
        Under a distributed trainer, only global rank zero writes; the other ranks return
        ``None``.
        """
        trainer = self._trainer
        if trainer is not None and not trainer.is_global_zero:
            return None
        from ganglion.plugins import registry

        entry = registry("models").find_by_target(type(self))
        return save_archive(
            Path(save_path).expanduser(),
            config=_plain(self._cfg),
            state_dict=self.state_dict(),
            model_class=qualified_name(type(self)),
            model_name=entry.name if entry is not None else None,
            model_provider=str(entry.provider) if entry is not None else None,
            artifacts=list(self._artifacts.values()),
        )

    @classmethod
    def restore_from(
        cls,
        restore_path: str | os.PathLike[str],
        override_config_path: str | os.PathLike[str] | DictConfig | Mapping[str, Any] | None = None,
        map_location: str | torch.device | None = None,
        strict: bool = True,
        return_config: bool = False,
        trainer: pl.Trainer | None = None,
    ) -> Any:
        """Rebuild a model from a ``.ganglion`` file.

        Args:
            restore_path: the archive.
            override_config_path: a YAML file (or a config) to use instead of the packed one.
            map_location: the device to put the model on (default: CPU).
            strict: the weights must match the model's state dict key for key.
            return_config: return the packed config (a ``DictConfig``) without building.
            trainer: passed to the model's constructor.

        On ``ModelPT`` itself, the class is the registered model the archive names; on a
        subclass, that class (or the archived class, if it is a subclass of it). The archive
        is checked first (see :class:`~ganglion.archive.ModelArchive`), then read in place:
        the weights are copy-on-write views of the mapped file (checked against their sha256
        unless this unchanged file was verified before), the model is built without its random
        initialisation (which the weights overwrite) and the tensors are assigned to it.
        Artifacts are unpacked into the cache and the config points at them.
        """
        path = Path(restore_path).expanduser()
        with ModelArchive.open(path) as archive:
            if override_config_path is not None:
                config = _load_override(override_config_path)
                trusted = True  # the caller's own config, not the archive's
            else:
                config = archive.read_config()
                trusted = False
            if return_config:
                return OmegaConf.create(config)
            model_cls = _archived_class(archive, cls)
            if not trusted:
                archive.check_config(config)
            elif not archive.verified_before:
                # unused, but checked too (it is small), so that mark_verified() stamps the file
                archive.verify_member(CONFIG_NAME)
            archive.artifact_handlers()  # every artifact kind has its handler installed
            archive.verify_artifacts()  # small members first: a bad archive fails fast
            if archive.verified_before:
                # a known-good, unchanged file: its weights are read while the model is built
                values = archive.materialize_artifacts()
                with ThreadPoolExecutor(1, thread_name_prefix="ganglion-read") as pool:
                    pending = pool.submit(archive.read_weights)
                    model = _restore_model(
                        archive, model_cls, config, values, pending.result, strict, trainer
                    )
            else:  # everything is verified before any of the model's code runs
                weights = archive.read_weights()
                values = archive.materialize_artifacts()
                archive.mark_verified()
                model = _restore_model(
                    archive, model_cls, config, values, lambda: weights, strict, trainer
                )
        if map_location is not None:
            model = model.to(map_location)
        return model

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = True,
        **kwargs: Any,
    ) -> Any:
        """Lightning's ``load_from_checkpoint`` (a ``.ckpt`` from training), except that it
        reads the file with ``torch.load(weights_only=True)`` by default: no pickled code.

        The model is rebuilt from the ``cfg`` hyperparameter. Artifacts are not in a
        ``.ckpt``; their config paths must still exist here. Prefer :meth:`restore_from`.
        """
        return super().load_from_checkpoint(
            checkpoint_path,
            map_location=map_location,
            hparams_file=hparams_file,
            strict=strict,
            weights_only=weights_only,
            **kwargs,
        )

    @classmethod
    def from_pretrained(
        cls,
        model_name: str | os.PathLike[str],
        refresh_cache: bool = False,
        override_config_path: Any = None,
        map_location: str | torch.device | None = None,
        strict: bool = True,
        return_config: bool = False,
        trainer: pl.Trainer | None = None,
    ) -> Any:
        """Restore a pretrained model: a catalogue name (:meth:`list_available_models`), a
        local ``.ganglion`` path, or an ``http(s)://`` / ``file://`` URL.

        Downloads go into the cache (``$GANGLION_CACHE``) with a progress bar, are checked
        against the catalogue's sha256, resume when interrupted, and are reused without any
        network access afterwards (``refresh_cache=True`` fetches again).
        """
        path = resolve_pretrained(model_name, model_class=cls, refresh_cache=refresh_cache)
        return cls.restore_from(
            path,
            override_config_path=override_config_path,
            map_location=map_location,
            strict=strict,
            return_config=return_config,
            trainer=trainer,
        )


# -- helpers --------------------------------------------------------------------------------
def _one_or_list(loaders: list[Any]) -> Any:
    """None for no loader, the loader for one, the list for several (what Lightning takes)."""
    if not loaders:
        return None
    return loaders[0] if len(loaders) == 1 else loaders


def _dataset_configs(config: Any, key: str) -> list[tuple[str, Any]]:
    """``(key, config)`` of each dataset in one dataset config or a list of them."""
    if isinstance(config, (ListConfig, list, tuple)):
        if not config:
            raise ConfigError(f"{key} is an empty list; give one dataset config or several")
        return [(f"{key}[{i}]", c) for i, c in enumerate(config)]
    return [(key, config)]


def _resolve_class(target: str, *, key: str) -> type:
    """A class named by a training config: a registered name or an import path."""
    from ganglion.archive import TARGET_KINDS
    from ganglion.plugins import registry

    for kind in TARGET_KINDS:
        reg = registry(kind)
        if target in reg:
            obj = reg.resolve(target, key=key)
            break
    else:
        try:
            obj = locate(target)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{key}: cannot import {target!r}: {exc}") from exc
    if not isinstance(obj, type):
        raise ConfigError(f"{key}: {target!r} is a {type(obj).__name__}, not a class")
    return obj


def _resolve_model_class(target: str, *, key: str) -> type[ModelPT]:
    obj = _resolve_class(target, key=key)  # registered models are looked up first
    if not (isinstance(obj, type) and issubclass(obj, ModelPT)):
        raise ConfigError(f"{key}: {target!r} is not a ModelPT subclass")
    return obj


def _load_override(override: Any) -> dict[str, Any]:
    if isinstance(override, (DictConfig, Mapping)):
        return _plain(_as_dictconfig(override))
    path = Path(os.fspath(override)).expanduser()
    if not path.is_file():
        raise ConfigError(f"override_config_path: no config file at {path}")
    cfg = OmegaConf.load(path)
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"override_config_path: {path} does not hold a mapping")
    return _plain(cfg)


def _archived_class(archive: ModelArchive, cls: type[ModelPT]) -> type[ModelPT]:
    """The class to build for ``archive`` when ``cls.restore_from`` is called."""
    from ganglion.plugins import registry

    name, recorded = archive.model_name, archive.model_class
    found: Any = None
    error: GanglionError | None = None
    try:
        if name is not None:
            found = registry("models").resolve(name, key=f"{MANIFEST_NAME} model.name")
        else:
            found = resolve_config_target(
                recorded, where=f"Refused archive {archive.path}: {MANIFEST_NAME} model.class"
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


# -- building a model without paying for its random initialisation ---------------------------
_RANDOM_FILLS = (
    "uniform_",
    "normal_",
    "random_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "cauchy_",
    "bernoulli_",
)


class _SkipRandomInit(TorchFunctionMode):
    """Makes ``torch.nn.init`` functions and in-place random fills no-ops while a model is
    built for restoring: the archive's weights replace what they would compute.

    The storages left unfilled are "tainted", and so is every tensor computed from one (a
    copy, a product, a ``deepcopy``: cloning a tainted tensor only allocates, it copies
    nothing). If, once the weights are assigned, the model still holds a tainted tensor (a
    non-persistent buffer filled at random, a parameter the archive lacks), it is built again
    the ordinary way. A torch function mode is thread-local: models other threads build
    meanwhile are not affected.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tainted: set[int] = set()
        funcs = {getattr(torch.Tensor, name) for name in _RANDOM_FILLS}
        for name in dir(torch.nn.init):
            func = getattr(torch.nn.init, name)
            if callable(func) and name.endswith("_") and not name.startswith("_"):
                funcs.add(func)
        self._skip = frozenset(funcs)

    def _taint(self, value: Any) -> None:
        for tensor in _tensors(value):
            ptr = _storage_ptr(tensor)
            if ptr:
                self.tainted.add(ptr)

    def _is_tainted(self, args: Any, kwargs: Mapping[str, Any]) -> bool:
        return any(
            _storage_ptr(t) in self.tainted
            for t in itertools.chain(_tensors(args), _tensors(kwargs))
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        if func in self._skip:
            tensor = args[0] if args else kwargs.get("tensor")
            if isinstance(tensor, torch.Tensor):
                self._taint(tensor)
                return tensor
        if not self.tainted or not self._is_tainted(args, kwargs):
            return func(*args, **kwargs)
        if func is torch.Tensor.clone:  # deepcopy of a module: garbage in, garbage out
            fmt = kwargs.get("memory_format", torch.preserve_format)
            out = torch.empty_like(args[0], memory_format=fmt)
        else:
            out = func(*args, **kwargs)
        self._taint(out)
        return out


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _tensors(item)


def _storage_ptr(tensor: torch.Tensor) -> int:
    """The address of a tensor's storage (0 for meta, empty or storage-less tensors)."""
    if tensor.device.type == "meta" or not tensor.numel():
        return 0
    try:
        return tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return 0


def _holds_tainted(model: torch.nn.Module, tainted: set[int]) -> bool:
    held = {_storage_ptr(t) for t in itertools.chain(model.parameters(), model.buffers())}
    return bool(held & tainted)


def _assign_weights(
    model: torch.nn.Module, weights: Mapping[str, torch.Tensor], strict: bool, path: Path
) -> None:
    """Give ``model`` the archive's tensors without copying them.

    Parameters are wrapped once per tensor, and names the model ties (one parameter under two
    names) all get the same wrapper, so ``load_state_dict(assign=True)`` keeps ties tied. A
    tensor of another dtype than the model's is cast, as ``load_state_dict`` would copy it.
    """
    groups: dict[int, list[str]] = {}
    params: dict[str, torch.nn.Parameter] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        params[name] = param
        groups.setdefault(id(param), []).append(name)
    current = model.state_dict(keep_vars=True)
    state: dict[str, Any] = {}
    wrapped: dict[int, torch.nn.Parameter] = {}
    for name, tensor in weights.items():
        target = current.get(name)
        if target is not None and tensor.dtype != target.dtype:
            tensor = tensor.to(target.dtype)
        param = params.get(name)
        if param is None:
            state[name] = tensor
            continue
        key = id(param)
        if key not in wrapped:
            wrapped[key] = torch.nn.Parameter(tensor, requires_grad=param.requires_grad)
        state[name] = wrapped[key]
    for names in groups.values():  # a tie the archive did not record: one tensor for all
        present = [n for n in names if n in state]
        if present and len(names) > 1:
            for n in names:
                state[n] = state[present[0]]
    try:
        model.load_state_dict(state, strict=strict, assign=True)
    except RuntimeError as exc:
        raise ArchiveError(
            f"the weights in {path} do not fit {type(model).__name__}: {exc}"
        ) from exc


def _restore_model(
    archive: ModelArchive,
    model_cls: type[ModelPT],
    config: dict[str, Any],
    values: dict[str, str],
    weights: Callable[[], Mapping[str, torch.Tensor]],
    strict: bool,
    trainer: pl.Trainer | None,
) -> ModelPT:
    """Build ``model_cls`` from an archive's config with its artifacts unpacked at ``values``
    (config path -> value), then give it the weights ``weights()`` returns."""
    records = list(archive.artifacts)
    by_member = {r.member: values[r.config_path] for r in records}
    config = replace_artifact_references(config, by_member)
    restoring = _Restoring(values, by_member, {r.config_path: r for r in records})
    token = _RESTORING.set(restoring)
    try:
        model = _build_with_weights(model_cls, config, trainer, weights, strict, archive.path)
    finally:
        _RESTORING.reset(token)
    for record in records:  # artifacts the constructor did not re-register stay packed
        if record.config_path not in model._artifacts:
            model._artifacts[record.config_path] = ArtifactSource(
                record.config_path, Path(values[record.config_path]), record.handler
            )
    return model


def _build_with_weights(
    model_cls: type[ModelPT],
    config: dict[str, Any],
    trainer: pl.Trainer | None,
    weights: Callable[[], Mapping[str, torch.Tensor]],
    strict: bool,
    path: Path,
) -> ModelPT:
    skip = _SkipRandomInit()
    with skip:
        model = model_cls(cfg=OmegaConf.create(config), trainer=trainer)
    loaded = weights()
    _assign_weights(model, loaded, strict, path)
    # what the archive gave holds real data; anything else still tainted was left unfilled
    clean = {_storage_ptr(t) for t in loaded.values()}
    if skip.tainted and _holds_tainted(model, skip.tainted - clean):
        model = model_cls(cfg=OmegaConf.create(config), trainer=trainer)
        _assign_weights(model, loaded, strict, path)
    return model
