"""Bad input to the tokenizers: each a TokenizerError (a GanglionError) naming the file, type
or value and the fix; nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tokenizer_fixtures import write_corpus

from ganglion.errors import GanglionError
from ganglion_nlp.tokenizers import (
    META_FILE,
    TOKENIZER_TYPES,
    TokenizerError,
    TokenizerLoadError,
    TokenizerTrainingError,
    load_tokenizer,
    tokenizer_class,
    train_tokenizer,
)

LIBRARY_FILE = {
    "char": "vocab.json",
    "word": "vocab.json",
    "sentencepiece-bpe": "spm.model",
    "sentencepiece-unigram": "spm.model",
    "hf-bpe": "tokenizer.json",
    "hf-wordpiece": "tokenizer.json",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt", n=150)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, corpus) -> dict[str, Path]:
    """A saved tokenizer directory of each type (copy one before breaking it)."""
    root = tmp_path_factory.mktemp("saved")
    for name in TOKENIZER_TYPES:
        train_tokenizer(name, [corpus], root / name, vocab_size=100)
    return {name: root / name for name in TOKENIZER_TYPES}


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def test_errors_are_ganglion_errors():
    assert issubclass(TokenizerLoadError, TokenizerError)
    assert issubclass(TokenizerTrainingError, TokenizerError)
    assert issubclass(TokenizerError, GanglionError)


# -- unknown types ---------------------------------------------------------------------------
def test_an_unknown_type_says_did_you_mean_and_lists_the_known(corpus, tmp_path):
    with pytest.raises(TokenizerError) as info:
        train_tokenizer("sentencepiece-bep", [corpus], tmp_path / "t", 100)
    message = str(info.value)
    assert "unknown tokenizer type 'sentencepiece-bep'" in message
    assert "Did you mean 'sentencepiece-bpe'" in message
    assert "Known: char, word, sentencepiece-bpe, sentencepiece-unigram, hf-bpe, hf-wordpiece" in (
        message
    )
    assert not (tmp_path / "t").exists()
    with pytest.raises(TokenizerError, match="unknown tokenizer type 'bert'.*Known: char"):
        tokenizer_class("bert")


def test_a_meta_file_naming_an_unknown_type_names_the_file(saved, tmp_path):
    tok_dir = _copy(saved["char"], tmp_path)
    meta = json.loads((tok_dir / META_FILE).read_text())
    (tok_dir / META_FILE).write_text(json.dumps({**meta, "type": "chars"}))
    with pytest.raises(TokenizerError, match=rf"'chars' \({tok_dir / META_FILE}\).*'char'"):
        load_tokenizer(tok_dir)


# -- loading -----------------------------------------------------------------------------------
def test_a_missing_directory_says_how_to_make_one(tmp_path):
    with pytest.raises(TokenizerLoadError, match=rf"{tmp_path / 'nope'} does not exist.*train"):
        load_tokenizer(tmp_path / "nope")


def test_a_file_instead_of_the_directory_is_refused(saved):
    with pytest.raises(TokenizerLoadError, match="is a file, not a tokenizer directory"):
        load_tokenizer(saved["sentencepiece-bpe"] / "spm.model")


def test_a_directory_without_the_meta_file_names_it(tmp_path):
    (tmp_path / "spm.model").write_bytes(b"x")
    with pytest.raises(TokenizerLoadError, match=rf"not a tokenizer directory: .*{META_FILE} is"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"type": "char",', r"not valid JSON \(.* at line 1, column"),
        (b"\xff\xfe{}", "not UTF-8 at byte 0"),
        (b'{"type": "char"}', "not a ganglion tokenizer file"),
        (b'{"format": "ganglion-tokenizer", "version": 9}', "format version 9"),
    ],
)
def test_a_corrupt_meta_file_is_named(saved, tmp_path, content, expected):
    tok_dir = _copy(saved["word"], tmp_path)
    (tok_dir / META_FILE).write_bytes(content)
    with pytest.raises(TokenizerLoadError, match=rf"{tok_dir / META_FILE}.*{expected}"):
        load_tokenizer(tok_dir)


def test_a_meta_key_of_the_wrong_kind_is_named(saved, tmp_path):
    tok_dir = _copy(saved["word"], tmp_path)
    meta = json.loads((tok_dir / META_FILE).read_text())
    (tok_dir / META_FILE).write_text(json.dumps({**meta, "lowercase": "yes"}))
    with pytest.raises(TokenizerLoadError, match="key 'lowercase' is 'yes', expected a bool"):
        load_tokenizer(tok_dir)
    (tok_dir / META_FILE).write_text(json.dumps({**meta, "files": {"vocab": "../vocab.json"}}))
    with pytest.raises(TokenizerLoadError, match=r"files.vocab is '../vocab.json'"):
        load_tokenizer(tok_dir)


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_a_missing_library_file_is_named(saved, tmp_path, name):
    tok_dir = _copy(saved[name], tmp_path)
    (tok_dir / LIBRARY_FILE[name]).unlink()
    with pytest.raises(TokenizerLoadError, match=rf"{tok_dir / LIBRARY_FILE[name]} is missing"):
        load_tokenizer(tok_dir)


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
@pytest.mark.parametrize("garbage", [b"", b"\x08\x01garbage\xff{not: a model"])
def test_a_corrupt_library_file_is_named_with_what_to_do(saved, tmp_path, name, garbage):
    tok_dir = _copy(saved[name], tmp_path)
    (tok_dir / LIBRARY_FILE[name]).write_bytes(garbage)
    with pytest.raises(TokenizerLoadError) as info:
        load_tokenizer(tok_dir)
    message = str(info.value)
    assert f"{tok_dir / LIBRARY_FILE[name]} is not a readable" in message
    assert "retrain the tokenizer" in message


def test_a_library_file_of_another_tokenizer_is_refused(saved, corpus, tmp_path):
    tok_dir = _copy(saved["sentencepiece-bpe"], tmp_path)
    other = train_tokenizer("sentencepiece-bpe", [corpus], tmp_path / "other", vocab_size=80)
    shutil.copy(other.directory / "spm.model", tok_dir / "spm.model")
    with pytest.raises(TokenizerLoadError, match="hold 80 tokens but ganglion_tokenizer.json"):
        load_tokenizer(tok_dir)


def test_a_vocabulary_without_the_special_tokens_first_is_refused(saved, tmp_path):
    tok_dir = _copy(saved["char"], tmp_path)
    tokens = json.loads((tok_dir / "vocab.json").read_text())
    tokens[0], tokens[5] = tokens[5], tokens[0]
    (tok_dir / "vocab.json").write_text(json.dumps(tokens))
    with pytest.raises(TokenizerLoadError, match=r"ids 0..4 are .* not the special tokens"):
        load_tokenizer(tok_dir)


# -- training ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_a_non_utf8_training_file_names_the_byte_offset_and_line(tmp_path, name):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("the cat\nsat on the mat\nle café\n".encode("latin-1"))
    offset = len(b"the cat\nsat on the mat\nle caf")
    with pytest.raises(TokenizerTrainingError) as info:
        train_tokenizer(name, [bad], tmp_path / "t", vocab_size=100)
    message = str(info.value)
    assert f"training file {bad} is not UTF-8: byte {offset} (line 3)" in message
    assert "iconv" in message
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_empty_training_data_is_refused(tmp_path, name):
    (tmp_path / "a.txt").write_text("\n  \n\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("", encoding="utf-8")
    with pytest.raises(TokenizerTrainingError, match="training data is empty: .*a.txt, .*b.txt"):
        train_tokenizer(name, [tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "t", 100)


def test_missing_training_files_are_named(tmp_path, corpus):
    with pytest.raises(TokenizerTrainingError, match=rf"training file {tmp_path / 'x'} does not"):
        train_tokenizer("char", [corpus, tmp_path / "x"], tmp_path / "t", 100)
    with pytest.raises(TokenizerTrainingError, match="is not a file"):
        train_tokenizer("char", [tmp_path], tmp_path / "t", 100)
    with pytest.raises(TokenizerTrainingError, match="no training files given"):
        train_tokenizer("char", [], tmp_path / "t", 100)


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_a_vocab_size_below_the_special_tokens_is_refused(corpus, tmp_path, name):
    with pytest.raises(TokenizerError, match="vocab_size 5 is too small .*use at least 6"):
        train_tokenizer(name, [corpus], tmp_path / "t", vocab_size=5)
    with pytest.raises(TokenizerError, match="vocab_size must be an integer"):
        train_tokenizer(name, [corpus], tmp_path / "t", vocab_size="100")


@pytest.mark.parametrize(
    "name", ["sentencepiece-bpe", "sentencepiece-unigram", "hf-bpe", "hf-wordpiece"]
)
def test_a_vocab_size_below_the_characters_says_how_many_are_needed(corpus, tmp_path, name):
    with pytest.raises(TokenizerTrainingError) as info:
        train_tokenizer(name, [corpus], tmp_path / "t", vocab_size=20)
    message = str(info.value)
    assert f"vocab_size 20 is too small for a {name} tokenizer of {corpus}" in message
    needed = int(message.rsplit("at least ", 1)[1])
    assert needed > 20
    assert train_tokenizer(name, [corpus], tmp_path / "ok", vocab_size=needed).vocab_size <= needed
    assert not (tmp_path / "t").exists()


def test_min_count_must_be_positive(corpus, tmp_path):
    with pytest.raises(TokenizerError, match="min_count must be an integer >= 1, got 0"):
        train_tokenizer("char", [corpus], tmp_path / "t", 100, min_count=0)
    with pytest.raises(TokenizerTrainingError, match="no word occurs 10000 or more times"):
        train_tokenizer("word", [corpus], tmp_path / "t", 100, min_count=10000)


# -- the output directory ----------------------------------------------------------------------
def test_a_non_empty_output_directory_is_kept_unless_overwrite(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(TokenizerError, match=rf"{out} already exists and is not empty.*overwrite"):
        train_tokenizer("char", [corpus], out, 100)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    tok = train_tokenizer("char", [corpus], out, 100, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [META_FILE, "vocab.json"]
    assert tok.directory == out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert train_tokenizer("word", [corpus], empty, 100).directory == empty


def test_a_failed_training_leaves_the_old_directory_and_no_temp(corpus, tmp_path):
    out = tmp_path / "out"
    train_tokenizer("char", [corpus], out, 100)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(TokenizerTrainingError, match="too small"):
        train_tokenizer("sentencepiece-bpe", [corpus], out, vocab_size=20, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert load_tokenizer(out).type_name == "char"


def test_an_output_path_that_is_a_file_is_refused(corpus, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(TokenizerError, match="cannot write a tokenizer to .*: it is a file"):
        train_tokenizer("char", [corpus], tmp_path / "f", 100, overwrite=True)
