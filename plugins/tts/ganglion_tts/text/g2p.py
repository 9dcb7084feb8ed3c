"""Grapheme-to-phoneme conversion: the lexicon first, then rules and a learned model for the
words it lacks.

For a (normalised, lowercase) word, in order:

1. ``lexicon``: its first pronunciation in the lexicon (the CMU dictionary and user entries);
2. ``possessive``: ``word's`` when ``word`` is in the lexicon: its pronunciation plus ``S``
   after a voiceless consonant, ``IH0 Z`` after a sibilant, else ``Z``;
3. ``spelled``: a word without a vowel letter (``a e i o u y``; ``xkcd``, ``mtv``) is read
   letter by letter, each letter by its name;
4. ``predicted``: anything else goes to the letter-to-sound model learned from the CMU
   dictionary (:mod:`ganglion_tts.text.lts`), loaded once per process on first need.

Only the first source is the lexicon itself; the frontend reports the words that took any
other route.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from ganglion_tts.text.errors import TTSTextError
from ganglion_tts.text.lexicon import DATA_DIR, Lexicon
from ganglion_tts.text.lts import LETTERS, LetterToSound
from ganglion_tts.text.phonemes import strip_stress

__all__ = ["G2P", "Pronunciation", "default_model", "DEFAULT_MODEL_PATH", "LETTER_NAMES"]

#: The shipped letter-to-sound model (``plugins/tts/scripts/build_g2p_model.py`` writes it).
DEFAULT_MODEL_PATH = DATA_DIR / "cmudict_lts.gz"

#: How each letter is named when a word is spelled out.
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    letter: tuple(name.split())
    for letter, name in {
        "a": "EY1", "b": "B IY1", "c": "S IY1", "d": "D IY1", "e": "IY1", "f": "EH1 F",
        "g": "JH IY1", "h": "EY1 CH", "i": "AY1", "j": "JH EY1", "k": "K EY1", "l": "EH1 L",
        "m": "EH1 M", "n": "EH1 N", "o": "OW1", "p": "P IY1", "q": "K Y UW1", "r": "AA1 R",
        "s": "EH1 S", "t": "T IY1", "u": "Y UW1", "v": "V IY1", "w": "D AH1 B AH0 L Y UW0",
        "x": "EH1 K S", "y": "W AY1", "z": "Z IY1",
    }.items()
}  # fmt: skip

_VOWEL_LETTERS = frozenset("aeiouy")
_VOICELESS = frozenset({"P", "T", "K", "F", "TH"})
_SIBILANTS = frozenset({"S", "Z", "SH", "ZH", "CH", "JH"})

_model: LetterToSound | None = None
_model_lock = threading.Lock()


def default_model() -> LetterToSound:
    """The shipped letter-to-sound model, read on the first call (about 2 s) and shared."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = LetterToSound.load(DEFAULT_MODEL_PATH)
    return _model


@dataclass(frozen=True)
class Pronunciation:
    """A word's phonemes and where they came from: ``"lexicon"``, ``"possessive"``,
    ``"spelled"`` or ``"predicted"``."""

    phonemes: tuple[str, ...]
    source: str

    @property
    def from_lexicon(self) -> bool:
        return self.source == "lexicon"


class G2P:
    """Words -> phonemes (see the module docstring for the order of sources).

    ``stress=False`` strips the stress digits. ``model`` is a :class:`LetterToSound`, a path to
    a model file, or ``None`` for the shipped one (loaded only when a word needs it).
    Predictions are cached per instance (up to ``cache_size`` words).
    """

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        *,
        stress: bool = True,
        model: LetterToSound | str | PathLike[str] | None = None,
        cache_size: int = 50_000,
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else Lexicon()
        self.stress = bool(stress)
        if isinstance(model, (str, PathLike)):
            model = LetterToSound.load(Path(model))
        self._model = model
        self._cache: dict[str, Pronunciation] = {}
        self._cache_size = cache_size

    @property
    def model(self) -> LetterToSound:
        """The letter-to-sound model (loading the shipped one on first access)."""
        if self._model is None:
            self._model = default_model()
        return self._model

    def __call__(self, word: str) -> tuple[str, ...]:
        return self.convert(word).phonemes

    def convert(self, word: str) -> Pronunciation:
        """The pronunciation of one word (case-insensitive)."""
        word = word.lower()
        found = self.lexicon.first(word)
        if found is not None:
            return Pronunciation(self._finish(found.split()), "lexicon")
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        pron = self._fallback(word)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[word] = pron
        return pron

    def _fallback(self, word: str) -> Pronunciation:
        letters = "".join(c for c in word if c in LETTERS)
        if not letters.strip("'"):
            raise TTSTextError(
                f"Cannot pronounce {word!r}: it has no letters a-z (normalise the text first)."
            )
        if letters.endswith("'s") and len(letters) > 2:
            base = self.lexicon.first(letters[:-2])
            if base is not None:
                phones = base.split()
                last = strip_stress(phones[-1])
                if last in _SIBILANTS:
                    phones += ["IH0", "Z"]
                else:
                    phones.append("S" if last in _VOICELESS else "Z")
                return Pronunciation(self._finish(phones), "possessive")
        if not _VOWEL_LETTERS.intersection(letters):
            phones = [p for c in letters if c in LETTER_NAMES for p in LETTER_NAMES[c]]
            return Pronunciation(self._finish(phones), "spelled")
        return Pronunciation(self._finish(self.model.predict(letters)), "predicted")

    def _finish(self, phones: list[str]) -> tuple[str, ...]:
        if self.stress:
            return tuple(phones)
        return tuple(strip_stress(p) for p in phones)

    def clear_cache(self) -> None:
        """Forget cached predictions (they are never consulted before the lexicon)."""
        self._cache.clear()
