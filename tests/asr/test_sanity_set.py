"""The human sanity set built from Debian's pocketsphinx-testdata."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import soundfile as sf

from ganglion.command_errors import run_reporting_errors
from ganglion_asr.data import sanity_command
from ganglion_asr.data.manifest import read_manifest
from ganglion_asr.data.sanity import (
    POCKETSPHINX_TESTDATA,
    find_sanity_recordings,
    make_sanity_set,
    normalize_digit_text,
)
from ganglion_asr.errors import DataError

needs_testdata = pytest.mark.skipif(
    not (POCKETSPHINX_TESTDATA / "tidigits" / "dhd.2934z.raw").is_file(),
    reason="pocketsphinx-testdata is not installed (apt-get install pocketsphinx-testdata)",
)

#: the quick start's labels (conf/quartznet_digits.yaml)
ALPHABET = set(" abcdefghijklmnopqrstuvwxyz'")


@needs_testdata
def test_manifest_rows_are_readable_16k_wavs_with_durations_and_digit_texts(tmp_path):
    manifest = make_sanity_set(tmp_path / "sanity", log=lambda _: None)
    entries = read_manifest(manifest)
    texts = {entry.audio_filepath.rsplit("/", 1)[-1]: entry.text for entry in entries}
    assert texts["tidigits-dhd.2934z.wav"] == "two nine three four zero"
    assert texts["cards-004.wav"] == "five five"
    assert "numbers.wav" in texts
    for entry in entries:
        info = sf.info(entry.audio_filepath)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert entry.duration == pytest.approx(info.frames / 16000, abs=1e-3)
        assert set(entry.text) <= ALPHABET and entry.text == normalize_digit_text(entry.text)
    # a headerless recording is converted sample for sample (16 kHz, 16-bit little-endian)
    raw = np.fromfile(POCKETSPHINX_TESTDATA / "tidigits" / "dhd.2934z.raw", dtype="<i2")
    wav, rate = sf.read(tmp_path / "sanity" / "wavs" / "tidigits-dhd.2934z.wav", dtype="int16")
    assert rate == 16000 and np.array_equal(wav, raw)
    assert texts == {
        e.audio_filepath.rsplit("/", 1)[-1]: e.text
        for e in read_manifest(make_sanity_set(tmp_path / "again", log=lambda _: None))
    }


def test_transcripts_are_normalised_and_other_words_refused():
    assert normalize_digit_text("<s> Three OH five </s>") == "three zero five"
    with pytest.raises(DataError, match=r"not only digit words \(ten, of, clubs\)"):
        normalize_digit_text("ten of clubs five")


def test_digit_recordings_are_found_by_transcript_and_tidigits_name(tmp_path):
    data = tmp_path / "data"
    (data / "tidigits").mkdir(parents=True)
    (data / "cards").mkdir()
    pcm = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2")
    pcm.tofile(data / "tidigits" / "abc.1o9za.raw")
    pcm.tofile(data / "tidigits" / "notes.raw")  # not a TIDIGITS name: left out
    for name in ("001", "002"):
        sf.write(data / "cards" / f"{name}.wav", pcm, 8000, subtype="PCM_16")
    (data / "cards" / "cards.transcription").write_text(
        "<s> ten of clubs </s> (001)\n<s> five oh </s> (002)\n"
    )
    found = {r.name: r.text for r in find_sanity_recordings(data)}
    assert found == {"cards-002": "five oh", "tidigits-abc.1o9za": "one oh nine zero"}
    manifest = make_sanity_set(tmp_path / "out", data, log=lambda _: None)
    rows = {e.text: e for e in read_manifest(manifest)}
    assert set(rows) == {"five zero", "one zero nine zero"}
    # the 8 kHz wav is resampled; the 16 kHz raw keeps its 8000 samples
    assert rows["five zero"].duration == pytest.approx(1.0, abs=1e-3)
    assert rows["one zero nine zero"].duration == pytest.approx(0.5, abs=1e-3)
    assert sf.info(rows["five zero"].audio_filepath).samplerate == 16000


def test_odd_raw_file_and_missing_package_are_named(tmp_path, capsys):
    data = tmp_path / "data" / "tidigits"
    data.mkdir(parents=True)
    (data / "x.12a.raw").write_bytes(b"\x00\x01\x02")
    with pytest.raises(DataError, match="x.12a.raw holds 3 bytes: not 16-bit PCM"):
        make_sanity_set(tmp_path / "out", tmp_path / "data", log=lambda _: None)
    assert not (tmp_path / "out" / "sanity_manifest.json").exists()

    parser = argparse.ArgumentParser()
    sanity_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["make-sanity-set", str(tmp_path / "o2"), "--data-dir", str(tmp_path / "none")]
    )
    assert run_reporting_errors("ganglion-asr make-sanity-set", args.run, args) != 0
    err = capsys.readouterr().err
    assert "apt-get install pocketsphinx-testdata" in err and "Traceback" not in err


@needs_testdata
def test_command_writes_the_set_and_lists_it(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sanity_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["make-sanity-set", str(tmp_path)])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "tidigits-dhd.2934z.wav: two nine three four zero" in out
    assert (tmp_path / "sanity_manifest.json").is_file()
