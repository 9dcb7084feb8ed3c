"""Manifests: parsing, relative paths, duration filters, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asr_fixtures import write_manifest_lines

from ganglion_asr.data.manifest import ManifestEntry, read_manifest, write_manifest
from ganglion_asr.errors import ManifestError


def test_relative_audio_paths_resolve_against_the_manifest_folder(tone_corpus, monkeypatch):
    monkeypatch.chdir("/")
    entries = read_manifest(tone_corpus)
    assert [Path(e.audio_filepath) for e in entries] == [
        tone_corpus.parent / "wavs" / f"u{i}.wav" for i in range(5)
    ]
    assert entries[1].text == "two three" and entries[1].duration == 1.0
    assert entries[3].location == f"{tone_corpus}:4"


def test_duration_filters_keep_utterances_within_bounds(tone_corpus):
    kept = read_manifest(tone_corpus, min_duration=1.0, max_duration=2.0)
    assert [e.duration for e in kept] == [1.0, 1.5, 2.0]


def test_several_manifests_given_as_comma_separated_string(tone_corpus, tmp_path):
    other = write_manifest_lines(
        tmp_path / "b" / "m.json", [{"audio_filepath": "/x.wav", "duration": 1, "text": "a"}]
    )
    entries = read_manifest(f"{tone_corpus},{other}")
    assert len(entries) == 6 and entries[-1].manifest == str(other)


def test_offset_is_optional_and_parsed(tmp_path):
    m = write_manifest_lines(
        tmp_path / "m.json",
        [{"audio_filepath": "a.wav", "duration": 1.0, "offset": 2.5, "text": "x"}],
    )
    assert read_manifest(m)[0].offset == 2.5


def test_malformed_json_line_names_file_and_line(tmp_path):
    m = write_manifest_lines(
        tmp_path / "m.json",
        [{"audio_filepath": "a.wav", "duration": 1.0, "text": "x"}, "", '{"audio_filepath": "b'],
    )
    with pytest.raises(ManifestError, match=rf"{m}:3: not valid JSON"):
        read_manifest(m)


def test_missing_key_names_the_key_and_line(tmp_path):
    m = write_manifest_lines(tmp_path / "m.json", [{"audio_filepath": "a.wav", "text": "x"}])
    with pytest.raises(ManifestError, match=rf"{m}:1: missing key\(s\) duration"):
        read_manifest(m)


def test_non_numeric_duration_is_rejected(tmp_path):
    m = write_manifest_lines(
        tmp_path / "m.json", [{"audio_filepath": "a.wav", "duration": "long", "text": "x"}]
    )
    with pytest.raises(ManifestError, match=r"m.json:1: 'duration' must be a number"):
        read_manifest(m)


def test_empty_manifest_is_a_clear_error(tmp_path):
    m = tmp_path / "empty.json"
    m.write_text("\n\n")
    with pytest.raises(ManifestError, match="holds no utterances"):
        read_manifest(m)


def test_missing_manifest_file_is_named(tmp_path):
    with pytest.raises(ManifestError, match="nope.json does not exist"):
        read_manifest(tmp_path / "nope.json")


def test_filters_removing_everything_say_so(tone_corpus):
    with pytest.raises(ManifestError, match="5 longer than max_duration=0.1"):
        read_manifest(tone_corpus, max_duration=0.1)


def test_write_manifest_round_trips_with_relative_paths(tmp_path):
    entries = [
        ManifestEntry(str(tmp_path / "w" / "a.wav"), 1.25, "hi there"),
        ManifestEntry("/elsewhere/b.wav", 2.0, "yo", offset=0.5),
    ]
    out = tmp_path / "m.json"
    assert write_manifest(out, entries) == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["audio_filepath"] == "w/a.wav"
    assert lines[1]["audio_filepath"] == "/elsewhere/b.wav" and lines[1]["offset"] == 0.5
    back = read_manifest(out)
    assert [(e.audio_filepath, e.duration, e.text) for e in back] == [
        (str(tmp_path / "w" / "a.wav"), 1.25, "hi there"),
        ("/elsewhere/b.wav", 2.0, "yo"),
    ]
    assert not list(tmp_path.glob(".m.json.*"))  # no temporary file left behind


def test_non_utf8_byte_names_file_line_and_byte_offset(tmp_path):
    first = b'{"audio_filepath": "a.wav", "duration": 1, "text": "x"}\n'
    second = b'{"audio_filepath": "b.wav", "duration": 1, "text": "caf\xe9"}\n'
    m = tmp_path / "latin1.json"
    m.write_bytes(first + second)
    offset = len(first) + second.index(b"\xe9")
    with pytest.raises(ManifestError) as info:
        read_manifest(m)
    assert str(info.value).startswith(f"{m}:2: byte 0xe9 at byte offset {offset} is not valid")
    assert "save the file as UTF-8" in str(info.value)


def test_binary_file_given_as_a_manifest_is_a_manifest_error(tmp_path):
    m = tmp_path / "audio.wav"
    m.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\xff\xfe")
    with pytest.raises(ManifestError, match=rf"{m}:1: bytes? 0x.. .*save the file as UTF-8"):
        read_manifest(m)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    m = tmp_path / "bom.json"
    m.write_bytes(b'\xef\xbb\xbf{"audio_filepath": "a.wav", "duration": 1, "text": "\xc3\xa9"}\n')
    assert read_manifest(m)[0].text == "é"


@pytest.mark.parametrize(
    ("key", "number"),
    [
        ("duration", "1e999"),  # parses to inf
        ("duration", "-1e999"),
        ("duration", "1" + "0" * 400),  # an int that float() overflows on
        ("duration", "NaN"),
        ("offset", "Infinity"),
    ],
)
def test_number_too_large_for_a_float_names_line_and_key(tmp_path, key, number):
    good = '{"audio_filepath": "a.wav", "duration": 1.0, "text": "x"}'
    bad = f'{{"audio_filepath": "a.wav", "duration": 1.0, "text": "x", "{key}": {number}}}'
    m = write_manifest_lines(tmp_path / "m.json", [good, bad])
    with pytest.raises(ManifestError) as info:
        read_manifest(m)
    message = str(info.value)
    assert message.startswith(f"{m}:2: '{key}' must be a finite number of seconds, got ")
    assert len(message) < 300  # a 400-digit value is described, not printed


def test_integer_beyond_pythons_digit_limit_is_a_manifest_error(tmp_path):
    bad = '{"audio_filepath": "a.wav", "duration": 1' + "0" * 5000 + ', "text": "x"}'
    m = write_manifest_lines(tmp_path / "m.json", [bad])
    with pytest.raises(ManifestError, match=rf"{m}:1: not a usable JSON line \(Exceeds the limit"):
        read_manifest(m)


def test_deeply_nested_json_line_is_a_manifest_error(tmp_path):
    m = write_manifest_lines(tmp_path / "m.json", ["[" * 100_000 + "]" * 100_000])
    with pytest.raises(ManifestError, match=rf"{m}:1: JSON nested too deeply"):
        read_manifest(m)


def test_speaker_key_is_read_kept_as_a_string_and_written_back(tmp_path):
    m = tmp_path / "m.json"
    rows = [
        {"audio_filepath": "a.wav", "duration": 1, "text": "x", "speaker": "en-us"},
        {"audio_filepath": "b.wav", "duration": 1, "text": "y", "speaker": 1034},
        {"audio_filepath": "c.wav", "duration": 1, "text": "z"},
    ]
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    entries = read_manifest(m)
    assert [e.speaker for e in entries] == ["en-us", "1034", None]
    assert entries[0].to_json()["speaker"] == "en-us"
    assert "speaker" not in entries[2].to_json()
    out = tmp_path / "copy.json"
    write_manifest(out, entries)
    assert [e.speaker for e in read_manifest(out)] == ["en-us", "1034", None]


@pytest.mark.parametrize("bad", [["a"], True, "", 1.5])
def test_bad_speaker_value_names_file_and_line(tmp_path, bad):
    m = tmp_path / "m.json"
    m.write_text(
        json.dumps({"audio_filepath": "a.wav", "duration": 1, "text": "x", "speaker": bad})
    )
    with pytest.raises(ManifestError, match=rf"{m}:1: 'speaker' must be a non-empty string"):
        read_manifest(m)
