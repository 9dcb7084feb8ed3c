"""Dataloaders from the dataset sections of a model config (``train_ds``, ``validation_ds``,
``test_ds``).

A dataset section names its dataset class with ``_target_`` and mixes the DataLoader options
(:data:`LOADER_KEYS`) with the dataset's own arguments::

    train_ds: {_target_: my_pkg.PairDataset, n: 64, batch_size: 8, num_workers: 2}

``validation_ds`` and ``test_ds`` may be a list of such sections, one dataloader each.
"""

from __future__ import annotations

from typing import Any

from omegaconf import ListConfig

from ganglion.conf.values import as_dictconfig, to_plain
from ganglion.errors import ConfigError
from ganglion.model.classes import resolve_class

__all__ = ["LOADER_KEYS", "dataloader_from_config", "dataset_configs", "one_or_list"]

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


def dataloader_from_config(config: Any, *, split: str, key: str, owner: str = "the model") -> Any:
    """One dataloader from a dataset section (see the module docstring).

    The DataLoader options go to :func:`ganglion.data.resumable_dataloader` (training resumes
    mid-epoch exactly), every other key but ``name`` to the dataset class; a dataset with a
    ``collate_fn`` method has it used. ``split`` is ``"train"``, ``"validation"`` or
    ``"test"``: training data is shuffled unless ``shuffle`` says otherwise. ``key`` is the
    section's config key and ``owner`` the model class's name, both named in errors.
    """
    cfg = to_plain(as_dictconfig(config, key=key), key=key, lenient=True)
    target = cfg.pop("_target_", None)
    if target is None:
        raise ConfigError(
            f"{key}: no _target_ naming the dataset class; give one, or override "
            f"{owner}._setup_dataloader_from_config to build this model's data"
        )
    dataset_cls = resolve_class(str(target), key=f"{key}._target_")
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
    from ganglion.data import resumable_dataloader

    try:
        return resumable_dataloader(dataset, **loader_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: invalid DataLoader options {loader_args}: {exc}") from exc


def dataset_configs(config: Any, key: str) -> list[tuple[str, Any]]:
    """``(key, section)`` of each dataset in one dataset section or a list of them."""
    if isinstance(config, ListConfig | list | tuple):
        if not config:
            raise ConfigError(f"{key} is an empty list; give one dataset config or several")
        return [(f"{key}[{i}]", c) for i, c in enumerate(config)]
    return [(key, config)]


def one_or_list(loaders: list[Any]) -> Any:
    """None for no loader, the loader for one, the list for several (what Lightning takes)."""
    if not loaders:
        return None
    return loaders[0] if len(loaders) == 1 else loaders
