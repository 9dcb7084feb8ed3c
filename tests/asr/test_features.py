"""The log-mel preprocessor (against librosa) and SpecAugment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganglion.errors import ConfigError
from ganglion_asr.modules.augment import SpectrogramAugmentation
from ganglion_asr.modules.features import AudioToMelSpectrogramPreprocessor, mel_filterbank
from ganglion_asr.types import MelSpectrogramType

librosa = pytest.importorskip("librosa")  # test-only reference


@pytest.mark.parametrize(
    ("scale", "norm"), [("slaney", "slaney"), ("htk", None), ("htk", "slaney"), ("slaney", None)]
)
def test_mel_filterbank_matches_librosa(scale, norm):
    ours = mel_filterbank(16000, 512, 64, 20.0, 7600.0, scale=scale, norm=norm).numpy()
    ref = librosa.filters.mel(
        sr=16000, n_fft=512, n_mels=64, fmin=20.0, fmax=7600.0, htk=scale == "htk", norm=norm
    )
    # stated tolerance: 1e-6 of the largest weight (float32 against librosa's float64)
    assert np.abs(ours - ref).max() <= 1e-6 * np.abs(ref).max()


def test_log_mel_matches_librosa_within_tolerance():
    """Stated tolerance: 1e-3 absolute on natural-log mel energies."""
    rng = np.random.default_rng(0)
    t = np.arange(24000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(t.shape)).astype(
        np.float32
    )
    pre = AudioToMelSpectrogramPreprocessor(
        dither=0.0, preemph=None, normalize=None, pad_to=0, features=80, n_fft=512
    )
    feats, length = pre(torch.from_numpy(audio)[None], torch.tensor([audio.size]))
    ref = np.log(
        librosa.feature.melspectrogram(
            y=audio,
            sr=16000,
            n_fft=512,
            hop_length=160,
            win_length=320,
            window="hann",
            center=True,
            pad_mode="constant",
            power=2.0,
            n_mels=80,
        )
        + 2**-24
    )
    assert feats.shape == (1, 80, ref.shape[1]) and int(length) == ref.shape[1]
    assert np.abs(feats[0].numpy() - ref).max() < 1e-3


def test_features_of_an_utterance_do_not_depend_on_its_batch():
    torch.manual_seed(0)
    pre = AudioToMelSpectrogramPreprocessor().eval()
    short, long = torch.randn(8000), torch.randn(16000)
    batch = torch.zeros(2, 16000)
    batch[0, :8000], batch[1] = short, long
    feats, lengths = pre(batch, torch.tensor([8000, 16000]))
    alone, alone_len = pre(short[None], torch.tensor([8000]))
    n = int(alone_len)
    assert lengths.tolist() == [51, 101] and n == 51
    assert torch.allclose(feats[0, :, :n], alone[0, :, :n], atol=1e-4)
    assert feats[0, :, n:].abs().max() == 0  # padding frames hold pad_value


def test_per_feature_normalisation_and_padding_to_a_multiple():
    pre = AudioToMelSpectrogramPreprocessor(pad_to=16).eval()
    feats, lengths = pre(torch.randn(3, 12345), torch.tensor([12345, 9000, 4000]))
    assert feats.shape[-1] % 16 == 0 and feats.shape[-1] >= int(lengths.max())
    n = int(lengths[1])
    valid = feats[1, :, :n]
    assert valid.mean(dim=1).abs().max() < 1e-4
    assert (valid.std(dim=1) - 1).abs().max() < 1e-3
    assert feats.neural_type.elements_type == MelSpectrogramType()


def test_dither_only_in_training():
    pre = AudioToMelSpectrogramPreprocessor(dither=1e-2)
    x, n = torch.zeros(1, 4000), torch.tensor([4000])
    pre.eval()
    assert torch.equal(pre(x, n)[0], pre(x, n)[0])
    pre.train()
    assert not torch.equal(pre(x, n)[0], pre(x, n)[0])


def test_preprocessor_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match="normalize='batch'"):
        AudioToMelSpectrogramPreprocessor(normalize="batch")
    with pytest.raises(ConfigError, match="window='kaiser'"):
        AudioToMelSpectrogramPreprocessor(window="kaiser")


def test_spec_augment_masks_in_training_within_each_utterance():
    torch.manual_seed(0)
    aug = SpectrogramAugmentation(
        freq_masks=2,
        time_masks=3,
        freq_width=8,
        time_width=0.1,
        rect_masks=2,
        rect_time=5,
        rect_freq=10,
        mask_value=-7.0,
    )
    spec = torch.randn(4, 64, 200)
    length = torch.tensor([200, 150, 80, 40])
    aug.train()
    out = aug(spec, length)
    masked = out == -7.0
    assert masked.any()
    for row, n in enumerate(length.tolist()):
        assert not masked[row, :, n:].any()  # padding frames never masked
        # time masks cover at most 3 spans of 10% of the length (plus 2 rectangles of 5)
        full_time = masked[row].all(dim=0).sum().item()
        assert full_time <= 3 * int(0.1 * n)
        full_freq = masked[row, :, :n].all(dim=1).sum().item()
        assert full_freq <= 2 * 8
    aug.eval()
    assert aug(spec, length) is spec


def test_spec_augment_is_vectorised_and_varies_between_rows():
    aug = SpectrogramAugmentation(freq_masks=2, freq_width=20).train()
    out = aug(torch.ones(16, 64, 50), torch.full((16,), 50))
    per_row = [(out[i, :, 0] == 0).nonzero().flatten().tolist() for i in range(16)]
    assert len({tuple(r) for r in per_row}) > 1  # each utterance gets its own masks
