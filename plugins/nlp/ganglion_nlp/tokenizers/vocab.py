"""Tokenizers with a plain vocabulary kept by ganglion itself (``vocab.json``: the list of
tokens, id = position), the base of the ``char`` and ``word`` types."""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ganglion_nlp.tokenizers.base import SPECIAL_TOKENS, UNK_ID, TokenizerSpec
from ganglion_nlp.tokenizers.errors import TokenizerTrainingError
from ganglion_nlp.tokenizers.storage import (
    corrupt_library_file,
    library_file,
    read_training_text,
)

__all__ = ["VocabTokenizer"]

VOCAB_FILE = "vocab.json"

# the special tokens a text may spell out (pad and unk are not read from text)
SPECIALS_IN_TEXT = re.compile(r"(<cls>|<sep>|<mask>)")


class VocabTokenizer(TokenizerSpec):
    """A tokenizer whose vocabulary is a list of tokens: the special tokens, then the most
    frequent training tokens (seen at least ``min_count`` times), most frequent first."""

    #: what a vocabulary entry is, for messages ("character", "word")
    unit: ClassVar[str]

    def __init__(self, directory: Path, tokens: Sequence[str], *, lowercase: bool) -> None:
        super().__init__(directory, lowercase=lowercase)
        self._tokens = list(tokens)
        self._ids = {token: i for i, token in enumerate(self._tokens)}

    # -- splitting (per type) ---------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def count_units(cls, text: str) -> Counter[str]:
        """How often each token occurs in ``text`` (one file's text, lines separated by
        newlines; special tokens spelled out are not counted)."""

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """``text`` (already lowercased if this tokenizer lowercases) as tokens."""

    # -- the interface -----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def text_to_tokens(self, text: str) -> list[str]:
        return self.split(text.lower() if self._lowercase else text)

    def text_to_ids(self, text: str) -> list[int]:
        get = self._ids.get
        return [get(token, UNK_ID) for token in self.text_to_tokens(text)]

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        get = self._ids.get
        return [get(token, UNK_ID) for token in tokens]

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        tokens = self._tokens
        return [tokens[i] for i in self._check_ids(ids)]

    # -- training and loading ------------------------------------------------------------------------
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
        counts: Counter[str] = Counter()
        for path in files:
            text = read_training_text(path)
            counts.update(cls.count_units(text.lower() if lowercase else text))
        for token in SPECIAL_TOKENS:
            counts.pop(token, None)
        kept = [(-n, token) for token, n in counts.items() if n >= min_count]
        if not kept:
            raise TokenizerTrainingError(
                f"no {cls.unit} occurs {min_count} or more times in "
                f"{', '.join(str(p) for p in files)}; lower min_count or give more text"
            )
        kept.sort()  # most frequent first, ties in code-point order (reproducible)
        tokens = [
            *SPECIAL_TOKENS,
            *(token for _, token in kept[: vocab_size - len(SPECIAL_TOKENS)]),
        ]
        (directory / VOCAB_FILE).write_text(
            json.dumps(tokens, ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
        )
        return {
            "files": {"vocab": VOCAB_FILE},
            "min_count": min_count,
            "left_out": max(0, len(kept) - (vocab_size - len(SPECIAL_TOKENS))),
        }

    @classmethod
    def from_directory(cls, directory: Path, meta: dict[str, Any]) -> VocabTokenizer:
        path = library_file(directory, meta, "vocab")
        try:
            tokens = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise corrupt_library_file(path, f"{cls.type_name} vocabulary (JSON)", exc) from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise corrupt_library_file(
                path, f"{cls.type_name} vocabulary", ValueError("not a JSON list of strings")
            )
        if len(set(tokens)) != len(tokens):
            raise corrupt_library_file(
                path, f"{cls.type_name} vocabulary", ValueError("a token is listed twice")
            )
        return cls(directory, tokens, lowercase=meta["lowercase"])
