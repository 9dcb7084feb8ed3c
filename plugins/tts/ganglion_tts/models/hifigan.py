"""``HifiGanModel``: the HiFi-GAN vocoder, trained on audio segments with two optimizers.

Config (``conf/hifigan.yaml``)::

    model:
      _target_: HifiGanModel
      preprocessor: {_target_: AudioToMelSpectrogramPreprocessor, ...}   # the shared mels
      generator: {_target_: HifiGanGenerator, upsample_initial_channel: 128, ...}
      mpd: {_target_: MultiPeriodDiscriminator, ...}    # or null
      msd: {_target_: MultiScaleDiscriminator, ...}     # or null
      discriminator_start_step: 0     # generator steps on mel + STFT losses alone first
      loss: {mel: 45.0, stft: 45.0, feature_matching: 2.0, adversarial: 1.0}
      train_ds: {manifest_filepath: ..., segment_length: 8192, batch_size: 8}
      validation_ds: {manifest_filepath: ..., batch_size: 4}       # whole utterances
      optim: {name: adamw, lr: 2.0e-4, betas: [0.8, 0.99]}          # the generator's
      discriminator_optim: {name: adamw, lr: 2.0e-4, betas: [0.8, 0.99]}

A training step (Lightning's manual optimization): the mels of the audio segments (or the
manifest's ``mel_filepath`` mels, to fine-tune on a spectrogram generator's output) go
through the generator; with discriminators, they take a step on real vs generated audio
(least squares), then the generator takes one on the mel L1 (its audio's mels through the
same preprocessor against the real audio's), the multi-resolution STFT loss, and, with
discriminators, the adversarial and feature-matching losses. Without discriminators (both
null), or before ``discriminator_start_step``, only the mel and STFT losses train it: what
a 10-minute CPU budget affords.

``trainer.global_step`` counts every optimizer step (Lightning's rule for manual
optimization), so it rises by two per batch once the discriminators train; schedulers, if
``optim.sched`` is given, follow it, as :class:`~ganglion.training.time_budget.TimeBudget`
does.

Validation logs ``val_loss``: the mel L1 of whole utterances (nothing else is written).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ganglion import typecheck
from ganglion.conf.values import fill
from ganglion.errors import ConfigError, check_known_keys
from ganglion.module import NeuralModule
from ganglion.types import NeuralType
from ganglion_tts.models import config as model_config
from ganglion_tts.models.base import Vocoder
from ganglion_tts.models.config import plain
from ganglion_tts.modules.griffin_lim import TTS_MEL_SETTINGS, mel_settings
from ganglion_tts.modules.hifigan import (
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    multi_resolution_stft_loss,
)

__all__ = ["HifiGanModel"]

#: Loss weights (``model.loss``) and STFT resolutions ``[n_fft, hop, win_length]``.
LOSS_DEFAULTS: dict[str, Any] = {
    "mel": 45.0,
    "stft": 45.0,
    "feature_matching": 2.0,
    "adversarial": 1.0,
    "stft_resolutions": [[512, 128, 512], [1024, 256, 1024], [256, 64, 256]],
}

_MODEL_KEYS = (
    "preprocessor",
    "generator",
    "mpd",
    "msd",
    "discriminator_start_step",
    "loss",
    "train_ds",
    "validation_ds",
    "test_ds",
    "optim",
    "discriminator_optim",
)

#: Keys of a ``train_ds`` / ``validation_ds`` section.
DATASET_KEYS = (
    "manifest_filepath",
    "segment_length",
    "random_crop",
    "seed",
    "batch_size",
    "shuffle",
    "num_workers",
    "pin_memory",
    "drop_last",
    "persistent_workers",
    "name",
)


class HifiGanModel(Vocoder):
    """HiFi-GAN: log-mel spectrograms -> audio, trained adversarially (or on mel + STFT
    losses alone).

    Example::

        vocoder = ModelPT.restore_from("hifigan.ganglion")
        audio = vocoder.convert_spectrogram_to_audio(spec=spec)    # [B, (T - 1) * 256]
    """

    def __init__(self, cfg: Any, trainer: Any = None) -> None:
        super().__init__(cfg, None)  # data is set up once the model is built
        cfg = plain(self.cfg)
        check_known_keys(cfg, _MODEL_KEYS, where="model")
        if cfg.get("preprocessor") is None:
            cfg["preprocessor"] = dict(TTS_MEL_SETTINGS)
        pre_cfg = model_config.section(cfg, "preprocessor")
        self.preprocessor = mel_settings(pre_cfg, "model.preprocessor")
        gen_cfg = model_config.section(cfg, "generator", {})
        gen_cfg.setdefault("_target_", "HifiGanGenerator")
        fill(
            gen_cfg,
            "n_mels",
            self.preprocessor.features,
            where="model.generator",
            source="model.preprocessor.features",
        )
        fill(
            gen_cfg,
            "sample_rate",
            self.preprocessor.sample_rate,
            where="model.generator",
            source="model.preprocessor.sample_rate",
        )
        self.generator = NeuralModule.from_config_dict(gen_cfg, where="model.generator")
        hop = getattr(self.generator, "hop_length", None)
        if hop != self.preprocessor.hop_length:
            raise ConfigError(
                f"model.generator upsamples each frame to {hop} samples (the product of "
                f"upsample_rates), but the mel hop is {self.preprocessor.hop_length} "
                "(model.preprocessor.n_window_stride); make them equal"
            )
        self.mpd = self._discriminator(cfg, "mpd", "MultiPeriodDiscriminator")
        self.msd = self._discriminator(cfg, "msd", "MultiScaleDiscriminator")
        start = cfg.setdefault("discriminator_start_step", 0)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ConfigError(
                f"model.discriminator_start_step must be a whole number >= 0, got {start!r}"
            )
        self.loss_cfg = self._loss_config(cfg)
        self.cfg = cfg
        self.automatic_optimization = False
        self._generator_steps = 0  # saved in checkpoints: the discriminators' start counts it
        if trainer is not None:
            self.trainer = trainer
            from ganglion.model.artifacts import unpacked_artifacts

            if unpacked_artifacts() is None:  # a restored model gets no data set up
                self._setup_data_from_config()

    # -- config ---------------------------------------------------------------------------------
    @staticmethod
    def _discriminator(cfg: dict[str, Any], key: str, target: str) -> Any:
        section = model_config.section(cfg, key)
        if section is None:
            return None
        section.setdefault("_target_", target)
        return NeuralModule.from_config_dict(section, where=f"model.{key}")

    @staticmethod
    def _loss_config(cfg: dict[str, Any]) -> dict[str, Any]:
        section = model_config.section(cfg, "loss", {})
        check_known_keys(section, LOSS_DEFAULTS, where="model.loss")
        for key, value in LOSS_DEFAULTS.items():
            section.setdefault(key, value)
            if key == "stft_resolutions":
                continue
            weight = section[key]
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ConfigError(f"model.loss.{key} must be a weight >= 0, got {weight!r}")
        resolutions = section["stft_resolutions"]
        ok = isinstance(resolutions, Sequence) and all(
            isinstance(r, Sequence)
            and len(r) == 3
            and all(isinstance(v, int) and v > 0 for v in r)
            and r[2] <= r[0]
            for r in resolutions
        )
        if not ok or (section["stft"] > 0 and not resolutions):
            raise ConfigError(
                "model.loss.stft_resolutions must be a list of [n_fft, hop, win_length] (whole "
                f"numbers, win_length <= n_fft), got {resolutions!r}"
            )
        return section

    @property
    def mel_settings(self) -> dict[str, Any]:
        """The preprocessor config: the settings of the mels this vocoder reads."""
        return plain(self.cfg.preprocessor)

    @property
    def discriminators(self) -> list[Any]:
        """The discriminators configured (none, one or both)."""
        return [d for d in (self.mpd, self.msd) if d is not None]

    # -- data -----------------------------------------------------------------------------------
    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        from ganglion.data import resumable_dataloader
        from ganglion_tts.data.segments import AudioSegmentDataset

        cfg = plain(config)
        check_known_keys(cfg, DATASET_KEYS, where=key)
        if not cfg.get("manifest_filepath"):
            if split == "train":
                raise ConfigError(
                    f"{key}.manifest_filepath is not set; point it at a training manifest "
                    f"({key}.manifest_filepath=data/tts/train_manifest.json)"
                )
            return None
        train = split == "train"
        pre = self.preprocessor
        guard = pre.log_zero_guard_value
        dataset = AudioSegmentDataset(
            cfg["manifest_filepath"],
            sample_rate=pre.sample_rate,
            hop_length=pre.hop_length,
            segment_length=cfg.get("segment_length", 8192 if train else None),
            random_crop=bool(cfg.get("random_crop", train)),
            n_mels=pre.features,
            mel_pad_value=math.log(guard) if pre.log else 0.0,
            seed=int(cfg.get("seed", 0)),
        )
        batch_size = cfg.get("batch_size", 8)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                f"{key}.batch_size must be a positive whole number, got {batch_size!r}"
            )
        options = {
            k: cfg[k] for k in ("num_workers", "pin_memory", "persistent_workers") if k in cfg
        }
        return resumable_dataloader(
            dataset,
            batch_size=batch_size,
            shuffle=bool(cfg.get("shuffle", train)),
            drop_last=bool(cfg.get("drop_last", False)),
            collate_fn=dataset.collate_fn,
            **options,
        )

    # -- ports ----------------------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return self.generator.input_types

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return self.generator.output_types

    @typecheck()
    def forward(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``[B, (T - 1) * hop]`` and its lengths, of log-mels ``[B, n_mels, T]``."""
        return self.generator(spec=spec, spec_len=spec_len)

    @torch.no_grad()
    def convert_spectrogram_to_audio(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Audio ``[B, (T - 1) * hop]`` of log-mels ``[B, n_mels, T]``, in eval mode and
        without gradients (the mode is restored afterwards)."""
        if kwargs:
            raise TypeError(
                f"HifiGanModel.convert_spectrogram_to_audio got unexpected argument(s) "
                f"{', '.join(sorted(kwargs))}"
            )
        was_training = self.training
        self.eval()
        try:
            return self.generator(spec=spec, spec_len=spec_len)[0]
        finally:
            self.train(was_training)

    # -- losses ---------------------------------------------------------------------------------
    def _mels(self, batch: Sequence[Any]) -> tuple[torch.Tensor, ...]:
        """``(real audio, input mels, their lengths, target mels, their lengths)``: the input
        is the manifest's mels when given, else the audio's; the target is always the
        audio's."""
        audio, audio_len, mel, mel_len = batch
        with torch.no_grad():
            target, target_len = self.preprocessor(input_signal=audio, length=audio_len)
        if mel is None:
            return audio, target, target_len, target, target_len
        return audio, mel, mel_len, target, target_len

    def _mel_l1(
        self,
        fake: torch.Tensor,
        fake_len: torch.Tensor,
        target: torch.Tensor,
        target_len: torch.Tensor,
    ) -> torch.Tensor:
        """Mean |log-mel(fake) - target| over the valid frames of each row."""
        fake_mel, _ = self.preprocessor(input_signal=fake, length=fake_len)
        frames = min(fake_mel.shape[2], target.shape[2])
        fake_mel, target = fake_mel[:, :, :frames], target[:, :, :frames]
        valid = torch.arange(frames, device=target.device)[None, :] < target_len[:, None]
        diff = (fake_mel - target).abs() * valid[:, None, :]
        return diff.sum() / (valid.sum() * target.shape[1]).clamp(min=1)

    def _adversarial_on(self) -> bool:
        return bool(self.discriminators) and (
            self._generator_steps >= int(self.cfg.discriminator_start_step)
        )

    def _discriminate(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[Any]]:
        scores: list[torch.Tensor] = []
        features: list[Any] = []
        for disc in self.discriminators:
            s, f = disc(audio=audio)
            scores.extend(s)
            features.extend(f)
        return scores, features

    # -- training -------------------------------------------------------------------------------
    def training_step(self, batch: Sequence[Any], batch_idx: int) -> None:
        audio, mel, mel_len, target, target_len = self._mels(batch)
        optimizers = self.optimizers()
        if not isinstance(optimizers, list):
            optimizers = [optimizers]
        g_opt = optimizers[0]
        fake, fake_len = self.generator(spec=mel, spec_len=mel_len)
        real = audio[:, : fake.shape[1]]
        if real.shape[1] < fake.shape[1]:
            real = torch.nn.functional.pad(real, (0, fake.shape[1] - real.shape[1]))
        weights = self.loss_cfg
        size = audio.shape[0]
        adversarial = self._adversarial_on()
        if adversarial:
            d_opt = optimizers[1]
            self.toggle_optimizer(d_opt)
            real_scores, _ = self._discriminate(real)
            fake_scores, _ = self._discriminate(fake.detach())
            d_loss = discriminator_loss(real_scores, fake_scores)
            d_opt.zero_grad()
            self.manual_backward(d_loss)
            d_opt.step()
            self.untoggle_optimizer(d_opt)
            self.log("train_d_loss", d_loss.detach(), batch_size=size)

        self.toggle_optimizer(g_opt)
        mel_l1 = self._mel_l1(fake, fake_len, target, target_len)
        loss = weights["mel"] * mel_l1
        if weights["stft"] > 0:
            stft = multi_resolution_stft_loss(fake, real, weights["stft_resolutions"])
            loss = loss + weights["stft"] * stft
            self.log("train_stft_loss", stft.detach(), batch_size=size)
        if adversarial:
            with torch.no_grad():
                _, real_features = self._discriminate(real)
            fake_scores, fake_features = self._discriminate(fake)
            adv = generator_loss(fake_scores)
            fm = feature_matching_loss(real_features, fake_features)
            loss = loss + weights["adversarial"] * adv + weights["feature_matching"] * fm
            self.log("train_adv_loss", adv.detach(), batch_size=size)
            self.log("train_fm_loss", fm.detach(), batch_size=size)
        g_opt.zero_grad()
        self.manual_backward(loss)
        g_opt.step()
        self.untoggle_optimizer(g_opt)
        self._generator_steps += 1
        self._step_schedulers()
        self.log("train_loss", loss.detach(), batch_size=size)
        self.log("train_mel_l1", mel_l1.detach(), prog_bar=True, batch_size=size)
        self.log("learning_rate", g_opt.param_groups[0]["lr"], batch_size=size)

    def _step_schedulers(self) -> None:
        """Bring each scheduler to ``trainer.global_step`` (every optimizer step counts)."""
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        if not isinstance(schedulers, list):
            schedulers = [schedulers]
        step = self.trainer.global_step
        for scheduler in schedulers:
            while scheduler.last_epoch < step:
                scheduler.step()

    def validation_step(
        self, batch: Sequence[Any], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        audio, mel, mel_len, target, target_len = self._mels(batch)
        fake, fake_len = self.generator(spec=mel, spec_len=mel_len)
        loss = self._mel_l1(fake, fake_len, target, target_len)
        name = "val" if dataloader_idx == 0 else f"val_{dataloader_idx}"
        self.log(
            f"{name}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            sync_dist=True,
            batch_size=audio.shape[0],
            add_dataloader_idx=False,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["hifigan_generator_steps"] = self._generator_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._generator_steps = int(checkpoint.get("hifigan_generator_steps", 0))

    # -- optimization ---------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        """The generator's optimizer (``optim``) and, with discriminators, theirs
        (``discriminator_optim``, default: the same settings as ``optim``)."""
        from ganglion.optim import build_optimization

        g_cfg = self.cfg.get("optim")
        if g_cfg is None:
            raise ConfigError(
                "model.optim is missing: add the generator's optimizer (e.g. {name: adamw, lr: "
                "2.0e-4, betas: [0.8, 0.99]})"
            )
        max_steps = None
        if self._trainer is not None:
            steps = self._trainer.estimated_stepping_batches
            if math.isfinite(steps):
                max_steps = int(steps)
        optimizers, schedulers = [], []
        g_opt, g_sched = build_optimization(self.generator, g_cfg, max_steps=max_steps)
        optimizers.append(g_opt)
        if g_sched is not None:
            schedulers.append(g_sched)
        if self.discriminators:
            d_cfg = self.cfg.get("discriminator_optim") or g_cfg
            d_params = [p for d in self.discriminators for p in d.parameters()]
            d_opt, d_sched = build_optimization(
                d_params, d_cfg, max_steps=max_steps, key="model.discriminator_optim"
            )
            optimizers.append(d_opt)
            if d_sched is not None:
                schedulers.append(d_sched)
        return optimizers, schedulers
