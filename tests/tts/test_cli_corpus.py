"""The ``ganglion-tts`` command and its ``make-corpus`` sub-command: counts printed on success,
one line and exit status 2 for a user's mistake, no traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganglion_asr.data import synth_digits
from ganglion_tts.cli import SUBCOMMANDS, build_parser, main

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _args(tmp_path: Path, out: str = "corpus", *extra: str) -> list[str]:
    """``make-corpus`` arguments for a 6-utterance corpus of sentences written under tmp_path."""
    fortunes, wordnet = tmp_path / "fortunes", tmp_path / "wordnet"
    if not fortunes.exists():
        fortunes.mkdir()
        (fortunes / "sayings.u8").write_text(
            "The early bird catches the worm.\n%\nTime flies like an arrow.\n%\n"
            "Never put off till tomorrow what you can do today.\n%\n"
            "Fruit flies like a banana.\n%\n"
        )
        wordnet.mkdir()
        for pos in ("noun", "verb", "adj", "adv"):
            (wordnet / f"data.{pos}").write_text("")
    return [
        "make-corpus",
        str(tmp_path / out),
        "--num-train=4",
        "--num-validation=1",
        "--num-test=1",
        "--digit-fraction=0.5",
        "--held-out-digit-fraction=0",
        f"--fortunes-dir={fortunes}",
        f"--wordnet-dir={wordnet}",
        "--quiet",
        "-j1",
        *extra,
    ]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("ganglion-tts make-corpus: error: ")
    return err[0]


@needs_espeak
def test_make_corpus_prints_counts_and_writes_the_corpus(tmp_path, capsys):
    assert main(_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "train:      4 utterances (2 digit strings, 2 sentences)" in out
    assert "test:      1 utterances (0 digit strings, 1 sentences)" in out
    assert f"speaker en-us; settings in {tmp_path / 'corpus' / 'corpus.json'}" in out
    record = json.loads((tmp_path / "corpus" / "corpus.json").read_text())
    assert record["settings"]["num_train"] == 4 and record["complete"]
    # the same command again finds everything there
    assert main(_args(tmp_path)) == 0


@needs_espeak
def test_unknown_voice_is_one_line_with_close_voices(tmp_path, capsys):
    assert main(_args(tmp_path, "corpus", "--voice=en-uss")) == 2
    assert "no English voice 'en-uss'. Close: en-us" in _one_error_line(capsys)


@needs_espeak
def test_other_settings_in_the_folder_are_one_line(tmp_path, capsys):
    assert main(_args(tmp_path)) == 0
    capsys.readouterr()
    assert main(_args(tmp_path, "corpus", "--seed=9")) == 2
    line = _one_error_line(capsys)
    assert "other settings (seed: 0 there, 9 now)" in line and "--overwrite" in line
    assert main(_args(tmp_path, "corpus", "--seed=9", "--overwrite")) == 0


def test_missing_espeak_and_sources_are_one_line(tmp_path, capsys, monkeypatch):
    assert main(_args(tmp_path, "corpus", "--sources=fortunes,books")) == 2
    assert "unknown sentence source(s) 'books'" in _one_error_line(capsys)
    monkeypatch.setattr(synth_digits, "ESPEAK", "espeak-ng-not-installed-here")
    assert main(_args(tmp_path)) == 2
    assert "espeak-ng is not installed" in _one_error_line(capsys)
    assert not (tmp_path / "corpus").exists()


def test_bad_option_values_are_argparse_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(_args(tmp_path, "corpus", "--num-train=0"))
    assert info.value.code == 2
    assert "--num-train: must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_args(tmp_path, "corpus", "--digit-fraction=1.5"))
    assert "must lie in [0, 1]" in capsys.readouterr().err


def test_every_registered_subcommand_module_adds_its_parser():
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    assert "make-corpus" in actions[0].choices
    assert SUBCOMMANDS[0] == "ganglion_tts.data.command"


def test_module_entry_point_answers_help_without_importing_torch():
    code = (
        "import sys, runpy; sys.argv = ['ganglion-tts', '--help']\n"
        "try:\n    runpy.run_module('ganglion_tts', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "make-corpus" in result.stdout
