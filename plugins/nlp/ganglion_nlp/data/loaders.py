"""Data loaders from a model's dataset sections (``train_ds``, ``validation_ds``, ``test_ds``).

Keys of a section (all but ``file_path`` optional)::

    file_path: data/train.tsv      # a path, a comma-separated string of paths, or a list
    batch_size: 32
    shuffle: true                  # default: true for training, false otherwise
    num_workers: 0
    pin_memory: false
    drop_last: false
    max_length: null               # ids per text, <cls> and <sep> included; default and
                                   # upper bound: the model's max_length
    empty_lines: error             # or skip (counted in one warning)
    unknown_labels: error          # classification, validation/test: or skip (see data.labels)
    bucketing: true                # batches of similar length (sortish when shuffling)
    bucketing_pool_batches: 50     # batches per sorted pool when shuffling
    max_examples: 0                # keep only the first N examples (0: all)
    name: null                     # a validation set's name in the metrics

Each loader is ganglion's resumable loader (``ganglion.data.resumable_dataloader``): an
interrupted run resumes on the same batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ganglion.errors import ConfigError, check_known_keys
from ganglion_nlp.data.datasets import MaskedLMDataset, TextClassificationDataset
from ganglion_nlp.data.labels import UNKNOWN_LABEL_POLICIES, label_indices
from ganglion_nlp.data.readers import (
    EMPTY_LINE_POLICIES,
    LabelledText,
    file_paths,
    read_labelled_texts,
    read_texts,
)
from ganglion_nlp.data.sampler import LengthBucketBatchSampler
from ganglion_nlp.errors import TextFileError

__all__ = [
    "DATASET_KEYS",
    "classification_dataloader",
    "dataset_max_length",
    "has_file_path",
    "masked_lm_dataloader",
    "read_classification_rows",
    "read_pretraining_texts",
]

#: The keys a dataset section may hold.
DATASET_KEYS = frozenset(
    {
        "file_path",
        "batch_size",
        "shuffle",
        "num_workers",
        "pin_memory",
        "drop_last",
        "max_length",
        "empty_lines",
        "unknown_labels",
        "bucketing",
        "bucketing_pool_batches",
        "max_examples",
        "name",
    }
)


def has_file_path(config: Mapping[str, Any] | None, *, key: str | None = None) -> bool:
    """Whether a dataset section names its files (``null`` and empty do not).

    Hydra's ``???`` marks a path the config requires: with ``key`` (the section's config
    key) it is a :class:`~ganglion.errors.ConfigError` saying to set it, else just not a path.
    """
    if not isinstance(config, Mapping):
        return False
    value = config.get("file_path")
    if value == "???":
        if key is not None:
            raise ConfigError(
                f"{key}.file_path is required (the config says ???); point it at a data file "
                f"({key}.file_path=...) or set it to null to go without"
            )
        return False
    return bool(value)


def _section(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    cfg = dict(config)
    check_known_keys(cfg, DATASET_KEYS, where=key)
    if not has_file_path(cfg):
        raise ConfigError(
            f"{key}.file_path is not set; point it at a data file ({key}.file_path=...)"
        )
    for option, allowed in (
        ("empty_lines", EMPTY_LINE_POLICIES),
        ("unknown_labels", UNKNOWN_LABEL_POLICIES),
    ):
        value = cfg.get(option)
        if value is not None and value not in allowed:
            raise ConfigError(f"{key}.{option}: {value!r}; known: {', '.join(allowed)}")
    return cfg


def _paths(cfg: Mapping[str, Any], key: str) -> list[Any]:
    paths = file_paths(cfg["file_path"])
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise TextFileError(f"{key}.file_path: no such file: {', '.join(missing)}")
    return paths


def _limit(items: list, cfg: Mapping[str, Any], key: str) -> list:
    limit = cfg.get("max_examples") or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigError(f"{key}.max_examples: expected a whole number (0: all), got {limit!r}")
    return items[:limit] if limit else items


def read_classification_rows(config: Mapping[str, Any], *, key: str) -> list[LabelledText]:
    """The labelled examples of a dataset section's files (after ``max_examples``)."""
    cfg = _section(config, key)
    rows: list[LabelledText] = []
    for path in _paths(cfg, key):
        rows.extend(read_labelled_texts(path, empty_lines=cfg.get("empty_lines") or "error"))
    return _limit(rows, cfg, key)


def read_pretraining_texts(config: Mapping[str, Any], *, key: str) -> list[str]:
    """The texts of a dataset section's files (``.txt`` lines or a labelled file's texts)."""
    cfg = _section(config, key)
    texts: list[str] = []
    for path in _paths(cfg, key):
        texts.extend(read_texts(path, empty_lines=cfg.get("empty_lines") or "error"))
    return _limit(texts, cfg, key)


def dataset_max_length(config: Mapping[str, Any], model_max_length: int, *, key: str) -> int:
    """The section's ``max_length``, or the model's; never more than the model's."""
    value = config.get("max_length")
    if value is None:
        return model_max_length
    if isinstance(value, bool) or not isinstance(value, int) or value < 3:
        raise ConfigError(f"{key}.max_length: expected a whole number of at least 3, got {value!r}")
    if value > model_max_length:
        raise ConfigError(
            f"{key}.max_length {value} is more than the model's max_length {model_max_length} "
            "(its position table); lower it, or raise model.max_length before training"
        )
    return value


def classification_dataloader(
    config: Mapping[str, Any],
    *,
    tokenizer: Any,
    labels: Sequence[str],
    max_length: int,
    split: str,
    key: str,
    rows: list[LabelledText] | None = None,
    seed: int | None = None,
) -> Any:
    """A loader of ``(input_ids, attention_mask, labels)`` batches for a classifier.

    ``rows`` are the section's examples if already read (the training file is read once, for
    the label set too). Rows whose label is not in ``labels`` follow ``unknown_labels``.
    """
    cfg = _section(config, key)
    if rows is None:
        rows = read_classification_rows(cfg, key=key)
    kept, ids = label_indices(
        rows, labels, unknown_labels=cfg.get("unknown_labels") or "error", key=key
    )
    if not kept:
        raise TextFileError(f"{key}: no example is left after leaving out the unknown labels")
    dataset = TextClassificationDataset(
        [r.text for r in kept],
        ids,
        tokenizer,
        dataset_max_length(cfg, max_length, key=key),
        name=_name(cfg),
    )
    return _loader(dataset, cfg, split=split, key=key, seed=seed)


def masked_lm_dataloader(
    config: Mapping[str, Any],
    *,
    tokenizer: Any,
    max_length: int,
    split: str,
    key: str,
    texts: list[str] | None = None,
    masking: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Any:
    """A loader of masked ``(inputs, attention_mask, targets)`` batches for pretraining.

    ``texts`` are the section's texts if already read. Training batches are masked afresh
    each epoch; validation and test batches the same way every time (see
    :mod:`ganglion_nlp.data.masking`). ``masking`` holds ``mask_prob``, ``replace_prob`` and
    ``random_prob`` (``model.masking`` in a config); ``seed`` seeds the masks.
    """
    cfg = _section(config, key)
    if cfg.get("unknown_labels") is not None:
        raise ConfigError(f"{key}.unknown_labels: masked-LM data has no labels; remove the key")
    if texts is None:
        texts = read_pretraining_texts(cfg, key=key)
    try:
        dataset = MaskedLMDataset(
            texts,
            tokenizer,
            dataset_max_length(cfg, max_length, key=key),
            name=_name(cfg),
            seed=seed,
            fixed_masks=split != "train",
            **dict(masking or {}),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.masking: {exc}") from None
    return _loader(dataset, cfg, split=split, key=key, seed=None)


def _name(cfg: Mapping[str, Any]) -> str:
    return ", ".join(str(p) for p in file_paths(cfg["file_path"]))


def _positive(cfg: Mapping[str, Any], option: str, default: int, key: str, minimum: int = 1) -> int:
    value = cfg.get(option)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{key}.{option}: expected a whole number of at least {minimum}, got {value!r}"
        )
    return value


def _loader(dataset: Any, cfg: Mapping[str, Any], *, split: str, key: str, seed: int | None) -> Any:
    from ganglion.data import resumable_dataloader

    batch_size = _positive(cfg, "batch_size", 32, key)
    num_workers = _positive(cfg, "num_workers", 0, key, minimum=0)
    shuffle = bool(cfg.get("shuffle", split == "train"))
    drop_last = bool(cfg.get("drop_last", False))
    options: dict[str, Any] = {
        "collate_fn": dataset.collate_fn,
        "num_workers": num_workers,
        "pin_memory": bool(cfg.get("pin_memory", False)),
        "persistent_workers": num_workers > 0,
    }
    if cfg.get("bucketing", True):
        pool = cfg.get("bucketing_pool_batches", 50) if shuffle else None
        return resumable_dataloader(
            dataset,
            shuffle=shuffle,
            seed=seed,
            batch_sampler=lambda sampler: LengthBucketBatchSampler(
                sampler, batch_size, drop_last, pool_batches=pool, shuffle=shuffle
            ),
            **options,
        )
    return resumable_dataloader(
        dataset, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, **options
    )
