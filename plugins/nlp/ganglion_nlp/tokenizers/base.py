"""The tokenizer interface every ganglion-nlp tokenizer implements, and its special tokens.

Every tokenizer, whatever library is behind it, has the same five special tokens at the same
ids, so models, datasets and masking code never ask which kind they hold:

====  ==========  =========================================================
 id   token       use
====  ==========  =========================================================
 0    ``<pad>``   padding (a batch's short rows; ignored by ``ids_to_text``)
 1    ``<unk>``   anything outside the vocabulary
 2    ``<cls>``   the start of a sequence (added by the dataset, never by ``text_to_ids``)
 3    ``<sep>``   the end of a sequence or segment (likewise)
 4    ``<mask>``  a masked position in masked-LM pretraining
====  ==========  =========================================================

``<cls>``, ``<sep>`` and ``<mask>`` written in a text map to their ids in every type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ganglion_nlp.tokenizers.errors import TokenizerError

__all__ = [
    "CLS_ID",
    "MASK_ID",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "TokenizerSpec",
]

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<cls>", "<sep>", "<mask>")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)

# dropped by ids_to_text: the framing a dataset adds, not part of the text
_FRAMING_IDS = frozenset((PAD_ID, CLS_ID, SEP_ID))


class TokenizerSpec(ABC):
    """A trained tokenizer: text to ids and back, with the special tokens of this module.

    Build one with :func:`~ganglion_nlp.tokenizers.train_tokenizer` or load a saved one with
    :func:`~ganglion_nlp.tokenizers.load_tokenizer`; a tokenizer lives in a directory
    (:attr:`directory`) holding ``ganglion_tokenizer.json`` and its library's files.

    Example::

        tok = load_tokenizer("tokenizers/wordnet-bpe")
        ids = tok.text_to_ids("a domesticated carnivorous mammal")
        tok.ids_to_text(ids)          # 'a domesticated carnivorous mammal'
        [tok.cls_id, *ids, tok.sep_id]  # what a dataset feeds a model
    """

    #: the name ``train_tokenizer`` and ``ganglion_tokenizer.json`` know this type by
    type_name: ClassVar[str]
    #: the smallest vocabulary size this type can be trained to
    min_vocab_size: ClassVar[int] = len(SPECIAL_TOKENS) + 1

    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    cls_id: ClassVar[int] = CLS_ID
    sep_id: ClassVar[int] = SEP_ID
    mask_id: ClassVar[int] = MASK_ID
    special_tokens: ClassVar[tuple[str, ...]] = SPECIAL_TOKENS

    def __init__(self, directory: Path, *, lowercase: bool) -> None:
        self._directory = Path(directory)
        self._lowercase = bool(lowercase)

    # -- what every tokenizer answers ---------------------------------------------------------
    @property
    def directory(self) -> Path:
        """The directory this tokenizer was loaded from (what an archive packs)."""
        return self._directory

    @property
    def lowercase(self) -> bool:
        """Whether texts are lowercased before they are split (as in training)."""
        return self._lowercase

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """The number of ids, special tokens included: ids are ``0 .. vocab_size - 1``."""

    @abstractmethod
    def text_to_ids(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens (no ``<cls>``/``<sep>`` added)."""

    def batch_text_to_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`text_to_ids` of each text, through the library's batch call where it has one."""
        return [self.text_to_ids(text) for text in texts]

    @abstractmethod
    def text_to_tokens(self, text: str) -> list[str]:
        """The tokens (as strings) ``text`` is split into."""

    @abstractmethod
    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        """The id of each token; a token outside the vocabulary is :attr:`unk_id`."""

    @abstractmethod
    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        """The token of each id (an id outside ``0 .. vocab_size - 1`` is a TokenizerError)."""

    @abstractmethod
    def ids_to_text(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; ``<pad>``, ``<cls>`` and ``<sep>`` are left out, ``<unk>`` and
        ``<mask>`` written as such."""

    # -- training and loading (used by train_tokenizer / load_tokenizer) -----------------------
    @classmethod
    @abstractmethod
    def train_into(
        cls,
        files: Sequence[Path],
        directory: Path,
        *,
        vocab_size: int,
        lowercase: bool,
        min_count: int,
    ) -> dict[str, Any]:
        """Train on ``files`` (checked: present, UTF-8, not empty) and write the library's files
        into the empty ``directory``. Returns the ``ganglion_tokenizer.json`` entries this type
        needs (at least ``files``: role -> file name in ``directory``)."""

    @classmethod
    @abstractmethod
    def from_directory(cls, directory: Path, meta: dict[str, Any]) -> TokenizerSpec:
        """Load the tokenizer saved in ``directory`` whose ``ganglion_tokenizer.json`` is
        ``meta`` (checked). A missing or corrupt library file is a TokenizerLoadError."""

    # -- helpers for the implementations -------------------------------------------------------
    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        out = [int(i) for i in ids]
        size = self.vocab_size
        for i in out:
            if not 0 <= i < size:
                raise TokenizerError(
                    f"token id {i} is outside this {self.type_name} tokenizer's vocabulary "
                    f"(ids 0..{size - 1}, {self.directory}); were these ids made by another "
                    "tokenizer?"
                )
        return out

    def _text_ids(self, ids: Iterable[int]) -> list[int]:
        """``ids`` checked, without the framing tokens (``<pad>``, ``<cls>``, ``<sep>``)."""
        return [i for i in self._check_ids(ids) if i not in _FRAMING_IDS]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(type={self.type_name!r}, vocab_size={self.vocab_size}, "
            f"lowercase={self.lowercase}, directory={str(self.directory)!r})"
        )
