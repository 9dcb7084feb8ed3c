"""A letter-to-sound model learned from a pronunciation dictionary: the fallback of the
grapheme-to-phoneme step for words the lexicon lacks.

It is a joint-sequence ("graphone") n-gram model, trained in two steps, both plain Python and
deterministic:

1. **Alignment.** Each word's letters are aligned to its phonemes, every letter giving no
   phoneme, one, or two (``x`` -> ``K S``). The letter -> phoneme-chunk probabilities start
   from the words with as many letters as phonemes (read one to one); a few rounds of hard
   expectation-maximisation then re-align every word by dynamic programming (Viterbi) and
   re-count. Stress digits are ignored while aligning and carried into the chunks after.
2. **Counting.** A word becomes a sequence of graphones, each a letter with its chunk
   (``x:K S``, ``e:``, ``a:EY1``), and the model counts every sequence of up to ``order``
   (5) graphones. Probabilities are interpolated with Witten-Bell smoothing: an n-gram's
   probability mixes its own relative frequency with the (n-1)-gram's, weighted by how many
   different graphones followed its history.

Predicting a word is a beam search over the graphones each of its letters can be (those seen
in training), scoring whole sequences under the n-gram model, end of word included; the best
sequence's chunks are the pronunciation, and :func:`fix_stress` leaves exactly one primary
stress.

The model file keeps only the highest-order counts (lower orders are their sums), so the
shipped model of the whole CMU dictionary is about a megabyte and loads in a couple of
seconds, once per process, the first time a word is missing from the lexicon.
``bench/bench_tts_g2p.py`` measures the accuracy on held-out dictionary words;
``plugins/tts/scripts/build_g2p_model.py`` writes the shipped model file.
"""

from __future__ import annotations

import gzip
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from ganglion_tts.text.errors import G2PModelError
from ganglion_tts.text.phonemes import is_phoneme, strip_stress

__all__ = ["LetterToSound", "align_dictionary", "fix_stress"]

FORMAT = "ganglion-tts letter-to-sound 1"
#: The letters a model reads; other characters of a word are skipped.
LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz'")
EPSILON = "_"  # the chunk of a letter that gives no phoneme (in files)

# Alignment scores (log probabilities) of a chunk never counted for a letter.
_FLOOR_ONE = math.log(1e-6)
_FLOOR_TWO = math.log(1e-7)
_FLOOR_EPS = math.log(1e-3)
_NEG = -1e30


# -- alignment -------------------------------------------------------------------------------


def _viterbi(word: str, phones: Sequence[str], scores) -> list[int] | None:
    """How many phonemes each letter of ``word`` takes (0, 1 or 2) in the best alignment,
    or ``None`` when no alignment exists."""
    n, m = len(word), len(phones)
    if m > 2 * n:
        return None
    pairs = [phones[j] + " " + phones[j + 1] for j in range(m - 1)]
    prev = [_NEG] * (m + 1)
    prev[0] = 0.0
    back: list[list[int]] = []
    for i in range(1, n + 1):
        eps, one, two = scores[word[i - 1]]
        cur = [_NEG] * (m + 1)
        choice = [0] * (m + 1)
        for j in range(max(0, m - 2 * (n - i)), min(m, 2 * i) + 1):
            best = prev[j] + eps
            took = 0
            if j >= 1:
                s = prev[j - 1] + one.get(phones[j - 1], _FLOOR_ONE)
                if s > best:
                    best, took = s, 1
                if j >= 2:
                    s = prev[j - 2] + two.get(pairs[j - 2], _FLOOR_TWO)
                    if s > best:
                        best, took = s, 2
            cur[j] = best
            choice[j] = took
        back.append(choice)
        prev = cur
    if prev[m] <= _NEG / 2:
        return None
    takes = [0] * n
    j = m
    for i in range(n - 1, -1, -1):
        t = back[i][j]
        takes[i] = t
        j -= t
    return takes


def _scores_from_counts(counts: dict[str, Counter[str]]):
    """Per letter: (log p(no phoneme), {phoneme: log p}, {"P Q": log p})."""
    scores = {}
    for letter in LETTERS:
        c = counts.get(letter, Counter())
        total = sum(c.values()) + 1.0
        eps = math.log((c.get("", 0) + 0.5) / total) if c.get("", 0) else _FLOOR_EPS
        one = {}
        two = {}
        for chunk, k in c.items():
            if not chunk:
                continue
            (two if " " in chunk else one)[chunk] = math.log(k / total)
        scores[letter] = (eps, one, two)
    return scores


def align_dictionary(
    entries: Sequence[tuple[str, Sequence[str]]], *, iterations: int = 4
) -> list[tuple[str, list[str]]]:
    """Align each ``(word, phonemes)`` (phonemes with stress digits); returns ``(word,
    labels)`` with one label per letter (``""``, ``"AH0"`` or ``"K S"``), for the words that
    could be aligned."""
    plain = [(w, [strip_stress(p) for p in ph]) for w, ph in entries]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for word, phones in plain:
        if len(word) == len(phones):
            for letter, phone in zip(word, phones):
                counts[letter][phone] += 1
    takes_of: list[list[int] | None] = []
    for _ in range(max(1, iterations)):
        scores = _scores_from_counts(counts)
        counts = defaultdict(Counter)
        takes_of = []
        for word, phones in plain:
            takes = _viterbi(word, phones, scores)
            takes_of.append(takes)
            if takes is None:
                continue
            j = 0
            for letter, t in zip(word, takes):
                counts[letter][" ".join(phones[j : j + t])] += 1
                j += t
    aligned = []
    for (word, phones), takes in zip(entries, takes_of):
        if takes is None:
            continue
        labels, j = [], 0
        for t in takes:
            labels.append(" ".join(phones[j : j + t]))
            j += t
        aligned.append((word, labels))
    return aligned


def fix_stress(phonemes: list[str]) -> list[str]:
    """Leave exactly one primary stress (``1``) on a word with vowels: extra primaries become
    secondary (``2``); with none, the first secondary (else the first vowel) becomes primary."""
    vowels = [i for i, p in enumerate(phonemes) if p[-1:].isdigit()]
    if not vowels:
        return phonemes
    out = list(phonemes)
    primaries = [i for i in vowels if out[i][-1] == "1"]
    for i in primaries[1:]:
        out[i] = out[i][:-1] + "2"
    if not primaries:
        secondaries = [i for i in vowels if out[i][-1] == "2"]
        i = secondaries[0] if secondaries else vowels[0]
        out[i] = out[i][:-1] + "1"
    return out


# -- the joint-sequence model ----------------------------------------------------------------

# A graphone id is coded as two bytes (big-endian), so an n-gram is a short bytes key; ids 0
# and 1 are the start and the end of a word.
_BOS, _EOS = 0, 1
_ID_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_VALUE = {c: i for i, c in enumerate(_ID_DIGITS)}
_MAX_IDS = len(_ID_DIGITS) ** 2  # ids are written as two of those digits in model files


def _code(i: int) -> bytes:
    return i.to_bytes(2, "big")


def _encode_grams(grams: dict[bytes, int]) -> str:
    """The n-gram lines of a model file: each id as two digits, then the count when not 1,
    sorted."""
    digits, base = _ID_DIGITS, len(_ID_DIGITS)
    lines = []
    for key, c in sorted(grams.items()):
        ids = (int.from_bytes(key[j : j + 2], "big") for j in range(0, len(key), 2))
        text = "".join(digits[i // base] + digits[i % base] for i in ids)
        lines.append(text if c == 1 else f"{text} {c}")
    return "\n".join(lines)


class LetterToSound:
    """A trained joint-sequence letter-to-sound model (see the module docstring).

    ``graphones`` lists ``(letter, chunk)`` pairs (ids from 2; the chunk ``""`` for a silent
    letter, ``"K S"`` for two phonemes); ``counts`` maps each highest-order n-gram (a tuple of
    graphone ids, the start of a word padded with id 0 and its end marked by id 1) to how often
    it was seen.
    """

    def __init__(
        self,
        graphones: Sequence[tuple[str, str]],
        counts: dict[tuple[int, ...], int],
        order: int,
    ) -> None:
        if order < 1:
            raise G2PModelError(f"A letter-to-sound model's order must be >= 1, got {order}.")
        n_ids = len(graphones) + 2
        if n_ids > _MAX_IDS:
            raise G2PModelError(f"Too many graphones ({len(graphones)}); at most {_MAX_IDS - 2}.")
        grams: dict[bytes, int] = {}
        for gram, c in counts.items():
            if len(gram) != order or not all(0 <= g < n_ids for g in gram):
                raise G2PModelError(
                    f"n-gram {gram} does not fit a model of order {order} with "
                    f"{len(graphones)} graphones."
                )
            grams[b"".join(_code(g) for g in gram)] = int(c)
        self._setup(tuple(graphones), grams, order)

    def _setup(
        self,
        graphones: tuple[tuple[str, str], ...],
        grams: dict[bytes, int],
        order: int,
        encoded: str | None = None,
    ) -> None:
        self.order = order
        self.graphones = graphones
        self._n_grams = len(grams)
        self._build(grams)
        # the counts are kept only as the model file writes them (a few MB, not a big dict)
        self._encoded = encoded if encoded is not None else _encode_grams(grams)

    @property
    def counts(self) -> dict[tuple[int, ...], int]:
        """The highest-order n-gram counts, keyed by tuples of graphone ids."""
        base, value, width = len(_ID_DIGITS), _ID_VALUE, 2 * self.order
        out = {}
        for line in self._encoded.splitlines():
            text, _, c = line.partition(" ")
            gram = tuple(value[text[i]] * base + value[text[i + 1]] for i in range(0, width, 2))
            out[gram] = int(c) if c else 1
        return out

    def _build(self, grams: dict[bytes, int]) -> None:
        """Log probabilities of every n-gram and log back-off weights of every history."""
        count: dict[bytes, int] = defaultdict(int)
        for key, c in grams.items():
            for k in range(2, len(key) + 1, 2):
                count[key[-k:]] += c
        total: dict[bytes, int] = defaultdict(int)
        types: dict[bytes, int] = defaultdict(int)
        for key, c in count.items():
            h = key[:-2]
            total[h] += c
            types[h] += 1
        # unigrams: add-half smoothing over every graphone that can be predicted
        n_ids = len(self.graphones) + 2
        uni_total = total[b""] + 0.5 * (n_ids - 1)
        logp: dict[bytes, float] = {}
        log, exp = math.log, math.exp
        for i in range(1, n_ids):
            logp[_code(i)] = log((count.get(_code(i), 0) + 0.5) / uni_total)
        for key in sorted((k for k in count if len(k) > 2), key=len):
            h = key[:-2]
            t = types[h]
            logp[key] = log((count[key] + t * exp(logp[key[2:]])) / (total[h] + t))
        self._logp = logp
        self._log_backoff = {h: log(types[h] / (total[h] + types[h])) for h in total if h}
        candidates: dict[str, list[tuple[bytes, str]]] = defaultdict(list)
        for i, (letter, chunk) in enumerate(self.graphones, 2):
            candidates[letter].append((_code(i), chunk))
        self._candidates = dict(candidates)

    # -- training ---------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        entries: Iterable[tuple[str, Sequence[str]]],
        *,
        order: int = 5,
        iterations: int = 4,
    ) -> LetterToSound:
        """Learn a model from ``(word, phonemes)`` pairs (one pronunciation a word, phonemes
        with stress digits). Words with characters other than ``a-z'`` are skipped."""
        if order < 1:
            raise G2PModelError(f"A letter-to-sound model's order must be >= 1, got {order}.")
        usable = []
        for word, phones in entries:
            word = word.lower()
            if word and set(word) <= LETTERS and phones:
                usable.append((word, list(phones)))
        if not usable:
            raise G2PModelError("No usable training words (letters a-z and ' with phonemes).")
        aligned = align_dictionary(usable, iterations=iterations)
        ids: dict[tuple[str, str], int] = {}
        for word, labels in aligned:
            for pair in zip(word, labels):
                if pair not in ids:
                    ids[pair] = 0
        graphones = sorted(ids)
        ids = {g: i for i, g in enumerate(graphones, 2)}
        counts: Counter[tuple[int, ...]] = Counter()
        pad = (_BOS,) * (order - 1)
        for word, labels in aligned:
            seq = pad + tuple(ids[pair] for pair in zip(word, labels)) + (_EOS,)
            counts.update(seq[i - order + 1 : i + 1] for i in range(order - 1, len(seq)))
        return cls(graphones, dict(counts), order)

    # -- prediction -------------------------------------------------------------------------

    def _score(self, history: bytes, code: bytes) -> float:
        logp, backoff = self._logp, self._log_backoff
        score = 0.0
        while True:
            found = logp.get(history + code)
            if found is not None:
                return score + found
            if not history:
                return score + math.log(1e-9)  # a graphone never seen at all
            score += backoff.get(history, 0.0)
            history = history[2:]

    def predict(self, word: str, *, stress: bool = True, beam: int = 20) -> list[str]:
        """Phonemes of ``word`` (lowercased; characters other than ``a-z'`` are skipped, and
        a word with none gives ``[]``)."""
        word = "".join(c for c in word.lower() if c in LETTERS)
        if not word:
            return []
        keep = 2 * (self.order - 1)
        # history (the last order-1 graphone codes) -> (log probability, chunks so far)
        hyps: dict[bytes, tuple[float, tuple[str, ...]]] = {
            _code(_BOS) * (self.order - 1): (0.0, ())
        }
        score = self._score
        for letter in word:
            options = self._candidates.get(letter)
            if not options:
                continue  # a letter the training words never had: silent
            grown: dict[bytes, tuple[float, tuple[str, ...]]] = {}
            for history, (s, chunks) in hyps.items():
                for code, chunk in options:
                    total = s + score(history, code)
                    nxt = (history + code)[-keep:] if keep else b""
                    old = grown.get(nxt)
                    if old is None or total > old[0]:
                        grown[nxt] = (total, (*chunks, chunk))
            hyps = dict(heapq.nlargest(beam, grown.items(), key=lambda kv: kv[1][0]))
        end = _code(_EOS)
        _, best = max(
            ((s + score(h, end), chunks) for h, (s, chunks) in hyps.items()),
            key=lambda sc: sc[0],
        )
        phones = fix_stress([p for chunk in best if chunk for p in chunk.split(" ")])
        return phones if stress else [strip_stress(p) for p in phones]

    # -- files ------------------------------------------------------------------------------

    def save(self, path: str | PathLike[str]) -> None:
        """Write the model as gzip text, the same bytes for the same model; written to a
        temporary file and renamed, so a failure leaves no half-written model."""
        lines = [FORMAT, f"order {self.order}", f"graphones {len(self.graphones)}"]
        lines += [f"{letter}\t{chunk or EPSILON}" for letter, chunk in self.graphones]
        lines.append(f"ngrams {self._n_grams}")
        data = ("\n".join(lines) + "\n" + self._encoded + "\n").encode("utf-8")
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh,
            ):
                fh.write(data)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> LetterToSound:
        """Read a model written by :meth:`save`; a missing or malformed file is a
        :class:`G2PModelError` naming it."""
        path = Path(path)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise G2PModelError(f"Cannot read the letter-to-sound model {path}: {exc}") from exc
        try:
            if not lines or lines[0] != FORMAT:
                raise ValueError(f"the first line is not {FORMAT!r}")
            order = int(lines[1].removeprefix("order "))
            n_graphones = int(lines[2].removeprefix("graphones "))
            graphones = []
            for number in range(3, 3 + n_graphones):
                letter, sep, chunk = lines[number].partition("\t")
                chunk = "" if chunk == EPSILON else chunk
                if (
                    not sep
                    or letter not in LETTERS
                    or not all(is_phoneme(p, stress=True) for p in chunk.split())
                ):
                    raise ValueError(f"line {number + 1} is not a graphone 'letter<TAB>chunk'")
                graphones.append((letter, chunk))
            at = 3 + n_graphones
            n_grams = int(lines[at].removeprefix("ngrams "))
            if len(lines) != at + 1 + n_grams:
                raise ValueError(f"{n_grams} n-grams announced, {len(lines) - at - 1} found")
            width = 2 * order
            value, base, n_ids = _ID_VALUE, len(_ID_DIGITS), n_graphones + 2
            codes = [_code(i) for i in range(n_ids)]
            grams: dict[bytes, int] = {}
            for line in lines[at + 1 :]:
                text, _, c = line.partition(" ")
                if len(text) != width:
                    raise ValueError(f"n-gram {text!r} is not {order} graphone ids")
                grams[
                    b"".join(
                        codes[value[text[i]] * base + value[text[i + 1]]]
                        for i in range(0, width, 2)
                    )
                ] = int(c) if c else 1
        except (ValueError, IndexError, KeyError) as exc:
            raise G2PModelError(
                f"The letter-to-sound model {path} is malformed: {exc}. Rebuild it with "
                "plugins/tts/scripts/build_g2p_model.py."
            ) from exc
        model = cls.__new__(cls)
        model._setup(tuple(graphones), grams, order, "\n".join(lines[at + 1 :]))
        return model

    def __repr__(self) -> str:
        return (
            f"LetterToSound(order={self.order}, graphones={len(self.graphones)}, "
            f"ngrams={self._n_grams})"
        )
