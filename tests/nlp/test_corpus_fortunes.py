"""make-corpus fortunes: categories from fortune files with strfile indexes, fortunes split on
'%' lines, encodings (.u8 preferred, Latin-1 fallback noted), ROT13 and comment flags, off/."""

from __future__ import annotations

import argparse
import codecs
import json
import struct
from collections import Counter
from pathlib import Path

import pytest

from ganglion_nlp.corpus import (
    CorpusFormatError,
    CorpusSourceError,
    read_fortunes,
)
from ganglion_nlp.corpus.command import add_parser
from ganglion_nlp.corpus.fortunes import find_categories

ROTATED, COMMENTS = 0x4, 0x8


def write_fortunes(folder: Path, name: str, text: str | bytes, *, flags: int = 0, dat=True):
    """A fortune file ``name`` and (with ``dat``) its strfile index header."""
    folder.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    (folder / name).write_bytes(data)
    if dat:
        header = struct.pack(">IIIIIc3x", 2, data.count(b"\n%\n") + 1, 80, 2, flags, b"%")
        (folder / f"{name}.dat").write_bytes(header)


def test_each_fortune_is_one_line_labelled_with_its_file(tmp_path):
    write_fortunes(tmp_path, "food", "Eat\n\tyour greens.\n%\n%\n  \n%\nPie is a\nvegetable.\n%\n")
    write_fortunes(tmp_path, "pets", "Cats rule.\n\t\t-- a cat\n")  # no closing %
    write_fortunes(tmp_path, "unindexed", "no .dat beside me\n", dat=False)
    write_fortunes(tmp_path, "notes.txt", "an extension: not a category\n")
    examples, notes = read_fortunes(tmp_path)
    assert [(e.text, e.label) for e in examples] == [
        ("Eat your greens.", "food"),  # the empty fortunes between the % lines are dropped
        ("Pie is a vegetable.", "food"),
        ("Cats rule. -- a cat", "pets"),
    ]
    assert examples[1].source == f"{tmp_path / 'food'}:7-8" and notes == []


def test_overstrikes_and_control_characters_are_cleaned(tmp_path):
    write_fortunes(tmp_path, "art", "_\bu_\bn_\bd_\be_\br_\bl_\bi_\bn_\be_\bd and b\bbold\a!\n")
    examples, _ = read_fortunes(tmp_path)
    assert examples[0].text == "underlined and bold!"


def test_the_u8_variant_is_preferred_and_must_be_utf8(tmp_path):
    write_fortunes(tmp_path, "people", "Caf\xe9 talk.\n".encode("latin-1"))
    (tmp_path / "people.u8").write_text("Café talk.\n", encoding="utf-8")
    examples, notes = read_fortunes(tmp_path)
    assert examples[0].text == "Café talk." and notes == []
    (tmp_path / "people.u8").write_bytes(b"%\nfine\n%\nCaf\xe9 talk.\n")
    with pytest.raises(CorpusFormatError, match=r"people\.u8, byte 12 \(line 4\): not UTF-8"):
        read_fortunes(tmp_path)


def test_a_file_without_u8_that_is_not_utf8_is_read_as_latin1_with_a_note(tmp_path):
    write_fortunes(tmp_path, "people", "%\nCaf\xe9 talk.\n".encode("latin-1"))
    examples, notes = read_fortunes(tmp_path)
    assert examples[0].text == "Café talk."
    assert notes == [
        f"{tmp_path / 'people'}: not UTF-8 (byte 5) and no people.u8 beside it; read as Latin-1"
    ]


def test_rot13_and_comment_flags_of_the_index_are_honoured(tmp_path):
    write_fortunes(tmp_path, "secret", codecs.encode("Hidden joke.\n%\n", "rot13"), flags=ROTATED)
    write_fortunes(tmp_path, "annotated", "%% a comment line\nKept.\n", flags=COMMENTS)
    examples, _ = read_fortunes(tmp_path)
    assert {e.label: e.text for e in examples} == {"secret": "Hidden joke.", "annotated": "Kept."}


def test_an_index_without_a_strfile_header_is_noted_and_percent_assumed(tmp_path):
    write_fortunes(tmp_path, "odd", "First.\n%\nSecond.\n", dat=False)
    (tmp_path / "odd.dat").write_bytes(b"junk")
    examples, notes = read_fortunes(tmp_path)
    assert [e.text for e in examples] == ["First.", "Second."]
    assert notes == [
        f"{tmp_path / 'odd.dat'}: not a strfile index header; assumed '%' delimiters, not ROT13"
    ]


def test_offensive_files_come_from_off_and_are_labelled_so(tmp_path):
    write_fortunes(tmp_path, "fortunes", "Main one.\n")
    write_fortunes(tmp_path / "off", "fortunes", "Rude one.\n")
    assert [label for label, _ in find_categories(tmp_path)] == ["fortunes"]
    examples, _ = read_fortunes(tmp_path, offensive=True)
    assert {(e.label, e.text) for e in examples} == {
        ("fortunes", "Main one."),
        ("off/fortunes", "Rude one."),
    }


def test_missing_files_say_which_packages_to_install(tmp_path):
    with pytest.raises(CorpusSourceError, match="apt-get install fortunes-min fortunes"):
        read_fortunes(tmp_path / "nowhere")
    write_fortunes(tmp_path, "fortunes", "One.\n")
    with pytest.raises(CorpusSourceError, match="apt-get install fortunes-off"):
        read_fortunes(tmp_path, offensive=True)


def test_the_command_builds_a_split_fortunes_corpus(tmp_path, capsys):
    source = tmp_path / "src"
    write_fortunes(source, "love", "".join(f"Love note {i}.\n%\n" for i in range(40)))
    write_fortunes(source, "work", "".join(f"Work note {i}.\n%\n" for i in range(20)))
    write_fortunes(source, "work-copy", "Work note 3.\n")  # the same text as a work fortune
    parser = argparse.ArgumentParser(prog="ganglion-nlp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "corpus"
    args = parser.parse_args(["make-corpus", "fortunes", str(out), "--fortunes-dir", str(source)])
    assert args.func(args) == 0
    assert "3 classes, 61 examples" in capsys.readouterr().out
    summary = json.loads((out / "corpus.json").read_text())
    assert summary["class_counts"]["love"] == {"train": 32, "validation": 4, "test": 4}
    where = {}
    for split in ("train", "validation", "test"):
        for line in (out / f"{split}.tsv").read_text().splitlines():
            text, label = line.split("\t")
            where.setdefault(text, set()).add(split)
    assert len(where["Work note 3."]) == 1  # identical texts never straddle two splits


@pytest.mark.skipif(
    not Path("/usr/share/games/fortunes/fortunes.dat").is_file(), reason="fortunes not installed"
)
def test_the_installed_fortunes_match_the_counts_in_their_indexes():
    directory = Path("/usr/share/games/fortunes")
    examples, notes = read_fortunes(directory)
    per_label = Counter(example.label for example in examples)
    for label, data_file in find_categories(directory):
        indexed = struct.unpack(">5I", (directory / f"{label}.dat").read_bytes()[:20])[1]
        assert per_label[label] == indexed, data_file
    assert "fortunes" in per_label and len(per_label) >= 2
