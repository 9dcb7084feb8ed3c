"""Text-classification corpora built offline from system packages (``make-corpus``).

* :func:`~ganglion_nlp.corpus.wordnet.build_wordnet_corpus`: WordNet glosses labelled with
  their lexicographer file (Debian ``wordnet-base``; 117 659 examples, 45 classes);
* :func:`~ganglion_nlp.corpus.fortunes.build_fortunes_corpus`: fortunes labelled with their
  file (Debian ``fortunes-min`` and ``fortunes``).

Each writes ``train.tsv``, ``validation.tsv``, ``test.tsv`` (``text<TAB>label``), ``text.txt``
(training texts only) and ``corpus.json`` into a new folder, whole or not at all
(:mod:`~ganglion_nlp.corpus.output`); splits are stratified, seeded, and keep identical texts
in one split (:mod:`~ganglion_nlp.corpus.splits`). Nothing here imports torch.
"""

from ganglion_nlp.corpus.errors import (
    CorpusError,
    CorpusFormatError,
    CorpusOutputError,
    CorpusSourceError,
    UnknownCorpusError,
)
from ganglion_nlp.corpus.fortunes import build_fortunes_corpus, read_fortunes
from ganglion_nlp.corpus.text import Example
from ganglion_nlp.corpus.wordnet import build_wordnet_corpus, read_wordnet

__all__ = [
    "CorpusError",
    "CorpusFormatError",
    "CorpusOutputError",
    "CorpusSourceError",
    "Example",
    "UnknownCorpusError",
    "build_fortunes_corpus",
    "build_wordnet_corpus",
    "read_fortunes",
    "read_wordnet",
]
