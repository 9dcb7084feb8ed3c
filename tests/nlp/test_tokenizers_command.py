"""``ganglion-nlp train-tokenizer``: trains, saves and says what it wrote; bad input is one line
on stderr and exit status 2."""

from __future__ import annotations

import argparse

import pytest
from tokenizer_fixtures import write_corpus

from ganglion_nlp.tokenizers import META_FILE, load_tokenizer
from ganglion_nlp.tokenizers.command import add_parser


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ganglion-nlp")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_train_tokenizer_writes_the_directory_and_prints_a_sample(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt", n=100)
    out = tmp_path / "tok"
    argv = ["train-tokenizer", "--type", "hf-wordpiece", "--vocab-size", "90", "-o", str(out)]
    assert _run([*argv, str(corpus)]) == 0
    tok = load_tokenizer(out)
    assert tok.type_name == "hf-wordpiece" and tok.lowercase and tok.vocab_size <= 90
    printed = capsys.readouterr().out
    assert f"wrote a hf-wordpiece tokenizer to {out} ({META_FILE}, tokenizer.json)" in printed
    assert f"vocab size: {tok.vocab_size} (lowercased)" in printed
    first = corpus.read_text().splitlines()[0]
    assert f"sample: {first!r}" in printed
    assert f"ids:    {tok.text_to_ids(first)[:24]}" in printed


def test_no_lowercase_min_count_and_several_files(tmp_path, capsys):
    a = write_corpus(tmp_path / "a.txt", n=50, seed=1)
    b = tmp_path / "b.txt"
    b.write_text("Zebra Zebra\n", encoding="utf-8")
    out = tmp_path / "tok"
    argv = ["train-tokenizer", "--type", "word", "--vocab-size", "500", "--no-lowercase"]
    assert _run([*argv, "--min-count", "2", "-o", str(out), str(a), str(b)]) == 0
    tok = load_tokenizer(out)
    assert not tok.lowercase
    assert "Zebra" in tok.ids_to_tokens(range(tok.vocab_size))
    assert "(case kept)" in capsys.readouterr().out


def test_bad_input_is_one_line_on_stderr_and_status_2(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt", n=20)
    out = tmp_path / "tok"
    status = _run(["train-tokenizer", "--type", "wordpiece", "-o", str(out), str(corpus)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("ganglion-nlp train-tokenizer: error: unknown tokenizer type")
    assert "Did you mean 'hf-wordpiece'" in err and err.count("\n") == 1
    assert not out.exists()

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    status = _run(["train-tokenizer", "--type", "char", "-o", str(tmp_path / "out"), str(corpus)])
    assert status == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    argv = ["train-tokenizer", "--type", "char", "--overwrite", "-o", str(tmp_path / "out")]
    assert _run([*argv, str(corpus)]) == 0


def test_a_vocab_size_that_is_not_a_number_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _run(["train-tokenizer", "--type", "char", "--vocab-size", "lots", "-o", "x", "f.txt"])
    assert info.value.code == 2
    assert "expected a whole number, got 'lots'" in capsys.readouterr().err


def test_the_ganglion_nlp_command_has_train_tokenizer(tmp_path, capsys):
    cli = pytest.importorskip("ganglion_nlp.cli", reason="the ganglion-nlp command is not built")
    corpus = write_corpus(tmp_path / "corpus.txt", n=50)
    out = tmp_path / "tok"
    argv = ["train-tokenizer", "--type", "sentencepiece-bpe", "--vocab-size", "80", "-o", str(out)]
    assert cli.main([*argv, str(corpus)]) == 0
    assert load_tokenizer(out).type_name == "sentencepiece-bpe"
    assert "wrote a sentencepiece-bpe tokenizer" in capsys.readouterr().out
