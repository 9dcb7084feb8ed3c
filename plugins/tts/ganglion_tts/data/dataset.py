"""The spectrogram generator's data: manifest utterances as (audio, tokens, pitch) items, their
collate function and the data loader of a ``train_ds``/``validation_ds``/``test_ds`` section.

A batch is ``(audio [B, S] float32, audio_lens [B] long, tokens [B, N] long, token_lens [B]
long, pitch [B, T] float32)``: audio and tokens padded with zeros (``<pad>`` is id 0), pitch
the F0 in Hz of each mel frame (0: unvoiced or padding), ``T = audio_lens.max() // hop + 1``,
as many frames as the mel preprocessor makes of the longest row.

Everything that can be checked is checked when the dataset is built, once: every text is
converted by the text frontend (a text it cannot read at all is an error naming the manifest
line; what it guessed or dropped is reported once for the whole dataset), every audio file's
header is read (a missing or broken file is an error naming the line; files at another
sample rate are resampled on each load, said once with their count), and the speakers are
counted (a single-voice model refuses a manifest of several).

Pitch is estimated once per utterance and kept: in memory, and on disk under
``ganglion.cache.cache_dir() / "tts-pitch"``, keyed by a hash of the decoded samples and the
pitch settings (so an edited file, or other settings, never get a stale value), written
atomically. Nothing is written next to the user's audio.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ganglion_asr.data.audio import audio_info
from ganglion_asr.data.dataset import load_entry_audio
from ganglion_asr.data.manifest import ManifestEntry, read_manifest
from ganglion_asr.data.sampler import DurationBucketBatchSampler
from ganglion_asr.errors import AudioLoadError, ManifestError
from ganglion_tts.data.pitch import check_pitch_settings, estimate_pitch, num_frames
from ganglion_tts.errors import MultiSpeakerError, TTSDataError

__all__ = ["TTSDataset", "collate_tts", "pitch_cache_dir", "tts_dataloader"]

log = logging.getLogger(__name__)

#: One item: (audio [S] float32, token ids [N] int64, pitch [S // hop + 1] float32).
Item = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

#: Bumped whenever the pitch estimator changes what it returns, so old cache entries go unused.
_PITCH_VERSION = "yin-1"


def pitch_cache_dir() -> Path:
    """Where pitch tracks are cached: ``ganglion.cache.cache_dir() / "tts-pitch"``."""
    from ganglion.cache import cache_dir

    return cache_dir() / "tts-pitch"


def _shown(items: Sequence[str], show: int = 8) -> str:
    more = f" and {len(items) - show} more" if len(items) > show else ""
    return ", ".join(items[:show]) + more


class TTSDataset(Dataset):
    """Utterances of one or more manifests as ``(audio, tokens, pitch)`` items.

    Args:
        manifest_filepath: a manifest path, a comma-separated string of them, or a list.
        frontend: the model's :class:`~ganglion_tts.text.TextFrontend` (``None``: a default one).
        sample_rate: the model's rate in Hz; audio at another rate is resampled.
        hop_length, win_length: the mel preprocessor's hop and window (samples); pitch gets
            one value per hop (``S // hop_length + 1``).
        pitch_fmin, pitch_fmax: the range of F0 searched (Hz).
        min_duration, max_duration: keep utterances within these lengths (seconds).
        speaker: keep only the lines of this ``speaker``; without it a manifest naming more
            than one speaker is refused (the model speaks with one voice).
        cache_pitch: keep pitch tracks on disk (see :func:`pitch_cache_dir`) as well as in
            memory.
        key: the config section this dataset comes from (``"model.train_ds"``), for hints.
    """

    def __init__(
        self,
        manifest_filepath: str | os.PathLike[str] | Sequence[Any],
        *,
        frontend: Any = None,
        sample_rate: int = 16000,
        hop_length: int = 256,
        win_length: int = 1024,
        pitch_fmin: float = 60.0,
        pitch_fmax: float = 500.0,
        min_duration: float | None = None,
        max_duration: float | None = None,
        speaker: str | None = None,
        cache_pitch: bool = True,
        key: str | None = None,
    ) -> None:
        super().__init__()
        if frontend is None:
            from ganglion_tts.text import TextFrontend

            frontend = TextFrontend()
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.win_length = int(win_length)
        self.pitch_fmin = float(pitch_fmin)
        self.pitch_fmax = float(pitch_fmax)
        self.cache_pitch = bool(cache_pitch)
        # bad settings fail here, not in the first batch
        check_pitch_settings(
            self.sample_rate,
            self.hop_length,
            self.win_length,
            self.pitch_fmin,
            self.pitch_fmax,
        )
        entries = read_manifest(
            manifest_filepath, min_duration=min_duration, max_duration=max_duration
        )
        entries = _one_speaker(entries, None if speaker is None else str(speaker), key)
        self.speaker = str(speaker) if speaker is not None else _speaker_of(entries)
        self.entries = entries
        # the frontend is not kept: loader worker processes need only the ids
        self.tokens = self._convert_texts(entries, frontend)
        self._check_audio(entries)
        self.durations: list[float] = [e.duration for e in entries]
        self._pitch: dict[int, np.ndarray] = {}
        self._settings_key = json.dumps(
            [
                _PITCH_VERSION,
                self.sample_rate,
                self.hop_length,
                self.win_length,
                self.pitch_fmin,
                self.pitch_fmax,
            ]
        )
        self._disk_warned = False

    # -- checks at construction ----------------------------------------------------------------
    def _convert_texts(self, entries: list[ManifestEntry], frontend: Any) -> list[list[int]]:
        """Token ids of every entry's text (each distinct text converted once)."""
        from ganglion_tts.text.errors import TTSTextError

        quiet = copy.copy(frontend)  # the report below replaces the per-text log lines
        quiet.log = False
        converted: dict[str, Any] = {}
        guessed: dict[str, str] = {}  # word -> first location
        dropped: dict[str, str] = {}  # character -> first location
        tokens: list[list[int]] = []
        for entry in entries:
            result = converted.get(entry.text)
            if result is None:
                try:
                    result = quiet.parse(entry.text)
                except TTSTextError as exc:
                    raise TTSDataError(
                        f"{entry.location}: the text frontend cannot read the text: {exc} "
                        "Fix or remove that line"
                    ) from None
                converted[entry.text] = result
                for word in result.fallback:
                    guessed.setdefault(word, entry.location)
                for char in result.dropped:
                    dropped.setdefault(char, entry.location)
            tokens.append(list(result.ids))
        manifests = _shown(sorted({e.manifest for e in entries}), 3)
        if dropped:
            listed = _shown([f"{c!r} (first at {where})" for c, where in dropped.items()])
            log.warning(
                "%s: the text frontend dropped %d character(s) it cannot read: %s. Spell them "
                "out in the transcripts if they are spoken",
                manifests,
                len(dropped),
                listed,
            )
        if guessed:
            listed = _shown([f"{w!r} ({where})" for w, where in guessed.items()])
            log.info(
                "%s: %d word(s) are not in the pronouncing dictionary; their pronunciation is "
                "guessed: %s. Add them to a lexicon (text_frontend.lexicon) to fix it",
                manifests,
                len(guessed),
                listed,
            )
        return tokens

    def _check_audio(self, entries: list[ManifestEntry]) -> None:
        """Every audio file exists and decodes; files at another rate are counted, said once."""
        other: Counter[int] = Counter()
        example = ""
        for entry in entries:
            try:
                rate, _ = audio_info(entry.audio_filepath)
            except AudioLoadError as exc:
                raise AudioLoadError(
                    f"{entry.location}: {exc} (relative audio_filepath values are taken from "
                    "the manifest's folder)"
                ) from None
            if rate != self.sample_rate:
                other[rate] += 1
                example = example or entry.audio_filepath
        if other:
            rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(other.items()))
            log.warning(
                "%d of %d audio files are not at the model's %d Hz (%s; e.g. %s); they are "
                "resampled every time they are loaded. Resample them once beforehand to save "
                "the time",
                sum(other.values()),
                len(entries),
                self.sample_rate,
                rates,
                example,
            )
        self.resampled_files = sum(other.values())

    # -- items ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Item:
        audio = load_entry_audio(self.entries[index], self.sample_rate)
        pitch = self.pitch(index, audio)
        return (
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            torch.tensor(self.tokens[index], dtype=torch.long),
            torch.from_numpy(pitch),
        )

    def pitch(self, index: int, audio: np.ndarray | None = None) -> np.ndarray:
        """The F0 track of utterance ``index`` (computed once, then cached)."""
        cached = self._pitch.get(index)
        if cached is not None:
            return cached
        if audio is None:
            audio = load_entry_audio(self.entries[index], self.sample_rate)
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        expected = num_frames(audio.shape[0], self.hop_length)
        path = None
        if self.cache_pitch:
            digest = hashlib.sha256(self._settings_key.encode())
            digest.update(audio.tobytes())
            name = digest.hexdigest()
            path = pitch_cache_dir() / name[:2] / f"{name}.npy"
            pitch = _read_cached(path, expected)
            if pitch is not None:
                self._pitch[index] = pitch
                return pitch
        pitch = estimate_pitch(
            audio,
            self.sample_rate,
            self.hop_length,
            self.win_length,
            self.pitch_fmin,
            self.pitch_fmax,
        )
        if path is not None:
            self._write_cached(path, pitch)
        self._pitch[index] = pitch
        return pitch

    def pitch_statistics(self) -> dict[str, float]:
        """Mean, standard deviation, minimum and maximum F0 (Hz) over the voiced frames of
        every utterance (what a model normalises pitch with); computes every track not yet
        cached. A dataset without a voiced frame is a :class:`TTSDataError`."""
        total = count = 0
        square = 0.0
        low, high = np.inf, -np.inf
        for index in range(len(self)):
            track = self.pitch(index)
            voiced = track[track > 0].astype(np.float64)
            if voiced.size:
                count += voiced.size
                total += float(voiced.sum())
                square += float(np.square(voiced).sum())
                low, high = min(low, float(voiced.min())), max(high, float(voiced.max()))
        if count == 0:
            raise TTSDataError(
                f"{_manifests(self.entries)}: no voiced frame in any utterance (between "
                f"pitch_fmin={self.pitch_fmin:g} and pitch_fmax={self.pitch_fmax:g} Hz); is it "
                "speech, and is the range right for the voice?"
            )
        mean = total / count
        std = float(np.sqrt(max(square / count - mean * mean, 0.0)))
        return {"mean": mean, "std": std, "min": low, "max": high, "voiced_frames": count}

    def _write_cached(self, path: Path, pitch: np.ndarray) -> None:
        from ganglion.archive.atomic import atomic_output

        try:
            with atomic_output(path, durable=False) as out:  # a cache: a lost file is recomputed
                np.save(out, pitch, allow_pickle=False)
        except Exception as exc:  # a read-only or full cache must not stop training
            if not self._disk_warned:
                self._disk_warned = True
                log.warning(
                    "cannot write pitch tracks to the cache %s (%s); they are kept in memory "
                    "only (set GANGLION_CACHE to a writable folder to keep them)",
                    pitch_cache_dir(),
                    exc,
                )

    def collate_fn(self, batch: Sequence[Item]) -> tuple[torch.Tensor, ...]:
        """Pads a list of items into a batch (see :func:`collate_tts`)."""
        return collate_tts(batch)


def _read_cached(path: Path, frames: int) -> np.ndarray | None:
    """The cached track at ``path`` when it is there and has ``frames`` float32 values."""
    try:
        pitch = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if pitch.dtype != np.float32 or pitch.shape != (frames,):
        return None
    return pitch


def _speaker_of(entries: Sequence[ManifestEntry]) -> str | None:
    return next((e.speaker for e in entries if e.speaker is not None), None)


def _one_speaker(
    entries: list[ManifestEntry], speaker: str | None, key: str | None
) -> list[ManifestEntry]:
    """The entries of one speaker: those of ``speaker``, or all when they name at most one."""
    option = f"{key}.speaker" if key else "the dataset's speaker option"
    counts: Counter[str] = Counter(e.speaker for e in entries if e.speaker is not None)
    first: dict[str, str] = {}
    for e in entries:
        if e.speaker is not None:
            first.setdefault(e.speaker, e.location)
    listed = _shown([f"{s!r}: {n} utterance(s), first at {first[s]}" for s, n in counts.items()])
    if speaker is not None:
        kept = [e for e in entries if e.speaker == speaker]
        if not kept:
            named = f"it names {listed}" if counts else "its lines have no 'speaker' key"
            raise MultiSpeakerError(
                f"no utterance of speaker {speaker!r} in {_manifests(entries)}: {named}. "
                f"Set {option} to one of them, or leave it out"
            )
        return kept
    if len(counts) > 1:
        top = counts.most_common(1)[0][0]
        raise MultiSpeakerError(
            f"{_manifests(entries)} names {len(counts)} speakers ({listed}); this model speaks "
            f"with one voice. Keep one with {option} (e.g. {option}={top}), or give a "
            "manifest of one speaker"
        )
    return entries


def _manifests(entries: Sequence[ManifestEntry]) -> str:
    return _shown(sorted({e.manifest for e in entries}), 3)


def collate_tts(batch: Sequence[Item]) -> tuple[torch.Tensor, ...]:
    """Pads ``(audio, tokens, pitch)`` items into ``(audio [B, S], audio_lens [B], tokens
    [B, N], token_lens [B], pitch [B, T])``, with zeros (token id 0 is ``<pad>``).

    ``T`` is the longest pitch track, ``audio_lens.max() // hop + 1`` for tracks made by
    :class:`TTSDataset`.
    """
    if not batch:
        raise ValueError("collate_tts got an empty batch")
    audios, tokens, pitches = zip(*batch)
    audio_lens = torch.tensor([a.shape[0] for a in audios], dtype=torch.long)
    token_lens = torch.tensor([t.shape[0] for t in tokens], dtype=torch.long)
    frames = max(p.shape[0] for p in pitches)
    audio = torch.zeros(len(batch), int(audio_lens.max()), dtype=torch.float32)
    token_ids = torch.zeros(len(batch), max(int(token_lens.max()), 1), dtype=torch.long)
    pitch = torch.zeros(len(batch), frames, dtype=torch.float32)
    for row, (a, t, p) in enumerate(batch):
        audio[row, : a.shape[0]] = a
        token_ids[row, : t.shape[0]] = t
        pitch[row, : p.shape[0]] = p
    return audio, audio_lens, token_ids, token_lens, pitch


#: Keys a TTS dataset config section may hold.
DATASET_KEYS = frozenset(
    {
        "manifest_filepath",
        "sample_rate",
        "batch_size",
        "shuffle",
        "num_workers",
        "pin_memory",
        "min_duration",
        "max_duration",
        "drop_last",
        "bucketing_pool_batches",
        "speaker",
        "pitch_fmin",
        "pitch_fmax",
        "cache_pitch",
        "name",
    }
)


def mel_settings(preprocessor_cfg: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(sample_rate, hop_length, win_length)`` of a mel preprocessor config, read the way
    ``AudioToMelSpectrogramPreprocessor`` reads it (``n_window_*`` in samples, else
    ``window_*`` in seconds)."""
    cfg = dict(preprocessor_cfg)
    sample_rate = int(cfg.get("sample_rate", 16000))
    win = cfg.get("n_window_size") or round(float(cfg.get("window_size", 0.02)) * sample_rate)
    hop = cfg.get("n_window_stride") or round(float(cfg.get("window_stride", 0.01)) * sample_rate)
    return sample_rate, int(hop), int(win)


def tts_dataloader(
    cfg: Mapping[str, Any],
    *,
    frontend: Any,
    preprocessor_cfg: Mapping[str, Any],
    key: str = "dataset config",
    shuffle: bool | None = None,
    seed: int | None = None,
) -> Any:
    """A data loader from a ``train_ds``/``validation_ds``/``test_ds`` config section.

    Keys read: ``manifest_filepath`` (required), ``batch_size`` (16), ``shuffle`` (False),
    ``num_workers`` (0), ``pin_memory`` (False), ``min_duration``, ``max_duration``,
    ``drop_last`` (False), ``bucketing_pool_batches`` (50 when shuffling; ``null`` sorts the
    whole set, the default otherwise), ``speaker``, ``pitch_fmin`` (60), ``pitch_fmax`` (500),
    ``cache_pitch`` (True). The sample rate, hop and window come from the model's
    ``preprocessor`` config (a ``sample_rate`` key here must agree with it); ``key`` (e.g.
    ``"model.train_ds"``) is named in errors.

    The loader is torchdata's ``StatefulDataLoader`` over ganglion's ``ResumableSampler``
    wrapped in a :class:`~ganglion_asr.data.sampler.DurationBucketBatchSampler`, so batches
    hold utterances of similar length and an interrupted run resumes on the same batches.
    """
    from ganglion.data import resumable_dataloader
    from ganglion.errors import ConfigError, check_known_keys

    cfg = dict(cfg)
    check_known_keys(cfg, DATASET_KEYS, where=key)
    if not cfg.get("manifest_filepath"):
        raise ManifestError(
            f"{key} has no manifest_filepath; set e.g. "
            f"{key}.manifest_filepath=/path/to/train_manifest.json"
        )
    sample_rate, hop, win = mel_settings(preprocessor_cfg)
    if cfg.get("sample_rate") is not None and int(cfg["sample_rate"]) != sample_rate:
        raise ConfigError(
            f"{key}.sample_rate={cfg['sample_rate']} differs from the preprocessor's "
            f"sample_rate={sample_rate}; leave {key}.sample_rate out (the preprocessor's is used)"
        )
    dataset = TTSDataset(
        cfg["manifest_filepath"],
        frontend=frontend,
        sample_rate=sample_rate,
        hop_length=hop,
        win_length=win,
        pitch_fmin=float(cfg.get("pitch_fmin", 60.0)),
        pitch_fmax=float(cfg.get("pitch_fmax", 500.0)),
        min_duration=cfg.get("min_duration"),
        max_duration=cfg.get("max_duration"),
        speaker=cfg.get("speaker"),
        cache_pitch=bool(cfg.get("cache_pitch", True)),
        key=key,
    )
    shuffle = bool(cfg.get("shuffle", False)) if shuffle is None else shuffle
    pool = cfg.get("bucketing_pool_batches", 50 if shuffle else None)
    batch_size = cfg.get("batch_size", 16)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{key}.batch_size must be a positive whole number, got {batch_size!r}")
    num_workers = int(cfg.get("num_workers", 0) or 0)
    return resumable_dataloader(
        dataset,
        shuffle=shuffle,
        seed=seed,
        batch_sampler=lambda sampler: DurationBucketBatchSampler(
            sampler,
            batch_size,
            bool(cfg.get("drop_last", False)),
            pool_batches=pool,
            shuffle=shuffle,
        ),
        collate_fn=collate_tts,
        num_workers=num_workers,
        pin_memory=bool(cfg.get("pin_memory", False)),
        persistent_workers=num_workers > 0,
    )
