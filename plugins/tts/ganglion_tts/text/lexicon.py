"""Pronunciation lexicons: the CMU Pronouncing Dictionary shipped with the plugin, plus user
entries that add words or override them.

The file format is the CMU dictionary's: one pronunciation a line, the word then its ARPAbet
phonemes separated by whitespace, vowels with a stress digit (0 none, 1 primary, 2 secondary)::

    tomato  T AH0 M EY1 T OW2
    tomato(2)  T AH0 M AA1 T OW2   # an alternate: listed after the first
    ;;; a comment line (the older CMU style)

Text after ``#`` is a comment; ``word(N)`` lines add alternates in file order. Words are kept
lowercase. The shipped dictionary (with ``data/supplement.dict``, a dozen words the normaliser
says that it lacks) is read once per process on first use (about 0.2 s), never at import.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path

from ganglion_tts.text.errors import LexiconError
from ganglion_tts.text.phonemes import VOWELS, is_phoneme

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The vendored CMU Pronouncing Dictionary (BSD licence: ``data/CMUDICT_LICENSE``).
CMUDICT_PATH = DATA_DIR / "cmudict.dict.gz"
#: Words the normaliser produces that the CMU dictionary lacks (``quadrillion``, ``miz`` ...).
SUPPLEMENT_PATH = DATA_DIR / "supplement.dict"

# A word's pronunciations are held as one string, alternates joined by "|": 135 k small
# strings load faster and weigh less than a million phoneme strings in tuples.
_ALT = "|"

_cmudict: dict[str, str] | None = None
_cmudict_lock = threading.Lock()


def cmudict_entries() -> dict[str, str]:
    """The shipped dictionary as ``word -> "PH PH PH|PH PH"`` (alternates joined by ``|``),
    with the shipped supplement's words added; read on the first call and shared by every
    later one (thread-safe)."""
    global _cmudict
    if _cmudict is None:
        with _cmudict_lock:
            if _cmudict is None:
                entries = _read_trusted(CMUDICT_PATH)
                for word, prons in read_lexicon_file(SUPPLEMENT_PATH).items():
                    entries.setdefault(word, prons)
                _cmudict = entries
    return _cmudict


def _read_trusted(path: Path) -> dict[str, str]:
    """Parse the shipped dictionary without validating each symbol (the tests check it)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LexiconError(
            f"Cannot read the CMU dictionary at {path}: {exc}. The file ships with "
            "ganglion-tts (package data); reinstall the plugin."
        ) from exc
    entries: dict[str, str] = {}
    get = entries.get
    for line in text.splitlines():
        if "#" in line:
            line = line[: line.index("#")]
        word, _, pron = line.partition(" ")
        pron = pron.strip()
        if not pron:
            continue
        if word[-1] == ")":
            word = word[: word.rindex("(")]
        old = get(word)
        entries[word] = pron if old is None else old + _ALT + pron
    return entries


def parse_lexicon(lines: Iterable[str], *, source: str = "<lexicon>") -> dict[str, str]:
    """Parse lexicon lines (the format of this module's docstring), checking every symbol.

    Returns ``word -> pronunciations joined by "|"``. A malformed line is a
    :class:`LexiconError` naming ``source``, the line number and the fault.
    """
    entries: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        parts = line.split()
        word = parts[0].lower()
        if word.endswith(")") and "(" in word:
            base, _, tag = word[:-1].rpartition("(")
            if not base or not tag.isdigit():
                raise LexiconError(
                    f"{source}:{number}: {parts[0]!r} is not a word or an alternate 'word(N)'."
                )
            word = base
        phonemes = parts[1:]
        if not phonemes:
            raise LexiconError(f"{source}:{number}: {parts[0]!r} has no phonemes.")
        for p in phonemes:
            if not is_phoneme(p, stress=True):
                if p in VOWELS:
                    why = f"vowel {p!r} needs a stress digit ({p}0, {p}1 or {p}2)"
                else:
                    why = f"{p!r} is not an ARPAbet phoneme"
                raise LexiconError(f"{source}:{number}: {why} in the entry for {word!r}.")
        pron = " ".join(phonemes)
        old = entries.get(word)
        entries[word] = pron if old is None else old + _ALT + pron
    return entries


def read_lexicon_file(path: str | PathLike[str]) -> dict[str, str]:
    """Parse a lexicon file (plain text, or gzip when the name ends in ``.gz``)."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"Cannot read the lexicon file {path}: {exc}") from exc
    return parse_lexicon(lines, source=str(path))


class Lexicon:
    """Words to pronunciations: a base dictionary (the shipped CMU dictionary unless
    ``cmudict=False``) with user entries on top.

    A user entry replaces every base pronunciation of its word; a word may be given several
    pronunciations (``word`` then ``word(2)`` lines, or a list). ``user`` is a lexicon file or
    a mapping ``word -> phonemes``: a string ``"T AH0 M EY1 T OW2"``, a sequence of single
    phonemes, or a list of pronunciations (strings or sequences) for alternates.

    >>> lex = Lexicon(user={"ganglion": "G AE1 NG G L IY0 AH0 N"})
    >>> lex.lookup("Ganglion")
    [('G', 'AE1', 'NG', 'G', 'L', 'IY0', 'AH0', 'N')]
    """

    def __init__(
        self,
        user: str | PathLike[str] | Mapping[str, object] | None = None,
        *,
        cmudict: bool = True,
    ) -> None:
        self._use_cmudict = bool(cmudict)
        self._user: dict[str, str] = {}
        if user is not None:
            self.update(user)

    # -- building ---------------------------------------------------------------------------

    def update(self, user: str | PathLike[str] | Mapping[str, object]) -> Lexicon:
        """Add or override entries from a lexicon file or a mapping; returns ``self``."""
        if isinstance(user, Mapping):
            entries = {}
            for word, prons in user.items():
                entries.update(self._entry_from_python(word, prons))
        else:
            entries = read_lexicon_file(user)
        self._user.update(entries)
        return self

    def add(self, word: str, *pronunciations: str | Sequence[str]) -> None:
        """Set ``word``'s pronunciations (replacing any it had)."""
        if not pronunciations:
            raise LexiconError(f"No pronunciation given for {word!r}.")
        self._user.update(self._entry_from_python(word, list(pronunciations)))

    @staticmethod
    def _entry_from_python(word: object, prons: object) -> dict[str, str]:
        if not isinstance(word, str) or not word.strip():
            raise LexiconError(f"A lexicon word must be a non-empty string, got {word!r}.")
        if isinstance(prons, str):
            prons = [prons]
        elif (
            isinstance(prons, Sequence)
            and prons
            and all(isinstance(p, str) and len(p.split()) == 1 for p in prons)
        ):
            prons = [prons]  # a sequence of single phonemes is one pronunciation
        if not isinstance(prons, Sequence) or not prons:
            raise LexiconError(f"Lexicon entry {word!r}: give phonemes, got {prons!r}.")
        lines = []
        for pron in prons:
            text = pron if isinstance(pron, str) else " ".join(map(str, pron))
            lines.append(f"{word.strip()} {text}")
        return parse_lexicon(lines, source=f"lexicon entry {word!r}")

    # -- lookups ----------------------------------------------------------------------------

    def _raw(self, word: str) -> str | None:
        raw = self._user.get(word)
        if raw is None and self._use_cmudict:
            raw = cmudict_entries().get(word)
        return raw

    def lookup(self, word: str) -> list[tuple[str, ...]]:
        """Every pronunciation of ``word`` (case-insensitive), first the usual one; ``[]``
        when the word is not in the lexicon."""
        raw = self._raw(word.lower())
        if raw is None:
            return []
        return [tuple(p.split()) for p in raw.split(_ALT)]

    def first(self, word: str) -> str | None:
        """The first pronunciation of ``word`` (already lowercase) as one space-separated
        string, or ``None``: the frontend's fast path."""
        raw = self._raw(word)
        if raw is None:
            return None
        cut = raw.find(_ALT)
        return raw if cut < 0 else raw[:cut]

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._raw(word.lower()) is not None

    def __getitem__(self, word: str) -> list[tuple[str, ...]]:
        prons = self.lookup(word)
        if not prons:
            raise KeyError(word)
        return prons

    def words(self) -> Iterator[str]:
        """Every word, the user's first, then the base dictionary's not overridden."""
        yield from self._user
        if self._use_cmudict:
            user = self._user
            yield from (w for w in cmudict_entries() if w not in user)

    def __iter__(self) -> Iterator[str]:
        return self.words()

    def __len__(self) -> int:
        if not self._use_cmudict:
            return len(self._user)
        base = cmudict_entries()
        return len(base) + sum(1 for w in self._user if w not in base)

    @property
    def user_words(self) -> tuple[str, ...]:
        """The words given by the user (added or overridden)."""
        return tuple(self._user)

    def __repr__(self) -> str:
        base = "cmudict" if self._use_cmudict else "no base"
        return f"Lexicon({base}, {len(self._user)} user entries)"
