"""Training and loading tokenizers by type name: :func:`train_tokenizer`, :func:`load_tokenizer`.

Each type's class is named by a lazy ``"module:Class"`` path, so that importing this module
imports no tokenizer library; sentencepiece or Hugging Face ``tokenizers`` is imported when a
tokenizer of its type is first trained or loaded.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

from ganglion.errors import did_you_mean
from ganglion_nlp.tokenizers.base import SPECIAL_TOKENS, TokenizerSpec
from ganglion_nlp.tokenizers.errors import TokenizerError, TokenizerLoadError
from ganglion_nlp.tokenizers.storage import (
    META_FILE,
    atomic_directory,
    check_output_directory,
    check_training_files,
    read_meta,
    write_meta,
)

__all__ = ["TOKENIZER_TYPES", "load_tokenizer", "tokenizer_class", "train_tokenizer"]

_CLASSES: dict[str, str] = {
    "char": "ganglion_nlp.tokenizers.char:CharTokenizer",
    "word": "ganglion_nlp.tokenizers.word:WordTokenizer",
    "sentencepiece-bpe": "ganglion_nlp.tokenizers.sentencepiece_tokenizer:SentencePieceBPETokenizer",
    "sentencepiece-unigram": (
        "ganglion_nlp.tokenizers.sentencepiece_tokenizer:SentencePieceUnigramTokenizer"
    ),
    "hf-bpe": "ganglion_nlp.tokenizers.hf_tokenizer:HFBPETokenizer",
    "hf-wordpiece": "ganglion_nlp.tokenizers.hf_tokenizer:HFWordPieceTokenizer",
}

#: the tokenizer types :func:`train_tokenizer` knows, by name
TOKENIZER_TYPES: tuple[str, ...] = tuple(_CLASSES)

PathLike = str | os.PathLike[str]


def tokenizer_class(type_name: str, *, where: str = "") -> type[TokenizerSpec]:
    """The class of the tokenizer type ``type_name`` (an unknown name is a TokenizerError with
    a did-you-mean; ``where`` says where the name came from, for the message)."""
    target = _CLASSES.get(type_name) if isinstance(type_name, str) else None
    if target is None:
        hint = did_you_mean(type_name, TOKENIZER_TYPES) if isinstance(type_name, str) else ""
        raise TokenizerError(
            f"unknown tokenizer type {type_name!r}{f' ({where})' if where else ''}.{hint} "
            f"Known: {', '.join(TOKENIZER_TYPES)}."
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def train_tokenizer(
    type: str,  # noqa: A002 - the contract's keyword
    files: Sequence[PathLike] | PathLike,
    out_dir: PathLike,
    vocab_size: int = 8000,
    lowercase: bool = True,
    *,
    min_count: int = 1,
    overwrite: bool = False,
) -> TokenizerSpec:
    """Train a tokenizer of ``type`` (one of :data:`TOKENIZER_TYPES`) on the text ``files``
    (UTF-8, one text per line) and save it as the directory ``out_dir``; returns it loaded
    from there.

    ``vocab_size`` counts the five special tokens and is an upper bound: ``char`` and ``word``
    keep the most frequent tokens, the library types train to it (fewer pieces when a small
    text has no more to merge); one too small for the text's characters is an error saying
    how many are needed. ``lowercase`` lowercases training text and every text tokenized
    later. ``min_count`` (``char``, ``word``, ``hf-*``) leaves out tokens seen fewer times. ``out_dir`` appears whole or not at all; an existing
    non-empty one is refused unless ``overwrite``.

    Example::

        tok = train_tokenizer("sentencepiece-unigram", ["corpus/train.txt"], "tok", 8000)
    """
    cls = tokenizer_class(type)
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise TokenizerError(f"vocab_size must be an integer, got {vocab_size!r}")
    if vocab_size < cls.min_vocab_size:
        raise TokenizerError(
            f"vocab_size {vocab_size} is too small for a {type} tokenizer: it needs the "
            f"{len(SPECIAL_TOKENS)} special tokens ({', '.join(SPECIAL_TOKENS)}) and room for "
            f"text tokens; use at least {cls.min_vocab_size}"
        )
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise TokenizerError(f"min_count must be an integer >= 1, got {min_count!r}")
    out_dir = Path(out_dir)
    check_output_directory(out_dir, overwrite=overwrite)  # before the (long) training
    paths = check_training_files([Path(f) for f in files])
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        extra = cls.train_into(
            paths, tmp, vocab_size=vocab_size, lowercase=lowercase, min_count=min_count
        )
        meta = {"type": type, "lowercase": bool(lowercase), **extra}
        trained = cls.from_directory(tmp, meta)
        write_meta(tmp, {**meta, "vocab_size": trained.vocab_size})
        _check_specials(trained, tmp / META_FILE)
    return load_tokenizer(out_dir)


def load_tokenizer(directory: PathLike) -> TokenizerSpec:
    """The tokenizer saved in ``directory`` (by :func:`train_tokenizer`, or unpacked from an
    archive). A missing directory, a missing or corrupt file in it is a TokenizerLoadError
    naming the file and what to do.

    Example::

        tok = load_tokenizer("tok")
        tok.batch_text_to_ids(["a cat", "a dog"])
    """
    directory = Path(directory)
    meta = read_meta(directory)
    cls = tokenizer_class(meta["type"], where=str(directory / META_FILE))
    tok = cls.from_directory(directory, meta)
    if tok.vocab_size != meta["vocab_size"]:
        raise TokenizerLoadError(
            f"{directory}: the {meta['type']} files hold {tok.vocab_size} tokens but {META_FILE} "
            f"says {meta['vocab_size']}; the directory mixes files of different tokenizers: "
            "retrain the tokenizer or copy it again"
        )
    _check_specials(tok, directory / META_FILE)
    return tok


def _check_specials(tok: TokenizerSpec, where: Path) -> None:
    found = tok.ids_to_tokens(range(min(len(SPECIAL_TOKENS), tok.vocab_size)))
    if tuple(found) != SPECIAL_TOKENS:
        raise TokenizerLoadError(
            f"{where.parent}: the {tok.type_name} tokenizer's ids 0..4 are {found}, not the "
            f"special tokens {list(SPECIAL_TOKENS)}; it was not trained by ganglion-nlp: "
            "retrain it with `ganglion-nlp train-tokenizer`"
        )
