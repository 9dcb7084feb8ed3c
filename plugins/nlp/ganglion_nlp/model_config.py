"""What the text models work out from their config before they build anything: the
tokenizer (given, or trained on the training texts), the sizes the sub-module configs take
from the tokenizer and the data, and a pretrained encoder to start from (``init_from``).

Everything worked out is written back into the model's config, so an archive holds the
complete model: its label set, its vocabulary size, its architecture.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganglion.errors import ConfigError

__all__ = [
    "pretrained_encoder",
    "tokenizer_from_data",
]

log = logging.getLogger(__name__)


def tokenizer_from_data(tokenizer_cfg: Mapping[str, Any], texts: Sequence[str], *, key: str) -> str:
    """The directory of a tokenizer trained on ``texts`` as ``tokenizer_cfg`` says (``type``,
    ``vocab_size``, ``lowercase``, ``min_count``), cached by content: the same texts and
    settings give the same directory, trained once (under ganglion's cache directory,
    ``$GANGLION_CACHE``). The model's archive packs it, as any tokenizer."""
    from ganglion.cache import cache_dir
    from ganglion_nlp.tokenizers import TOKENIZER_TYPES, load_tokenizer, train_tokenizer

    kind = tokenizer_cfg.get("type")
    if kind is None:
        raise ConfigError(
            f"{key}: give dir (a tokenizer trained with `ganglion-nlp train-tokenizer`) or type "
            f"(one of {', '.join(TOKENIZER_TYPES)}) to train one on the training texts"
        )
    vocab_size = tokenizer_cfg.get("vocab_size", 8000)
    lowercase = bool(tokenizer_cfg.get("lowercase", True))
    min_count = tokenizer_cfg.get("min_count", 1)
    digest = hashlib.sha256()
    digest.update(repr((kind, vocab_size, lowercase, min_count)).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\n")
    out = cache_dir() / "nlp-tokenizers" / f"{kind}-{vocab_size}-{digest.hexdigest()[:20]}"
    if out.is_dir():
        log.info("%s: using the tokenizer trained on these texts before, %s", key, out)
        return str(load_tokenizer(out).directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".texts-") as tmp:
        corpus = Path(tmp) / "texts.txt"
        # one text per line, as the tokenizer trainers read them
        corpus.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
        train_tokenizer(
            kind, [corpus], out, vocab_size=vocab_size, lowercase=lowercase, min_count=min_count
        )
    log.warning(
        "%s.dir is not set: trained a %s tokenizer on the %d training texts into %s (reused "
        "for the same texts and settings; the model's archive packs it)",
        key,
        kind,
        len(texts),
        out,
    )
    return os.fspath(out)


def pretrained_encoder(path: str, *, key: str = "model.init_from") -> Any:
    """The :class:`~ganglion_nlp.models.MaskedLMModel` in the archive ``path`` (on the CPU):
    its embedding, encoder and tokenizer start a classifier. Anything else is a
    :class:`~ganglion_nlp.errors.PretrainedEncoderError`."""
    from ganglion.model import ModelPT
    from ganglion_nlp.errors import PretrainedEncoderError
    from ganglion_nlp.models import MaskedLMModel

    archive = Path(path).expanduser()
    if not archive.is_file():
        what = "is a directory" if archive.is_dir() else "does not exist"
        raise PretrainedEncoderError(
            f"{key}: {archive} {what}; give the .ganglion archive of a MaskedLMModel (trained "
            f"with `ganglion train --config-name masked_lm_wordnet` or the like), or set {key}=null "
            "to train from scratch"
        )
    model = ModelPT.restore_from(archive, map_location="cpu")
    if not isinstance(model, MaskedLMModel):
        raise PretrainedEncoderError(
            f"{key}: {archive} holds a {type(model).__name__}, not a MaskedLMModel; a classifier "
            "starts from a masked-LM archive's embedding and encoder"
        )
    return model


def copy_weights(target: Any, source: Any, *, name: str, archive: str, key: str) -> None:
    """Load ``source``'s state dict into ``target`` (a sub-module of the same class), refusing
    tensors of other shapes by name."""
    from ganglion_nlp.errors import PretrainedEncoderError

    theirs = source.state_dict()
    ours = target.state_dict()
    wrong = [
        f"{n}: {list(theirs[n].shape)} in the archive, {list(t.shape)} here"
        for n, t in ours.items()
        if n in theirs and tuple(theirs[n].shape) != tuple(t.shape)
    ]
    missing = sorted(set(ours) ^ set(theirs))
    if wrong or missing or type(target) is not type(source):
        details = "; ".join(
            wrong[:6] + [f"only on one side: {', '.join(missing[:6])}"] * bool(missing)
        )
        raise PretrainedEncoderError(
            f"{key}: the {name} of {archive} ({type(source).__name__}) does not fit this model's "
            f"({type(target).__name__}): {details or 'another class'}. Leave model.{name} "
            "sizes out of the config (they are taken from the archive) or match them"
        )
    target.load_state_dict(theirs)
