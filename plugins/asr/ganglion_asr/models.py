"""``EncDecCTCModel``: preprocessor -> (SpecAugment) -> encoder -> decoder, trained with CTC.

Built from a config with NeMo's layout (see ``conf/quartznet_5x5.yaml``)::

    model:
      sample_rate: 16000
      labels: [" ", "a", ..., "'"]
      train_ds: {manifest_filepath: ..., batch_size: 32, shuffle: true, ...}
      validation_ds: {manifest_filepath: ..., batch_size: 32, ...}
      test_ds: {manifest_filepath: ..., ...}
      preprocessor: {_target_: ganglion_asr.modules.AudioToMelSpectrogramPreprocessor, ...}
      spec_augment: {_target_: ganglion_asr.modules.SpectrogramAugmentation, ...}
      encoder: {_target_: ganglion_asr.modules.ConvASREncoder, jasper: [...], ...}
      decoder: {_target_: ganglion_asr.modules.ConvASRDecoder, ...}
      optim: {name: novograd, lr: 0.01, sched: {...}}
      decoding: {strategy: beam, beam_size: 8, lm: x.arpa, ...}   # optional; default greedy

Validation and test report the CTC loss and the corpus WER and CER (``val_loss``,
``val_wer``, ``val_cer``; ``test_*``), computed with torchmetrics and synchronised across
processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.model import ModelPT
from ganglion.module import NeuralModule
from ganglion.types import LabelsType, LengthsType, LogprobsType, NeuralType
from ganglion_asr.data.audio import audio_duration
from ganglion_asr.data.dataset import build_dataloader, collate_audio_tokens, load_entry_audio
from ganglion_asr.data.manifest import ManifestEntry
from ganglion_asr.decoding import build_ctc_decoder
from ganglion_asr.losses import CTCLoss
from ganglion_asr.metrics import error_rate_metrics

#: ``(path, offset, duration)`` in seconds: a segment of an audio file to transcribe.
AudioSegment = tuple[str | os.PathLike[str], float | None, float | None]


class EncDecCTCModel(ModelPT):
    """A CTC speech recogniser over a character vocabulary (QuartzNet, Jasper).

    Example::

        model = EncDecCTCModel.restore_from("digits.ganglion")
        model.transcribe(["a.wav", "b.flac"], batch_size=8)   # ["three one four", ...]
    """

    def __init__(self, cfg: Any, trainer: Any = None) -> None:
        cfg = _check_config(cfg)
        super().__init__(cfg, trainer)
        cfg = self.cfg
        self.labels: list[str] = list(cfg.labels)
        self.preprocessor = NeuralModule.from_config_dict(
            cfg.preprocessor, where="model.preprocessor"
        )
        self.spec_augmentation = (
            NeuralModule.from_config_dict(cfg.spec_augment, where="model.spec_augment")
            if cfg.get("spec_augment") is not None
            else None
        )
        self.encoder = NeuralModule.from_config_dict(cfg.encoder, where="model.encoder")
        self.decoder = NeuralModule.from_config_dict(cfg.decoder, where="model.decoder")
        classes = getattr(self.decoder, "num_classes_with_blank", None)
        if classes is not None and classes != len(self.labels) + 1:
            raise ConfigError(
                f"model.decoder predicts {classes - 1} labels + blank, but model.labels has "
                f"{len(self.labels)}; set model.decoder.num_classes to {len(self.labels)}"
            )
        self.loss = CTCLoss(
            num_classes=len(self.labels),
            zero_infinity=True,
            reduction=str(cfg.get("ctc_reduction", "mean_batch")),
        )
        self.decoding = self._build_decoding(cfg.get("decoding"))
        # one metric collection per evaluation set, made when that set is first seen
        self._eval_metrics = torch.nn.ModuleDict()

    # -- decoding -------------------------------------------------------------------------
    def _build_decoding(self, section: Any) -> Any:
        """The decoder of a ``decoding`` section (None: greedy); its word list and LM files
        are registered as artifacts, so a saved model decodes the same elsewhere."""
        if section is None:
            for key in ("word_list", "lm"):
                self._artifacts.pop(f"decoding.{key}", None)
            return build_ctc_decoder(None, self.labels)
        settings = _as_plain(section)
        for key in ("word_list", "lm"):
            value = settings.get(key)
            known = self._artifacts.get(f"decoding.{key}")
            if isinstance(value, str) and value.startswith("ganglion:") and known is not None:
                value = str(known.path)  # the restored model's own file, once more
            if isinstance(value, str) and not value.startswith("ganglion:"):
                _check_decoding_file(value, f"model.decoding.{key}")
            if isinstance(value, str):
                settings[key] = self.register_artifact(f"decoding.{key}", value)
            else:
                self._artifacts.pop(f"decoding.{key}", None)
        return build_ctc_decoder(settings, self.labels)

    def change_decoding_strategy(self, decoding_cfg: Any) -> None:
        """Decode with another ``decoding`` section from now on (kept in ``cfg.decoding``
        and in archives saved later), e.g. ``{"strategy": "beam", "beam_size": 8,
        "lm": "digits.arpa"}``; None goes back to greedy decoding."""
        decoding = self._build_decoding(decoding_cfg)
        self.decoding = decoding
        with open_dict(self.cfg):
            self.cfg.decoding = (
                None if decoding_cfg is None else OmegaConf.create(_as_plain(decoding_cfg))
            )

    # -- data ---------------------------------------------------------------------------
    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        cfg = (
            OmegaConf.to_container(config, resolve=True)
            if isinstance(config, DictConfig)
            else dict(config)
        )
        if cfg.get("manifest_filepath") is None:
            if split == "train":
                raise ConfigError(
                    f"{key}.manifest_filepath is not set; point it at a "
                    "training manifest (JSON lines)"
                )
            return None
        return build_dataloader(
            cfg,
            labels=list(self.cfg.labels),
            sample_rate=int(self.cfg.sample_rate),
            shuffle=bool(cfg.get("shuffle", split == "train")),
            key=key,
        )

    # -- ports --------------------------------------------------------------------------
    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import AudioSignal, SpectrogramType

        rate = int(self.cfg.sample_rate)
        return {
            "input_signal": NeuralType(("B", "T"), AudioSignal(freq=rate), optional=True),
            "input_signal_length": NeuralType(("B",), LengthsType(), optional=True),
            "processed_signal": NeuralType(("B", "D", "T"), SpectrogramType(), optional=True),
            "processed_signal_length": NeuralType(("B",), LengthsType(), optional=True),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {
            "outputs": NeuralType(("B", "T", "D"), LogprobsType()),
            "encoded_lengths": NeuralType(("B",), LengthsType()),
            "greedy_predictions": NeuralType(("B", "T"), LabelsType()),
        }

    @typecheck()
    def forward(
        self,
        input_signal: torch.Tensor | None = None,
        input_signal_length: torch.Tensor | None = None,
        processed_signal: torch.Tensor | None = None,
        processed_signal_length: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities [B, T, C], their lengths and the best class per frame.

        Give either the waveform (``input_signal`` + ``input_signal_length``) or features
        already computed (``processed_signal`` + ``processed_signal_length``).
        """
        has_audio = input_signal is not None and input_signal_length is not None
        has_feats = processed_signal is not None and processed_signal_length is not None
        if has_audio == has_feats:
            raise ValueError(
                f"{type(self).__name__}.forward takes either input_signal and "
                "input_signal_length, or processed_signal and processed_signal_length"
            )
        if has_audio:
            processed_signal, processed_signal_length = self.preprocessor(
                input_signal, input_signal_length
            )
        if self.spec_augmentation is not None and self.training:
            processed_signal = self.spec_augmentation(processed_signal, processed_signal_length)
        encoded, encoded_len = self.encoder(processed_signal, processed_signal_length)
        log_probs = self.decoder(encoded)
        return log_probs, encoded_len, log_probs.argmax(dim=-1)

    # -- training and evaluation ----------------------------------------------------------
    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        signal, signal_len, transcript, transcript_len = batch
        log_probs, encoded_len, _ = self(input_signal=signal, input_signal_length=signal_len)
        loss = self.loss(log_probs, transcript, encoded_len, transcript_len)
        self.log("train_loss", loss, prog_bar=True, batch_size=signal.shape[0])
        if self._trainer is not None and self.trainer.optimizers:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            self.log("learning_rate", lr, prog_bar=True, batch_size=signal.shape[0])
        return loss

    def _eval_step(self, batch: Sequence[torch.Tensor], prefix: str, index: int) -> None:
        signal, signal_len, transcript, transcript_len = batch
        log_probs, encoded_len, predictions = self(
            input_signal=signal, input_signal_length=signal_len
        )
        loss = self.loss(log_probs, transcript, encoded_len, transcript_len)
        name = self._set_name(prefix, index)
        hyps = self.decoding(log_probs, encoded_len)
        refs = self.decoding.targets_to_text(transcript, transcript_len)
        self._metrics(name).update(hyps, refs)
        self.log(
            f"{name}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            sync_dist=True,
            batch_size=signal.shape[0],
            add_dataloader_idx=False,
        )

    def _set_name(self, prefix: str, index: int) -> str:
        if index == 0:
            return prefix
        names = self.validation_names if prefix == "val" else []
        return f"{prefix}_{names[index] if index < len(names) else index}"

    def _metrics(self, name: str) -> Any:
        if name not in self._eval_metrics:
            self._eval_metrics[name] = error_rate_metrics().to(self.device)
        return self._eval_metrics[name]

    def _log_metrics(self, prefix: str) -> None:
        for name, metrics in self._eval_metrics.items():
            if name != prefix and not name.startswith(f"{prefix}_"):
                continue
            values = metrics.compute()  # torchmetrics sums counts across processes first
            # already global: sync_dist only keeps Lightning from warning under DDP
            self.log(f"{name}_wer", values["wer"], prog_bar=True, sync_dist=True)
            self.log(f"{name}_cer", values["cer"], sync_dist=True)
            metrics.reset()

    def validation_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, "val", dataloader_idx)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def test_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, "test", dataloader_idx)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    # -- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def transcribe(
        self,
        paths: Sequence[str | os.PathLike[str] | ManifestEntry | AudioSegment],
        batch_size: int = 4,
    ) -> list[str]:
        """Transcribe audio files (any format soundfile reads, any sample rate); returns one
        text per item, in order.

        An item is a file path (the whole file), a manifest entry (``read_manifest``: its
        segment when it has an ``offset``, else the whole file), or ``(path, offset, duration)``
        in seconds (``None`` duration: to the end of the file).

        Items are batched by length (shortest together, lengths from the manifest or the file
        headers) so little compute goes to padding, and each batch is decoded only when it is
        run; batching does not change the result, since every module masks padding.
        """
        if isinstance(paths, (str, os.PathLike, ManifestEntry)):
            paths = [paths]
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        entries = [_as_entry(item) for item in paths]
        rate = int(self.cfg.sample_rate)
        was_training = self.training
        self.eval()
        try:
            order = sorted(range(len(entries)), key=lambda i: entries[i].duration)
            texts: list[str] = [""] * len(entries)
            device = next(self.parameters()).device
            no_tokens = torch.zeros(0, dtype=torch.long)
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                audio = [torch.from_numpy(load_entry_audio(entries[i], rate)) for i in chunk]
                signal, signal_len, _, _ = collate_audio_tokens(
                    [(a, torch.tensor(a.shape[0]), no_tokens, torch.tensor(0)) for a in audio]
                )
                log_probs, encoded_len, _ = self(
                    input_signal=signal.to(device), input_signal_length=signal_len.to(device)
                )
                for i, text in zip(chunk, self.decoding(log_probs, encoded_len)):
                    texts[i] = text
            return texts
        finally:
            self.train(was_training)


def _as_entry(item: Any) -> ManifestEntry:
    """A transcribe item as a manifest entry whose duration is how long the audio to decode
    lasts (read from the file's header when not given)."""
    if isinstance(item, ManifestEntry):
        return item
    if isinstance(item, (str, os.PathLike)):
        return ManifestEntry(str(item), audio_duration(item), "")
    if isinstance(item, tuple) and len(item) == 3:
        path, offset, duration = item
        offset = float(offset or 0.0)
        if duration is None:
            duration = max(audio_duration(path) - offset, 0.0)
        return ManifestEntry(str(path), float(duration), "", offset)
    raise TypeError(
        "transcribe takes audio file paths, manifest entries or (path, offset, duration) "
        f"tuples; got {item!r}"
    )


def _as_plain(section: Any) -> Any:
    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True)
    return dict(section)


def _check_decoding_file(value: str, key: str) -> None:
    """A word list or LM path that does not exist, named with its key, before any reading."""
    path = os.path.expanduser(value)
    if not os.path.exists(path):
        raise ConfigError(f"{key}: {value} does not exist; give an existing file")
    if os.path.isdir(path):
        raise ConfigError(f"{key}: {value} is a directory; give a file")


def _check_config(cfg: Any) -> Any:
    """The sections an EncDecCTCModel cannot do without, named when missing."""
    get = cfg.get if isinstance(cfg, (Mapping, DictConfig)) else None
    if get is None:
        return cfg  # ModelPT reports the wrong type
    missing = [
        k for k in ("labels", "sample_rate", "preprocessor", "encoder", "decoder") if get(k) is None
    ]
    if missing:
        raise ConfigError(
            f"model config lacks {', '.join(f'model.{k}' for k in missing)}; see the shipped "
            "configs (ganglion_asr/conf/quartznet_5x5.yaml) for the layout"
        )
    return cfg
