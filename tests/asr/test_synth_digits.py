"""The espeak-ng digit corpus: content, held-out speakers, determinism, resumption, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import soundfile as sf
from asr_fixtures import needs_espeak

from ganglion_asr.data import synth_digits
from ganglion_asr.data.manifest import read_manifest
from ganglion_asr.data.synth_digits import (
    DIGIT_WORDS,
    DigitCorpusConfig,
    plan_corpus,
    synthesize_digit_corpus,
)
from ganglion_asr.errors import DataError

SMALL = dict(num_train=8, num_validation=3, num_test=3, seed=7, noise_prob=0.5)


def test_plan_holds_out_speakers_and_is_a_function_of_the_seed():
    voices, variants = ["en-us", "en-gb"], ["", "f1", "m3", "klatt", "Storm"]
    config = DigitCorpusConfig(
        num_train=200,
        num_validation=20,
        num_test=20,
        seed=1,
        test_speakers=0.2,
        validation_speakers=0.2,
    )
    speakers, specs = plan_corpus(config, voices, variants)
    assert not set(speakers["train"]) & (set(speakers["test"]) | set(speakers["validation"]))
    assert not set(speakers["test"]) & set(speakers["validation"])
    assert {s.voice for s in specs if s.split == "test"} <= set(speakers["test"])
    lengths = {len(s.text.split()) for s in specs}
    assert lengths == set(range(1, 8))
    assert all(w in DIGIT_WORDS for s in specs for w in s.text.split())
    assert plan_corpus(config, voices, variants) == (speakers, specs)
    config.seed = 2
    assert plan_corpus(config, voices, variants)[1] != specs


def test_variant_holdout_keeps_whole_variants_out_of_training():
    config = DigitCorpusConfig(
        num_train=50,
        num_validation=5,
        num_test=5,
        holdout="variant",
        test_speakers=0.25,
        validation_speakers=0.25,
    )
    speakers, _ = plan_corpus(config, ["en-us", "en-gb"], ["f1", "m3", "klatt", "Storm"])
    variant = lambda s: s.partition("+")[2]  # noqa: E731
    assert not {variant(s) for s in speakers["train"]} & {variant(s) for s in speakers["test"]}


def test_bad_settings_are_named():
    with pytest.raises(DataError, match="min_digits"):
        DigitCorpusConfig(min_digits=5, max_digits=2).validate()
    with pytest.raises(DataError, match="too few"):
        plan_corpus(DigitCorpusConfig(num_validation=1, num_test=1), ["en"], [""])


@needs_espeak
def test_corpus_is_16k_mono_with_manifests_and_identical_for_a_seed(tmp_path):
    config = DigitCorpusConfig(**SMALL)
    record = synthesize_digit_corpus(
        tmp_path / "a", config, jobs=2, progress=False, log=lambda _: None
    )
    assert record["counts"] == {"train": 8, "validation": 3, "test": 3} and record["complete"]
    test_entries = read_manifest(tmp_path / "a" / "test_manifest.json")
    train_rows = [
        json.loads(line)
        for line in (tmp_path / "a" / "train_manifest.json").read_text().splitlines()
    ]
    assert not {r["speaker"] for r in train_rows} & set(record["speakers"]["test"])
    for entry in test_entries:
        info = sf.info(entry.audio_filepath)
        assert info.samplerate == 16000 and info.channels == 1
        assert info.frames / 16000 == pytest.approx(entry.duration, abs=1e-3)
        assert all(w in DIGIT_WORDS for w in entry.text.split())
    synthesize_digit_corpus(
        tmp_path / "b", DigitCorpusConfig(**SMALL), jobs=1, progress=False, log=lambda _: None
    )
    for name in ("train_manifest.json", "wavs/test/test-000003.wav", "wavs/train/train-000008.wav"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not list((tmp_path / "a" / "wavs").rglob(".*"))  # no temporary files left


@needs_espeak
def test_other_settings_in_an_existing_corpus_need_overwrite(tmp_path):
    small = dict(SMALL, num_train=2, num_validation=1, num_test=1)
    synthesize_digit_corpus(
        tmp_path, DigitCorpusConfig(**small), progress=False, log=lambda _: None
    )
    said = []
    synthesize_digit_corpus(tmp_path, DigitCorpusConfig(**small), progress=False, log=said.append)
    assert said == [f"all 4 utterances are already in {tmp_path}; reading their durations"]
    next(tmp_path.glob("wavs/train/*.wav")).unlink()  # as if interrupted before the last one
    said.clear()
    synthesize_digit_corpus(tmp_path, DigitCorpusConfig(**small), progress=False, log=said.append)
    assert said[0].startswith("synthesising 1 of 4 utterances (2 train, 1 validation, 1 test)")
    with pytest.raises(DataError, match="other settings.*--overwrite"):
        synthesize_digit_corpus(
            tmp_path, DigitCorpusConfig(**dict(small, seed=8)), progress=False, log=lambda _: None
        )
    record = synthesize_digit_corpus(
        tmp_path,
        DigitCorpusConfig(**dict(small, seed=8)),
        overwrite=True,
        progress=False,
        log=lambda _: None,
    )
    assert record["settings"]["seed"] == 8


def test_missing_espeak_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(synth_digits, "ESPEAK", "espeak-ng-not-here")
    with pytest.raises(DataError, match="espeak-ng is not installed"):
        synthesize_digit_corpus(
            tmp_path, DigitCorpusConfig(**SMALL), progress=False, log=lambda _: None
        )


@needs_espeak
def test_unknown_variant_is_rejected_with_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="no voice variant nosuch; it has .*klatt"):
        synthesize_digit_corpus(
            tmp_path,
            DigitCorpusConfig(**SMALL, variants=["f1", "nosuch"]),
            progress=False,
            log=lambda _: None,
        )


@needs_espeak
def test_synth_digits_command_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganglion_asr",
            "synth-digits",
            str(tmp_path),
            "--num-train",
            "2",
            "--num-validation",
            "1",
            "--num-test",
            "1",
            "--quiet",
            "--variants",
            ",f1,m3,klatt",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "train:      2 utterances" in result.stdout
    assert len(read_manifest(tmp_path / "test_manifest.json")) == 1


def test_synth_digits_options_fill_every_config_field(monkeypatch, tmp_path):
    from dataclasses import asdict

    from ganglion_asr import cli

    seen = {}

    def fake(out_dir, config, **_):
        seen["config"] = config
        return {
            k: dict.fromkeys(("train", "validation", "test"), 0 if k != "speakers" else [])
            for k in ("counts", "hours", "speakers")
        }

    monkeypatch.setattr(synth_digits, "synthesize_digit_corpus", fake)
    argv = ["synth-digits", str(tmp_path), "--num-test", "5", "--pitch", "10,20"]
    argv += ["--holdout", "variant", "--voices", "en-us,en-gb", "--snr-db", "5,9"]
    assert cli.main(argv) == 0
    expected = asdict(DigitCorpusConfig())
    expected.update(
        num_test=5, pitch=(10, 20), holdout="variant", voices=["en-us", "en-gb"], snr_db=(5.0, 9.0)
    )
    assert asdict(seen["config"]) == expected


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"my notes, not a corpus\n", r"not JSON: Expecting value at line 1, column 1"),
        (b"[1, 2, 3]\n", r"expected a JSON object with 'settings', got list"),
        (b'{"complete": true}\n', r"expected a JSON object with 'settings', got an object"),
        (bytes(range(256)), r"binary or non-UTF-8 bytes"),
    ],
)
def test_junk_corpus_json_is_named_and_left_untouched(tmp_path, capsys, content, said):
    from ganglion_asr import cli

    record = tmp_path / "corpus.json"
    record.write_bytes(content)
    argv = ["synth-digits", str(tmp_path), "--num-train", "2", "--num-validation", "1"]
    assert cli.main([*argv, "--num-test", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ganglion-asr synth-digits: error: {record} is not a corpus record")
    assert re.search(said, err) and "delete it" in err and "choose another folder" in err
    assert "Traceback" not in err
    assert record.read_bytes() == content  # nothing overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.json"]  # nothing written


def test_a_file_given_as_the_corpus_folder_is_refused(tmp_path, capsys):
    from ganglion_asr import cli

    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    for out in (target, target / "corpus"):
        assert cli.main(["synth-digits", str(out), "--quiet"]) == 2
        assert f"{target} is a file, not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("jobs", ["0", "-2", "two"])
def test_synth_digits_jobs_must_be_a_positive_whole_number(tmp_path, capsys, jobs):
    from ganglion_asr import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["synth-digits", str(tmp_path), "--jobs", jobs])
    assert exit_info.value.code == 2
    assert "argument -j/--jobs:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--sample-rate", "0", "sample_rate=0 must be at least 8000 Hz"),
        ("--pitch", "10,120", r"pitch range \(10, 120\) must lie within 0-99"),
        ("--silence", "-1,0.2", r"silence range \(-1.0, 0.2\) must lie within >= 0"),
    ],
)
def test_impossible_settings_are_refused_before_anything_is_written(
    tmp_path, capsys, option, value, said
):
    from ganglion_asr import cli

    out = tmp_path / "corpus"
    assert cli.main(["synth-digits", str(out), f"{option}={value}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert re.search(said, err) and "Traceback" not in err
    assert not out.exists()
