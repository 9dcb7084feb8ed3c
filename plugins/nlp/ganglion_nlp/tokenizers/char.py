"""The ``char`` tokenizer: one token per character, a vocabulary of the training text's
characters (seen at least ``min_count`` times, the most frequent first when ``vocab_size``
caps it); any other character is ``<unk>``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ganglion_nlp.tokenizers.vocab import SPECIALS_IN_TEXT, VocabTokenizer

__all__ = ["CharTokenizer"]


class CharTokenizer(VocabTokenizer):
    """Characters as tokens (spaces included, so ``ids_to_text`` gives the text back).

    Example::

        tok = train_tokenizer("char", ["train.txt"], "tok-char", vocab_size=200)
        tok.text_to_tokens("a cat")   # ['a', ' ', 'c', 'a', 't']
    """

    type_name = "char"
    unit = "character"

    @classmethod
    def count_units(cls, text: str) -> Counter[str]:
        counts = Counter(SPECIALS_IN_TEXT.sub("\n", text))
        for line_break in "\n\r":
            counts.pop(line_break, None)
        return counts

    def split(self, text: str) -> list[str]:
        if "<" in text:
            parts = SPECIALS_IN_TEXT.split(text)
            if len(parts) > 1:  # odd positions are the special tokens spelled out
                tokens: list[str] = []
                for k, part in enumerate(parts):
                    if k % 2:
                        tokens.append(part)
                    else:
                        tokens.extend(part)
                return tokens
        return list(text)

    def ids_to_text(self, ids: Iterable[int]) -> str:
        tokens = self._tokens
        return "".join(tokens[i] for i in self._text_ids(ids))
