"""Restoring a speech model: one build on the meta device (the preprocessor computes its window
and mel filterbank on the CPU there), the archive's tensors assigned, the outputs identical to
the saved model's; an edited config asking for millions of filters is refused by its shapes
before anything is allocated, and one asking for more mel bands than frequency bins by the
preprocessor, naming the archive."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import torch
import yaml
from archive_edits import peak_rss_rise, with_members
from asr_fixtures import tiny_asr_config

from ganglion import ModelPT
from ganglion.archive import CONFIG_NAME, ArchiveError
from ganglion.errors import ConfigError
from ganglion_asr.models import EncDecCTCModel
from ganglion_asr.modules.features import AudioToMelSpectrogramPreprocessor

CONFIG = tiny_asr_config()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """The default device each EncDecCTCModel is built on (``meta`` inside a restore's first
    build), in order."""
    devices: list[str] = []
    original = EncDecCTCModel.__init__

    def recording(self, *args, **kwargs):
        devices.append(torch.get_default_device().type)
        original(self, *args, **kwargs)

    monkeypatch.setattr(EncDecCTCModel, "__init__", recording)
    return devices


def _saved(tmp_path: Path, config: dict = CONFIG) -> tuple[EncDecCTCModel, Path]:
    torch.manual_seed(0)
    model = EncDecCTCModel(copy.deepcopy(config))
    return model, model.save_to(tmp_path / "asr.ganglion")


def test_the_preprocessor_built_on_the_meta_device_holds_its_window_and_filterbank():
    config = {"features": 40, "n_fft": 512, "window": "hamming"}
    real = AudioToMelSpectrogramPreprocessor(**config)
    with torch.device("meta"):
        on_meta = AudioToMelSpectrogramPreprocessor(**config)
    for name in ("window", "fb"):
        built, reference = getattr(on_meta, name), getattr(real, name)
        assert not built.is_meta and built.device.type == "cpu", name
        assert torch.equal(built, reference), name


def test_more_mel_bands_than_frequency_bins_is_a_config_error():
    with pytest.raises(ConfigError, match=r"features=300 mel bands need 1 to n_fft // 2 \+ 1"):
        AudioToMelSpectrogramPreprocessor(features=300, n_fft=512)


def test_an_asr_archive_restores_in_one_meta_build_to_identical_outputs(tmp_path, builds):
    model, path = _saved(tmp_path)
    builds.clear()
    restored = ModelPT.restore_from(path)
    assert builds == ["meta"]  # the constructor ran once, on the meta device
    assert type(restored) is EncDecCTCModel
    state = {**dict(restored.named_parameters()), **dict(restored.named_buffers())}
    assert not [name for name, t in state.items() if t.is_meta]
    for name in ("window", "fb"):
        assert torch.equal(getattr(restored.preprocessor, name), getattr(model.preprocessor, name))
    torch.manual_seed(1)
    audio = 0.1 * torch.randn(2, 16000)
    lengths = torch.tensor([16000, 11000])
    model.eval()
    restored.eval()
    with torch.no_grad():
        expected = model(input_signal=audio, input_signal_length=lengths)
        got = restored(input_signal=audio, input_signal_length=lengths)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)


def test_an_asr_config_asking_for_millions_of_filters_is_refused_by_its_shapes(tmp_path, builds):
    _, path = _saved(tmp_path)
    huge = copy.deepcopy(CONFIG)
    huge["encoder"]["jasper"][1]["filters"] = 10_000_000  # GBs of weights in the real build
    edited = with_members(
        path, tmp_path / "edited.ganglion", {CONFIG_NAME: yaml.safe_dump(huge).encode()}
    )
    with torch.device("meta"):  # the shapes the edited config gives, for the expected message
        wanted = EncDecCTCModel(copy.deepcopy(huge)).state_dict()
    stored = EncDecCTCModel(copy.deepcopy(CONFIG)).state_dict()
    first = next(n for n, t in wanted.items() if tuple(t.shape) != tuple(stored[n].shape))
    builds.clear()
    start = time.perf_counter()
    rise, raised = peak_rss_rise(lambda: ModelPT.restore_from(edited))
    elapsed = time.perf_counter() - start
    assert isinstance(raised, ArchiveError), raised
    message = str(raised)
    assert str(edited) in message and "do not fit EncDecCTCModel" in message
    assert (
        f"'{first}' is {list(stored[first].shape)} in the archive, "
        f"{list(wanted[first].shape)} in the model" in message
    )
    assert builds == ["meta"]  # refused after the meta build, before any other
    assert elapsed < 2.0
    if rise is not None:
        assert rise < 200 << 20


def test_an_asr_config_asking_for_more_mel_bands_than_bins_is_refused_naming_the_archive(
    tmp_path, builds
):
    _, path = _saved(tmp_path)
    huge = copy.deepcopy(CONFIG)
    huge["preprocessor"]["features"] = 10_000_000  # a 10^7 x 257 filterbank: 10 GB
    edited = with_members(
        path, tmp_path / "edited.ganglion", {CONFIG_NAME: yaml.safe_dump(huge).encode()}
    )
    builds.clear()
    rise, raised = peak_rss_rise(lambda: ModelPT.restore_from(edited))
    assert isinstance(raised, ArchiveError), raised
    message = str(raised)
    assert message.startswith(f"Refused archive {edited}: {CONFIG_NAME} does not build")
    assert "features=10000000 mel bands" in message
    assert builds == ["meta"]
    if rise is not None:
        assert rise < 200 << 20


@pytest.mark.parametrize(
    "settings",
    [{"n_fft": 1 << 30}, {"window_size": 3600.0}, {"sample_rate": 10**9}],
    ids=["n_fft", "window", "sample_rate"],
)
def test_an_stft_frame_too_long_for_any_audio_is_a_config_error(settings):
    # the window and filterbank are derived from these, so they bound the constructor's memory
    with pytest.raises(ConfigError, match=r"n_fft=\d+ \(window \d+ samples\) is more than 65536"):
        AudioToMelSpectrogramPreprocessor(**settings)
