"""Corpus building blocks: text normalisation, the stratified seeded split that keeps identical
texts together, and the all-or-nothing corpus folder."""

from __future__ import annotations

import pytest

from ganglion_nlp.corpus import CorpusOutputError, Example
from ganglion_nlp.corpus import output as output_module
from ganglion_nlp.corpus.output import summarise, write_corpus
from ganglion_nlp.corpus.splits import SPLITS, split_examples
from ganglion_nlp.corpus.text import normalise_text


def examples_of(counts: dict[str, int]) -> list[Example]:
    return [
        Example(f"{label} text {i}", label, f"fake:{i}")
        for label, n in counts.items()
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\tb\nc\r\nd", "a b c d"),
        ("  lead and trail  ", "lead and trail"),
        ("line\u2028sep\x85next\x0bvt\x0cff", "line sep next vt ff"),
        ("bell\a and nul\x00 gone", "bell and nul gone"),
        ("___\b\b\bfoo and x\bx", "foo and x"),
        ("\bstray backspace", "stray backspace"),
        ("kept: é — ∗ 中文", "kept: é — ∗ 中文"),
    ],
)
def test_texts_become_one_clean_line(raw, clean):
    assert normalise_text(raw) == clean


def test_every_label_is_split_in_the_asked_fractions():
    splits = split_examples(examples_of({"big": 1000, "mid": 50, "tiny": 3, "one": 1}), seed=1)
    count = {name: {} for name in SPLITS}
    for name in SPLITS:
        for example in splits[name]:
            count[name][example.label] = count[name].get(example.label, 0) + 1
    assert [count[name].get("big") for name in SPLITS] == [800, 100, 100]
    assert [count[name].get("mid") for name in SPLITS] == [40, 5, 5]
    assert sum(count[name].get("tiny", 0) for name in SPLITS) == 3
    assert count["train"]["one"] == 1  # a single example is kept for training


def test_identical_texts_share_one_split_under_their_most_common_label():
    examples = examples_of({"a": 200, "b": 200})
    twins = [Example("shared text", "a", "x:1"), Example("shared text", "b", "x:2")]
    triple = [Example("three", label, f"y:{i}") for i, label in enumerate("abb")]
    for seed in range(20):
        splits = split_examples(examples + twins + triple, seed=seed)
        homes = {
            text: {name for name in SPLITS for e in splits[name] if e.text == text}
            for text in ("shared text", "three")
        }
        assert all(len(found) == 1 for found in homes.values()), seed
        assert sum(len(split) for split in splits.values()) == 405


def test_the_split_is_reproducible_and_one_class_does_not_move_another():
    base = examples_of({"a": 100, "b": 100})
    first = split_examples(base, seed=5)
    again = split_examples(list(base), seed=5)
    assert first == again
    other_seed = split_examples(base, seed=6)
    assert {e.text for e in first["test"]} != {e.text for e in other_seed["test"]}
    with_c = split_examples(base + examples_of({"c": 100}), seed=5)
    assert {e.text for e in with_c["test"] if e.label == "a"} == {
        e.text for e in first["test"] if e.label == "a"
    }
    # each split is shuffled, not sorted by label
    assert [e.label for e in first["train"]] != sorted(e.label for e in first["train"])


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="summing to under 1"):
        split_examples(examples_of({"a": 10}), seed=0, validation=0.5, test=0.5)


def _splits():
    return split_examples(examples_of({"a": 20, "b": 10}), seed=0)


def test_a_corpus_folder_is_written_into_a_new_or_empty_folder(tmp_path):
    splits = _splits()
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        write_corpus(target, splits, summarise(splits, name="t"))
        lines = (target / "train.tsv").read_text().splitlines()
        assert lines == [f"{e.text}\t{e.label}" for e in splits["train"]]


def test_a_failed_write_leaves_no_folder_and_no_temp_behind(tmp_path, monkeypatch):
    real_write = output_module._write_file

    def failing(path, lines):
        if path.name == "text.txt":
            raise OSError(28, "No space left on device")
        real_write(path, lines)

    monkeypatch.setattr(output_module, "_write_file", failing)
    with pytest.raises(OSError, match="No space left"):
        write_corpus(tmp_path / "corpus", _splits(), {})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_corpus(tmp_path, monkeypatch):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "old.tsv").write_text("old\tx\n")
    monkeypatch.setattr(output_module, "_row", lambda example: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_corpus(out, _splits(), {}, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]
    assert [p.name for p in out.iterdir()] == ["old.tsv"]


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(CorpusOutputError, match="exists and is not a folder"):
        write_corpus(tmp_path / "taken", _splits(), {}, overwrite=True)


def test_a_text_with_a_tab_is_never_written(tmp_path):
    splits = {"train": [Example("a\tb", "x", "f:1")], "validation": [], "test": []}
    with pytest.raises(ValueError, match="f:1: text is empty or not normalised"):
        write_corpus(tmp_path / "c", splits, {})
    assert not (tmp_path / "c").exists()
