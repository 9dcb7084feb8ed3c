"""CTC prefix beam search, with an optional word list (prefix trie) and word n-gram LM.

Each hypothesis is a label prefix with two acoustic scores (ending in blank / in a label, so
repeats merge as CTC says); at a word boundary (the space label, and the end of the
utterance) the finished word is checked against the word list and scored by the LM::

    score = ln P_ctc(prefix) + alpha * ln P_lm(words) + beta * len(words)

Per frame only the labels whose log-probability is above ``prune_logp`` (and among the
``prune_topk`` best, when set) are tried, which keeps the search fast on a CPU.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ganglion.errors import GanglionError
from ganglion_asr.data.vocab import CharVocabulary
from ganglion_asr.decoding.lexicon import WordList
from ganglion_asr.decoding.ngram import BOS, EOS, NGramLanguageModel

_NEG_INF = float("-inf")


class DecodingError(GanglionError, ValueError):
    """A decoder setting is wrong (beam size, weights, inputs of the wrong shape)."""


def _logaddexp(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@dataclass(frozen=True)
class Hypothesis:
    """One beam search result: ``score = acoustic_score + lm_score``."""

    text: str
    score: float
    acoustic_score: float
    lm_score: float
    ids: tuple[int, ...]


@dataclass(frozen=True)
class _Words:
    """What a prefix says in words: LM/bonus score so far, finished words, the open word."""

    lm_score: float
    words: tuple[str, ...]
    partial: str
    node: int


def ctc_beam_search(
    log_probs: np.ndarray | torch.Tensor,
    labels: Sequence[str],
    blank_id: int,
    *,
    beam_size: int = 8,
    word_list: WordList | None = None,
    lm: NGramLanguageModel | None = None,
    alpha: float = 0.5,
    beta: float = 1.0,
    prune_logp: float | None = -10.0,
    prune_topk: int | None = None,
) -> list[Hypothesis]:
    """Beam search over one utterance's log-probabilities ``[T, C]``; best first.

    ``labels[i]`` is the character of label ``i`` (the space ends a word); ``blank_id`` the
    blank's column. With ``word_list``, a prefix whose open word starts no listed word is
    dropped, as is one whose last word is unlisted at the end. ``alpha`` weighs the LM's
    natural-log word probabilities; ``beta`` is added per word (either only with a word list
    or an LM). Returns up to ``beam_size`` hypotheses.
    """
    if beam_size < 1:
        raise DecodingError(f"beam_size must be at least 1, got {beam_size}")
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().float().cpu().numpy()
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise DecodingError(f"log_probs must be [T, C], got shape {tuple(log_probs.shape)}")
    n_classes = log_probs.shape[1]
    if not 0 <= blank_id < n_classes:
        raise DecodingError(f"blank_id {blank_id} is outside the {n_classes} classes")
    space = labels.index(" ") if " " in labels else -1
    words_on = word_list is not None or lm is not None

    start = _Words(0.0, (), "", 0)
    meta: dict[tuple[int, ...], _Words | None] = {(): start}

    def extend(prefix: tuple[int, ...], state: _Words, label: int) -> _Words | None:
        if label == space:
            if not words_on:
                return state
            if not state.partial:
                return None  # no leading or doubled spaces when words are scored
            return _finish(state, word_list, lm, alpha, beta)
        if label >= len(labels):
            return None
        char = labels[label]
        node = 0
        if word_list is not None:
            node = word_list.step(state.node, char)
            if node < 0:
                return None
        return _Words(state.lm_score, state.words, state.partial + char, node)

    # prefix -> [ln P(ending in blank), ln P(ending in a label)]
    beam: dict[tuple[int, ...], list[float]] = {(): [0.0, _NEG_INF]}
    candidates_all = [c for c in range(n_classes) if c != blank_id]
    for row_array in log_probs:
        if prune_logp is not None or prune_topk is not None:
            order = np.argsort(-row_array)
            keep = [int(c) for c in order if c != blank_id]
            if prune_topk is not None:
                keep = keep[:prune_topk]
            if prune_logp is not None:
                best = keep[:1]
                keep = [c for c in keep if row_array[c] >= prune_logp] or best
            candidates = keep
        else:
            candidates = candidates_all
        row = row_array.tolist()
        blank_lp = row[blank_id]
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_b, p_nb) in beam.items():
            total = _logaddexp(p_b, p_nb)
            entry = nxt.setdefault(prefix, [_NEG_INF, _NEG_INF])
            entry[0] = _logaddexp(entry[0], total + blank_lp)
            last = prefix[-1] if prefix else -1
            for c in candidates:
                lp = row[c]
                if c == last:
                    entry[1] = _logaddexp(entry[1], p_nb + lp)  # a repeat merges
                    if p_b == _NEG_INF:
                        continue
                    score = p_b + lp  # the same label again, after a blank
                else:
                    score = total + lp
                new = (*prefix, c)
                if new not in meta:
                    state = meta[prefix]
                    meta[new] = None if state is None else extend(prefix, state, c)
                if meta[new] is None:
                    continue
                target = nxt.setdefault(new, [_NEG_INF, _NEG_INF])
                target[1] = _logaddexp(target[1], score)
        if len(nxt) > beam_size:
            ranked = heapq.nlargest(
                beam_size,
                nxt.items(),
                key=lambda kv: _logaddexp(kv[1][0], kv[1][1]) + meta[kv[0]].lm_score,  # type: ignore[union-attr]
            )
            beam = dict(ranked)
        else:
            beam = nxt

    results: list[Hypothesis] = []
    fallback: list[Hypothesis] = []
    for prefix, (p_b, p_nb) in beam.items():
        acoustic = _logaddexp(p_b, p_nb)
        state = meta[prefix]
        assert state is not None
        final: _Words | None = state
        if words_on:
            if state.partial:
                final = _finish(state, word_list, lm, alpha, beta)
            if final is not None and lm is not None:
                history = (BOS, *final.words)
                final = _Words(final.lm_score + alpha * lm.score(history, EOS), final.words, "", 0)
        text = " ".join(final.words) if (words_on and final is not None) else _text(prefix, labels)
        target = results if final is not None else fallback
        lm_score = final.lm_score if final is not None else state.lm_score
        if final is None:
            text = " ".join(state.words)  # the listed words, without the unlisted last one
        target.append(Hypothesis(text, acoustic + lm_score, acoustic, lm_score, prefix))
    # every hypothesis ends in an unlisted word: the best one's listed words, not nothing
    chosen = results or fallback
    chosen.sort(key=lambda h: h.score, reverse=True)
    return chosen[:beam_size]


def _finish(
    state: _Words,
    word_list: WordList | None,
    lm: NGramLanguageModel | None,
    alpha: float,
    beta: float,
) -> _Words | None:
    """Close the open word: None when it is not listed; else with its LM score and bonus."""
    word = state.partial
    if word_list is not None and not word_list.is_word(state.node):
        return None
    add = beta
    if lm is not None:
        add += alpha * lm.score((BOS, *state.words), word)
    return _Words(state.lm_score + add, (*state.words, word), "", 0)


def _text(prefix: Sequence[int], labels: Sequence[str]) -> str:
    return "".join(labels[i] for i in prefix if i < len(labels))


class BeamCTCDecoder:
    """CTC beam search decoding into text, the drop-in sibling of ``GreedyCTCDecoder``.

    Example::

        decoder = BeamCTCDecoder(labels, beam_size=8, word_list="words.txt", lm="digits.arpa",
                                 alpha=0.5, beta=1.0)
        texts = decoder(log_probs, encoded_lengths)          # [B, T, C] -> B texts

    ``word_list`` is a :class:`WordList`, a file (one word a line) or a list of words;
    ``lm`` an :class:`NGramLanguageModel` or an ARPA file. ``lexicon_snap`` replaces each
    output word missing from the word list by the closest listed word (edit distance).
    """

    def __init__(
        self,
        labels: Sequence[str] | CharVocabulary,
        beam_size: int = 8,
        *,
        alpha: float = 0.5,
        beta: float = 1.0,
        word_list: WordList | str | os.PathLike[str] | Sequence[str] | None = None,
        lm: NGramLanguageModel | str | os.PathLike[str] | None = None,
        lexicon_snap: bool = False,
        prune_logp: float | None = -10.0,
        prune_topk: int | None = None,
        blank_id: int | None = None,
    ) -> None:
        self.vocabulary = labels if isinstance(labels, CharVocabulary) else CharVocabulary(labels)
        self.labels = list(self.vocabulary.labels)
        self.blank_id = self.vocabulary.blank_id if blank_id is None else blank_id
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise DecodingError(f"beam_size must be a whole number >= 1, got {beam_size!r}")
        if prune_topk is not None and prune_topk < 1:
            raise DecodingError(f"prune_topk must be >= 1 or None, got {prune_topk!r}")
        self.beam_size = beam_size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.word_list = as_word_list(word_list, self.labels)
        self.lm = as_language_model(lm)
        if lexicon_snap and self.word_list is None:
            raise DecodingError("lexicon_snap needs a word list; set word_list")
        self.lexicon_snap = bool(lexicon_snap)
        self.prune_logp = prune_logp
        self.prune_topk = prune_topk

    def ids_to_text(self, ids: Sequence[int]) -> str:
        return self.vocabulary.decode(ids)

    def targets_to_text(self, targets: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Reference texts of padded label ids [B, U] and their lengths."""
        rows = targets.tolist()
        return [self.ids_to_text(row[:n]) for row, n in zip(rows, lengths.tolist())]

    def search(self, log_probs: np.ndarray | torch.Tensor) -> list[Hypothesis]:
        """The beam of one utterance's ``[T, C]`` log-probabilities, best first."""
        return ctc_beam_search(
            log_probs,
            self.labels,
            self.blank_id,
            beam_size=self.beam_size,
            word_list=self.word_list,
            lm=self.lm,
            alpha=self.alpha,
            beta=self.beta,
            prune_logp=self.prune_logp,
            prune_topk=self.prune_topk,
        )

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
        if log_probs.dim() != 3:
            raise DecodingError(
                "beam search needs log-probabilities [B, T, C], not best ids per frame; got "
                f"shape {tuple(log_probs.shape)}"
            )
        array = log_probs.detach().float().cpu().numpy()
        frames = lengths.tolist() if lengths is not None else [array.shape[1]] * array.shape[0]
        texts = []
        for row, n in zip(array, frames):
            best = self.search(row[: int(n)])
            texts.append(self.snap(best[0].text if best else ""))
        return texts

    def snap(self, text: str) -> str:
        """``text`` with unlisted words replaced by the closest listed ones (when snapping)."""
        if not self.lexicon_snap or self.word_list is None:
            return text
        return self.word_list.snap(text)


def as_word_list(value: object, labels: Sequence[str]) -> WordList | None:
    """A word list from a :class:`WordList`, a file path or a list of words (None: none)."""
    if value is None or isinstance(value, WordList):
        return value
    if isinstance(value, (str, os.PathLike)):
        return WordList.from_file(value, labels)
    if isinstance(value, Sequence) or hasattr(value, "__iter__"):
        return WordList([str(w) for w in value], labels, source="word_list")  # type: ignore[union-attr]
    raise DecodingError(f"word_list must be a file path or a list of words, got {value!r}")


def as_language_model(value: object) -> NGramLanguageModel | None:
    """A language model from an :class:`NGramLanguageModel` or an ARPA path (None: none)."""
    if value is None or isinstance(value, NGramLanguageModel):
        return value
    if isinstance(value, (str, os.PathLike)):
        return NGramLanguageModel.load(value)
    raise DecodingError(f"lm must be an ARPA file path, got {value!r}")
