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
