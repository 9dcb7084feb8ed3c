"""The text frontend: written text -> normalised words -> phoneme tokens -> token ids.

>>> frontend = TextFrontend()
>>> result = frontend.parse("Dr. Smith paid $3.50.")
>>> result.normalized
'doctor smith paid three dollars fifty cents.'
>>> result.tokens[:6]
('D', 'AA', 'K', 'T', 'ER', ' ')
>>> frontend.vocabulary.decode(result.ids) == list(result.tokens)
True

Tokens are the phonemes of each word, ``" "`` between words, and the punctuation kept by the
normaliser (``, . ? !``) right after the word it follows. What the frontend had to guess or
drop is reported on the result (:attr:`FrontendResult.notes`) and logged once per call on the
``ganglion_tts.text`` logger (a warning when characters were dropped, else info).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from types import MappingProxyType

from ganglion_tts.text.errors import TTSTextError
from ganglion_tts.text.g2p import G2P
from ganglion_tts.text.lexicon import Lexicon
from ganglion_tts.text.lts import LetterToSound
from ganglion_tts.text.normalize import normalize_text
from ganglion_tts.text.phonemes import SPACE, PhonemeVocabulary

__all__ = ["FrontendResult", "TextFrontend"]

logger = logging.getLogger("ganglion_tts.text")

_HOW = {
    "predicted": "pronounced by the letter-to-sound model",
    "spelled": "spelled letter by letter (no vowel letter)",
    "possessive": "read as the dictionary word plus 's",
}


@dataclass(frozen=True)
class FrontendResult:
    """What :meth:`TextFrontend.parse` made of a text."""

    #: the text as given
    text: str
    #: the normalised text (lowercase words, ``, . ? !``)
    normalized: str
    #: the words, in order (without punctuation)
    words: tuple[str, ...]
    #: phonemes, ``" "`` between words, punctuation tokens
    tokens: tuple[str, ...]
    #: the token ids in the frontend's vocabulary
    ids: tuple[int, ...]
    #: words not in the lexicon -> how they were pronounced (``"predicted"``, ``"spelled"``
    #: or ``"possessive"``), in order of appearance
    fallback: Mapping[str, str] = field(default_factory=dict)
    #: characters that could not be read and were dropped, each once
    dropped: tuple[str, ...] = ()

    @property
    def fallback_words(self) -> tuple[str, ...]:
        """The words that did not come from the lexicon."""
        return tuple(self.fallback)

    @property
    def notes(self) -> tuple[str, ...]:
        """The report: one sentence per kind of thing the frontend guessed or dropped."""
        notes = []
        for how, says in _HOW.items():
            words = [w for w, source in self.fallback.items() if source == how]
            if words:
                listed = ", ".join(repr(w) for w in words)
                notes.append(f"{len(words)} word(s) not in the lexicon, {says}: {listed}.")
        if self.dropped:
            listed = ", ".join(_describe(c) for c in self.dropped)
            notes.append(
                f"Dropped {len(self.dropped)} character(s) the frontend cannot read: {listed}."
            )
        return tuple(notes)

    @property
    def report(self) -> str:
        """:attr:`notes` as one string (empty when nothing was guessed or dropped)."""
        return " ".join(self.notes)


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"{ch!r} (U+{ord(ch):04X}{' ' + name if name else ''})"


class TextFrontend:
    """English text -> phoneme tokens and ids, offline.

    ``lexicon``: ``None`` for the shipped CMU dictionary; a lexicon file or a mapping ``word
    -> phonemes`` to add to it or override it; or a :class:`Lexicon`. ``stress`` keeps the
    stress digits on vowels (``AH0``) in tokens and vocabulary. ``g2p_model``: the
    letter-to-sound model for words missing from the lexicon (``None``: the shipped one,
    loaded on the first such word). ``log=False`` silences the per-call log record (the result
    still carries its report).
    """

    def __init__(
        self,
        lexicon: Lexicon | str | PathLike[str] | Mapping[str, object] | None = None,
        *,
        stress: bool = False,
        g2p_model: LetterToSound | str | PathLike[str] | None = None,
        log: bool = True,
    ) -> None:
        if not isinstance(lexicon, Lexicon):
            lexicon = Lexicon(user=lexicon)
        self.lexicon = lexicon
        self.stress = bool(stress)
        self.g2p = G2P(lexicon, stress=self.stress, model=g2p_model)
        self.vocabulary = PhonemeVocabulary(stress=self.stress)
        self.log = log

    def __repr__(self) -> str:
        return f"TextFrontend(stress={self.stress}, lexicon={self.lexicon!r})"

    def parse(self, text: str) -> FrontendResult:
        """Normalise ``text``, convert each word to phonemes, and map the tokens to ids.

        Empty text, or text with nothing readable in it, is a :class:`TTSTextError`.
        """
        if not isinstance(text, str):
            raise TTSTextError(f"The frontend reads text (a str), got {type(text).__name__}.")
        if not text.strip():
            raise TTSTextError("Empty text: there is nothing to say.")
        norm = normalize_text(text)
        words: list[str] = []
        tokens: list[str] = []
        fallback: dict[str, str] = {}
        convert = self.g2p.convert
        for item in norm.text.split():
            word = item.rstrip(",.?!")
            if not word:
                continue
            pron = convert(word)
            if pron.source != "lexicon":
                fallback.setdefault(word, pron.source)
            if tokens:
                tokens.append(SPACE)
            tokens.extend(pron.phonemes)
            words.append(word)
            mark = item[len(word) :]
            if mark:
                tokens.append(mark[-1])
        if not words:
            dropped = ", ".join(_describe(c) for c in norm.dropped)
            raise TTSTextError(
                f"Nothing readable in {text[:80]!r}: it normalises to no words"
                + (f" (dropped characters: {dropped})." if dropped else ".")
            )
        result = FrontendResult(
            text=text,
            normalized=norm.text,
            words=tuple(words),
            tokens=tuple(tokens),
            ids=tuple(self.vocabulary.encode(tokens)),
            fallback=MappingProxyType(fallback),
            dropped=norm.dropped,
        )
        if self.log and (fallback or norm.dropped):
            level = logging.WARNING if norm.dropped else logging.INFO
            logger.log(level, "Text %r: %s", text[:80], result.report)
        return result

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text`` (see :meth:`parse`)."""
        return list(self.parse(text).ids)

    def decode(self, ids: Sequence[int]) -> list[str]:
        """The tokens of ``ids`` (padding left out)."""
        return self.vocabulary.decode(ids)

    __call__ = encode
