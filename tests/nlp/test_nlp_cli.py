"""The ``ganglion-nlp`` command: classify and evaluate print what the model says; bad input is
one clear line and exit status 2, before any model is loaded where it can be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ganglion_train_fixtures import quiet_trainer
from nlp_model_fixtures import tiny_config, toy_corpus, toy_tokenizer, write_tsv

from ganglion_nlp.cli import main
from ganglion_nlp.models import TextClassificationModel


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(archive, corpus, model) of a toy classifier trained to perfection."""
    folder = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANGLION_CACHE", str(folder / "cache"))
        corpus = toy_corpus(folder / "corpus")
        torch.manual_seed(0)
        trainer = quiet_trainer(max_steps=30, num_sanity_val_steps=0, limit_val_batches=0)
        model = TextClassificationModel(
            tiny_config(corpus, toy_tokenizer(folder / "tok", corpus["text"])), trainer=trainer
        )
        trainer.fit(model)
        archive = model.save_to(folder / "toy.ganglion")
    return archive, corpus, model


@pytest.fixture(autouse=True)
def _cache(trained, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(trained[0].parent / "cache"))


def _refused(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    return captured.err


def test_classify_texts_and_a_file(trained, tmp_path, capsys):
    archive, _, model = trained
    texts = tmp_path / "texts.txt"
    texts.write_text("the spade there\nmy goat now\n", encoding="utf-8")
    assert main(["classify", str(archive), "a cat here", "--file", str(texts), "blue"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = model.classify(["a cat here", "blue", "the spade there", "my goat now"])
    assert [line.split("\t")[0] for line in lines] == [r.label for r in expected]
    assert [line.split("\t")[2] for line in lines] == [
        "a cat here",
        "blue",
        "the spade there",
        "my goat now",
    ]
    assert float(lines[0].split("\t")[1]) == pytest.approx(expected[0].probability, abs=1e-4)


def test_classify_top_k(trained, capsys):
    archive, _, _ = trained
    assert main(["classify", str(archive), "--top", "3", "red"]) == 0
    fields = capsys.readouterr().out.strip().split("\t")
    assert fields[0].startswith("color ") and len(fields) == 4 and fields[-1] == "red"
    probabilities = [float(f.split()[1]) for f in fields[:3]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)


def test_evaluate_prints_the_metrics_and_a_confusion_summary(trained, capsys):
    archive, corpus, model = trained
    assert main(["evaluate", str(archive), "--data", str(corpus["test"]), "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    report = model.evaluate(corpus["test"])
    assert f"accuracy: {report.accuracy:.4f}" in out and f"macro-F1: {report.macro_f1:.4f}" in out
    assert "examples: 30" in out and "lowest recall (3 of 3 classes)" in out


def test_evaluate_names_unknown_labels_and_skips_them_when_asked(trained, tmp_path, capsys):
    archive, _, _ = trained
    data = write_tsv(tmp_path / "odd.tsv", [("a cat", "animal"), ("a rose", "plant")])
    err = _refused(["evaluate", str(archive), "--data", str(data)], capsys)
    assert "'plant' (1 row, first at line 2)" in err and "pass --unknown-labels skip" in err
    assert main(["evaluate", str(archive), "--data", str(data), "--unknown-labels", "skip"]) == 0
    assert "examples: 1 (1 left out: labels unknown to the model)" in capsys.readouterr().out


def test_bad_input_is_one_line_before_the_model_loads(trained, tmp_path, capsys, monkeypatch):
    archive, _, _ = trained

    def no_restore(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(TextClassificationModel, "restore_from", no_restore)
    bad = tmp_path / "bad.tsv"
    bad.write_text("a cat\tanimal\nno label\n", encoding="utf-8")
    assert "bad.tsv: 1 malformed row(s): line 2: no tab" in _refused(
        ["evaluate", str(archive), "--data", str(bad)], capsys
    )
    assert "give texts to classify" in _refused(["classify", str(archive)], capsys)
    err = _refused(["classify", str(tmp_path / "missing.ganglion"), "x"], capsys)
    assert "missing.ganglion: no such file; give a .ganglion text classifier archive" in err
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9\n".encode("latin-1"))
    assert "not UTF-8 text: byte 0xE9 at byte offset 3" in _refused(
        ["classify", str(archive), "--file", str(latin)], capsys
    )


def test_another_kind_of_archive_is_refused(tmp_path, capsys):
    not_an_archive = tmp_path / "x.ganglion"
    not_an_archive.write_bytes(b"not a tar file")
    assert "x.ganglion" in _refused(["classify", str(not_an_archive), "text"], capsys)


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_batch_size_is_checked_by_the_parser(trained, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["classify", str(trained[0]), "x", "--batch-size", value])
    assert info.value.code == 2 and "argument --batch-size" in capsys.readouterr().err


def test_the_command_lists_every_sub_command_without_importing_torch():
    code = (
        "import sys; from ganglion_nlp.cli import build_parser; "
        "help = build_parser().format_help(); "
        "print(all(c in help for c in ('classify', 'evaluate', 'train-tokenizer', 'make-corpus'))); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    ).stdout.split()
    assert out == ["True", "False"]
    module = subprocess.run(
        [sys.executable, "-m", "ganglion_nlp", "evaluate", "--help"], capture_output=True, text=True
    )
    assert module.returncode == 0 and "--unknown-labels" in module.stdout
    assert Path(sys.executable).with_name("ganglion-nlp").exists()  # the console script
