"""``GriffinLimModel``: a vocoder with no trained weights, so synthesis works before (or
without) a neural vocoder, through the same :class:`~ganglion_tts.models.base.Vocoder` calls.

Built from a ``preprocessor`` config (the mels' settings) and the Griffin-Lim options::

    model:
      _target_: GriffinLimModel
      preprocessor: {_target_: AudioToMelSpectrogramPreprocessor, sample_rate: 16000, ...}
      n_iter: 32
      momentum: 0.99

or for a spectrogram generator's mels::

    vocoder = GriffinLimModel.from_settings(generator.mel_settings)
    audio = vocoder.convert_spectrogram_to_audio(spec=generator.generate_spectrogram(tokens))

It saves and restores like any model (the archive holds its config and no weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ganglion import typecheck
from ganglion.errors import ConfigError, check_known_keys
from ganglion.types import NeuralType
from ganglion_tts.models.base import Vocoder
from ganglion_tts.models.config import plain
from ganglion_tts.modules.griffin_lim import TTS_MEL_SETTINGS, GriffinLim

__all__ = ["GriffinLimModel"]

#: The Griffin-Lim options a config may set beside ``preprocessor``.
OPTIONS = ("n_iter", "momentum", "power", "nnls_iters", "init", "seed")


class GriffinLimModel(Vocoder):
    """Log-mel spectrograms -> audio by Griffin-Lim phase recovery (no weights).

    Config keys: ``preprocessor`` (default: the TTS recipe's mel settings) and the
    :class:`~ganglion_tts.modules.griffin_lim.GriffinLim` options ``n_iter``, ``momentum``,
    ``power``, ``nnls_iters``, ``init``, ``seed``.
    """

    def __init__(self, cfg: Any, trainer: Any = None) -> None:
        super().__init__(cfg, None)
        cfg = plain(self.cfg)
        check_known_keys(
            [k for k in cfg if k not in ("train_ds", "validation_ds", "test_ds", "optim")],
            ("preprocessor", *OPTIONS),
            where="model",
        )
        if cfg.get("preprocessor") is None:
            cfg["preprocessor"] = dict(TTS_MEL_SETTINGS)
        if not isinstance(cfg["preprocessor"], Mapping):
            raise ConfigError(
                f"model.preprocessor: expected the mel settings, got {cfg['preprocessor']!r}"
            )
        options = {k: cfg[k] for k in OPTIONS if k in cfg}
        self.griffin_lim = GriffinLim(cfg["preprocessor"], **options)
        self.cfg = cfg

    @classmethod
    def from_settings(cls, mel_settings: Mapping[str, Any], **options: Any) -> GriffinLimModel:
        """A Griffin-Lim vocoder for mels of these settings (a generator's ``mel_settings``);
        ``options`` are Griffin-Lim options (``n_iter=60``...)."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(
                f"GriffinLimModel.from_settings: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(OPTIONS)}"
            )
        return cls({"preprocessor": plain(mel_settings), **options})

    @property
    def mel_settings(self) -> dict[str, Any]:
        """The preprocessor config: the settings of the mels this vocoder reads."""
        return plain(self.cfg.preprocessor)

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        return self.griffin_lim.input_types

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return self.griffin_lim.output_types

    @typecheck()
    def forward(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``[B, (T - 1) * hop]`` and its lengths."""
        return self.griffin_lim(spec=spec, spec_len=spec_len)

    @torch.no_grad()
    def convert_spectrogram_to_audio(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Audio ``[B, (T - 1) * hop]`` of log-mels ``[B, n_mels, T]`` (rows past
        ``spec_len`` are silence)."""
        if kwargs:
            raise TypeError(
                f"GriffinLimModel.convert_spectrogram_to_audio got unexpected argument(s) "
                f"{', '.join(sorted(kwargs))}"
            )
        return self.griffin_lim(spec=spec, spec_len=spec_len)[0]

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        raise ConfigError(
            "GriffinLimModel has no weights to train; use it as it is, or train HifiGanModel "
            "(ganglion train --config-name hifigan)"
        )

    def configure_optimizers(self) -> Any:
        return self.training_step(None, 0)
