"""Converters from LibriSpeech, Common Voice and wav+txt folders to manifests."""

from __future__ import annotations

import json

import pytest
from asr_fixtures import write_tone

from ganglion_asr.cli import main
from ganglion_asr.data.convert import (
    common_voice_to_manifest,
    folder_to_manifest,
    librispeech_to_manifest,
)
from ganglion_asr.data.manifest import read_manifest
from ganglion_asr.errors import AudioLoadError, DataError


def _librispeech(root):
    chapter = root / "dev-clean" / "84" / "121123"
    write_tone(chapter / "84-121123-0000.flac", 0.5, fmt="FLAC")
    write_tone(chapter / "84-121123-0001.flac", 0.75, fmt="FLAC")
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n"
    )
    write_tone(root / "dev-clean" / "174" / "50561" / "174-50561-0000.flac", 1.0, fmt="FLAC")
    (root / "dev-clean" / "174" / "50561" / "174-50561.trans.txt").write_text(
        "174-50561-0000 FORGOTTEN TOO THE NAME OF GILLIAN THE LOVELY CAPTIVE\n"
    )
    return root / "dev-clean"


def test_librispeech_layout_becomes_a_manifest(tmp_path):
    split = _librispeech(tmp_path)
    summary = librispeech_to_manifest(split, tmp_path / "dev.json")
    entries = read_manifest(tmp_path / "dev.json")
    assert summary.utterances == 3 and summary.seconds == pytest.approx(2.25)
    assert [e.text for e in entries] == [
        "forgotten too the name of gillian the lovely captive",
        "go do you hear",
        "but in less than five minutes",
    ]
    assert entries[1].audio_filepath.endswith("84/121123/84-121123-0000.flac")
    assert entries[1].duration == pytest.approx(0.5)
    first = json.loads((tmp_path / "dev.json").read_text().splitlines()[0])
    assert first["audio_filepath"] == "dev-clean/174/50561/174-50561-0000.flac"  # relative


def test_librispeech_missing_audio_names_transcript_line(tmp_path):
    split = _librispeech(tmp_path)
    (split / "84" / "121123" / "84-121123-0001.flac").unlink()
    with pytest.raises(AudioLoadError, match=r"84-121123.trans.txt:2: audio file .* not exist"):
        librispeech_to_manifest(split, tmp_path / "dev.json")
    summary = librispeech_to_manifest(split, tmp_path / "dev.json", missing="skip")
    assert summary.utterances == 2 and len(summary.skipped) == 1


def test_common_voice_tsv_with_clips_becomes_a_manifest(tmp_path):
    write_tone(tmp_path / "cv" / "clips" / "a.mp3", 1.0, sample_rate=48000, fmt="MP3")
    write_tone(tmp_path / "cv" / "clips" / "b.wav", 0.5, sample_rate=48000)
    (tmp_path / "cv" / "train.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\n"
        'x1\ta.mp3\t"Hello," she said.\t2\n'
        "x2\tb.wav\tIt's FINE — really?\t3\n"
    )
    summary = common_voice_to_manifest(tmp_path / "cv" / "train.tsv", tmp_path / "cv.json")
    entries = read_manifest(tmp_path / "cv.json")
    assert summary.utterances == 2
    assert [e.text for e in entries] == ["hello she said", "it's fine really"]
    assert entries[0].duration == pytest.approx(1.0, abs=0.06)  # mp3 frames are approximate


def test_common_voice_header_without_sentence_is_named(tmp_path):
    (tmp_path / "t.tsv").write_text("path\ttext\na.mp3\thi\n")
    with pytest.raises(DataError, match=r"t.tsv:1: header lacks column\(s\) sentence"):
        common_voice_to_manifest(tmp_path / "t.tsv", tmp_path / "m.json")


def test_folder_of_wav_and_txt_pairs_becomes_a_manifest(tmp_path):
    write_tone(tmp_path / "f" / "one.wav", 0.5)
    (tmp_path / "f" / "one.txt").write_text("One.\n")
    write_tone(tmp_path / "f" / "sub" / "two.wav", 0.25)
    (tmp_path / "f" / "sub" / "two.txt").write_text("Two  three\n")
    summary = folder_to_manifest(tmp_path / "f", tmp_path / "f" / "manifest.json")
    entries = read_manifest(tmp_path / "f" / "manifest.json")
    assert summary.utterances == 2 and [e.text for e in entries] == ["one", "two three"]


def test_folder_audio_without_transcript_is_an_error_unless_skipped(tmp_path):
    write_tone(tmp_path / "f" / "one.wav", 0.5)
    (tmp_path / "f" / "one.txt").write_text("one")
    write_tone(tmp_path / "f" / "lonely.wav", 0.5)
    with pytest.raises(DataError, match=r"lonely.wav has no transcript"):
        folder_to_manifest(tmp_path / "f", tmp_path / "m.json")
    assert folder_to_manifest(tmp_path / "f", tmp_path / "m.json", missing="skip").utterances == 1


def test_convert_command_runs_the_converter(tmp_path, capsys):
    split = _librispeech(tmp_path)
    assert main(["convert", "librispeech", str(split), str(tmp_path / "out.json")]) == 0
    assert "3 utterances" in capsys.readouterr().out
    assert len(read_manifest(tmp_path / "out.json")) == 3


def test_convert_command_reports_errors_without_traceback(tmp_path, capsys):
    assert main(["convert", "folder", str(tmp_path / "none"), str(tmp_path / "m.json")]) == 2
    assert "folder" in capsys.readouterr().err


def test_latin1_transcripts_name_file_line_and_byte(tmp_path):
    split = _librispeech(tmp_path)
    trans = split / "84" / "121123" / "84-121123.trans.txt"
    trans.write_bytes(b"84-121123-0000 GO\n84-121123-0001 CAF\xc9\n")
    with pytest.raises(DataError, match=rf"{trans}:2: byte 0xc9 at byte offset 36 .*UTF-8"):
        librispeech_to_manifest(split, tmp_path / "dev.json")
    write_tone(tmp_path / "f" / "one.wav", 0.5)
    (tmp_path / "f" / "one.txt").write_bytes(b"na\xefve\n")
    with pytest.raises(DataError, match=r"one.txt:1: byte 0xef at byte offset 2 .*save the file"):
        folder_to_manifest(tmp_path / "f", tmp_path / "m.json")
    tsv = tmp_path / "t.tsv"
    tsv.write_bytes(b"path\tsentence\na.mp3\tol\xe9\n")
    with pytest.raises(DataError, match=rf"{tsv}:2: byte 0xe9 at byte offset 22 "):
        common_voice_to_manifest(tsv, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "dev.json").exists()


def test_convert_command_reports_an_unwritable_manifest_path(tmp_path, capsys):
    write_tone(tmp_path / "f" / "one.wav", 0.5)
    (tmp_path / "f" / "one.txt").write_text("one")
    (tmp_path / "file").write_text("")
    assert main(["convert", "folder", str(tmp_path / "f"), str(tmp_path / "file" / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "a file stands where its folder should be" in err
