"""CTC decoding: greedy (best label per frame) or beam search with a word list and an n-gram LM.

The model's ``decoding`` config section picks one (``model.change_decoding_strategy`` swaps
it later)::

    decoding:
      strategy: beam          # greedy (the default) | beam
      beam_size: 8
      alpha: 0.5              # weight of the LM's natural-log word probabilities
      beta: 1.0               # bonus per word (with a word list or an LM)
      word_list: words.txt    # a file, one word a line, or a list of words
      lm: digits.arpa         # an ARPA word n-gram model (KenLM's lmplz writes one too)
      lexicon_snap: false     # replace unlisted output words by the closest listed word
      prune_logp: -10.0       # per frame, try only labels above this log-probability
      prune_topk: null        # ... and at most this many of them
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ganglion.errors import ConfigError, check_known_keys
from ganglion_asr.decoding.beam import (
    BeamCTCDecoder,
    DecodingError,
    Hypothesis,
    as_language_model,
    as_word_list,
    ctc_beam_search,
)
from ganglion_asr.decoding.greedy import GreedyCTCDecoder, ctc_greedy_ids
from ganglion_asr.decoding.lexicon import WordList, WordListError
from ganglion_asr.decoding.ngram import LanguageModelError, NGramLanguageModel

__all__ = [
    "DECODING_DEFAULTS",
    "BeamCTCDecoder",
    "DecodingError",
    "GreedyCTCDecoder",
    "Hypothesis",
    "LanguageModelError",
    "NGramLanguageModel",
    "WordList",
    "WordListError",
    "as_language_model",
    "as_word_list",
    "build_ctc_decoder",
    "ctc_beam_search",
    "ctc_greedy_ids",
]

#: Every key of a ``decoding`` section and its default (greedy: today's behaviour).
DECODING_DEFAULTS: dict[str, Any] = {
    "strategy": "greedy",
    "beam_size": 8,
    "alpha": 0.5,
    "beta": 1.0,
    "word_list": None,
    "lm": None,
    "lexicon_snap": False,
    "prune_logp": -10.0,
    "prune_topk": None,
}
STRATEGIES = ("greedy", "beam")


def build_ctc_decoder(
    cfg: Mapping[str, Any] | None,
    labels: Sequence[str],
    *,
    where: str = "model.decoding",
) -> GreedyCTCDecoder | BeamCTCDecoder:
    """The decoder a ``decoding`` section describes (None or empty: greedy).

    Settings are checked first; a wrong one raises :class:`ConfigError` naming ``where``'s
    key; a missing or malformed word list or LM raises naming the file and line.
    """
    given = dict(cfg or {})
    check_known_keys(given, DECODING_DEFAULTS, where=where)
    settings = {**DECODING_DEFAULTS, **given}
    strategy = settings["strategy"]
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}.strategy is {strategy!r}; use one of {', '.join(STRATEGIES)}")
    beam_size = settings["beam_size"]
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ConfigError(f"{where}.beam_size must be a whole number >= 1, got {beam_size!r}")
    for key in ("alpha", "beta"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
    if settings["lexicon_snap"] and settings["word_list"] is None:
        raise ConfigError(f"{where}.lexicon_snap needs {where}.word_list")
    if strategy == "greedy":
        if settings["lm"] is not None or (
            settings["word_list"] is not None and not settings["lexicon_snap"]
        ):
            raise ConfigError(
                f"{where}: a word list or LM is used only by beam search; set "
                f"{where}.strategy: beam (or lexicon_snap: true to snap greedy output)"
            )
        if settings["lexicon_snap"]:
            return _SnappingGreedy(labels, as_word_list(_plain(settings["word_list"]), labels))
        return GreedyCTCDecoder(labels)
    return BeamCTCDecoder(
        labels,
        beam_size,
        alpha=settings["alpha"],
        beta=settings["beta"],
        word_list=_plain(settings["word_list"]),
        lm=settings["lm"],
        lexicon_snap=bool(settings["lexicon_snap"]),
        prune_logp=settings["prune_logp"],
        prune_topk=settings["prune_topk"],
    )


def _plain(value: Any) -> Any:
    """An OmegaConf list as a plain list (a path stays a path)."""
    from omegaconf import ListConfig, OmegaConf

    return list(OmegaConf.to_container(value)) if isinstance(value, ListConfig) else value


class _SnappingGreedy(GreedyCTCDecoder):
    """Greedy decoding, each unlisted output word replaced by the closest listed one."""

    def __init__(self, labels: Sequence[str], word_list: WordList) -> None:
        super().__init__(labels)
        self.word_list = word_list

    def __call__(self, log_probs: Any, lengths: Any = None) -> list[str]:
        return [self.word_list.snap(text) for text in super().__call__(log_probs, lengths)]
