"""Word n-gram language models: trained with interpolated Kneser-Ney, read and written as ARPA.

ARPA is the text format of SRILM and KenLM, so a model built by ``lmplz`` (KenLM) loads here
and a model trained here loads there. Probabilities are stored as log10, as ARPA does;
:meth:`NGramLanguageModel.score` answers in natural log so it adds to CTC log-probabilities.

Example::

    lm = NGramLanguageModel.train(["one two three", "two two one"], order=3)
    lm.save("digits.arpa")
    lm = NGramLanguageModel.load("digits.arpa")
    lm.score(("<s>", "one"), "two")        # ln P(two | <s> one)
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from ganglion.errors import GanglionError

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
_LN10 = math.log(10.0)
#: log10 probability ARPA files give ``<s>`` (never predicted) and words the model lacks
_NEVER = -99.0
#: log10 probability of a word outside a model that has no ``<unk>`` entry
UNKNOWN_WORD_LOG10 = -10.0


class LanguageModelError(GanglionError, ValueError):
    """A language model file is missing, malformed, or its settings are wrong."""


class NGramLanguageModel:
    """A back-off word n-gram model: ``probs[n][ngram] = (log10 P, log10 back-off)``.

    Build one with :meth:`train` (from texts), :meth:`train_from_file` (a text file, one
    sentence a line, or a manifest's ``text`` fields) or :meth:`load` (an ARPA file).
    """

    def __init__(self, ngrams: dict[int, dict[tuple[str, ...], tuple[float, float]]]) -> None:
        if not ngrams or 1 not in ngrams:
            raise LanguageModelError("a language model needs unigrams")
        self.order = max(ngrams)
        self.ngrams = ngrams
        self._cache: dict[tuple[tuple[str, ...], str], float] = {}

    # -- scoring ----------------------------------------------------------------------------
    def log10_prob(self, history: Sequence[str], word: str) -> float:
        """log10 P(word | history) with ARPA back-off; ``history`` oldest word first."""
        history = tuple(history)[-(self.order - 1) :] if self.order > 1 else ()
        unigrams = self.ngrams[1]
        if (word,) not in unigrams:
            unk = unigrams.get((UNK,))
            return unk[0] if unk is not None else UNKNOWN_WORD_LOG10
        backoff = 0.0
        for start in range(len(history) + 1):
            context = history[start:]
            entry = self.ngrams.get(len(context) + 1, {}).get((*context, word))
            if entry is not None:
                return backoff + entry[0]
            ctx = self.ngrams.get(len(context), {}).get(context)
            if ctx is not None:
                backoff += ctx[1]
        return backoff + unigrams[(word,)][0]  # pragma: no cover - the loop ends on unigrams

    def score(self, history: Sequence[str], word: str) -> float:
        """Natural-log P(word | history) (cached)."""
        key = (tuple(history)[-(self.order - 1) :] if self.order > 1 else (), word)
        value = self._cache.get(key)
        if value is None:
            value = self.log10_prob(key[0], word) * _LN10
            self._cache[key] = value
        return value

    def sentence_log10_prob(self, words: Sequence[str]) -> float:
        """log10 P of a whole sentence, ``<s>`` and ``</s>`` included."""
        history = [BOS]
        total = 0.0
        for word in [*words, EOS]:
            total += self.log10_prob(history, word)
            history.append(word)
        return total

    def __contains__(self, word: str) -> bool:
        return (word,) in self.ngrams[1]

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def train(cls, sentences: Iterable[str], order: int = 3) -> NGramLanguageModel:
        """An interpolated Kneser-Ney model of ``sentences`` (whitespace-separated words).

        Each order's discount is ``n1 / (n1 + 2 n2)`` from its count-of-counts (0.5 when the
        data are too small to estimate it); lower orders use continuation counts except for
        n-grams that start with ``<s>``, which keep their plain counts.
        """
        if order < 1:
            raise LanguageModelError(f"order must be at least 1, got {order}")
        raw: dict[int, Counter[tuple[str, ...]]] = {n: Counter() for n in range(1, order + 1)}
        n_sentences = 0
        for sentence in sentences:
            words = sentence.split()
            if not words:
                continue
            n_sentences += 1
            tokens = [BOS, *words, EOS]
            for i in range(1, len(tokens)):
                for n in range(1, min(order, i + 1) + 1):
                    raw[n][tuple(tokens[i - n + 1 : i + 1])] += 1
        if n_sentences == 0:
            raise LanguageModelError("no words to train a language model on")
        # Kneser-Ney counts: below the top order, how many distinct words precede an n-gram
        counts: dict[int, Counter[tuple[str, ...]]] = {order: raw[order]}
        for n in range(order - 1, 0, -1):
            left: Counter[tuple[str, ...]] = Counter()
            for gram in raw[n + 1]:
                left[gram[1:]] += 1
            counts[n] = Counter({g: (c if g[0] == BOS else left[g]) for g, c in raw[n].items()})
        counts[1][(UNK,)] += 0
        counts[1].pop((BOS,), None)
        vocab = [g for g in counts[1]]
        probs: dict[int, dict[tuple[str, ...], tuple[float, float]]] = {}
        lower_prob: dict[tuple[str, ...], float] = {}
        uniform = 1.0 / len(vocab)
        for n in range(1, order + 1):
            table = {g: c for g, c in counts[n].items() if c > 0 or n == 1}
            discount = _discount(table.values())
            totals: Counter[tuple[str, ...]] = Counter()
            types: Counter[tuple[str, ...]] = Counter()
            for gram, c in table.items():
                totals[gram[:-1]] += c
                if c > 0:
                    types[gram[:-1]] += 1
            gamma = {h: discount * types[h] / totals[h] for h in totals if totals[h] > 0}
            level: dict[tuple[str, ...], float] = {}
            for gram, c in table.items():
                h = gram[:-1]
                below = uniform if n == 1 else _lower(lower_prob, gram[1:], uniform)
                level[gram] = max(c - discount, 0.0) / totals[h] + gamma[h] * below
            probs[n] = {g: (math.log10(p), 0.0) for g, p in level.items()}
            if n > 1:  # back-off weights of the contexts, on the lower order's lines
                for h, g in gamma.items():
                    p, _ = probs[n - 1].get(h, (_NEVER, 0.0))
                    probs[n - 1][h] = (p, math.log10(g) if g > 0 else _NEVER)
            lower_prob = {**lower_prob, **level}
        probs[1][(BOS,)] = (_NEVER, probs[1].get((BOS,), (0.0, 0.0))[1])
        return cls(probs)

    @classmethod
    def train_from_file(cls, path: str | os.PathLike[str], order: int = 3) -> NGramLanguageModel:
        """Train on a text file (one sentence a line) or a manifest (its ``text`` fields)."""
        from ganglion_asr.data.manifest import read_manifest

        path = Path(path)
        if not path.is_file():
            raise LanguageModelError(f"LM training text {path} does not exist")
        head = path.read_text(encoding="utf-8", errors="replace").lstrip()[:1]
        if head == "{":
            texts = [entry.text for entry in read_manifest(path)]
        else:
            texts = path.read_text(encoding="utf-8").splitlines()
        return cls.train(texts, order=order)

    # -- ARPA -------------------------------------------------------------------------------
    def to_arpa(self) -> str:
        """The model as ARPA text."""
        lines = ["", "\\data\\"]
        lines += [f"ngram {n}={len(self.ngrams[n])}" for n in range(1, self.order + 1)]
        for n in range(1, self.order + 1):
            lines += ["", f"\\{n}-grams:"]
            for gram, (p, bow) in sorted(self.ngrams[n].items()):
                row = f"{p:.6f}\t{' '.join(gram)}"
                if n < self.order and bow != 0.0:
                    row += f"\t{bow:.6f}"
                lines.append(row)
        lines += ["", "\\end\\", ""]
        return "\n".join(lines)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as an ARPA file (atomically)."""
        from ganglion.archive import atomic_write_text

        atomic_write_text(path, self.to_arpa())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NGramLanguageModel:
        """Read an ARPA file; a missing or malformed one raises naming the file and line."""
        path = Path(path)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise LanguageModelError(f"language model {path} {what}; give an ARPA file")
        if path.suffix in (".bin", ".binary", ".klm"):
            raise LanguageModelError(
                f"language model {path}: binary KenLM models are not read; give the ARPA text "
                "(lmplz writes it; build_binary is not needed)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise LanguageModelError(
                f"language model {path}: not UTF-8 text (byte {exc.start}); give an ARPA file"
            ) from None
        return cls.from_arpa(text, source=str(path))

    @classmethod
    def from_arpa(cls, text: str, source: str = "<arpa>") -> NGramLanguageModel:
        """Parse ARPA text; ``source`` names it in errors."""
        expected: dict[int, int] = {}
        ngrams: dict[int, dict[tuple[str, ...], tuple[float, float]]] = {}
        section: str | int | None = None
        ended = False

        def fail(number: int, why: str) -> LanguageModelError:
            return LanguageModelError(f"language model {source}, line {number}: {why}")

        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or ended:
                continue
            if line == "\\data\\":
                section = "data"
                continue
            if line == "\\end\\":
                ended = True
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                try:
                    section = int(line[1:-7])
                except ValueError:
                    raise fail(number, f"bad section header {line!r}") from None
                if section not in expected:
                    raise fail(number, f"section {line} is not announced under \\data\\")
                ngrams[section] = {}
                continue
            if section is None:
                continue  # a header before \\data\\ (some tools write one) is skipped
            if section == "data":
                key, _, value = line.partition("=")
                parts = key.split()
                if len(parts) != 2 or parts[0] != "ngram":
                    raise fail(number, f"expected 'ngram N=COUNT', got {line!r}")
                try:
                    expected[int(parts[1])] = int(value)
                except ValueError:
                    raise fail(number, f"expected 'ngram N=COUNT', got {line!r}") from None
                continue
            assert isinstance(section, int)
            fields = line.split()
            if len(fields) not in (section + 1, section + 2):
                raise fail(
                    number,
                    f"a {section}-gram line needs a log10 probability, {section} words and an "
                    f"optional back-off; got {line!r}",
                )
            try:
                prob = float(fields[0])
                bow = float(fields[section + 1]) if len(fields) == section + 2 else 0.0
            except ValueError:
                raise fail(number, f"probability or back-off is not a number in {line!r}") from None
            if prob > 0.0 or math.isnan(prob):
                raise fail(number, f"log10 probability {prob} is not <= 0 in {line!r}")
            if not math.isfinite(bow):
                raise fail(number, f"back-off weight {bow} is not a finite number in {line!r}")
            ngrams[section][tuple(fields[1 : section + 1])] = (prob, bow)
        if not expected:
            raise LanguageModelError(f"language model {source}: no \\data\\ section; not ARPA")
        if not ended:
            raise LanguageModelError(
                f"language model {source}: no \\end\\ line; the file is cut short"
            )
        for n, count in sorted(expected.items()):
            got = len(ngrams.get(n, {}))
            if got != count:
                raise LanguageModelError(
                    f"language model {source}: \\data\\ announces {count} {n}-grams but the "
                    f"file holds {got}; the file is cut short or edited"
                )
        if 1 not in ngrams:
            raise LanguageModelError(f"language model {source}: no unigrams")
        return cls(ngrams)


def _strip_bos(gram: tuple[str, ...]) -> tuple[str, ...]:
    """``(<s>, <s>, w)`` -> ``(<s>, w)``: one sentence start is history enough."""
    i = 0
    while i + 1 < len(gram) and gram[i] == BOS and gram[i + 1] == BOS:
        i += 1
    return gram[i:]


def _lower(probs: dict[tuple[str, ...], float], gram: tuple[str, ...], uniform: float) -> float:
    """The interpolated probability of ``gram``, backing off to shorter ones."""
    while gram:
        p = probs.get(gram)
        if p is not None:
            return p
        gram = gram[1:]
    return uniform


def _discount(values: Iterable[float]) -> float:
    """Kneser-Ney's absolute discount ``n1 / (n1 + 2 n2)``, 0.5 when it cannot be estimated."""
    hist: defaultdict[float, int] = defaultdict(int)
    for v in values:
        hist[v] += 1
    n1, n2 = hist[1], hist[2]
    if n1 == 0 or n2 == 0:
        return 0.5
    return min(max(n1 / (n1 + 2 * n2), 0.1), 0.9)
