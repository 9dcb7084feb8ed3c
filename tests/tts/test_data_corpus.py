"""The single-voice espeak-ng corpus: sentence cleaning, disjoint deterministic splits, the
build (16 kHz mono, manifests with a speaker), resumption and the errors that refuse a build."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from ganglion_asr.data import synth_digits
from ganglion_asr.data.manifest import read_manifest
from ganglion_asr.data.synth_digits import DIGIT_WORDS
from ganglion_asr.errors import DataError
from ganglion_tts.data.corpus import (
    TTSCorpusConfig,
    build_tts_corpus,
    clean_sentence,
    plan_tts_corpus,
    read_sentences,
)
from ganglion_tts.errors import CorpusError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

FORTUNES = """The early bird catches the worm.
%
Time flies like an arrow. Fruit flies like a banana.
\t\t-- Groucho Marx
%
NASA launched 3 rockets.
%
Never put off till tomorrow what you can do today.
%
"""
WORDNET_NOUN = (
    "  1 This software and database is being provided to you, the LICENSEE\n"
    '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived; "she wanted '
    'to see the world"; "the house was very old"  \n'
    '00002137 03 n 02 thing 0 | a separate object; "he looked at the thing"; "e.g. this"  \n'
)


def _tiny(root: Path, **changes) -> TTSCorpusConfig:
    """Settings of an 8-utterance corpus whose sentences come from a few lines of fortunes and
    WordNet written under ``root`` (so the tests need neither package)."""
    fortunes, wordnet = root / "fortunes", root / "wordnet"
    if not fortunes.exists():
        fortunes.mkdir(parents=True)
        (fortunes / "quotes.u8").write_text(FORTUNES)
        (fortunes / "art.u8").write_text("An excluded file of pictures.\n%\n")
        wordnet.mkdir()
        (wordnet / "data.noun").write_text(WORDNET_NOUN)
        for pos in ("verb", "adj", "adv"):
            (wordnet / f"data.{pos}").write_text("")
    settings = dict(num_train=4, num_validation=2, num_test=2, digit_fraction=0.5, seed=3)
    settings.update(fortunes_dir=str(fortunes), wordnet_dir=str(wordnet))
    settings.update(changes)
    return TTSCorpusConfig(**settings)


def _quiet(_: str) -> None:
    pass


# -- sentences ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Mince  the\ngarlic.", "Mince the garlic."),
        ("If you try to please everyone, somebody is not going to like it.", True),
        ("Shouldn't there be more?", True),
        ("I am.", False),  # two words
        ("NASA was founded in 1958.", False),
        ("He met Mr. Smith today.", False),
        ("They all went to see Dr.", False),
        ("It costs $5 now.", False),
        ("no capital letter here.", False),
        ("No final punctuation here", False),
        ("Words; with a semicolon.", False),
        ("The iPhone is a phone.", False),
        ("Q is not a word here.", False),
        (" ".join(["word"] * 16).capitalize() + ".", False),
    ],
)
def test_clean_sentence_keeps_short_plain_sentences(text, kept):
    result = clean_sentence(text)
    if kept is False:
        assert result is None
    else:
        assert result == (kept if isinstance(kept, str) else text)


def test_sources_are_read_split_into_sentences_without_attributions(tmp_path):
    config = _tiny(tmp_path)
    pools = read_sentences(config)
    assert pools["fortunes"] == [
        "The early bird catches the worm.",
        "Time flies like an arrow.",
        "Fruit flies like a banana.",
        "Never put off till tomorrow what you can do today.",
    ]
    assert pools["wordnet"] == [
        "She wanted to see the world.",
        "The house was very old.",
        "He looked at the thing.",
    ]


# -- the plan -----------------------------------------------------------------------------------
def _many_sentences(n: int) -> list[str]:
    combos = itertools.product(
        ("old", "small", "happy", "quiet", "green", "cold"),
        ("dog", "house", "river", "teacher", "garden", "window"),
        ("saw", "liked", "found", "painted", "followed"),
        ("car", "tree", "letter", "bridge", "song"),
    )
    return [f"The {a} {b} {v} the {o}." for (a, b, v, o), _ in zip(combos, range(n))]


def test_plan_is_disjoint_sized_and_a_function_of_the_seed():
    config = TTSCorpusConfig(num_train=300, num_validation=40, num_test=60, seed=5)
    pools = {"fortunes": _many_sentences(400), "wordnet": []}
    specs, facts = plan_tts_corpus(config, pools)
    by_split = {s: [x.text for x in specs if x.split == s] for s in ("train", "validation", "test")}
    assert {s: len(t) for s, t in by_split.items()} == {"train": 300, "validation": 40, "test": 60}
    assert facts["counts"]["train"] == {"digits": 180, "sentences": 120}
    assert facts["counts"]["test"] == {"digits": 30, "sentences": 30}
    train = set(by_split["train"])
    held_out = by_split["validation"] + by_split["test"]
    assert not train & set(held_out)
    assert len(set(held_out)) == len(held_out) and len(train) == 300  # all different
    digit_texts = [t for t in by_split["train"] if t.split()[0] in DIGIT_WORDS]
    assert all(w in DIGIT_WORDS for t in digit_texts for w in t.split())
    assert {len(t.split()) for t in digit_texts} == set(range(1, 8))
    held_digits = [t for t in held_out if t.split()[0] in DIGIT_WORDS]
    assert min(len(t.split()) for t in held_digits) >= 3
    assert [s.utt_id for s in specs[:2]] == ["train-000001", "train-000002"]
    assert {(s.voice, s.speed, s.pitch) for s in specs} == {("en-us", 165, 50)}
    assert plan_tts_corpus(config, pools) == (specs, facts)
    config.seed = 6
    assert [s.text for s in plan_tts_corpus(config, pools)[0]] != [s.text for s in specs]


def test_too_few_sentences_or_digit_strings_say_what_to_change():
    config = TTSCorpusConfig(num_train=20, num_validation=0, num_test=0, digit_fraction=0.5)
    with pytest.raises(CorpusError, match=r"10 sentences needed, but only 3 .*--digit-fraction"):
        plan_tts_corpus(config, {"fortunes": _many_sentences(3)})
    config = TTSCorpusConfig(
        num_train=20, num_validation=0, num_test=0, digit_fraction=1, max_digits=1
    )
    with pytest.raises(CorpusError, match=r"20 training digit strings .* only 10 different"):
        plan_tts_corpus(config, {"fortunes": []})


def test_bad_settings_are_named():
    with pytest.raises(CorpusError, match="min_digits"):
        TTSCorpusConfig(min_digits=4, max_digits=2).validate()
    with pytest.raises(CorpusError, match="unknown sentence source.*'books'.*fortunes, wordnet"):
        TTSCorpusConfig(sources=["books"]).validate()
    with pytest.raises(CorpusError, match="pitch=120 must lie in 0-99"):
        TTSCorpusConfig(pitch=120).validate()


# -- the build ----------------------------------------------------------------------------------
@needs_espeak
def test_build_writes_16k_mono_manifests_with_a_speaker_and_is_reproducible(tmp_path):
    config = _tiny(tmp_path)
    record = build_tts_corpus(tmp_path / "a", config, jobs=2, progress=False, log=_quiet)
    again = build_tts_corpus(tmp_path / "b", _tiny(tmp_path), jobs=1, progress=False, log=_quiet)
    assert record["complete"] and record["speaker"] == "en-us"
    assert record["counts"]["train"] == {"digits": 2, "sentences": 2}
    for split in ("train", "validation", "test"):
        name = f"{split}_manifest.json"
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    entries = {s: read_manifest(tmp_path / "a" / f"{s}_manifest.json") for s in ("train", "test")}
    assert all(e.speaker == "en-us" for es in entries.values() for e in es)
    assert not {e.text for e in entries["train"]} & {e.text for e in entries["test"]}
    for entry in entries["train"]:
        info = sf.info(entry.audio_filepath)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.frames / 16000 - entry.duration) < 1e-3
        twin = Path(entry.audio_filepath.replace(str(tmp_path / "a"), str(tmp_path / "b")))
        assert Path(entry.audio_filepath).read_bytes() == twin.read_bytes()
    saved = json.loads((tmp_path / "a" / "corpus.json").read_text())
    assert saved["settings"]["voice"] == "en-us" and saved == record
    assert again["plan"] == record["plan"]


@needs_espeak
def test_an_interrupted_build_resumes_and_keeps_finished_files(tmp_path):
    out = tmp_path / "corpus"
    build_tts_corpus(out, _tiny(tmp_path), jobs=1, progress=False, log=_quiet)
    manifest = (out / "train_manifest.json").read_text()
    kept = out / "wavs" / "train" / "train-000001.wav"
    kept_time = kept.stat().st_mtime_ns
    # as if killed half-way: two files missing, a temp file left, no manifests yet
    (out / "wavs" / "train" / "train-000002.wav").unlink()
    (out / "wavs" / "test" / "test-000001.wav").unlink()
    (out / "wavs" / "test" / ".test-000001.abc.tmp.wav").write_bytes(b"half")
    (out / "train_manifest.json").unlink()
    record = json.loads((out / "corpus.json").read_text())
    (out / "corpus.json").write_text(json.dumps({**record, "complete": False}))
    said = []
    build_tts_corpus(out, _tiny(tmp_path), jobs=1, progress=False, log=said.append)
    assert said == [
        f"synthesising 2 of 8 utterances (4 train, 2 validation, 2 test) with espeak-ng voice "
        f"en-us into {out}"
    ]
    assert (out / "train_manifest.json").read_text() == manifest
    assert kept.stat().st_mtime_ns == kept_time
    assert json.loads((out / "corpus.json").read_text())["complete"]


@needs_espeak
def test_a_folder_of_other_settings_is_refused_naming_the_differences(tmp_path):
    out = tmp_path / "corpus"
    build_tts_corpus(out, _tiny(tmp_path), jobs=1, progress=False, log=_quiet)
    before = (out / "train_manifest.json").read_text()
    with pytest.raises(CorpusError) as info:
        build_tts_corpus(out, _tiny(tmp_path, seed=4, speed=170), progress=False, log=_quiet)
    message = str(info.value)
    assert "seed: 3 there, 4 now" in message and "speed: 165 there, 170 now" in message
    assert "--overwrite" in message and "Rerun with its settings" in message
    assert (out / "train_manifest.json").read_text() == before  # nothing touched
    record = build_tts_corpus(
        out, _tiny(tmp_path, seed=4), jobs=1, overwrite=True, progress=False, log=_quiet
    )
    assert record["settings"]["seed"] == 4
    assert (out / "train_manifest.json").read_text() != before


@needs_espeak
def test_unknown_voice_lists_close_ones(tmp_path):
    with pytest.raises(CorpusError, match=r"no English voice 'en-uss'\. Close: en-us"):
        build_tts_corpus(tmp_path / "c", _tiny(tmp_path, voice="en-uss"), log=_quiet)
    with pytest.raises(CorpusError, match=r"no voice variant 'f33' .*Close: f3"):
        build_tts_corpus(tmp_path / "c", _tiny(tmp_path, voice="en-us+f33"), log=_quiet)
    assert not (tmp_path / "c").exists()


def test_missing_espeak_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(synth_digits, "ESPEAK", "espeak-ng-not-installed-here")
    with pytest.raises(DataError, match="espeak-ng is not installed"):
        build_tts_corpus(tmp_path / "c", _tiny(tmp_path), log=_quiet)
    assert not (tmp_path / "c").exists()


def test_folders_that_are_not_ours_are_refused(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="not empty and holds no corpus.json"):
        build_tts_corpus(busy, _tiny(tmp_path), log=_quiet)
    other = tmp_path / "asr"
    other.mkdir()
    (other / "corpus.json").write_text(json.dumps({"settings": {"num_train": 8000}}))
    with pytest.raises(CorpusError, match="another kind of corpus"):
        build_tts_corpus(other, _tiny(tmp_path), log=_quiet)
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        build_tts_corpus(busy / "notes.txt" / "x", _tiny(tmp_path), log=_quiet)


def test_missing_sources_say_what_to_install(tmp_path):
    with pytest.raises(CorpusError, match=r"'wordnet' not found: .* wordnet-base.*--sources"):
        read_sentences(_tiny(tmp_path, wordnet_dir=str(tmp_path / "nowhere")))
    (tmp_path / "wordnet" / "data.adv").unlink()
    with pytest.raises(CorpusError, match=r"incomplete: data.adv missing"):
        read_sentences(_tiny(tmp_path))
