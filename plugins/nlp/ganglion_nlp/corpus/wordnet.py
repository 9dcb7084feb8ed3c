"""The WordNet gloss corpus: every synset's gloss, labelled with its lexicographer file.

Source: the database files of Debian's ``wordnet-base`` (WordNet 3.0), ``data.noun``,
``data.verb``, ``data.adj`` and ``data.adv`` in ``/usr/share/wordnet`` (or ``$WNSEARCHDIR``,
or a folder given by ``--wordnet-dir``). Each line of a data file that does not start with two
spaces (the licence header) is one synset (wndb(5WN))::

    offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames...] | gloss

The label is the synset's lexicographer file (lexnames(5WN): 45 names such as ``noun.animal``,
``verb.motion``, ``adj.all``), read from a ``lexnames`` file in the same folder when there is one
and otherwise from the documented numbering below.

The text is the whole gloss by default: the definition and its quoted usage examples
(``without musical accompaniment; "they performed a cappella"``), because both are
ordinary prose about the sense. ``gloss="definition"`` keeps only the part before the first
quoted example. The synset's own words are left out: the task is to tell the kind of thing
from its description. 117 659 synsets give 117 659 examples in 45 classes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ganglion_nlp.corpus.errors import CorpusFormatError, CorpusSourceError
from ganglion_nlp.corpus.output import check_output_dir, summarise, write_corpus
from ganglion_nlp.corpus.splits import split_examples
from ganglion_nlp.corpus.text import Example, decode_utf8, normalise_text

__all__ = [
    "DATA_FILES",
    "GLOSS_CHOICES",
    "LEXNAMES",
    "build_wordnet_corpus",
    "default_wordnet_dir",
    "parse_data_line",
    "read_lexnames",
    "read_wordnet",
]

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
GLOSS_CHOICES = ("full", "definition")

# lexnames(5WN): the lexicographer file numbered by its position
LEXNAMES: tuple[str, ...] = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)

# which synset types each data file may hold ("s": an adjective satellite)
_SS_TYPES = {"data.noun": "n", "data.verb": "v", "data.adj": "as", "data.adv": "r"}
_FIRST_EXAMPLE = re.compile(r';?\s*"')


def default_wordnet_dir() -> Path:
    """``$WNSEARCHDIR`` (WordNet's own variable for its database folder) or Debian's
    ``/usr/share/wordnet``."""
    return Path(os.environ.get("WNSEARCHDIR") or DEBIAN_WORDNET_DIR)


def read_lexnames(directory: Path) -> dict[int, str]:
    """Lexicographer file number -> name: from ``directory/lexnames`` (``NN<TAB>name<TAB>pos``
    lines) when that file exists, else the documented table :data:`LEXNAMES`."""
    path = Path(directory) / "lexnames"
    if not path.is_file():
        return dict(enumerate(LEXNAMES))
    names: dict[int, str] = {}
    text = decode_utf8(path.read_bytes(), path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 2 or not fields[0].isdigit():
            raise CorpusFormatError(
                f"{path}, line {number}: expected 'NN<TAB>name<TAB>category', got {line!r}"
            )
        names[int(fields[0])] = fields[1]
    if not names:
        raise CorpusFormatError(f"{path}: no lexicographer file names in it")
    return names


def _bad(where: str, problem: str, line: str) -> CorpusFormatError:
    shown = line if len(line) <= 120 else line[:117] + "..."
    return CorpusFormatError(
        f"{where}: malformed WordNet data line: {problem} (line: {shown!r}). "
        "Reinstall the database (apt-get install --reinstall wordnet-base) or fix the line."
    )


def parse_data_line(
    line: str, *, where: str, ss_types: str = "nvasr", lexnames: dict[int, str] | None = None
) -> tuple[str, str, str]:
    """``(offset + ss_type, lexicographer file name, gloss)`` of one synset line of a WordNet
    data file; a malformed line raises :class:`CorpusFormatError` naming ``where``
    (``file, line N``). Every field is checked: counts, pointer and frame lists, the gloss."""
    lexnames = dict(enumerate(LEXNAMES)) if lexnames is None else lexnames
    head, bar, gloss = line.partition(" | ")
    if not bar:
        raise _bad(where, "no ' | ' before the gloss", line)
    fields = head.split()
    if len(fields) < 4:
        raise _bad(where, f"only {len(fields)} fields before the gloss", line)
    offset, lex_filenum, ss_type, w_cnt = fields[:4]
    if not (len(offset) == 8 and offset.isdigit()):
        raise _bad(where, f"synset offset {offset!r} is not 8 digits", line)
    if not (len(lex_filenum) == 2 and lex_filenum.isdigit()):
        raise _bad(where, f"lexicographer file number {lex_filenum!r} is not 2 digits", line)
    if int(lex_filenum) not in lexnames:
        raise _bad(where, f"unknown lexicographer file number {lex_filenum}", line)
    if len(ss_type) != 1 or ss_type not in ss_types:
        raise _bad(where, f"synset type {ss_type!r} is not one of {', '.join(ss_types)}", line)
    try:
        words = int(w_cnt, 16)
    except ValueError:
        raise _bad(where, f"word count {w_cnt!r} is not hexadecimal", line) from None
    if words < 1:
        raise _bad(where, "word count is 0", line)
    position = 4 + 2 * words
    if len(fields) <= position or not fields[position].isdigit():
        raise _bad(where, f"{words} words and then a 3-digit pointer count expected", line)
    pointers = int(fields[position])
    position += 1 + 4 * pointers
    counts = f"{words} word(s), {pointers} pointer(s)"
    if ss_type == "v":
        if len(fields) <= position or not fields[position].isdigit():
            raise _bad(where, f"after {counts} a verb synset's frame count is missing", line)
        frames = int(fields[position])
        position += 1 + 3 * frames
        counts += f", {frames} frame(s)"
    if len(fields) != position:
        raise _bad(
            where, f"{counts} make {position} fields before the gloss, not {len(fields)}", line
        )
    return offset + ss_type, lexnames[int(lex_filenum)], gloss


def _gloss_text(gloss: str, mode: str) -> str:
    text = normalise_text(gloss)
    if mode == "definition":
        definition = _FIRST_EXAMPLE.split(text, maxsplit=1)[0].strip(" ;")
        text = definition or text  # a gloss that is only an example keeps it
    return text


def _missing_message(directory: Path, missing: list[str]) -> str:
    where = "does not exist" if not directory.is_dir() else f"lacks {', '.join(missing)}"
    return (
        f"WordNet database not found: {directory} {where}. Install it with "
        "`sudo apt-get install wordnet-base` (Debian/Ubuntu), or pass --wordnet-dir (or set "
        "WNSEARCHDIR) to a folder holding data.noun, data.verb, data.adj and data.adv "
        "(WordNet 3.0's dict/ folder)."
    )


def read_wordnet(directory: Path | None = None, *, gloss: str = "full") -> list[Example]:
    """One :class:`Example` per synset of the WordNet database in ``directory`` (default
    :func:`default_wordnet_dir`): text = the gloss (``gloss`` "full" or "definition", see the
    module docstring), label = the lexicographer file name. Examples come in file order."""
    if gloss not in GLOSS_CHOICES:
        raise ValueError(f"gloss must be one of {', '.join(GLOSS_CHOICES)}, not {gloss!r}")
    directory = Path(directory) if directory is not None else default_wordnet_dir()
    missing = [name for name in DATA_FILES if not (directory / name).is_file()]
    if missing:
        raise CorpusSourceError(_missing_message(directory, missing))
    lexnames = read_lexnames(directory)
    examples: list[Example] = []
    for name in DATA_FILES:
        path = directory / name
        text = decode_utf8(path.read_bytes(), path)
        for number, line in enumerate(text.split("\n"), start=1):
            if line.startswith("  ") or not line.strip():  # licence header, last newline
                continue
            where = f"{path}, line {number}"
            synset, label, raw_gloss = parse_data_line(
                line, where=where, ss_types=_SS_TYPES[name], lexnames=lexnames
            )
            text_ = _gloss_text(raw_gloss, gloss)
            if text_:
                examples.append(Example(text_, label, f"{path}:{number} ({synset})"))
    if not examples:
        raise CorpusFormatError(f"{directory}: the WordNet data files hold no synsets")
    return examples


def build_wordnet_corpus(
    out_dir: Path,
    *,
    wordnet_dir: Path | None = None,
    seed: int = 1234,
    validation: float = 0.1,
    test: float = 0.1,
    gloss: str = "full",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the WordNet gloss -> lexicographer file corpus at ``out_dir`` (see
    :mod:`ganglion_nlp.corpus.output` for the files); returns the ``corpus.json`` summary.

    Example::

        summary = build_wordnet_corpus(Path("/tmp/nlp_wordnet"))
        summary["counts"]   # {'train': 94114, 'validation': 11784, 'test': 11761}
    """
    check_output_dir(Path(out_dir), overwrite=overwrite)  # before the work, not after
    directory = Path(wordnet_dir) if wordnet_dir is not None else default_wordnet_dir()
    examples = read_wordnet(directory, gloss=gloss)
    splits = split_examples(examples, seed=seed, validation=validation, test=test)
    summary = summarise(
        splits,
        name="wordnet",
        source=str(directory.absolute()),
        description="WordNet 3.0 synset glosses labelled with their lexicographer file",
        text=(
            "gloss: definition and quoted examples"
            if gloss == "full"
            else "gloss: definition only (quoted examples removed)"
        ),
        seed=seed,
        fractions={
            "train": round(1 - validation - test, 6),
            "validation": validation,
            "test": test,
        },
        split_by="synset; synsets with identical glosses share a split, stratified by label",
        notes=[],
    )
    write_corpus(Path(out_dir), splits, summary, overwrite=overwrite)
    return summary
