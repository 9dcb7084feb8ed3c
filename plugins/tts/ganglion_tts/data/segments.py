"""A vocoder's data: fixed-length audio segments of a speech manifest, with their mel crops.

A vocoder learns mel -> audio from short windows cut at random from each utterance (8192
samples, 0.5 s at 16 kHz: many different windows per epoch, small batches); validation uses
whole utterances (or a fixed crop from each one's start).

A manifest line may name the mels a spectrogram generator made of that same utterance, so
the vocoder can be fine-tuned on the generator's own mels::

    {"audio_filepath": "wavs/0001.wav", "duration": 1.92, "text": "...",
     "mel_filepath": "mels/0001.npy"}

The ``.npy`` file holds float32 ``[n_mels, T]`` with ``T = S // hop + 1`` for ``S`` samples of
audio (the shared preprocessor's centred frames), and its path, if relative, is taken from the
manifest's folder. A segment of ``L`` samples starting at sample ``f * hop`` then comes with
mel frames ``f`` to ``f + L // hop`` (``L // hop + 1`` frames): frame ``t`` is centred on
sample ``t * hop``. Either every line of the manifests has a ``mel_filepath`` or none has.

Items are ``(audio [L], audio_len, mel [n_mels, L // hop + 1] | None)``; :meth:`collate_fn`
pads them into ``(audio [B, S], audio_lens [B], mel [B, n_mels, T] | None, mel_lens [B] |
None)``, short utterances padded with zeros (audio) and the log floor (mels).

Everything that can be checked is checked when the dataset is built: a missing or broken
audio or mel file, a mel file of the wrong shape or frame count, each named by its manifest
line. Audio at another sample rate is resampled on each load, said once with the count.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ganglion.errors import ConfigError
from ganglion_asr.data.audio import audio_info
from ganglion_asr.data.dataset import load_entry_audio
from ganglion_asr.data.manifest import ManifestEntry, parse_manifest_line
from ganglion_asr.data.text import utf8_lines
from ganglion_asr.errors import AudioLoadError, ManifestError
from ganglion_tts.errors import TTSDataError

__all__ = ["AudioSegmentDataset", "SegmentItem", "read_segment_manifest"]

log = logging.getLogger(__name__)

#: One item: (audio [L] float32, number of real samples, mel [n_mels, L // hop + 1] or None).
SegmentItem = tuple[torch.Tensor, int, torch.Tensor | None]


@dataclass(frozen=True)
class _Utterance:
    entry: ManifestEntry
    mel_filepath: str | None


def _manifest_paths(manifest_filepath: str | os.PathLike[str] | Sequence[Any]) -> list[Path]:
    if isinstance(manifest_filepath, (str, os.PathLike)):
        parts = [p.strip() for p in str(manifest_filepath).split(",") if p.strip()]
    else:
        parts = [str(p) for p in manifest_filepath]
    if not parts:
        raise ManifestError("no manifest given: set manifest_filepath to a JSON-lines file")
    return [Path(p).expanduser() for p in parts]


def read_segment_manifest(
    manifest_filepath: str | os.PathLike[str] | Sequence[Any],
) -> list[tuple[ManifestEntry, str | None]]:
    """``(entry, mel path or None)`` for each line of one or more ASR-format manifests
    (a path, a comma-separated string of paths, or a list), ``mel_filepath`` resolved against
    the manifest's folder. A malformed line is an error naming the file and line."""
    rows: list[tuple[ManifestEntry, str | None]] = []
    for path in _manifest_paths(manifest_filepath):
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise ManifestError(
                f"manifest {path} does not exist; check manifest_filepath (relative paths are "
                f"taken from the working directory {os.getcwd()})"
            ) from None
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc}") from None
        count = 0
        with handle:
            for lineno, line in utf8_lines(handle, path, error=ManifestError):
                if not line.strip():
                    continue
                entry = parse_manifest_line(line, path, lineno)  # checks the line
                mel = json.loads(line).get("mel_filepath")
                if mel is not None:
                    if not isinstance(mel, str) or not mel:
                        raise ManifestError(
                            f"{entry.location}: 'mel_filepath' must be a non-empty string, got "
                            f"{mel!r}"
                        )
                    mel_path = Path(mel).expanduser()
                    if not mel_path.is_absolute():
                        mel_path = path.parent / mel_path
                    mel = str(mel_path)
                rows.append((entry, mel))
                count += 1
        if count == 0:
            raise ManifestError(
                f"manifest {path} holds no utterances; it needs one JSON line per utterance"
            )
    return rows


class AudioSegmentDataset(Dataset):
    """Audio segments (and mel crops, with ``mel_filepath``) of the utterances of a manifest.

    Args:
        manifest_filepath: one manifest, a comma-separated string of them, or a list.
        sample_rate: the rate audio is loaded at (other rates are resampled).
        hop_length: the mel hop, in samples: segments start on a frame.
        segment_length: samples per item, a multiple of ``hop_length``; ``None``: whole
            utterances.
        random_crop: where a segment starts: at random on a frame boundary (training), or at
            the utterance's start (a fixed crop, for validation).
        n_mels: mel bands the mel files must have (``None``: not checked).
        mel_pad_value: the value padded mel frames get (the log floor: silence).
        seed: seed of the random crops; the ``k``-th crop of utterance ``i`` depends only on
            ``(seed, i, k)``, so a run is repeatable whatever the batch order.

    Example::

        ds = AudioSegmentDataset("train.json", segment_length=8192, hop_length=256)
        loader = DataLoader(ds, batch_size=8, collate_fn=ds.collate_fn)
    """

    def __init__(
        self,
        manifest_filepath: str | os.PathLike[str] | Sequence[Any],
        *,
        sample_rate: int = 16000,
        hop_length: int = 256,
        segment_length: int | None = 8192,
        random_crop: bool = True,
        n_mels: int | None = None,
        mel_pad_value: float = float(np.log(1e-5)),
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("sample_rate", sample_rate), ("hop_length", hop_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"segments: {name} must be a positive whole number, got {value!r}"
                )
        if segment_length is not None and (
            isinstance(segment_length, bool)
            or not isinstance(segment_length, int)
            or segment_length < hop_length
            or segment_length % hop_length
        ):
            raise ConfigError(
                f"segments: segment_length={segment_length!r} must be a positive multiple of the "
                f"hop ({hop_length} samples), e.g. {32 * hop_length}; or null for whole utterances"
            )
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.segment_length = segment_length
        self.random_crop = bool(random_crop)
        self.n_mels = n_mels
        self.mel_pad_value = float(mel_pad_value)
        self.seed = int(seed)
        rows = read_segment_manifest(manifest_filepath)
        with_mels = [mel is not None for _, mel in rows]
        if any(with_mels) and not all(with_mels):
            first = rows[with_mels.index(not with_mels[0])][0]
            raise ManifestError(
                f"{first.location}: some lines have a 'mel_filepath' and some not; give one for "
                "every line (to train on a generator's mels) or for none (mels of the audio)"
            )
        self.has_mels = bool(with_mels[0])
        self.utterances = [_Utterance(entry, mel) for entry, mel in rows]
        self._frames = self._check_files()
        self._draws: Counter[int] = Counter()

    # -- checks ---------------------------------------------------------------------------------
    def _check_files(self) -> list[int]:
        """Samples of each utterance at ``sample_rate`` (from the headers); every file exists
        and decodes, every mel file has the right shape; resampling is said once."""
        other: Counter[int] = Counter()
        samples = []
        for utt in self.utterances:
            entry = utt.entry
            try:
                rate, frames = audio_info(entry.audio_filepath)
            except AudioLoadError as exc:
                raise AudioLoadError(
                    f"{entry.location}: {exc} (relative audio_filepath values are taken from "
                    "the manifest's folder)"
                ) from None
            if entry.offset is not None:
                frames = min(frames, int(round(entry.duration * rate)))
            if rate != self.sample_rate:
                other[rate] += 1
                frames = int(round(frames * self.sample_rate / rate))
            samples.append(frames)
            if utt.mel_filepath is not None:
                self._check_mel(utt, frames if rate == self.sample_rate else None)
        if other:
            rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(other.items()))
            log.warning(
                "%d of %d audio files are not at %d Hz (%s); they are resampled every time "
                "they are loaded. Resample them once beforehand to save the time",
                sum(other.values()),
                len(self.utterances),
                self.sample_rate,
                rates,
            )
        return samples

    def _mel_shape(self, utt: _Utterance) -> tuple[int, ...]:
        try:
            mel = np.load(utt.mel_filepath, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise TTSDataError(
                f"{utt.entry.location}: mel file {utt.mel_filepath} does not exist (relative "
                "mel_filepath values are taken from the manifest's folder)"
            ) from None
        except (OSError, ValueError) as exc:
            raise TTSDataError(
                f"{utt.entry.location}: cannot read mel file {utt.mel_filepath} as a .npy "
                f"array: {exc}"
            ) from None
        return tuple(mel.shape)

    def _check_mel(self, utt: _Utterance, samples: int | None) -> None:
        shape = self._mel_shape(utt)
        where = f"{utt.entry.location}: mel file {utt.mel_filepath}"
        if len(shape) != 2:
            raise TTSDataError(f"{where} has shape {shape}; expected [n_mels, frames]")
        if self.n_mels is not None and shape[0] != self.n_mels:
            raise TTSDataError(
                f"{where} has {shape[0]} mel bands; the model's preprocessor makes "
                f"{self.n_mels} (preprocessor.features)"
            )
        if samples is not None:
            self._check_frames(utt, shape[1], samples)

    def _check_frames(self, utt: _Utterance, frames: int, samples: int) -> None:
        expected = samples // self.hop_length + 1
        if frames != expected:
            raise TTSDataError(
                f"{utt.entry.location}: mel file {utt.mel_filepath} has {frames} frames, but the "
                f"audio's {samples} samples make {expected} (samples // {self.hop_length} + 1); "
                "make the mels from this utterance's audio with the model's preprocessor settings"
            )

    # -- items ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> SegmentItem:
        utt = self.utterances[index]
        audio = load_entry_audio(utt.entry, self.sample_rate)
        mel = None
        if utt.mel_filepath is not None:
            mel = np.load(utt.mel_filepath, allow_pickle=False).astype(np.float32, copy=False)
            self._check_frames(utt, mel.shape[1], audio.shape[0])
        start = self._start(index, audio.shape[0])
        length = self.segment_length if self.segment_length is not None else audio.shape[0]
        piece = audio[start : start + length]
        real = piece.shape[0]
        if real < length:
            piece = np.pad(piece, (0, length - real))
        audio_t = torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))
        mel_t = None
        if mel is not None:
            first = start // self.hop_length
            count = length // self.hop_length + 1
            crop = mel[:, first : first + count]
            if crop.shape[1] < count:
                pad = np.full((mel.shape[0], count - crop.shape[1]), self.mel_pad_value, np.float32)
                crop = np.concatenate([crop, pad], axis=1)
            mel_t = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32))
        return audio_t, real, mel_t

    def _start(self, index: int, samples: int) -> int:
        """The first sample of the segment: a frame boundary, random or 0."""
        if self.segment_length is None or not self.random_crop:
            return 0
        starts = max(samples - self.segment_length, 0) // self.hop_length + 1
        draw = self._draws[index]
        self._draws[index] += 1
        rng = np.random.default_rng((self.seed, index, draw))
        return int(rng.integers(starts)) * self.hop_length

    def collate_fn(self, batch: Sequence[SegmentItem]) -> tuple[Any, ...]:
        """``(audio [B, S], audio_lens [B], mel [B, n_mels, T] | None, mel_lens [B] | None)``,
        padded to the longest item; ``mel_lens = audio_lens // hop + 1``."""
        longest = max(item[0].shape[0] for item in batch)
        audio = torch.zeros(len(batch), longest)
        lengths = torch.tensor([item[1] for item in batch], dtype=torch.long)
        for row, (signal, _, _) in enumerate(batch):
            audio[row, : signal.shape[0]] = signal
        if batch[0][2] is None:
            return audio, lengths, None, None
        frames = longest // self.hop_length + 1
        mel = torch.full((len(batch), batch[0][2].shape[0], frames), self.mel_pad_value)
        for row, (_, _, spec) in enumerate(batch):
            mel[row, :, : spec.shape[1]] = spec
        return audio, lengths, mel, lengths // self.hop_length + 1
