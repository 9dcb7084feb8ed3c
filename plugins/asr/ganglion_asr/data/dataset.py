"""The manifest dataset for character CTC models, its collate function and its data loader."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ganglion_asr.data.audio import load_audio
from ganglion_asr.data.manifest import ManifestEntry, read_manifest
from ganglion_asr.data.sampler import DurationBucketBatchSampler
from ganglion_asr.data.vocab import CharVocabulary, UnknownCharReport
from ganglion_asr.errors import AudioLoadError, ManifestError, VocabularyError

log = logging.getLogger(__name__)

#: One item: (audio [T] float32, audio length, token ids [U] int64, token count).
Item = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class AudioToCharDataset(Dataset):
    """Utterances of one or more manifests as (audio, length, tokens, token count) items.

    Audio is decoded with soundfile, averaged to mono and resampled to ``sample_rate`` when
    the file's rate differs. Transcripts are prepared by ``vocabulary`` (lowercased when it
    says so) and checked once, up front: characters outside it are reported with counts and
    examples, then handled by its ``unknown_chars`` policy. With ``check_files`` every audio
    path is checked to exist before training starts, so a typo fails in seconds, not hours.

    Args:
        manifest_filepath: a manifest path, a comma-separated string of them, or a list.
        labels: the character vocabulary, or a ready :class:`CharVocabulary`.
        sample_rate: the rate the model expects, in Hz.
        min_duration, max_duration: keep utterances within these lengths (seconds).
        max_utts: keep only the first ``max_utts`` utterances (0: all).
        unknown_chars: ``"error"``, ``"skip_utterance"`` or ``"drop_chars"``.
        lowercase: lowercase transcripts before checking them against ``labels``.
        check_files: verify that every audio file exists when the dataset is built.
        augmentor: an :class:`~ganglion_asr.augment.AudioAugmentor` applied to each waveform
            before it is returned (training only). Its random draws come from a generator
            seeded with ``(seed, epoch, index)``: the loader's batches carry seed and epoch
            along with each index, so worker processes and resumed runs agree.
    """

    def __init__(
        self,
        manifest_filepath: str | os.PathLike[str] | Sequence[Any],
        labels: Sequence[str] | CharVocabulary,
        sample_rate: int,
        *,
        min_duration: float | None = None,
        max_duration: float | None = None,
        max_utts: int = 0,
        unknown_chars: str = "error",
        lowercase: bool = True,
        check_files: bool = True,
        augmentor: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(labels, CharVocabulary):
            self.vocabulary = labels
        else:
            self.vocabulary = CharVocabulary(
                labels, unknown_chars=unknown_chars, lowercase=lowercase
            )
        self.sample_rate = int(sample_rate)
        entries = read_manifest(
            manifest_filepath, min_duration=min_duration, max_duration=max_duration
        )
        if max_utts and max_utts > 0:
            entries = entries[:max_utts]
        self.entries, self.tokens = self._check_texts(entries)
        if check_files:
            _check_files_exist(self.entries)
        self.durations: list[float] = [e.duration for e in self.entries]
        self.augmentor = augmentor

    def _check_texts(
        self, entries: list[ManifestEntry]
    ) -> tuple[list[ManifestEntry], list[list[int]]]:
        vocab = self.vocabulary
        report = UnknownCharReport()
        kept: list[ManifestEntry] = []
        tokens: list[list[int]] = []
        for entry in entries:
            text = vocab.check(vocab.prepare(entry.text), entry.location, report)
            if text is None:
                continue
            kept.append(entry)
            if vocab.unknown_chars != "error" or not report:
                tokens.append(vocab.encode(text))
        manifests = ", ".join(sorted({e.manifest for e in entries}))
        if report:
            message = f"{manifests}: {report.summary()}"
            if vocab.unknown_chars == "error":
                raise VocabularyError(
                    f"{message}. Add these characters to the labels, normalise the transcripts, "
                    "or set unknown_chars to 'drop_chars' or 'skip_utterance'"
                )
            action = "dropped" if vocab.unknown_chars == "drop_chars" else "skipped utterances"
            log.warning("%s (unknown_chars=%s: %s)", message, vocab.unknown_chars, action)
        if not kept:
            raise ManifestError(
                f"{manifests}: no utterance is left after skipping those with characters "
                "outside the vocabulary; check the labels against the transcripts"
            )
        return kept, tokens

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int | tuple[int, int, int]) -> Item:
        seed, epoch = 0, 0  # an item asked for by index alone
        if isinstance(index, tuple):  # (index, seed, epoch) from an augmenting batch sampler
            index, seed, epoch = index
        audio = load_entry_audio(self.entries[index], self.sample_rate)
        if self.augmentor is not None:
            rng = np.random.default_rng([int(seed) % 2**63, int(epoch), int(index)])
            audio = self.augmentor(audio, self.sample_rate, rng)
        signal = torch.from_numpy(audio)
        tokens = torch.tensor(self.tokens[index], dtype=torch.long)
        return (
            signal,
            torch.tensor(signal.shape[0], dtype=torch.long),
            tokens,
            torch.tensor(tokens.shape[0], dtype=torch.long),
        )

    def collate_fn(self, batch: Sequence[Item]) -> tuple[torch.Tensor, ...]:
        """Pads a list of items into a batch (see :func:`collate_audio_tokens`)."""
        return collate_audio_tokens(batch)

    @property
    def output_types(self) -> dict[str, Any]:
        """The neural types of a collated batch, in order."""
        from ganglion.types import LabelsType, LengthsType, NeuralType
        from ganglion_asr.types import AudioSignal

        return {
            "audio_signal": NeuralType(("B", "T"), AudioSignal(freq=self.sample_rate)),
            "a_sig_length": NeuralType(("B",), LengthsType()),
            "transcripts": NeuralType(("B", "T"), LabelsType()),
            "transcript_length": NeuralType(("B",), LengthsType()),
        }


def load_entry_audio(entry: ManifestEntry, sample_rate: int) -> np.ndarray:
    """The audio of one manifest entry, mono float32 at ``sample_rate`` Hz.

    With an ``offset`` only the segment ``[offset, offset + duration)`` is decoded; without
    one the whole file is (``duration`` is then only what the manifest says it lasts). A
    file that cannot be read raises :class:`AudioLoadError` naming the manifest line.
    """
    try:
        return load_audio(
            entry.audio_filepath,
            sample_rate,
            offset=entry.offset,
            duration=entry.duration if entry.offset is not None else None,
        )
    except AudioLoadError as exc:
        if not entry.manifest:
            raise
        raise AudioLoadError(f"{entry.location}: {exc}") from None


def collate_audio_tokens(batch: Sequence[Item], pad_id: int = 0) -> tuple[torch.Tensor, ...]:
    """Pads audio with zeros and tokens with ``pad_id`` to the longest of the batch.

    Returns ``(audio [B, T], audio_lengths [B], tokens [B, U], token_lengths [B])``; the lengths
    say where each row's padding starts.
    """
    audios, audio_lens, tokens, token_lens = zip(*batch)
    audio_lengths = torch.stack(audio_lens)
    token_lengths = torch.stack(token_lens)
    audio = torch.zeros(len(batch), int(audio_lengths.max()), dtype=audios[0].dtype)
    for row, sig in enumerate(audios):
        audio[row, : sig.shape[0]] = sig
    labels = torch.full((len(batch), max(int(token_lengths.max()), 1)), pad_id, dtype=torch.long)
    for row, tok in enumerate(tokens):
        labels[row, : tok.shape[0]] = tok
    return audio, audio_lengths, labels, token_lengths


def _check_files_exist(entries: Sequence[ManifestEntry], show: int = 5) -> None:
    missing = [e for e in entries if not os.path.isfile(e.audio_filepath)]
    if missing:
        listed = "; ".join(f"{e.location}: {e.audio_filepath}" for e in missing[:show])
        more = f" and {len(missing) - show} more" if len(missing) > show else ""
        raise ManifestError(
            f"{len(missing)} of {len(entries)} audio files do not exist: {listed}{more}. "
            "Relative audio_filepath values are resolved against the manifest's folder"
        )


def build_dataloader(
    config: Mapping[str, Any],
    *,
    labels: Sequence[str],
    sample_rate: int,
    shuffle: bool | None = None,
    seed: int | None = None,
    key: str = "dataset config",
) -> Any:
    """A data loader from a ``train_ds``/``validation_ds``/``test_ds`` config section.

    Keys read (NeMo's names): ``manifest_filepath`` (required), ``batch_size`` (32),
    ``shuffle``, ``num_workers`` (0), ``pin_memory`` (False), ``min_duration``,
    ``max_duration``, ``max_utts``, ``unknown_chars`` ("error"), ``lowercase`` (True),
    ``drop_last`` (False), ``bucketing_pool_batches`` (50 when shuffling; ``null`` sorts
    the whole set, the default when not shuffling) and ``augmentor`` (null: waveform
    augmentation, see :class:`~ganglion_asr.augment.AudioAugmentor`; training sections
    only, a ``validation_ds``/``test_ds`` key holding one is an error). ``labels`` and ``sample_rate`` default
    to the model's; ``key`` (e.g. ``"model.train_ds"``) is named in errors.

    The loader is torchdata's ``StatefulDataLoader`` over ganglion's ``ResumableSampler``
    (order a function of seed and epoch, sharded across ranks) wrapped in a
    :class:`DurationBucketBatchSampler`, so an interrupted run resumes on the same batches.
    """
    from ganglion.data import resumable_dataloader
    from ganglion.errors import ConfigError, check_known_keys

    cfg = dict(config)
    check_known_keys(cfg, _DATASET_KEYS, where=key)
    if not cfg.get("manifest_filepath"):
        raise ManifestError(
            f"{key} has no manifest_filepath; set e.g. "
            f"{key}.manifest_filepath=/path/to/manifest.json"
        )
    augmentor = None
    if cfg.get("augmentor"):
        from ganglion_asr.augment import AudioAugmentor

        if key.endswith(("validation_ds", "test_ds")):
            raise ConfigError(
                f"{key}.augmentor: augmentation applies to training data only; evaluation "
                "always sees the audio as it is. Move it to train_ds or remove it"
            )
        augmentor = AudioAugmentor.from_config(cfg["augmentor"], key=f"{key}.augmentor")
    dataset = AudioToCharDataset(
        cfg["manifest_filepath"],
        list(cfg.get("labels") or labels),
        int(cfg.get("sample_rate") or sample_rate),
        min_duration=cfg.get("min_duration"),
        max_duration=cfg.get("max_duration"),
        max_utts=int(cfg.get("max_utts") or 0),
        unknown_chars=cfg.get("unknown_chars", "error"),
        lowercase=bool(cfg.get("lowercase", True)),
        augmentor=augmentor,
    )
    shuffle = bool(cfg.get("shuffle", False)) if shuffle is None else shuffle
    pool = cfg.get("bucketing_pool_batches", 50 if shuffle else None)
    num_workers = int(cfg.get("num_workers", 0) or 0)
    return resumable_dataloader(
        dataset,
        shuffle=shuffle,
        seed=seed,
        batch_sampler=lambda sampler: (
            _SeededBatchSampler if augmentor is not None else DurationBucketBatchSampler
        )(
            sampler,
            int(cfg.get("batch_size", 32)),
            bool(cfg.get("drop_last", False)),
            pool_batches=pool,
            shuffle=shuffle,
        ),
        collate_fn=dataset.collate_fn,
        num_workers=num_workers,
        pin_memory=bool(cfg.get("pin_memory", False)),
        persistent_workers=num_workers > 0,
    )


class _SeededBatchSampler(DurationBucketBatchSampler):
    """Batches of ``(index, seed, epoch)``: the seed and epoch of the inner sampler (the
    loader's ``ResumableSampler``) travel with each index to the worker that loads it, so an
    augmented item depends on those three numbers only."""

    def __iter__(self) -> Any:
        seed = int(getattr(self.sampler, "seed", self.seed))
        epoch = int(getattr(self.sampler, "epoch", self.epoch))
        for batch in super().__iter__():
            yield [(index, seed, epoch) for index in batch]


#: Keys a dataset config may hold.
_DATASET_KEYS = frozenset(
    {
        "manifest_filepath",
        "sample_rate",
        "labels",
        "batch_size",
        "shuffle",
        "num_workers",
        "pin_memory",
        "min_duration",
        "max_duration",
        "max_utts",
        "unknown_chars",
        "lowercase",
        "drop_last",
        "bucketing_pool_batches",
        "name",
        "augmentor",
    }
)
