"""Text models: ``TextClassificationModel`` and ``MaskedLMModel`` (pretraining).

Both are token embedding -> transformer encoder -> head, built from a config (see
``conf/text_classification.yaml``)::

    model:
      _target_: TextClassificationModel
      max_length: 64                 # ids per text, <cls> and <sep> included; longer: truncated
      tokenizer: {dir: null, type: sentencepiece-bpe, vocab_size: 8000, lowercase: true}
      labels: null                   # filled from the training file
      init_from: null                # a MaskedLMModel .ganglion: its embedding, encoder, tokenizer
      train_ds: {file_path: train.tsv, batch_size: 32, shuffle: true}
      validation_ds: {file_path: validation.tsv, batch_size: 64}
      test_ds: {file_path: test.tsv, batch_size: 64}
      embedding: {_target_: TokenEmbedding, d_model: 256, dropout: 0.1}
      encoder: {_target_: TransformerEncoder, num_layers: 4, num_heads: 4, ff_dim: 1024}
      head: {_target_: SequenceClassificationHead, pooling: cls}
      optim: {name: adamw, lr: 5.0e-4, sched: {...}}

What the data and the tokenizer decide is filled into the config, so the archive holds it:
``labels`` (the sorted labels of the training file), the embedding's ``vocab_size`` and
``max_positions``, the encoder's and the head's ``d_model``, the head's ``num_classes``
(``vocab_size`` for the masked-LM head). The tokenizer is ``tokenizer.dir`` when given (a
directory from ``ganglion-nlp train-tokenizer``); otherwise one of ``tokenizer.type`` is
trained on the training texts (cached by content). Either way it is registered as the
artifact ``tokenizer.dir`` (the ``tokenizer`` handler), so a restored model tokenizes exactly
as the saved one did, with no path of the training machine involved.

``init_from`` (classifier only, when training, ignored when an archive is restored) names a
``MaskedLMModel`` archive: its tokenizer is used, its embedding and encoder configs are the
defaults of this model's (keys given here override them: dropout, say), and its weights are
copied in; tensors of other shapes are an error naming them.

Metrics: the classifier logs ``val_loss``, ``val_acc`` and ``val_f1`` (macro-F1, torchmetrics)
and ``test_*`` the same; the masked-LM model ``val_loss`` (per masked token), ``val_acc``
(masked tokens predicted right) and ``val_ppl``.
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.conf.values import fill
from ganglion.errors import ConfigError
from ganglion.model import ModelPT
from ganglion.model.artifacts import unpacked_artifacts
from ganglion.types import LogitsType, MaskType, NeuralType
from ganglion_nlp.data.masking import IGNORE_INDEX
from ganglion_nlp.errors import NLPDataError
from ganglion_nlp.model_config import copy_weights, pretrained_encoder, tokenizer_from_data

__all__ = ["Classification", "MaskedLMModel", "TextClassificationModel"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Classification:
    """One text's prediction: the most likely label, its probability, and every label's."""

    label: str
    probability: float
    probabilities: dict[str, float]


def _plain(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def _section(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"model.{key}: expected a mapping, got {value!r}")
    cfg[key] = dict(value)
    return cfg[key]


class _TextEncoderModel(ModelPT, abc.ABC):
    """What both text models share: the tokenizer, ``max_length``, the token embedding and
    the encoder, the data set-up order (the model is complete before data is loaded)."""

    #: the model's name in messages
    _kind = "text model"

    def __init__(self, cfg: Any, trainer: Any = None) -> None:
        # data is set up at the end, once the tokenizer and the labels are known
        super().__init__(cfg, None)
        cfg = _plain(self.cfg)
        restoring = unpacked_artifacts() is not None
        self._cached_train: tuple[Any, Any] | None = None  # (file_path, rows or texts) read once
        self.max_length = self._max_length(cfg)
        pretrained = self._prepare(cfg, restoring)
        tokenizer_cfg = _section(cfg, "tokenizer")
        if tokenizer_cfg.get("dir") is None:
            if restoring:
                raise ConfigError("model.tokenizer.dir is missing from the archive's config")
            tokenizer_cfg["dir"] = tokenizer_from_data(
                tokenizer_cfg, self._training_texts(cfg), key="model.tokenizer"
            )
        from ganglion_nlp.tokenizers import load_tokenizer

        directory = self.register_artifact(
            "tokenizer.dir", tokenizer_cfg["dir"], handler="tokenizer"
        )
        tokenizer_cfg["dir"] = directory
        self.tokenizer = load_tokenizer(directory)

        from ganglion_nlp.modules import TokenEmbedding, TransformerEncoder

        embedding_cfg = _section(cfg, "embedding")
        fill(
            embedding_cfg,
            "vocab_size",
            self.tokenizer.vocab_size,
            where="model.embedding",
            source="the tokenizer",
        )
        fill(
            embedding_cfg,
            "pad_id",
            self.tokenizer.pad_id,
            where="model.embedding",
            source="the tokenizer",
        )
        positions = embedding_cfg.setdefault("max_positions", self.max_length)
        if not isinstance(positions, int) or positions < self.max_length:
            raise ConfigError(
                f"model.max_length {self.max_length} is more than model.embedding.max_positions "
                f"{positions!r} (the position table); lower model.max_length"
            )
        self.embedding = TokenEmbedding.from_config_dict(embedding_cfg, where="model.embedding")
        encoder_cfg = _section(cfg, "encoder")
        width = getattr(self.embedding, "d_model", embedding_cfg.get("d_model"))
        fill(encoder_cfg, "d_model", width, where="model.encoder", source="model.embedding.d_model")
        self.encoder = TransformerEncoder.from_config_dict(encoder_cfg, where="model.encoder")
        self._build_head(cfg, _section(cfg, "head"), width)
        if pretrained is not None:
            archive = str(cfg.get("init_from"))
            for name in ("embedding", "encoder"):
                copy_weights(
                    getattr(self, name),
                    getattr(pretrained, name),
                    name=name,
                    archive=archive,
                    key="model.init_from",
                )
            log.info("model.init_from: embedding and encoder weights copied from %s", archive)
        self.cfg = cfg
        # one metric collection per evaluation set, made when that set is first seen
        self._eval_metrics = torch.nn.ModuleDict()
        if trainer is not None:
            self.trainer = trainer
            if not restoring:
                self._setup_data_from_config()

    # -- what subclasses say ------------------------------------------------------------------
    def _prepare(self, cfg: dict[str, Any], restoring: bool) -> Any:
        """Work out what the config leaves to the data (labels, ...) before anything is built;
        may return a pretrained model whose embedding and encoder weights are copied in."""
        return None

    @abc.abstractmethod
    def _training_texts(self, cfg: dict[str, Any]) -> list[str]:
        """The training texts (to train a tokenizer on)."""

    @abc.abstractmethod
    def _build_head(self, cfg: dict[str, Any], head_cfg: dict[str, Any], width: int) -> None:
        """Build ``self.head`` (of ``width`` inputs) from ``head_cfg``, filling in the sizes
        the model knows."""

    # -- config -------------------------------------------------------------------------------
    def _max_length(self, cfg: dict[str, Any]) -> int:
        value = cfg.get("max_length", 128)
        if isinstance(value, bool) or not isinstance(value, int) or value < 3:
            raise ConfigError(
                f"model.max_length: expected a whole number of at least 3 (<cls>, a token, "
                f"<sep>), got {value!r}"
            )
        return value

    def _train_file(self, cfg: dict[str, Any]) -> dict[str, Any]:
        from ganglion_nlp.data.loaders import has_file_path

        train = cfg.get("train_ds")
        if not has_file_path(train):
            raise ConfigError(
                f"model.train_ds.file_path is not set: the {self._kind} takes its "
                f"{self._needs_from_training} from the training file; set it "
                "(model.train_ds.file_path=...)"
            )
        return dict(train)

    _needs_from_training = "tokenizer"

    def _cached(self, file_path: Any) -> Any:
        if self._cached_train is not None and self._cached_train[0] == file_path:
            return self._cached_train[1]
        return None

    # -- the encoder ----------------------------------------------------------------------------
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The encoder's hidden states [B, T, D] of token ids [B, T]."""
        return self.encoder(
            embeddings=self.embedding(input_ids=input_ids), attention_mask=attention_mask
        )

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_nlp.types import TokenIndex

        return {
            "input_ids": NeuralType(("B", "T"), TokenIndex()),
            "attention_mask": NeuralType(("B", "T"), MaskType(), optional=True),
        }

    # -- evaluation bookkeeping ----------------------------------------------------------------
    def _set_name(self, prefix: str, index: int) -> str:
        if index == 0:
            return prefix
        names = self.validation_names if prefix == "val" else []
        return f"{prefix}_{names[index] if index < len(names) else index}"

    def _metrics(self, name: str) -> Any:
        if name not in self._eval_metrics:
            self._eval_metrics[name] = self._new_metrics().to(self.device)
        return self._eval_metrics[name]

    @abc.abstractmethod
    def _new_metrics(self) -> torch.nn.Module:
        """A fresh metric collection for one evaluation set."""

    def _log_lr(self, batch_size: int) -> None:
        if self._trainer is not None and self.trainer.optimizers:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            self.log("learning_rate", lr, prog_bar=True, batch_size=batch_size)

    def validation_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, self._set_name("val", dataloader_idx))

    def test_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._eval_step(batch, self._set_name("test", dataloader_idx))

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    @abc.abstractmethod
    def _eval_step(self, batch: Sequence[torch.Tensor], name: str) -> None:
        """Loss and metrics of one batch of the evaluation set ``name`` (val, test)."""

    def _log_metrics(self, prefix: str) -> None:
        for name, metrics in self._eval_metrics.items():
            if name != prefix and not name.startswith(f"{prefix}_"):
                continue
            values = metrics.compute()  # torchmetrics sums across processes first
            for metric, value in values.items():
                # already global: sync_dist only keeps Lightning from warning under DDP
                self.log(f"{name}_{metric}", value, prog_bar=metric != "loss", sync_dist=True)
            metrics.reset()


class TextClassificationModel(_TextEncoderModel):
    """A text classifier: ``<cls> text <sep>`` -> transformer encoder -> one label.

    Example::

        model = TextClassificationModel.restore_from("wordnet.ganglion")
        model.classify(["a large feline of forests"])[0].label        # 'noun.animal'
        model.evaluate("data/nlp_wordnet/test.tsv").accuracy
    """

    _kind = "text classifier"
    _needs_from_training = "label set (and, without tokenizer.dir, its tokenizer)"

    def _prepare(self, cfg: dict[str, Any], restoring: bool) -> Any:
        from ganglion_nlp.data.labels import labels_of

        pretrained = None
        if cfg.get("init_from") and not restoring:
            pretrained = pretrained_encoder(str(cfg["init_from"]))
            self._take_pretrained_config(cfg, pretrained)
        labels = cfg.get("labels")
        if labels is None:
            if restoring:
                raise ConfigError("model.labels is missing from the archive's config")
            labels = labels_of(self._training_rows(cfg))
            if len(labels) < 2:
                train = self._train_file(cfg)
                raise NLPDataError(
                    f"model.train_ds.file_path {train['file_path']}: every row has the label "
                    f"{labels[0]!r}; a classifier needs at least two labels"
                )
        labels = [str(label) for label in labels]
        if len(set(labels)) != len(labels):
            raise ConfigError("model.labels: a label is listed twice")
        cfg["labels"] = labels
        self.labels: list[str] = labels
        self._prepare_class_weights(cfg, restoring)
        return pretrained

    _CLASS_BALANCING = ("weighted_loss",)

    def _prepare_class_weights(self, cfg: dict[str, Any], restoring: bool) -> None:
        """``model.class_balancing: weighted_loss`` weighs the training loss by label:
        ``model.class_weights``, or weights worked out from the training file's label counts
        (``model.class_weight_power``, 1 = inverse frequency) and written into the config."""
        from ganglion_nlp.data.labels import class_weights

        balancing = cfg.get("class_balancing")
        correction = cfg.get("prior_correction", False)
        if not isinstance(correction, bool):
            raise ConfigError(
                f"model.prior_correction is {correction!r}; give true (predictions take the "
                "class weights back out) or false"
            )
        cfg["prior_correction"] = correction
        if balancing is None:
            if correction:
                raise ConfigError(
                    "model.prior_correction is true, but model.class_balancing is null: there "
                    "are no class weights to take back out; set model.class_balancing="
                    "weighted_loss or model.prior_correction=false"
                )
            cfg["class_weights"] = None
            return
        if balancing not in self._CLASS_BALANCING:
            raise ConfigError(
                f"model.class_balancing is {balancing!r}; use "
                f"{' or '.join(self._CLASS_BALANCING)} (weights from the training labels' "
                "counts) or null"
            )
        weights = cfg.get("class_weights")
        if weights is None:
            if restoring:
                raise ConfigError("model.class_weights is missing from the archive's config")
            power = cfg.get("class_weight_power", 1.0)
            if not isinstance(power, int | float) or isinstance(power, bool) or power < 0:
                raise ConfigError(
                    f"model.class_weight_power is {power!r}; give a number >= 0 (1 weighs each "
                    "label by its inverse frequency, 0.5 by its square root)"
                )
            weights = class_weights(self._training_rows(cfg), self.labels, power=float(power))
        elif len(weights) != len(self.labels) or any(
            not isinstance(w, int | float) or w < 0 for w in weights
        ):
            raise ConfigError(
                f"model.class_weights has {len(weights)} entries; give one number >= 0 per label "
                f"({len(self.labels)}, in the order of model.labels) or null to work them out"
            )
        cfg["class_weights"] = [float(w) for w in weights]

    def _take_pretrained_config(self, cfg: dict[str, Any], pretrained: Any) -> None:
        theirs = _plain(pretrained.cfg)
        tokenizer_cfg = _section(cfg, "tokenizer")
        their_dir = str(pretrained.tokenizer.directory)
        given = tokenizer_cfg.get("dir")
        if given is not None and Path(str(given)).resolve() != Path(their_dir).resolve():
            raise ConfigError(
                f"model.tokenizer.dir is {given}, but model.init_from {cfg['init_from']} brings "
                "its own tokenizer, which its embedding was trained with; set "
                "model.tokenizer.dir=null"
            )
        cfg["tokenizer"] = {**theirs.get("tokenizer", {}), "dir": their_dir}
        for name in ("embedding", "encoder"):
            ours = _section(cfg, name)
            cfg[name] = {**theirs.get(name, {}), **{k: v for k, v in ours.items() if v is not None}}
        if self.max_length > int(cfg["embedding"].get("max_positions") or self.max_length):
            raise ConfigError(
                f"model.max_length {self.max_length} is more than the pretrained embedding's "
                f"{cfg['embedding']['max_positions']} positions ({cfg['init_from']}); lower "
                "model.max_length"
            )

    def _training_rows(self, cfg: dict[str, Any]) -> list[Any]:
        from ganglion_nlp.data.loaders import read_classification_rows

        train = self._train_file(cfg)
        rows = self._cached(train["file_path"])
        if rows is None:
            rows = read_classification_rows(train, key="model.train_ds")
            self._cached_train = (train["file_path"], rows)
        return rows

    def _training_texts(self, cfg: dict[str, Any]) -> list[str]:
        return [row.text for row in self._training_rows(cfg)]

    def _build_head(self, cfg: dict[str, Any], head_cfg: dict[str, Any], width: int) -> None:
        from ganglion_nlp.modules import SequenceClassificationHead

        fill(head_cfg, "d_model", width, where="model.head", source="model.embedding.d_model")
        fill(head_cfg, "num_classes", len(self.labels), where="model.head", source="model.labels")
        self.head = SequenceClassificationHead.from_config_dict(head_cfg, where="model.head")
        self.label_smoothing = float(cfg.get("label_smoothing") or 0.0)
        weights = cfg.get("class_weights")
        # in the config, not the state dict: an archive without class weights loads the same
        self.register_buffer(
            "class_weight",
            None if weights is None else torch.tensor(weights, dtype=torch.float32),
            persistent=False,
        )
        # prior_correction: a loss weighted by w_c learns scores shifted by log w_c (its
        # softmax is p(c|x) * w_c, renormalised); predictions subtract that shift again, so
        # they follow the training data's label frequencies while rare labels' larger
        # gradients still shaped the encoder
        correction = None
        if weights is not None and cfg.get("prior_correction"):
            correction = -torch.tensor(weights, dtype=torch.float32).clamp_min(1e-12).log()
        self.register_buffer("prior_shift", correction, persistent=False)

    # -- data ----------------------------------------------------------------------------------
    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        from ganglion_nlp.data.loaders import classification_dataloader, has_file_path

        cfg = _plain(config)
        if not has_file_path(cfg, key=key):
            if split == "train":
                raise ConfigError(f"{key}.file_path is not set; point it at the training file")
            return None
        rows = self._cached(cfg["file_path"]) if split == "train" else None
        loader = classification_dataloader(
            cfg,
            tokenizer=self.tokenizer,
            labels=self.labels,
            max_length=self.max_length,
            split=split,
            key=key,
            rows=rows,
        )
        if split == "train":
            self._cached_train = None  # the dataset holds what it needs
        return loader

    # -- ports and forward ---------------------------------------------------------------------
    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logits": NeuralType(("B", "D"), LogitsType())}

    @typecheck()
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class scores [B, C] (logits over :attr:`labels`) of token ids [B, T]."""
        hidden = self.encode(input_ids, attention_mask)
        return self.head(hidden_states=hidden, attention_mask=attention_mask)

    # -- training and evaluation ---------------------------------------------------------------
    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        input_ids, attention_mask, labels = batch
        logits = self(input_ids=input_ids, attention_mask=attention_mask)
        loss = F.cross_entropy(
            logits, labels, weight=self.class_weight, label_smoothing=self.label_smoothing
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=len(labels))
        self._log_lr(len(labels))
        return loss

    def decision_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The scores predictions come from: :meth:`forward`'s logits, less the class weights'
        shift when ``model.prior_correction`` is on (else the same)."""
        logits = self(input_ids=input_ids, attention_mask=attention_mask)
        return logits if self.prior_shift is None else logits + self.prior_shift

    def _eval_step(self, batch: Sequence[torch.Tensor], name: str) -> None:
        input_ids, attention_mask, labels = batch
        logits = self.decision_logits(input_ids, attention_mask)
        loss = F.cross_entropy(logits, labels)
        self._metrics(name).update(logits.argmax(dim=-1), labels)
        self.log(
            f"{name}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            sync_dist=True,
            batch_size=len(labels),
            add_dataloader_idx=False,
        )

    def _new_metrics(self) -> torch.nn.Module:
        from ganglion_nlp.metrics import classification_metrics

        return classification_metrics(len(self.labels))

    # -- inference -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_probabilities(
        self, texts: Sequence[str], batch_size: int = 64, *, source: str = "the texts to classify"
    ) -> torch.Tensor:
        """Each text's probability of every label, ``[len(texts), len(labels)]`` on the CPU.

        Texts longer than ``max_length`` are truncated (counted in one warning naming
        ``source``). Texts are
        batched by length; batching does not change the result (padding is masked).
        """
        from ganglion_nlp.data.collate import pad_batch
        from ganglion_nlp.data.datasets import TokenSequences

        if isinstance(texts, str):
            raise TypeError("predict_probabilities takes a list of texts, not one string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        out = torch.zeros(len(texts), len(self.labels))
        if not texts:
            return out
        sequences = TokenSequences(texts, self.tokenizer, self.max_length, name=source)
        order = sorted(range(len(texts)), key=sequences.lengths.__getitem__)
        # not self.device: Lightning's record of it is stale after a restore (meta)
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                ids, mask = pad_batch([sequences[i] for i in chunk], self.tokenizer.pad_id)
                logits = self.decision_logits(ids.to(device), mask.to(device))
                out[chunk] = logits.float().softmax(dim=-1).cpu()
        finally:
            self.train(was_training)
        return out

    def classify(self, texts: Sequence[str] | str, batch_size: int = 64) -> list[Classification]:
        """The most likely label of each text, with its probability and every label's.

        Example::

            model.classify(["a small domesticated feline"])
            # [Classification(label='noun.animal', probability=0.93, probabilities={...})]
        """
        if isinstance(texts, str):
            texts = [texts]
        probabilities = self.predict_probabilities(list(texts), batch_size)
        results = []
        for row in probabilities.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            results.append(
                Classification(self.labels[best], row[best], dict(zip(self.labels, row)))
            )
        return results

    def evaluate(
        self,
        data: str | os.PathLike[str] | Sequence[Any],
        batch_size: int = 64,
        *,
        unknown_labels: str = "error",
        skip_hint: str | None = None,
    ) -> Any:
        """Accuracy, macro-F1 and the confusion matrix on labelled data: a ``.tsv`` /
        ``.jsonl`` file or :class:`~ganglion_nlp.data.readers.LabelledText` rows. Rows whose
        label the model does not know follow ``unknown_labels`` (``error`` or ``skip``).
        Returns an :class:`~ganglion_nlp.metrics.EvaluationReport`."""
        from ganglion_nlp.data.labels import label_indices
        from ganglion_nlp.data.readers import read_labelled_texts
        from ganglion_nlp.metrics import evaluation_report

        if isinstance(data, (str, os.PathLike)):
            rows, source = read_labelled_texts(data), os.fspath(data)
        else:
            rows = list(data)
            source = ", ".join(sorted({str(getattr(r, "path", "")) for r in rows})) or "the data"
        kept, targets = label_indices(
            rows,
            self.labels,
            unknown_labels=unknown_labels,
            key="evaluate",
            skip_hint=skip_hint or "pass unknown_labels='skip'",
        )
        texts = [r.text for r in kept]
        predictions = self.predict_probabilities(texts, batch_size, source=source).argmax(dim=-1)
        return evaluation_report(predictions, targets, self.labels, left_out=len(rows) - len(kept))


class MaskedLMModel(_TextEncoderModel):
    """Masked-LM pretraining of a text encoder (BERT's objective): 15 % of the tokens are
    chosen, mostly replaced by ``<mask>``, and predicted by a head tied to the token
    embeddings. A classifier starts from its archive with ``model.init_from``.

    Config beyond the shared keys::

      masking: {mask_prob: 0.15, replace_prob: 0.8, random_prob: 0.1, seed: null}
      head: {_target_: MaskedLMHead}

    Training data: ``train_ds.file_path`` a ``.txt`` (one text per line) or the texts of a
    ``.tsv`` / ``.jsonl`` file.
    """

    _kind = "masked-LM model"

    def _training_texts(self, cfg: dict[str, Any]) -> list[str]:
        from ganglion_nlp.data.loaders import read_pretraining_texts

        train = self._train_file(cfg)
        texts = self._cached(train["file_path"])
        if texts is None:
            texts = read_pretraining_texts(train, key="model.train_ds")
            self._cached_train = (train["file_path"], texts)
        return texts

    def _build_head(self, cfg: dict[str, Any], head_cfg: dict[str, Any], width: int) -> None:
        from ganglion_nlp.modules import MaskedLMHead

        fill(head_cfg, "d_model", width, where="model.head", source="model.embedding.d_model")
        fill(
            head_cfg,
            "vocab_size",
            self.tokenizer.vocab_size,
            where="model.head",
            source="the tokenizer",
        )
        self.head = MaskedLMHead.from_config_dict(head_cfg, where="model.head")
        self.head.tie_to(self.embedding.token_embedding)
        masking = dict(cfg.get("masking") or {})
        from ganglion.errors import check_known_keys

        check_known_keys(
            masking, {"mask_prob", "replace_prob", "random_prob", "seed"}, where="model.masking"
        )
        self._masking_seed = masking.pop("seed", None)
        self._masking = masking

    # -- data ----------------------------------------------------------------------------------
    def _setup_dataloader_from_config(self, config: Any, *, split: str, key: str) -> Any:
        from ganglion_nlp.data.loaders import has_file_path, masked_lm_dataloader

        cfg = _plain(config)
        if not has_file_path(cfg, key=key):
            if split == "train":
                raise ConfigError(f"{key}.file_path is not set; point it at the training texts")
            return None
        seed = self._masking_seed
        if seed is None:  # the run's seed (ganglion train's seed:), else 0
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        loader = masked_lm_dataloader(
            cfg,
            tokenizer=self.tokenizer,
            max_length=self.max_length,
            split=split,
            key=key,
            texts=self._cached(cfg["file_path"]) if split == "train" else None,
            masking=self._masking,
            seed=int(seed),
        )
        if split == "train":
            self._cached_train = None
        return loader

    # -- ports and forward ---------------------------------------------------------------------
    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    @typecheck()
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Token scores [B, T, V] at every position."""
        return self.head(hidden_states=self.encode(input_ids, attention_mask))

    def masked_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [N, V], targets [N])`` at the N positions to predict only: the output
        layer over the vocabulary (the largest matrix product) runs on those alone."""
        hidden = self.encode(input_ids, attention_mask)
        chosen = targets != IGNORE_INDEX
        # [1, N, D]: the head's ports are [B, T, D]; the chosen positions form one sequence
        logits = self.head(hidden_states=hidden[chosen].unsqueeze(0))[0]
        return logits, targets[chosen]

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        inputs, attention_mask, targets = batch
        logits, wanted = self.masked_logits(inputs, attention_mask, targets)
        loss = F.cross_entropy(logits.float(), wanted)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(inputs))
        self._log_lr(len(inputs))
        return loss

    def _eval_step(self, batch: Sequence[torch.Tensor], name: str) -> None:
        inputs, attention_mask, targets = batch
        logits, wanted = self.masked_logits(inputs, attention_mask, targets)
        metrics = self._metrics(name)
        count = len(wanted)
        metrics["loss"].update(F.cross_entropy(logits.float(), wanted), weight=count)
        metrics["acc"].update((logits.argmax(dim=-1) == wanted).float().mean(), weight=count)

    def _new_metrics(self) -> torch.nn.Module:
        from torchmetrics import MeanMetric

        return torch.nn.ModuleDict({"loss": MeanMetric(), "acc": MeanMetric()})

    def _log_metrics(self, prefix: str) -> None:
        for name, metrics in self._eval_metrics.items():
            if name != prefix and not name.startswith(f"{prefix}_"):
                continue
            loss, acc = metrics["loss"].compute(), metrics["acc"].compute()
            self.log(f"{name}_loss", loss, prog_bar=True, sync_dist=True)
            self.log(f"{name}_acc", acc, prog_bar=True, sync_dist=True)
            self.log(f"{name}_ppl", loss.exp(), sync_dist=True)
            for metric in metrics.values():
                metric.reset()
