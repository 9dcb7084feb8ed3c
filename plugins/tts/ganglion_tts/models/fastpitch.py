"""``FastPitchModel``: text -> log-mel spectrogram, non-autoregressive, with durations learned
from an alignment found while it trains (no external aligner, no precomputed durations).

Built from a config (see ``conf/fastpitch.yaml``)::

    model:
      _target_: FastPitchModel
      text_frontend: {}              # TextFrontend arguments (lexicon, stress, g2p_model)
      pitch_mean: null               # Hz over the voiced frames of the training data (filled)
      pitch_std: null
      train_ds: {manifest_filepath: ..., batch_size: 16, ...}
      validation_ds: {manifest_filepath: ..., batch_size: 32}
      preprocessor: {_target_: AudioToMelSpectrogramPreprocessor, features: 80, ...}
      fastpitch: {_target_: FastPitchModule, d_model: 192, ...}   # vocab_size, n_mel_channels filled
      aligner: {_target_: AlignmentEncoder, n_att_channels: 80}  # its input widths filled
      alignment: {prior: true, prior_scaling: 1.0, binarization_start_step: 300}
      loss: {mel: l1, duration_weight: 0.1, pitch_weight: 0.1, forward_sum_weight: 1.0,
             binarization_weight: 1.0}
      optim: {name: adamw, lr: 1.0e-3, sched: {...}}

A training step: audio -> mel (the preprocessor, the one mel implementation shared with
ganglion-asr); token embeddings and mel -> the aligner's soft alignment -> monotonic
alignment search -> durations (they add up to the mel length exactly); per-token pitch =
the mean F0 of each token's voiced frames, normalised by ``pitch_mean``/``pitch_std``; the
network runs teacher-forced on both. Losses: mel (L1 or MSE, masked), duration (MSE of
``log(1 + frames)``), pitch (MSE), forward-sum (trains the aligner), and from
``binarization_start_step`` on, binarisation (soft alignment towards the hard one).

What the data and the frontend decide is written into the config, so an archive holds it:
the vocabulary size, the mel and text widths of the sub-modules, ``pitch_mean`` and
``pitch_std`` (computed once from the training data).

Validation logs ``val_loss`` (the teacher-forced mel loss: with predicted durations the
lengths differ from the reference), ``val_duration_loss``, ``val_pitch_loss`` and
``val_forward_sum_loss``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.archive import atomic_output, atomic_write_text
from ganglion.conf.values import fill
from ganglion.errors import ConfigError, check_known_keys
from ganglion.model.artifacts import unpacked_artifacts
from ganglion.module import NeuralModule
from ganglion.types import NeuralType
from ganglion_tts.models.base import SpectrogramGenerator
from ganglion_tts.models.config import plain, section
from ganglion_tts.modules.alignment import (
    beta_binomial_log_prior,
    binarization_loss,
    durations_from_alignment,
    forward_sum_loss,
    monotonic_alignment_search,
)
from ganglion_tts.modules.fastpitch import token_index_per_frame

__all__ = ["FastPitchModel", "average_pitch_per_token", "pitch_statistics_of"]

log = logging.getLogger(__name__)

_LAYOUT = "ganglion_tts/conf/fastpitch.yaml"
_FRONTEND_KEYS = ("lexicon", "stress", "g2p_model")
_MEL_LOSSES = ("l1", "mse")
_LOSS_DEFAULTS = {
    "mel": "l1",
    "duration_weight": 0.1,
    "pitch_weight": 0.1,
    "forward_sum_weight": 1.0,
    "binarization_weight": 1.0,
}
_ALIGNMENT_DEFAULTS = {"prior": True, "prior_scaling": 1.0, "binarization_start_step": 300}


def average_pitch_per_token(
    pitch: torch.Tensor,
    durations: torch.Tensor,
    mean: float,
    std: float,
) -> torch.Tensor:
    """The normalised mean F0 of each token's voiced frames ``[B, N]``.

    ``pitch`` ``[B, T]`` is F0 in Hz per frame (0: unvoiced); ``durations`` ``[B, N]`` give
    each token its frames, in order. A token with a voiced frame gets
    ``(mean_hz - mean) / std``, one with none (or padding) gets 0.
    """
    batch, tokens = durations.shape
    frames = pitch.shape[1]
    index = token_index_per_frame(durations, frames).clamp(max=tokens)  # tokens: past the end
    voiced = (pitch > 0) & (index < tokens)
    values = torch.where(voiced, pitch, torch.zeros_like(pitch)).float()
    sums = torch.zeros(batch, tokens + 1, device=pitch.device).scatter_add_(1, index, values)
    counts = torch.zeros(batch, tokens + 1, device=pitch.device).scatter_add_(
        1, index, voiced.float()
    )
    sums, counts = sums[:, :tokens], counts[:, :tokens]
    average = sums / counts.clamp(min=1.0)
    return torch.where(counts > 0, (average - mean) / std, torch.zeros_like(average))


def pitch_statistics_of(batches: Any, hop_length: int) -> tuple[float, float]:
    """Mean and standard deviation (Hz) of F0 over the voiced frames of ``batches`` (a
    dataloader of ``(audio, audio_lens, tokens, token_lens, pitch)``); frames past an
    item's ``audio_lens // hop_length + 1`` are ignored."""
    total = total_sq = 0.0
    count = 0
    for batch in batches:
        audio_lens, pitch = batch[1], batch[4].double()
        frames = torch.div(audio_lens, hop_length, rounding_mode="floor") + 1
        inside = torch.arange(pitch.shape[1])[None, :] < frames[:, None]
        voiced = pitch[(pitch > 0) & inside]
        total += float(voiced.sum())
        total_sq += float(voiced.square().sum())
        count += int(voiced.numel())
    if count < 2:
        raise ConfigError(
            "the training data has no voiced frames (F0 is 0 everywhere): it cannot train a "
            "pitch predictor; check the audio of model.train_ds"
        )
    mean = total / count
    std = math.sqrt(max(total_sq / count - mean * mean, 0.0))
    return mean, max(std, 1.0)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype).expand_as(values)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


class FastPitchModel(SpectrogramGenerator):
    """A FastPitch spectrogram generator with a learned aligner.

    Example::

        model = FastPitchModel.restore_from("fastpitch.ganglion")
        tokens = model.parse("call five one two")                   # [1, N]
        spec = model.generate_spectrogram(tokens=tokens, pace=1.0)  # [1, 80, T] log-mel
    """

    def __init__(self, cfg: Any, trainer: Any = None) -> None:
        # data is set up at the end, once the frontend and the modules exist
        super().__init__(cfg, None)
        cfg = plain(self.cfg)
        restoring = unpacked_artifacts() is not None
        self.frontend = self._build_frontend(section(cfg, "text_frontend", {}))
        preprocessor_cfg = section(cfg, "preprocessor", layout=_LAYOUT)
        self.preprocessor = NeuralModule.from_config_dict(
            preprocessor_cfg, where="model.preprocessor"
        )
        n_mels = int(getattr(self.preprocessor, "features", preprocessor_cfg.get("features", 80)))
        fastpitch_cfg = section(cfg, "fastpitch", layout=_LAYOUT)
        fastpitch_cfg.setdefault("_target_", "FastPitchModule")
        fill(
            fastpitch_cfg,
            "vocab_size",
            len(self.frontend.vocabulary),
            where="model.fastpitch",
            source="the text frontend's vocabulary",
        )
        fill(
            fastpitch_cfg,
            "n_mel_channels",
            n_mels,
            where="model.fastpitch",
            source="model.preprocessor.features",
        )
        self.fastpitch = NeuralModule.from_config_dict(fastpitch_cfg, where="model.fastpitch")
        aligner_cfg = section(cfg, "aligner", {})
        aligner_cfg.setdefault("_target_", "AlignmentEncoder")
        fill(
            aligner_cfg,
            "n_mel_channels",
            n_mels,
            where="model.aligner",
            source="model.preprocessor.features",
        )
        fill(
            aligner_cfg,
            "n_text_channels",
            int(self.fastpitch.d_model),
            where="model.aligner",
            source="model.fastpitch.d_model",
        )
        self.aligner = NeuralModule.from_config_dict(aligner_cfg, where="model.aligner")
        self.loss_cfg = self._loss_config(section(cfg, "loss", {}))
        self.alignment_cfg = self._alignment_config(section(cfg, "alignment", {}))
        for key in ("pitch_mean", "pitch_std"):
            cfg.setdefault(key, None)
        self._check_pitch_statistics(cfg, required=restoring)
        self.cfg = cfg
        if trainer is not None:
            self.trainer = trainer
            if not restoring:
                self._setup_data_from_config()
                self._ensure_pitch_statistics()

    # -- config -------------------------------------------------------------------------------
    def _build_frontend(self, frontend_cfg: dict[str, Any]) -> Any:
        from ganglion_tts.text import TextFrontend

        check_known_keys(frontend_cfg, _FRONTEND_KEYS, where="model.text_frontend")
        kwargs = dict(frontend_cfg)
        for key in ("lexicon", "g2p_model"):
            value = kwargs.get(key)
            if isinstance(value, str | os.PathLike):
                # a file: packed into the archive, so the restored model reads the same one
                kwargs[key] = self.register_artifact(f"text_frontend.{key}", str(value))
                frontend_cfg[key] = kwargs[key]
        return TextFrontend(**kwargs)

    @staticmethod
    def _loss_config(section: dict[str, Any]) -> dict[str, Any]:
        check_known_keys(section, _LOSS_DEFAULTS, where="model.loss")
        merged = {**_LOSS_DEFAULTS, **{k: v for k, v in section.items() if v is not None}}
        if merged["mel"] not in _MEL_LOSSES:
            raise ConfigError(
                f"model.loss.mel is {merged['mel']!r}; use {' or '.join(_MEL_LOSSES)}"
            )
        for key in _LOSS_DEFAULTS:
            if key.endswith("_weight"):
                value = merged[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ConfigError(f"model.loss.{key}: expected a number >= 0, got {value!r}")
                merged[key] = float(value)
        section.update(merged)
        return merged

    @staticmethod
    def _alignment_config(section: dict[str, Any]) -> dict[str, Any]:
        check_known_keys(section, _ALIGNMENT_DEFAULTS, where="model.alignment")
        merged = {**_ALIGNMENT_DEFAULTS, **{k: v for k, v in section.items() if v is not None}}
        scaling = merged["prior_scaling"]
        if isinstance(scaling, bool) or not isinstance(scaling, int | float) or scaling <= 0:
            raise ConfigError(
                f"model.alignment.prior_scaling: expected a positive number, got {scaling!r}"
            )
        start = merged["binarization_start_step"]
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ConfigError(
                f"model.alignment.binarization_start_step: expected a step >= 0, got {start!r}"
            )
        merged["prior"] = bool(merged["prior"])
        section.update(merged)
        return merged

    @staticmethod
    def _check_pitch_statistics(cfg: Mapping[str, Any], *, required: bool) -> None:
        mean, std = cfg.get("pitch_mean"), cfg.get("pitch_std")
        if (mean is None) != (std is None):
            raise ConfigError(
                "model.pitch_mean and model.pitch_std go together: give both (Hz over the voiced "
                "frames of the training data) or neither (computed from model.train_ds)"
            )
        if mean is None:
            if required:
                raise ConfigError("model.pitch_mean and pitch_std are missing from the archive")
            return
        for key, value in (("pitch_mean", mean), ("pitch_std", std)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"model.{key}: expected a positive number (Hz), got {value!r}")

    @property
    def pitch_statistics(self) -> tuple[float, float] | None:
        """``(pitch_mean, pitch_std)`` in Hz, or None before they are known."""
        mean, std = self.cfg.get("pitch_mean"), self.cfg.get("pitch_std")
        return None if mean is None else (float(mean), float(std))

    def _ensure_pitch_statistics(self) -> None:
        if self.pitch_statistics is not None:
            return
        if self._train_dl is None:
            raise ConfigError(
                "model.pitch_mean and pitch_std are not set and there is no training data to "
                "compute them from; set model.train_ds.manifest_filepath (or both values)"
            )
        dataset = getattr(self._train_dl, "dataset", None)
        if hasattr(dataset, "pitch_statistics"):  # TTSDataset: from its cached pitch tracks
            stats = dataset.pitch_statistics()
            mean, std = float(stats["mean"]), max(float(stats["std"]), 1.0)
        else:
            mean, std = pitch_statistics_of(self._train_dl, hop_length=self._hop_length())
        cfg = plain(self.cfg)
        cfg["pitch_mean"], cfg["pitch_std"] = round(mean, 3), round(std, 3)
        self.cfg = cfg
        log.info("model.pitch_mean/pitch_std from the training data: %.1f / %.1f Hz", mean, std)

    def _hop_length(self) -> int:
        return int(getattr(self.preprocessor, "hop_length", 256))

    @property
    def mel_settings(self) -> dict[str, Any]:
        """The preprocessor config: the settings of the mels this model makes."""
        return plain(self.cfg.preprocessor)

    # -- data -----------------------------------------------------------------------------------
    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        cfg = plain(config)
        if cfg.get("manifest_filepath") is None:
            if split == "train":
                raise ConfigError(
                    f"{key}.manifest_filepath is not set; point it at a training manifest "
                    "(JSON lines of audio_filepath, duration, text)"
                )
            return None
        cfg.setdefault("shuffle", split == "train")
        from ganglion_tts.data.dataset import tts_dataloader

        return tts_dataloader(
            cfg, frontend=self.frontend, preprocessor_cfg=self.mel_settings, key=key
        )

    def on_fit_start(self) -> None:
        self._ensure_pitch_statistics()

    # -- ports ----------------------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return self.fastpitch.input_types

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return self.fastpitch.output_types

    @typecheck()
    def forward(
        self,
        tokens: torch.Tensor,
        token_lens: torch.Tensor,
        durations: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
        pace: float = 1.0,
    ) -> tuple[torch.Tensor, ...]:
        """The network (see :class:`~ganglion_tts.modules.fastpitch.FastPitchModule`)."""
        return self.fastpitch(
            tokens=tokens, token_lens=token_lens, durations=durations, pitch=pitch, pace=pace
        )

    # -- training -------------------------------------------------------------------------------
    def align(
        self,
        mel: torch.Tensor,
        mel_lens: torch.Tensor,
        tokens: torch.Tensor,
        token_lens: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The aligner's soft alignment and log-probabilities ``[B, 1, T, N]``, the hard
        alignment of monotonic alignment search ``[B, T, N]`` and the durations ``[B, N]``
        (adding up to ``mel_lens``)."""
        prior = None
        if self.alignment_cfg["prior"]:
            prior = beta_binomial_log_prior(
                mel_lens,
                token_lens,
                mel.shape[2],
                tokens.shape[1],
                scaling=float(self.alignment_cfg["prior_scaling"]),
            )
        keys = self.fastpitch.embed(tokens).transpose(1, 2)
        soft, logprob = self.aligner(
            queries=mel, keys=keys, key_lens=token_lens, query_lens=mel_lens, attn_prior=prior
        )
        hard = monotonic_alignment_search(logprob, mel_lens, token_lens)
        return soft, logprob, hard, durations_from_alignment(hard)

    def _losses(self, batch: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        audio, audio_lens, tokens, token_lens, pitch = batch
        stats = self.pitch_statistics
        if stats is None:
            raise ConfigError(
                "model.pitch_mean and pitch_std are not set: train through a Trainer with "
                "model.train_ds (they are computed from it), or set both"
            )
        mel, mel_lens = self.preprocessor(input_signal=audio, length=audio_lens)
        if pitch.shape[1] != mel.shape[2]:
            raise ValueError(
                f"the batch's pitch has {pitch.shape[1]} frames but its mel spectrogram "
                f"{mel.shape[2]}: pitch must be computed with the preprocessor's hop "
                f"({self._hop_length()} samples), T = S // hop + 1"
            )
        soft, logprob, hard, durations = self.align(mel, mel_lens, tokens, token_lens)
        pitch_target = average_pitch_per_token(pitch, durations, *stats)
        spect, spect_lens, log_durs, pitch_pred, _ = self.fastpitch(
            tokens=tokens, token_lens=token_lens, durations=durations, pitch=pitch_target
        )
        frames = spect.shape[2]
        target = mel[:, :, :frames]
        frame_mask = (torch.arange(frames, device=mel.device)[None, :] < mel_lens[:, None])[
            :, None, :
        ]
        if self.loss_cfg["mel"] == "l1":
            mel_loss = _masked_mean((spect - target).abs(), frame_mask)
        else:
            mel_loss = _masked_mean((spect - target).square(), frame_mask)
        token_mask = (
            torch.arange(tokens.shape[1], device=tokens.device)[None, :] < token_lens[:, None]
        )
        log_durs_target = torch.log1p(durations.float())
        duration_loss = _masked_mean(
            F.mse_loss(log_durs, log_durs_target, reduction="none"), token_mask
        )
        pitch_loss = _masked_mean(
            F.mse_loss(pitch_pred, pitch_target, reduction="none"), token_mask
        )
        fs_loss = forward_sum_loss(logprob, token_lens, mel_lens)
        bin_loss = binarization_loss(hard, soft)
        weights = self.loss_cfg
        loss = (
            mel_loss
            + weights["duration_weight"] * duration_loss
            + weights["pitch_weight"] * pitch_loss
            + weights["forward_sum_weight"] * fs_loss
        )
        if self.global_step >= int(self.alignment_cfg["binarization_start_step"]):
            loss = loss + weights["binarization_weight"] * bin_loss
        return {
            "loss": loss,
            "mel_loss": mel_loss,
            "duration_loss": duration_loss,
            "pitch_loss": pitch_loss,
            "forward_sum_loss": fs_loss,
            "binarization_loss": bin_loss,
        }

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self._losses(batch)
        size = int(batch[0].shape[0])
        self.log("train_loss", losses["loss"], prog_bar=True, batch_size=size)
        for name in ("mel_loss", "duration_loss", "pitch_loss", "forward_sum_loss"):
            self.log(f"train_{name}", losses[name], batch_size=size)
        self.log("train_binarization_loss", losses["binarization_loss"], batch_size=size)
        if self._trainer is not None and self.trainer.optimizers:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            self.log("learning_rate", lr, prog_bar=True, batch_size=size)
        return losses["loss"]

    def _eval_step(self, batch: Sequence[torch.Tensor], name: str) -> None:
        losses = self._losses(batch)
        size = int(batch[0].shape[0])
        for key, value in (
            ("loss", losses["mel_loss"]),
            ("duration_loss", losses["duration_loss"]),
            ("pitch_loss", losses["pitch_loss"]),
            ("forward_sum_loss", losses["forward_sum_loss"]),
        ):
            self.log(
                f"{name}_{key}",
                value,
                on_step=False,
                on_epoch=True,
                sync_dist=True,
                batch_size=size,
                prog_bar=key == "loss",
                add_dataloader_idx=False,
            )

    def _set_name(self, prefix: str, index: int) -> str:
        if index == 0:
            return prefix
        names = self.validation_names if prefix == "val" else []
        return f"{prefix}_{names[index] if index < len(names) else index}"

    def validation_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, self._set_name("val", dataloader_idx))

    def test_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, self._set_name("test", dataloader_idx))

    # -- inference ------------------------------------------------------------------------------
    def parse(self, text: str) -> torch.Tensor:
        """Token ids ``[1, N]`` of ``text`` through the text frontend, which logs once what it
        guessed (words not in the lexicon) or dropped (characters it cannot read).

        Empty text, or text with nothing readable, is a
        :class:`~ganglion_tts.text.TTSTextError` saying so.
        """
        result = self.frontend.parse(text)
        return torch.tensor([result.ids], dtype=torch.long, device=self._param_device())

    def _param_device(self) -> torch.device:
        return next(self.parameters()).device

    def _silence(self) -> float:
        """The log-mel value of silence (what padding frames are filled with)."""
        pre = self.preprocessor
        if not getattr(pre, "log", True):
            return 0.0
        # log(max(0, guard)) and log(0 + guard) alike
        return math.log(float(getattr(pre, "log_zero_guard_value", 1e-5)))

    def generate_spectrogram(
        self,
        tokens: torch.Tensor,
        pace: float = 1.0,
        return_lengths: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Log-mel spectrograms ``[B, n_mels, T]`` of token ids ``[B, N]`` (``0`` = padding,
        at the end of each row), with predicted durations divided by ``pace`` (2.0: twice as
        fast) and predicted pitch. Frames past an utterance's end are silence. With
        ``return_lengths``, ``(spectrograms, lengths [B])``.
        """
        if kwargs:
            raise TypeError(
                f"generate_spectrogram got unexpected argument(s) {', '.join(sorted(kwargs))}; "
                "it takes tokens, pace and return_lengths"
            )
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
            raise ValueError(
                "generate_spectrogram takes token ids [B, N] (a long tensor; model.parse(text) "
                f"makes one), got {getattr(tokens, 'shape', type(tokens).__name__)}"
            )
        if isinstance(pace, bool) or not isinstance(pace, int | float) or not pace > 0:
            raise ValueError(f"pace must be a positive number, got {pace!r}")
        tokens = tokens.long().to(self._param_device())
        vocab = int(self.fastpitch.vocab_size)
        if bool(((tokens < 0) | (tokens >= vocab)).any()):
            raise ValueError(f"token ids must be in 0..{vocab - 1} (the frontend's vocabulary)")
        token_lens = (tokens != 0).sum(dim=1)
        if bool((token_lens == 0).any()):
            raise ValueError("a row of tokens is all padding: there is nothing to say")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                spect, lens, *_ = self.fastpitch(
                    tokens=tokens, token_lens=token_lens, pace=float(pace)
                )
        finally:
            self.train(was_training)
        frame_mask = torch.arange(spect.shape[2], device=spect.device)[None, :] < lens[:, None]
        spect = spect.masked_fill(~frame_mask[:, None, :], self._silence())
        return (spect, lens) if return_lengths else spect

    # -- teacher-forced mels for a vocoder ------------------------------------------------------
    def write_training_mels(
        self,
        manifest: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        *,
        batch_size: int = 16,
    ) -> Path:
        """Write this model's teacher-forced mel spectrogram of every utterance of
        ``manifest`` as ``out_dir/mels/<n>-<audio name>.npy`` (float32 ``[n_mels, T]``), and a
        copy of the manifest with a ``mel_filepath`` key per line, ``out_dir/<manifest
        name>`` (``_mels`` added to the name when that is the manifest itself); returns it.

        Teacher-forced: durations come from the aligner's monotonic alignment search over
        the reference mel, pitch from the reference's pitch track, so each spectrogram has
        exactly the reference's frames (``T = samples // hop + 1``) and lines up with the
        audio sample for sample: a vocoder fine-tuned on these pairs learns to turn this
        model's own mels into the reference audio. Every utterance is kept (no duration
        bounds); in the copy ``audio_filepath`` is absolute and ``mel_filepath`` relative to
        ``out_dir``. Each file is written under a temporary name and renamed, the manifest
        copy last.
        """
        from ganglion_tts.data.dataset import TTSDataset, collate_tts, mel_settings

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
        stats = self.pitch_statistics
        if stats is None:
            raise ConfigError("model.pitch_mean and pitch_std are not set: train the model first")
        manifest = Path(manifest).expanduser()
        out_dir = Path(out_dir).expanduser()
        copy_path = out_dir / manifest.name
        if copy_path.resolve() == manifest.resolve():
            copy_path = out_dir / f"{manifest.stem}_mels{manifest.suffix}"
        sample_rate, hop, win = mel_settings(self.mel_settings)
        train = plain(self.cfg.get("train_ds") or {})
        dataset = TTSDataset(
            str(manifest),
            frontend=self.frontend,
            sample_rate=sample_rate,
            hop_length=hop,
            win_length=win,
            pitch_fmin=float(train.get("pitch_fmin") or 60.0),
            pitch_fmax=float(train.get("pitch_fmax") or 500.0),
            speaker=train.get("speaker"),
            key="write_training_mels",
        )
        mel_dir = out_dir / "mels"
        mel_dir.mkdir(parents=True, exist_ok=True)
        names = [
            f"{index:06d}-{Path(entry.audio_filepath).stem}.npy"
            for index, entry in enumerate(dataset.entries)
        ]
        order = sorted(range(len(dataset)), key=lambda i: dataset.durations[i])
        device = self._param_device()
        was_training = self.training
        self.eval()
        try:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = [t.to(device) for t in collate_tts([dataset[i] for i in chunk])]
                spect, lens = self._teacher_forced(batch, stats)
                for row, index in enumerate(chunk):
                    mel = spect[row, :, : int(lens[row])].float().cpu().numpy()
                    with atomic_output(mel_dir / names[index], durable=False) as out:
                        np.save(out, np.ascontiguousarray(mel, dtype=np.float32))
        finally:
            self.train(was_training)
        lines = []
        for entry, name in zip(dataset.entries, names):
            record = entry.to_json()
            record["audio_filepath"] = str(Path(entry.audio_filepath).resolve())
            record["mel_filepath"] = f"mels/{name}"
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        atomic_write_text(copy_path, "".join(lines))
        log.info(
            "wrote %d teacher-forced mels to %s and the manifest %s", len(lines), mel_dir, copy_path
        )
        return copy_path

    @torch.no_grad()
    def _teacher_forced(
        self, batch: Sequence[torch.Tensor], stats: tuple[float, float]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        audio, audio_lens, tokens, token_lens, pitch = batch
        mel, mel_lens = self.preprocessor(input_signal=audio, length=audio_lens)
        *_, durations = self.align(mel, mel_lens, tokens, token_lens)
        pitch_target = average_pitch_per_token(pitch, durations, *stats)
        spect, spect_lens, *_ = self.fastpitch(
            tokens=tokens, token_lens=token_lens, durations=durations, pitch=pitch_target
        )
        return spect, spect_lens
