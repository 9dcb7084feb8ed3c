"""The ``ganglion-asr`` command refuses bad arguments clearly, before any model is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from asr_fixtures import write_tone

from ganglion_asr.cli import main
from ganglion_asr.models import EncDecCTCModel


class _FakeModel:
    """Stands in for a restored model: records what it was asked to transcribe."""

    def __init__(self) -> None:
        self.restored: list[str] = []  # archive paths restore_from was called with
        self.calls: list[tuple[list, int]] = []
        self.cfg = SimpleNamespace(sample_rate=16000)

    def transcribe(self, audio, batch_size):
        self.calls.append(([str(a) for a in audio], batch_size))
        return [f"text {i}" for i in range(len(audio))]


@pytest.fixture
def fake(monkeypatch) -> _FakeModel:
    """The model ``EncDecCTCModel.restore_from`` returns in these tests, recording its calls."""
    model = _FakeModel()

    def fake_restore(cls, path, **_):
        model.restored.append(path)
        return model

    monkeypatch.setattr(EncDecCTCModel, "restore_from", classmethod(fake_restore))
    return model


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "a.wav", 0.2)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "model.ganglion"
    path.write_bytes(b"not read: restore_from is replaced in these tests")
    return path


@pytest.mark.parametrize("value", ["0", "-4", "eight"])
def test_batch_size_below_one_is_an_argument_error(archive, wav, fake, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", str(archive), str(wav), "--batch-size", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --batch-size:" in err and "Traceback" not in err
    assert fake.restored == []


def test_negative_show_is_an_argument_error(archive, wav, fake, capsys):
    with pytest.raises(SystemExit):
        main(["transcribe", str(archive), str(wav), "--show", "-1"])
    assert "argument --show: must not be negative" in capsys.readouterr().err


def _refused(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was transcribed
    assert "Traceback" not in captured.err
    return captured.err


def test_output_in_a_missing_directory_is_refused_before_the_model_loads(
    archive, wav, fake, tmp_path, capsys
):
    out = tmp_path / "no" / "such" / "out.json"
    err = _refused(["transcribe", str(archive), str(wav), "--output", str(out)], capsys)
    assert f"--output {out}: directory {out.parent} does not exist; create it first" in err
    assert fake.restored == [] and not (tmp_path / "no").exists()


def test_output_under_a_regular_file_is_refused_before_the_model_loads(
    archive, wav, fake, tmp_path, capsys
):
    # a file where a folder should be stops root too, unlike a chmod'ed folder
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep")
    for out in (blocker / "out.json", blocker / "sub" / "out.json"):
        err = _refused(["transcribe", str(archive), str(wav), "--output", str(out)], capsys)
        assert f"--output {out}: {blocker} is " in err and "not a directory" in err
    assert fake.restored == [] and blocker.read_text() == "keep"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only folders"
)
def test_output_in_a_read_only_directory_is_refused_before_the_model_loads(
    archive, wav, fake, tmp_path, capsys
):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = locked / "out.json"
        err = _refused(["transcribe", str(archive), str(wav), "--output", str(out)], capsys)
        assert f"directory {locked} is not writable" in err
    finally:
        locked.chmod(0o755)
    assert fake.restored == []


def test_output_that_is_a_directory_is_refused(archive, wav, fake, tmp_path, capsys):
    err = _refused(["transcribe", str(archive), str(wav), "--output", str(tmp_path)], capsys)
    assert f"--output {tmp_path} is a directory" in err
    assert fake.restored == []


def test_missing_audio_and_missing_model_are_named_before_loading(
    archive, wav, fake, tmp_path, capsys
):
    missing = tmp_path / "missing.wav"
    err = _refused(["transcribe", str(archive), str(wav), str(missing)], capsys)
    assert f"audio file {missing} does not exist" in err
    err = _refused(["transcribe", str(tmp_path / "nope.ganglion"), str(wav)], capsys)
    assert "nope.ganglion: no such file; give a .ganglion model archive" in err
    assert fake.restored == []


def test_audio_files_after_options_are_transcribed_too(archive, wav, fake, tmp_path, capsys):
    other = write_tone(tmp_path / "b.wav", 0.3)
    out = tmp_path / "out.json"
    argv = ["transcribe", str(archive), "--batch-size", "3", str(wav), "--output", str(out)]
    assert main([*argv, str(other)]) == 0
    assert fake.calls == [([str(wav), str(other)], 3)]
    assert len(out.read_text().splitlines()) == 2
    with pytest.raises(SystemExit):
        main(["transcribe", str(archive), str(wav), "--no-such-option"])
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_wrong_kind_of_file_as_archive_is_an_error_without_traceback(wav, tmp_path):
    # the real restore path, in a fresh process: a WAV given as the model archive
    result = subprocess.run(
        [sys.executable, "-m", "ganglion_asr", "transcribe", str(wav), str(wav)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"ganglion-asr transcribe: error: Refused archive {wav}")
    assert "Traceback" not in result.stderr


def test_transcribe_says_once_how_other_rates_and_channels_are_converted(
    archive, wav, fake, tmp_path, capsys
):
    phone = [write_tone(tmp_path / f"phone{i}.wav", 0.2, sample_rate=8000) for i in range(2)]
    cd = tmp_path / "cd.wav"
    sf.write(str(cd), np.zeros((4410, 2), dtype=np.float32), 44100)
    assert main(["transcribe", str(archive), str(wav), *map(str, phone), str(cd)]) == 0
    err = capsys.readouterr().err
    assert err.count("input audio:") == 1
    assert "resampled 2 at 8000 Hz, 1 at 44100 Hz to 16000 Hz" in err
    assert "averaged the channels of 1 multichannel file(s) to mono" in err
    # audio already at the model's rate, in mono: nothing to say
    assert main(["transcribe", str(archive), str(wav)]) == 0
    assert "input audio" not in capsys.readouterr().err
