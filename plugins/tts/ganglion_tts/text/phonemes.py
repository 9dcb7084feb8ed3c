"""The phoneme inventory (ARPAbet, as the CMU Pronouncing Dictionary writes it), the
punctuation and boundary tokens, and the fixed phoneme vocabulary that maps tokens to ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ganglion_tts.text.errors import TTSTextError

#: The 15 ARPAbet vowels; in the dictionary each carries a stress digit (0, 1 or 2).
VOWELS: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
)  # fmt: skip
#: The 24 ARPAbet consonants.
CONSONANTS: tuple[str, ...] = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
    "T", "TH", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
#: Stress digits: none, primary, secondary.
STRESS_DIGITS = ("0", "1", "2")

PAD = "<pad>"
#: The token between two words.
SPACE = " "
#: Punctuation tokens the frontend keeps (other pauses are mapped onto these).
PUNCTUATION: tuple[str, ...] = (",", ".", "?", "!")

PHONEMES_NO_STRESS: tuple[str, ...] = tuple(sorted(VOWELS + CONSONANTS))
PHONEMES_WITH_STRESS: tuple[str, ...] = tuple(
    sorted(CONSONANTS + tuple(v + d for v in VOWELS for d in STRESS_DIGITS))
)

_STRIP_STRESS = str.maketrans("", "", "012")


def strip_stress(phoneme: str) -> str:
    """``"AH0"`` -> ``"AH"``; consonants and stressless vowels are returned unchanged."""
    return phoneme.translate(_STRIP_STRESS)


def is_phoneme(symbol: str, *, stress: bool) -> bool:
    """Whether ``symbol`` is an ARPAbet phoneme (with a stress digit on vowels when ``stress``)."""
    return symbol in (_WITH if stress else _WITHOUT)


_WITH = frozenset(PHONEMES_WITH_STRESS)
_WITHOUT = frozenset(PHONEMES_NO_STRESS)


class PhonemeVocabulary:
    """The fixed token <-> id table of the frontend: ``<pad>`` at id 0, then the word boundary
    ``" "``, the punctuation tokens ``, . ? !``, then the ARPAbet phonemes in sorted order
    (with stress digits on vowels when ``stress``: 75 symbols, else 45).

    The order depends only on ``stress``, so ids are stable across runs and versions of the
    dictionary; a model trained with one vocabulary reads the same ids back.
    """

    def __init__(self, *, stress: bool = False) -> None:
        self.stress = bool(stress)
        phonemes = PHONEMES_WITH_STRESS if self.stress else PHONEMES_NO_STRESS
        self.symbols: tuple[str, ...] = (PAD, SPACE, *PUNCTUATION, *phonemes)
        self._ids = {s: i for i, s in enumerate(self.symbols)}

    pad_id = 0
    pad = PAD

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self):
        return iter(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __getitem__(self, index: int) -> str:
        return self.symbols[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhonemeVocabulary) and self.symbols == other.symbols

    def __hash__(self) -> int:
        return hash(self.symbols)

    def __repr__(self) -> str:
        return f"PhonemeVocabulary(stress={self.stress}, size={len(self)})"

    def id(self, symbol: str) -> int:
        """The id of one token; an unknown token is a :class:`TTSTextError`."""
        try:
            return self._ids[symbol]
        except KeyError:
            raise TTSTextError(self._unknown_symbol(symbol)) from None

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids of ``tokens``; an unknown token is a :class:`TTSTextError` naming it."""
        ids = self._ids
        try:
            return [ids[t] for t in tokens]
        except KeyError as exc:
            raise TTSTextError(self._unknown_symbol(exc.args[0])) from None

    def decode(self, ids: Sequence[int], *, skip_pad: bool = True) -> list[str]:
        """Tokens of ``ids`` (``<pad>`` left out unless ``skip_pad`` is false); an id out of
        range is a :class:`TTSTextError`."""
        n = len(self.symbols)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise TTSTextError(
                    f"Phoneme id {i} is outside the vocabulary (0..{n - 1}, stress={self.stress})."
                )
            if i == 0 and skip_pad:
                continue
            out.append(self.symbols[i])
        return out

    def _unknown_symbol(self, symbol: object) -> str:
        hint = ""
        if isinstance(symbol, str):
            if self.stress and symbol in _WITHOUT and symbol in VOWELS:
                hint = f" Vowels carry a stress digit here ({symbol}0, {symbol}1, {symbol}2)."
            elif not self.stress and symbol in _WITH:
                hint = f" This vocabulary has no stress digits (use {strip_stress(symbol)})."
        return (
            f"Token {symbol!r} is not in the phoneme vocabulary (stress={self.stress}, "
            f"{len(self)} symbols).{hint}"
        )
