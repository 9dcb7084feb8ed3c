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
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from ganglion.archive import ArtifactSource, save_archive
from ganglion.conf.values import as_dictconfig, to_plain
from ganglion.errors import ConfigError
from ganglion.model.artifacts import register_artifact, unpacked_artifacts
from ganglion.model.classes import resolve_model_class
from ganglion.model.data import dataloader_from_config, dataset_configs, one_or_list
from ganglion.module import NeuralModule
from ganglion.pretrained import PretrainedModelInfo
from ganglion.registry import qualified_name

__all__ = ["ModelPT"]


def _plain(cfg: Any) -> dict[str, Any]:
    """The config as plain data, interpolations resolved where they can be yet."""
    return to_plain(cfg, key="model", lenient=True)


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
        cfg = as_dictconfig(cfg, key="model config")
        self._cfg: DictConfig = cfg
        self._artifacts: dict[str, ArtifactSource] = {}
        self._optimizer: torch.optim.Optimizer | None = None
        self._scheduler: dict[str, Any] | None = None
        self._train_dl: Any = None
        self._validation_dl: Any = None
        self._test_dl: Any = None
        self._validation_names: list[str] = []
        self._save_config_hparam()
        if trainer is not None:
            self.trainer = trainer
            if unpacked_artifacts() is None:  # a restored model gets no data set up
                self._setup_data_from_config()

    # -- config -------------------------------------------------------------------------
    @property
    def cfg(self) -> DictConfig:
        """The model config (what ``save_to`` packs)."""
        return self._cfg

    @cfg.setter
    def cfg(self, cfg: Any) -> None:
        self._cfg = as_dictconfig(cfg, key="model config")
        self._save_config_hparam()

    def _save_config_hparam(self) -> None:
        # The Lightning hyperparameter ``cfg``, as plain data so that a checkpoint loads with
        # torch.load(weights_only=True), and load_from_checkpoint passes it back as cfg=...
        # Set through the public ``hparams`` mapping, not save_hyperparameters(): that inspects
        # the callers' frames (and signatures) and deep-copies the config, on every build and
        # restore, for nothing used here (hyperparameters are not sent to loggers).
        self.hparams["cfg"] = _plain(self._cfg)

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
        cfg = as_dictconfig(config, key=where)
        target = cfg.get("_target_")
        if target is None:
            if cls is ModelPT:
                raise ConfigError(f"{where}: no _target_ naming the model class to build")
            model_cls: type[ModelPT] = cls
        else:
            model_cls = resolve_model_class(str(target), key=f"{where}._target_")
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
        configs = dataset_configs(val_data_config, "model.validation_ds")
        kept = self._dataloaders(configs, "validation")
        self._validation_names = [
            str(c.get("name") or (f"validation_{i}" if len(configs) > 1 else "validation"))
            for i, c, _ in kept
        ]
        self._validation_dl = one_or_list([loader for _, _, loader in kept])

    def setup_test_data(self, test_data_config: Any) -> None:
        """Build the test dataloader(s) from ``cfg.test_ds`` (one config or a list)."""
        configs = dataset_configs(test_data_config, "model.test_ds")
        self._test_dl = one_or_list([loader for _, _, loader in self._dataloaders(configs, "test")])

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

        The default (:func:`ganglion.model.data.dataloader_from_config`) reads ``_target_``
        (a dataset class: a registered name or an import path), passes the DataLoader options
        (:data:`ganglion.model.data.LOADER_KEYS`) to a resumable loader (training resumes
        mid-epoch exactly) and every other key (but ``name``) to the dataset class. A dataset
        with a ``collate_fn`` method has it used. ``split`` is ``"train"``, ``"validation"``
        or ``"test"``; training data is shuffled unless ``shuffle`` says otherwise.
        """
        return dataloader_from_config(config, split=split, key=key, owner=type(self).__name__)

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
    def list_available_models(cls, catalogue: Any = None) -> list[PretrainedModelInfo]:
        """Pretrained checkpoints for this class and its subclasses (all of them for
        ``ModelPT``), sorted by name: from plugins' catalogues, ``$GANGLION_PRETRAINED_CATALOGUE``
        and ``catalogue`` (a catalogue path or URL, or a list of them)."""
        from ganglion.pretrained.lookup import available_models

        return available_models(cls, catalogue)

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
        return register_artifact(
            self._artifacts,
            config_path,
            src,
            verify_src_exists=verify_src_exists,
            handler=handler,
        )

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
        *,
        mmap: bool | None = None,
    ) -> Any:
        """Rebuild a model from a ``.ganglion`` file.

        Args:
            restore_path: the archive.
            override_config_path: a YAML file (or a config) to use instead of the packed one.
            map_location: the device to put the model on (default: CPU).
            strict: the weights must match the model's state dict key for key; when false,
                what the archive lacks keeps the constructor's initial values.
            return_config: return the packed config (a ``DictConfig``) without building.
            trainer: passed to the model's constructor.
            mmap: ``True``: the weights are copy-on-write views of the mapped file (nothing
                copied, pages read when first touched); ``False``: they are read into fresh
                memory; ``None`` (default): ``GANGLION_MMAP`` decides (``0``: copy), else
                mapped. The catch of mapping (as with ``torch.load(mmap=True)``): a file
                rewritten *in place* while the model lives (``cp`` over it, a download
                resumed into it) changes the mapped weights, and truncating it crashes the
                process. ``save_to`` never does that: it writes a new file and renames it over
                the old one, which the mapping keeps intact. Pass ``mmap=False`` when another
                tool may rewrite the file.

        On ``ModelPT`` itself, the class is the registered model the archive names; on a
        subclass, that class (or the archived class, if it is a subclass of it). The archive
        is checked first (see :class:`~ganglion.archive.ModelArchive`), the model is built on
        the meta device and refused with :class:`~ganglion.archive.ArchiveError` if its
        shapes do not match the archived weights (before anything its config sizes is
        allocated), then given the archive's tensors: no random initialisation is paid for.
        Artifacts are unpacked into the cache and the config points at them. See
        :mod:`ganglion.model.restore` and :mod:`ganglion.model.loading`.
        """
        from ganglion.model.restore import restore_model

        return restore_model(
            cls,
            restore_path,
            override_config_path=override_config_path,
            map_location=map_location,
            strict=strict,
            return_config=return_config,
            trainer=trainer,
            mmap=mmap,
        )

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
        *,
        mmap: bool | None = None,
        catalogue: Any = None,
        refresh: bool = False,
    ) -> Any:
        """Restore a pretrained model: a catalogue name (:meth:`list_available_models`), a
        local ``.ganglion`` path, or an ``http(s)://`` / ``file://`` URL.

        Downloads go into the cache (``$GANGLION_CACHE``) with a progress bar, are checked
        against the catalogue's sha256 and size, resume when interrupted, and are reused
        without any network access afterwards (``refresh=True``, or NeMo's
        ``refresh_cache=True``, fetches again). ``catalogue``: a catalogue path or URL (or a
        list of them) searched before plugins' (see :mod:`ganglion.pretrained.catalogue_files`).
        """
        from ganglion.pretrained.lookup import pretrained_path

        path = pretrained_path(
            model_name, model_class=cls, catalogue=catalogue, refresh=refresh or refresh_cache
        )
        return cls.restore_from(
            path,
            override_config_path=override_config_path,
            map_location=map_location,
            strict=strict,
            return_config=return_config,
            trainer=trainer,
            mmap=mmap,
        )
