"""The ``sentencepiece-bpe`` and ``sentencepiece-unigram`` tokenizers (the ``sentencepiece``
library, imported on first use).

Trained with ``<pad>`` and ``<unk>`` as sentencepiece's pad and unknown pieces (ids 0, 1),
``<cls>``, ``<sep>`` and ``<mask>`` as user-defined pieces (ids 2..4, so they are read from
text too), no begin/end-of-sentence pieces, and sentencepiece's NFKC normalization (with case
folding when ``lowercase``), which is stored in the model: every later ``encode`` lowercases in
the library, with no Python pass over the text.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ganglion_nlp.tokenizers.base import SPECIAL_TOKENS, TokenizerSpec
from ganglion_nlp.tokenizers.errors import TokenizerTrainingError
from ganglion_nlp.tokenizers.storage import corrupt_library_file, library_file

__all__ = ["SentencePieceBPETokenizer", "SentencePieceTokenizer", "SentencePieceUnigramTokenizer"]

MODEL_FILE = "spm.model"
VOCAB_FILE = "spm.vocab"
_TOO_SMALL = re.compile(r"smaller than required_chars\. *(\d+) vs (\d+)")


def _lines(files: Sequence[Path]) -> Iterator[str]:
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\r\n")


class SentencePieceTokenizer(TokenizerSpec):
    """A sentencepiece model (``spm.model``) behind the tokenizer interface."""

    #: sentencepiece's ``model_type``
    model_type: str

    def __init__(self, directory: Path, processor: Any, *, lowercase: bool) -> None:
        super().__init__(directory, lowercase=lowercase)
        self._sp = processor
        self._size = processor.get_piece_size()

    @property
    def processor(self) -> Any:
        """The ``sentencepiece.SentencePieceProcessor`` (for what this interface lacks)."""
        return self._sp

    @property
    def vocab_size(self) -> int:
        return self._size

    def text_to_ids(self, text: str) -> list[int]:
        return self._sp.encode(text)

    def batch_text_to_ids(self, texts: Sequence[str]) -> list[list[int]]:
        # sentencepiece encodes a list in C++, on several threads
        return self._sp.encode(texts if isinstance(texts, list) else list(texts))

    def text_to_tokens(self, text: str) -> list[str]:
        return self._sp.encode(text, out_type=str)

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        return self._sp.piece_to_id(list(tokens))

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return self._sp.id_to_piece(self._check_ids(ids))

    def ids_to_text(self, ids: Iterable[int]) -> str:
        return self._sp.decode(self._text_ids(ids))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "directory": self._directory,
            "lowercase": self._lowercase,
            "model": self._sp.serialized_model_proto(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_proto=state["model"])
        self.__init__(state["directory"], processor, lowercase=state["lowercase"])

    # -- training and loading ------------------------------------------------------------------
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
        import sentencepiece

        model = io.BytesIO()
        try:
            # lines fed from Python and the model written to memory, so that the model's
            # record of its training (trainer_spec) names no file of this machine
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=_lines(files),
                model_writer=model,
                model_type=cls.model_type,
                vocab_size=vocab_size,
                # a small corpus gives fewer pieces instead of an error
                hard_vocab_limit=False,
                pad_id=0,
                unk_id=1,
                bos_id=-1,
                eos_id=-1,
                pad_piece=SPECIAL_TOKENS[0],
                unk_piece=SPECIAL_TOKENS[1],
                unk_surface=SPECIAL_TOKENS[1],
                user_defined_symbols=list(SPECIAL_TOKENS[2:]),
                normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
                num_threads=os.cpu_count() or 1,
                minloglevel=2,  # warnings and errors only
            )
        except (RuntimeError, OSError) as exc:
            message = str(exc).strip()
            match = _TOO_SMALL.search(message)
            if match:
                raise TokenizerTrainingError(
                    f"vocab_size {match[1]} is too small for a {cls.type_name} tokenizer of "
                    f"{', '.join(str(f) for f in files)}: the special tokens and the text's "
                    f"characters need {match[2]}; use a vocab_size of at least {match[2]}"
                ) from None
            raise TokenizerTrainingError(
                f"sentencepiece could not train a {cls.type_name} tokenizer on "
                f"{', '.join(str(f) for f in files)}: {message.splitlines()[0] if message else exc}"
            ) from None
        (directory / MODEL_FILE).write_bytes(model.getvalue())
        # the pieces and their scores, for people (what sentencepiece's own .vocab holds)
        processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
        listing = "".join(
            f"{processor.id_to_piece(i)}\t{processor.get_score(i):g}\n"
            for i in range(processor.get_piece_size())
        )
        (directory / VOCAB_FILE).write_text(listing, encoding="utf-8")
        return {"files": {"model": MODEL_FILE}}

    @classmethod
    def from_directory(cls, directory: Path, meta: dict[str, Any]) -> SentencePieceTokenizer:
        import sentencepiece

        path = library_file(directory, meta, "model")
        data = path.read_bytes()
        try:
            if not data:  # sentencepiece would load it as a model of no pieces
                raise ValueError("the file is empty")
            processor = sentencepiece.SentencePieceProcessor(model_proto=data)
        except Exception as exc:  # sentencepiece raises RuntimeError, OSError, TypeError
            if "ParseFromArray" in str(exc):  # sentencepiece's own words are its source line
                exc = ValueError("it does not parse as a sentencepiece model")
            raise corrupt_library_file(path, "sentencepiece model", exc) from None
        return cls(directory, processor, lowercase=meta["lowercase"])


class SentencePieceBPETokenizer(SentencePieceTokenizer):
    """sentencepiece's BPE: pieces merged by frequency.

    Example::

        tok = train_tokenizer("sentencepiece-bpe", ["train.txt"], "tok-bpe", vocab_size=8000)
        tok.text_to_tokens("a cat")   # ['▁a', '▁cat']
    """

    type_name = "sentencepiece-bpe"
    model_type = "bpe"


class SentencePieceUnigramTokenizer(SentencePieceTokenizer):
    """sentencepiece's unigram language model: the most likely split into pieces.

    Example::

        tok = train_tokenizer("sentencepiece-unigram", ["train.txt"], "tok-uni", vocab_size=8000)
    """

    type_name = "sentencepiece-unigram"
    model_type = "unigram"
