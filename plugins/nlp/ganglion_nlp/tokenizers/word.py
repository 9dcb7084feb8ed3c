"""The ``word`` tokenizer: words and punctuation marks as tokens, a vocabulary of the most
frequent training words (at most ``vocab_size``, each seen at least ``min_count`` times);
any other word is ``<unk>``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ganglion_nlp.tokenizers.vocab import VocabTokenizer

__all__ = ["WordTokenizer"]

# a special token spelled out, a run of letters/digits/underscores, or one other non-space
_WORD = re.compile(r"<cls>|<sep>|<mask>|\w+|[^\w\s]")
# ids_to_text writes no space before these, nor after the openers
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}%'")
_NO_SPACE_AFTER = frozenset("([{")


class WordTokenizer(VocabTokenizer):
    """Words (runs of letters, digits and ``_``) and single punctuation marks as tokens.

    Example::

        tok = train_tokenizer("word", ["train.txt"], "tok-word", vocab_size=20000)
        tok.text_to_tokens("A cat, asleep.")   # ['a', 'cat', ',', 'asleep', '.']
    """

    type_name = "word"
    unit = "word"

    @classmethod
    def count_units(cls, text: str) -> Counter[str]:
        return Counter(_WORD.findall(text))

    def split(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def ids_to_text(self, ids: Iterable[int]) -> str:
        """The words of ``ids`` joined by spaces (none before closing punctuation or after an
        opening bracket): the spacing of the original text is not kept."""
        tokens = self._tokens
        out: list[str] = []
        glue = True
        for i in self._text_ids(ids):
            token = tokens[i]
            if out and not glue and token not in _NO_SPACE_BEFORE:
                out.append(" ")
            out.append(token)
            glue = token in _NO_SPACE_AFTER
        return "".join(out)
