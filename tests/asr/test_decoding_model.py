"""The model's ``decoding`` section: built from the config, swapped by change_decoding_strategy,
packed with its word list and LM so a restored model decodes the same; transcribe's options."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import torch
from asr_fixtures import tiny_asr_config, write_tone

from ganglion.errors import ConfigError
from ganglion_asr.cli import main
from ganglion_asr.decoding import (
    BeamCTCDecoder,
    GreedyCTCDecoder,
    NGramLanguageModel,
    WordListError,
)
from ganglion_asr.models import EncDecCTCModel

CONFIG = tiny_asr_config()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    words = tmp_path / "src" / "words.txt"
    words.parent.mkdir()
    words.write_text("one\ntwo\nthree\n")
    lm = tmp_path / "src" / "digits.arpa"
    NGramLanguageModel.train(["one two three", "three two one"], order=2).save(lm)
    return words, lm


def _model(decoding: dict | None = None) -> EncDecCTCModel:
    torch.manual_seed(0)
    cfg = copy.deepcopy(CONFIG)
    if decoding is not None:
        cfg["decoding"] = decoding
    return EncDecCTCModel(cfg)


def test_no_decoding_section_is_greedy_as_before():
    assert type(_model().decoding) is GreedyCTCDecoder


def test_the_archive_keeps_the_beam_decoder_and_its_files(tmp_path, files):
    words, lm = files
    model = _model(
        {"strategy": "beam", "beam_size": 4, "alpha": 0.7, "word_list": str(words), "lm": str(lm)}
    )
    assert isinstance(model.decoding, BeamCTCDecoder)
    wav = write_tone(tmp_path / "a.wav", 0.5)
    before = model.transcribe([wav])
    path = model.save_to(tmp_path / "m.ganglion")
    shutil.rmtree(tmp_path / "src")  # the training machine's paths are gone
    restored = EncDecCTCModel.restore_from(str(path))
    decoder = restored.decoding
    assert isinstance(decoder, BeamCTCDecoder)
    assert (decoder.beam_size, decoder.alpha) == (4, 0.7)
    assert sorted(decoder.word_list.words) == ["one", "three", "two"]
    assert decoder.lm is not None and "three" in decoder.lm
    assert restored.transcribe([wav]) == before
    assert all(w in ("one", "two", "three") for w in before[0].split())


def test_change_decoding_strategy_swaps_the_decoder_and_is_saved(tmp_path, files):
    words, _ = files
    model = _model()
    model.change_decoding_strategy({"strategy": "beam", "beam_size": 2, "word_list": str(words)})
    assert isinstance(model.decoding, BeamCTCDecoder)
    assert model.cfg.decoding.beam_size == 2
    restored = EncDecCTCModel.restore_from(str(model.save_to(tmp_path / "m.ganglion")))
    assert isinstance(restored.decoding, BeamCTCDecoder)
    # a restored model's config names its packed file; changing one setting keeps it
    restored.change_decoding_strategy({**restored.cfg.decoding, "beam_size": 3})
    assert restored.decoding.beam_size == 3 and len(restored.decoding.word_list) == 3
    model.change_decoding_strategy(None)
    assert type(model.decoding) is GreedyCTCDecoder
    assert "decoding.word_list" not in model.artifacts


def test_words_outside_the_labels_and_missing_files_are_named(tmp_path):
    bad = tmp_path / "words.txt"
    bad.write_text("one\nfünf\n")
    with pytest.raises(WordListError, match=r"words.txt, line 2: word 'fünf'.*'ü'"):
        _model({"strategy": "beam", "word_list": str(bad)})
    with pytest.raises(ConfigError, match=r"model.decoding.lm: .*nope.arpa does not exist"):
        _model({"strategy": "beam", "lm": str(tmp_path / "nope.arpa")})


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "model.ganglion"
    path.write_bytes(b"never read: every case here fails before the model loads")
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--beam-size", "0"], "--beam-size"),
        (["--lm", "missing.arpa"], "--lm missing.arpa does not exist"),
        (["--word-list", "missing.txt"], "--word-list missing.txt does not exist"),
        (["--decoder", "greedy", "--beam-size", "4"], "--beam-size apply to --decoder beam"),
        (["--lexicon-snap"], "--lexicon-snap needs --word-list"),
    ],
)
def test_transcribe_decoding_options_fail_in_one_line(
    archive, tmp_path, capsys, monkeypatch, options, message
):
    monkeypatch.chdir(tmp_path)
    wav = write_tone(tmp_path / "a.wav", 0.2)
    try:
        code = main(["transcribe", str(archive), str(wav), *options])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2 or code == 1
    err = capsys.readouterr().err.strip()
    assert message in err.splitlines()[-1]  # argparse's usage lines come first
    assert "Traceback" not in err


def test_transcribe_with_beam_options_decodes_with_them(tmp_path, files, capsys):
    words, lm = files
    wav = write_tone(tmp_path / "a.wav", 0.5)
    path = _model().save_to(tmp_path / "m.ganglion")
    argv = ["transcribe", str(path), str(wav), "--beam-size", "4", "--word-list", str(words)]
    assert main([*argv, "--lm", str(lm), "--alpha", "0.3"]) == 0
    text = capsys.readouterr().out.strip().split("\t")[1]
    assert all(w in ("one", "two", "three") for w in text.split())


def test_transcribe_beam_options_keep_the_models_word_list(tmp_path, capsys):
    wav = write_tone(tmp_path / "a.wav", 0.5)
    model = _model({"strategy": "beam", "beam_size": 4, "word_list": ["one", "two", "three"]})
    path = model.save_to(tmp_path / "m.ganglion")
    assert main(["transcribe", str(path), str(wav), "--beam-size", "2"]) == 0
    text = capsys.readouterr().out.strip().split("\t")[1]
    assert text and all(w in ("one", "two", "three") for w in text.split())
    # greedy asked for: the model's beam settings are left behind
    assert main(["transcribe", str(path), str(wav), "--decoder", "greedy"]) == 0
    greedy = capsys.readouterr().out.strip().split("\t")[1]
    assert not all(w in ("one", "two", "three") for w in greedy.split())
