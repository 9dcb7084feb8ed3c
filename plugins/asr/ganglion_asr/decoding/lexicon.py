"""Word lists for constrained decoding: a prefix trie over the labels' characters."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ganglion.errors import GanglionError


class WordListError(GanglionError, ValueError):
    """A word list is missing, empty, or holds characters the model cannot emit."""


class WordList:
    """The words a decoder may emit, as a prefix trie.

    Node 0 is the root; :meth:`step` follows one character (``-1``: no listed word goes on
    that way); :meth:`is_word` says whether a node ends a listed word.

    Example::

        words = WordList(["one", "two"], labels=[" ", *"abcdefghijklmnopqrstuvwxyz"])
        node = words.step(words.step(0, "o"), "n")     # a node: "on" starts "one"
        words.step(node, "x")                           # -1
    """

    def __init__(
        self,
        words: Iterable[str],
        labels: Sequence[str] | None = None,
        *,
        source: str = "word list",
        line_numbers: Sequence[int] | None = None,
    ) -> None:
        allowed = set(labels) - {" "} if labels is not None else None
        self._children: list[dict[str, int]] = [{}]
        self._ends: list[bool] = [False]
        self.words: list[str] = []
        for index, word in enumerate(words):
            where = f"{source}, line {line_numbers[index]}" if line_numbers is not None else source
            if not word or any(ch.isspace() for ch in word):
                raise WordListError(f"{where}: {word!r} is not one word; list one word a line")
            if allowed is not None:
                bad = sorted({ch for ch in word if ch not in allowed})
                if bad:
                    raise WordListError(
                        f"{where}: word {word!r} has characters outside the model's labels "
                        f"({', '.join(repr(c) for c in bad)}); the model can never emit it. "
                        "Fix the spelling (the labels are lowercase?) or remove the word"
                    )
            self._add(word)
        if not self.words:
            raise WordListError(f"{source}: no words; list one word a line")

    def _add(self, word: str) -> None:
        node = 0
        for ch in word:
            nxt = self._children[node].get(ch)
            if nxt is None:
                nxt = len(self._children)
                self._children[node][ch] = nxt
                self._children.append({})
                self._ends.append(False)
            node = nxt
        if not self._ends[node]:
            self._ends[node] = True
            self.words.append(word)

    def step(self, node: int, char: str) -> int:
        """The node after ``char`` from ``node``, or -1 when no listed word continues so."""
        return self._children[node].get(char, -1)

    def is_word(self, node: int) -> bool:
        return node >= 0 and self._ends[node]

    def __contains__(self, word: str) -> bool:
        node = 0
        for ch in word:
            node = self.step(node, ch)
            if node < 0:
                return False
        return self._ends[node]

    def __len__(self) -> int:
        return len(self.words)

    def closest(self, word: str) -> str:
        """The listed word nearest ``word`` by edit distance (the first listed on a tie)."""
        return min(self.words, key=lambda w: _edit_distance(word, w))

    def snap(self, text: str) -> str:
        """``text`` with each unlisted word replaced by the closest listed one."""
        return " ".join(w if w in self else self.closest(w) for w in text.split())

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], labels: Sequence[str] | None = None
    ) -> WordList:
        """One word a line (blank lines skipped; a second column, e.g. a count, is ignored)."""
        path = Path(path)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise WordListError(f"word list {path} {what}; give a text file, one word a line")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise WordListError(f"word list {path}: not UTF-8 text (byte {exc.start})") from None
        words, numbers = [], []
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if fields:
                words.append(fields[0])
                numbers.append(number)
        return cls(words, labels, source=f"word list {path}", line_numbers=numbers)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
