"""Character vocabularies: text <-> token ids for CTC, and what to do with unknown characters."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ganglion_asr.errors import VocabularyError

#: The 28 labels of English character CTC models (space, a-z, apostrophe).
ENGLISH_LABELS: tuple[str, ...] = (" ", *"abcdefghijklmnopqrstuvwxyz", "'")

#: Ways to handle transcript characters that are not in the vocabulary.
UNKNOWN_CHAR_POLICIES = ("error", "skip_utterance", "drop_chars")

_SPACES = re.compile(r"\s+")


def normalize_text(text: str, *, lowercase: bool = True, keep: str = "'") -> str:
    """Plain transcript text: lowercase, punctuation turned to spaces, whitespace collapsed.

    Letters (of any script), digits and the characters in ``keep`` survive; everything else
    (punctuation, symbols) becomes a space, so ``"Hello, world!"`` becomes ``"hello world"``.
    Curly apostrophes are straightened first so ``"don’t"`` keeps its apostrophe.
    """
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u2018", "'")
    if lowercase:
        text = text.lower()
    chars = [ch if (ch in keep or unicodedata.category(ch)[0] in "LNM") else " " for ch in text]
    return _SPACES.sub(" ", "".join(chars)).strip()


@dataclass
class UnknownCharReport:
    """Characters found in transcripts but not in the vocabulary, with where they were seen."""

    counts: Counter[str] = field(default_factory=Counter)
    #: up to ``max_examples`` (location, text) pairs
    examples: list[tuple[str, str]] = field(default_factory=list)
    utterances: int = 0
    max_examples: int = 5

    def add(self, location: str, text: str, unknown: Iterable[str]) -> None:
        self.counts.update(unknown)
        self.utterances += 1
        if len(self.examples) < self.max_examples:
            self.examples.append((location, text))

    def __bool__(self) -> bool:
        return self.utterances > 0

    def summary(self) -> str:
        """One paragraph: how many characters and utterances, the worst offenders, examples."""
        chars = ", ".join(f"{ch!r} x{n}" for ch, n in self.counts.most_common(10))
        more = len(self.counts) - 10
        if more > 0:
            chars += f" and {more} more"
        examples = "; ".join(f"{loc}: {text!r}" for loc, text in self.examples)
        return (
            f"{sum(self.counts.values())} occurrences of {len(self.counts)} characters outside "
            f"the vocabulary in {self.utterances} utterances ({chars}). Examples: {examples}"
        )


class CharVocabulary:
    """A character vocabulary for CTC: ``labels[i]`` has id ``i``; the blank is ``len(labels)``.

    ``unknown_chars`` says what :meth:`check` does with characters outside ``labels``:
    ``"error"`` (raise, listing them), ``"skip_utterance"`` (drop the utterance) or
    ``"drop_chars"`` (delete the characters, keep the rest of the text).

    Example::

        vocab = CharVocabulary([" ", *"abc"])
        vocab.encode("cab")        # [3, 1, 2]
        vocab.decode([3, 1, 2])    # "cab"
        vocab.blank_id             # 4
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        unknown_chars: str = "error",
        lowercase: bool = True,
    ) -> None:
        labels = list(labels)
        bad = [lab for lab in labels if not isinstance(lab, str) or len(lab) != 1]
        if bad:
            raise VocabularyError(
                f"vocabulary labels must be single characters; got {bad[:5]!r}. Write labels as "
                "a list of one-character strings (e.g. [' ', 'a', 'b', ...])"
            )
        dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dupes:
            raise VocabularyError(f"vocabulary labels repeat {dupes!r}; each must appear once")
        if unknown_chars not in UNKNOWN_CHAR_POLICIES:
            raise VocabularyError(
                f"unknown_chars={unknown_chars!r} is not one of {', '.join(UNKNOWN_CHAR_POLICIES)}"
            )
        self.labels: list[str] = labels
        self.unknown_chars = unknown_chars
        self.lowercase = lowercase
        self._ids = {ch: i for i, ch in enumerate(labels)}

    @property
    def blank_id(self) -> int:
        """The CTC blank's id: one past the last label."""
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        """Number of output classes a decoder needs: the labels plus the blank."""
        return len(self.labels) + 1

    def __len__(self) -> int:
        return len(self.labels)

    def prepare(self, text: str) -> str:
        """The text as the vocabulary sees it (lowercased when configured, spaces collapsed)."""
        if self.lowercase:
            text = text.lower()
        return _SPACES.sub(" ", text).strip()

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` (already prepared) that are not labels."""
        return [ch for ch in text if ch not in self._ids]

    def check(self, text: str, location: str, report: UnknownCharReport) -> str | None:
        """Apply the unknown-character policy to one prepared transcript.

        Returns the text to keep, or ``None`` to skip the utterance. Unknown characters are
        recorded in ``report`` (the caller raises or warns once, with every example).
        """
        unknown = self.unknown(text)
        if not unknown:
            return text
        report.add(location, text, unknown)
        if self.unknown_chars == "drop_chars":
            return _SPACES.sub(" ", "".join(ch for ch in text if ch in self._ids)).strip()
        if self.unknown_chars == "skip_utterance":
            return None
        return text  # "error": the caller raises once every utterance has been seen

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; characters outside the vocabulary are an error."""
        try:
            return [self._ids[ch] for ch in text]
        except KeyError as exc:
            raise VocabularyError(
                f"character {exc.args[0]!r} in {text!r} is not in the vocabulary "
                f"{''.join(self.labels)!r}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of label ids (ids outside the labels, such as the blank, are skipped)."""
        n = len(self.labels)
        return "".join(self.labels[i] for i in ids if 0 <= i < n)
