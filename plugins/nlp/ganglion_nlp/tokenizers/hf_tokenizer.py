"""The ``hf-bpe`` and ``hf-wordpiece`` tokenizers (Hugging Face ``tokenizers``, imported on
first use), saved as the library's own ``tokenizer.json``.

The special tokens are handed to the trainer first, so they get ids 0..4, and are added as the
library's special tokens (read from the normalized text as whole tokens). Lowercasing is the library's
``Lowercase`` normalizer (after NFKC), stored in ``tokenizer.json``: every later encode
lowercases in Rust, with no Python pass over the text.

``hf-bpe`` splits on spaces the sentencepiece way (``▁`` marks a word start, so decoding gives
the spaces back); ``hf-wordpiece`` splits on spaces and punctuation the BERT way (``##`` marks
a word's continuation).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ganglion_nlp.tokenizers.base import SPECIAL_TOKENS, UNK_ID, TokenizerSpec
from ganglion_nlp.tokenizers.errors import TokenizerTrainingError
from ganglion_nlp.tokenizers.storage import corrupt_library_file, library_file

__all__ = ["HFBPETokenizer", "HFTokenizer", "HFWordPieceTokenizer"]

TOKENIZER_FILE = "tokenizer.json"


class HFTokenizer(TokenizerSpec):
    """A Hugging Face ``tokenizers.Tokenizer`` (``tokenizer.json``) behind the interface."""

    def __init__(self, directory: Path, tokenizer: Any, *, lowercase: bool) -> None:
        super().__init__(directory, lowercase=lowercase)
        self._tok = tokenizer
        self._size = tokenizer.get_vocab_size(with_added_tokens=True)
        # encode_batch_fast (tokenizers >= 0.20) skips the offsets nobody here reads
        self._encode_batch = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (for what this interface lacks)."""
        return self._tok

    @property
    def vocab_size(self) -> int:
        return self._size

    def text_to_ids(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def batch_text_to_ids(self, texts: Sequence[str]) -> list[list[int]]:
        batch = texts if isinstance(texts, list) else list(texts)
        return [e.ids for e in self._encode_batch(batch, add_special_tokens=False)]

    def text_to_tokens(self, text: str) -> list[str]:
        return self._tok.encode(text, add_special_tokens=False).tokens

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        lookup = self._tok.token_to_id
        out = []
        for token in tokens:
            i = lookup(token)
            out.append(UNK_ID if i is None else i)
        return out

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        lookup = self._tok.id_to_token
        return [lookup(i) for i in self._check_ids(ids)]

    def ids_to_text(self, ids: Iterable[int]) -> str:
        return self._tok.decode(self._text_ids(ids), skip_special_tokens=False)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "directory": self._directory,
            "lowercase": self._lowercase,
            "tokenizer": self._tok.to_str(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(state["tokenizer"])
        self.__init__(state["directory"], tokenizer, lowercase=state["lowercase"])

    # -- training and loading ------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def build(cls, vocab_size: int, lowercase: bool, min_count: int) -> tuple[Any, Any]:
        """An untrained ``Tokenizer`` of this type and its trainer."""

    @classmethod
    def train_into(
        cls,
        files: Sequence[Path],
        directory: Path,
        *,
        vocab_size: int,
        lowercase: bool,
        min_count: int,
    ) -> dict[str, Any]:
        tokenizer, trainer = cls.build(vocab_size, lowercase, min_count)
        names = ", ".join(str(f) for f in files)
        try:
            tokenizer.train([str(f) for f in files], trainer)
        except Exception as exc:  # the library raises plain Exception from Rust
            raise TokenizerTrainingError(
                f"tokenizers could not train a {cls.type_name} tokenizer on {names}: {exc}"
            ) from None
        trained = tokenizer.get_vocab_size(with_added_tokens=True)
        if trained > vocab_size:
            # the trainer keeps every character of the text however small vocab_size is
            raise TokenizerTrainingError(
                f"vocab_size {vocab_size} is too small for a {cls.type_name} tokenizer of "
                f"{names}: the special tokens and the text's characters need {trained}; use a "
                f"vocab_size of at least {trained}"
            )
        tokenizer.save(str(directory / TOKENIZER_FILE))
        return {"files": {"tokenizer": TOKENIZER_FILE}}

    @classmethod
    def from_directory(cls, directory: Path, meta: dict[str, Any]) -> HFTokenizer:
        from tokenizers import Tokenizer

        path = library_file(directory, meta, "tokenizer")
        try:
            tokenizer = Tokenizer.from_str(path.read_bytes().decode("utf-8"))
        except Exception as exc:  # the library raises plain Exception from Rust
            raise corrupt_library_file(path, "Hugging Face tokenizer.json", exc) from None
        return cls(directory, tokenizer, lowercase=meta["lowercase"])


def _special_tokens() -> list[Any]:
    from tokenizers import AddedToken

    # normalized: found in the normalized text, so "<MASK>" is <mask> when lowercasing
    return [AddedToken(token, special=True, normalized=True) for token in SPECIAL_TOKENS]


def _normalizer(lowercase: bool, *, strip: bool) -> Any:
    from tokenizers import normalizers

    steps = [normalizers.NFKC()]
    if strip:  # a training line's end of line must not become part of its last word
        steps.append(normalizers.Strip())
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps)


class HFBPETokenizer(HFTokenizer):
    """Hugging Face BPE over words split at spaces (``▁`` marks a word start).

    Example::

        tok = train_tokenizer("hf-bpe", ["train.txt"], "tok-hfbpe", vocab_size=8000)
    """

    type_name = "hf-bpe"

    @classmethod
    def build(cls, vocab_size: int, lowercase: bool, min_count: int) -> tuple[Any, Any]:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS[1]))
        tokenizer.normalizer = _normalizer(lowercase, strip=True)
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_count,
            special_tokens=_special_tokens(),
            show_progress=False,
        )
        return tokenizer, trainer


class HFWordPieceTokenizer(HFTokenizer):
    """Hugging Face WordPiece over words split at spaces and punctuation (``##`` marks a
    word's continuation).

    Example::

        tok = train_tokenizer("hf-wordpiece", ["train.txt"], "tok-wp", vocab_size=8000)
    """

    type_name = "hf-wordpiece"

    @classmethod
    def build(cls, vocab_size: int, lowercase: bool, min_count: int) -> tuple[Any, Any]:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.WordPiece(unk_token=SPECIAL_TOKENS[1]))
        tokenizer.normalizer = _normalizer(lowercase, strip=False)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=min_count,
            special_tokens=_special_tokens(),
            show_progress=False,
        )
        return tokenizer, trainer
