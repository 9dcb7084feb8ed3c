"""Waveform augmentation: each perturbation is seeded, measurably right and keeps the length
rules; the dataset applies it to training only, the same in every worker and epoch."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from asr_fixtures import TINY_ASR_MODULES, write_manifest_lines, write_tone

from ganglion.errors import ConfigError
from ganglion_asr.augment import (
    AudioAugmentor,
    GainPerturbation,
    NoisePerturbation,
    PitchPerturbation,
    ReverbPerturbation,
    SpeedPerturbation,
    TelephonePerturbation,
    coloured_noise,
)
from ganglion_asr.data.dataset import build_dataloader
from ganglion_asr.data.vocab import ENGLISH_LABELS

SR = 16000
KEY = "model.train_ds.augmentor"
ALL = {
    "speed": {},
    "pitch": {},
    "noise": {},
    "reverb": {},
    "telephone": {"gsm_prob": 0.5},
    "eq": {},
    "gain": {},
}


def _speech_like(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    return (0.05 * voiced * envelope + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def _tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * SR / len(audio))


def _one(name: str, **settings) -> AudioAugmentor:
    return AudioAugmentor.from_config({name: {"prob": 1.0, **settings}}, key=KEY)


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_perturbation_is_seeded_acts_at_prob_one_and_not_at_zero(name):
    audio = _speech_like()
    on = _one(name, **ALL[name])
    a = on(audio, SR, np.random.default_rng(7))
    b = on(audio, SR, np.random.default_rng(7))
    c = on(audio, SR, np.random.default_rng(8))
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert a.shape != audio.shape or not np.allclose(a, audio, atol=1e-4)
    assert a.shape != c.shape or not np.array_equal(a, c)
    if name != "speed":
        assert a.shape == audio.shape  # only speed changes the length
    off = _one(name, **{**ALL[name], "prob": 0.0})
    assert np.array_equal(off(audio, SR, np.random.default_rng(7)), audio)


def test_full_chain_is_deterministic_and_others_draws_do_not_depend_on_one_being_off():
    audio = _speech_like()
    full = AudioAugmentor.from_config(ALL, key=KEY)
    assert np.array_equal(
        full(audio, SR, np.random.default_rng([1, 2, 3])),
        full(audio, SR, np.random.default_rng([1, 2, 3])),
    )
    # gain alone draws the same gain with or without the speed slot configured
    gain = AudioAugmentor.from_config({"gain": {}}, key=KEY)
    both = AudioAugmentor.from_config({"gain": {}, "pitch": {"prob": 0.0}}, key=KEY)
    rng = [5, 0, 1]
    assert np.array_equal(
        gain(audio, SR, np.random.default_rng(rng)), both(audio, SR, np.random.default_rng(rng))
    )


def test_speed_resamples_by_the_rate():
    audio = _tone(440.0)
    out = SpeedPerturbation(min_rate=1.1, max_rate=1.1)(audio, SR, np.random.default_rng(0))
    assert abs(out.shape[0] - round(SR / 1.1)) <= 2
    assert abs(_peak_hz(out) - 484.0) < 3.0
    three = SpeedPerturbation(min_rate=0.9, max_rate=1.1, num_rates=3)
    lengths = {three(audio, SR, np.random.default_rng(s)).shape[0] for s in range(30)}
    assert len(lengths) == 3 and SR in lengths


def test_pitch_scales_frequencies_and_keeps_the_length():
    audio = _tone(500.0)
    out = PitchPerturbation(min_factor=1.1, max_factor=1.1)(audio, SR, np.random.default_rng(0))
    assert out.shape == audio.shape
    assert abs(_peak_hz(out[2000:-2000]) - 550.0) < 8.0


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [0.0, 12.5])
def test_noise_lands_at_the_drawn_snr(colour, snr):
    audio = _speech_like()
    noise = NoisePerturbation(min_snr_db=snr, max_snr_db=snr, colours=[colour])
    out = noise(audio, SR, np.random.default_rng(3))
    added = out.astype(np.float64) - audio
    measured = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) / np.mean(added**2))
    assert abs(measured - snr) < 0.5


def test_coloured_noise_slopes():
    rng = np.random.default_rng(0)
    slopes = {}
    for colour in ("white", "pink", "brown"):
        power = np.abs(np.fft.rfft(coloured_noise(colour, 1 << 16, rng))) ** 2
        low, high = power[100:1000].mean(), power[10000:30000].mean()
        slopes[colour] = 10 * np.log10(low / high)
    # mean of 1/f over the two bands: 16.7 dB apart; of 1/f²: 34.8 dB
    assert abs(slopes["white"]) < 1 and 15 < slopes["pink"] < 18.5 and 33 < slopes["brown"] < 37


def test_noise_files_from_a_folder_and_a_manifest(tmp_path):
    write_tone(tmp_path / "noise" / "hum.wav", 0.3, freq=3000)
    manifest = write_manifest_lines(
        tmp_path / "noise.json", [{"audio_filepath": "noise/hum.wav", "duration": 0.3}]
    )
    audio = _tone(200.0)
    for source in ({"noise_dir": str(tmp_path / "noise")}, {"manifest_filepath": str(manifest)}):
        aug = _one("noise", colours=[], min_snr_db=0, max_snr_db=0, **source)
        out = aug(audio, SR, np.random.default_rng(0))
        assert out.shape == audio.shape
        assert abs(_peak_hz(out - audio) - 3000.0) < 5.0  # the recording (looped) was added


def test_reserved_recordings_are_refused_as_noise(tmp_path):
    write_tone(tmp_path / "asterisk-core-sounds-en-wav" / "digits" / "1.wav", 0.2)
    with pytest.raises(ConfigError, match=rf"{KEY}\.noise.*reserved"):
        _one("noise", noise_dir=str(tmp_path / "asterisk-core-sounds-en-wav"))


def test_telephone_keeps_little_energy_above_the_band():
    audio = coloured_noise("white", SR, np.random.default_rng(0)) * 0.1
    tel = TelephonePerturbation(gsm_prob=1.0, min_gain_db=0, max_gain_db=0)
    for gsm in (0.0, 1.0):
        tel.gsm_prob = gsm
        out = tel(audio, SR, np.random.default_rng(1))
        assert out.shape == audio.shape
        power = np.abs(np.fft.rfft(out)) ** 2
        freqs = np.fft.rfftfreq(len(out), 1 / SR)
        total = power.sum()
        assert power[freqs > 3700].sum() / total < 0.02
        assert power[freqs > 4200].sum() / total < 1e-3
        assert power[freqs < 150].sum() / total < 0.01


def test_telephone_gain_clips():
    out = TelephonePerturbation(min_gain_db=30, max_gain_db=30)(
        _speech_like(), SR, np.random.default_rng(0)
    )
    assert np.abs(out).max() <= 1.0
    assert np.mean(np.abs(out) > 0.9) > 0.05  # a hot line: much of it sits at the rails


def test_reverb_keeps_length_and_power_and_decays_at_rt60():
    audio = _speech_like()
    reverb = ReverbPerturbation(min_rt60=0.5, max_rt60=0.5, min_drr_db=0, max_drr_db=0)
    out = reverb(audio, SR, np.random.default_rng(0))
    assert out.shape == audio.shape
    assert np.isclose(
        np.mean(out.astype(np.float64) ** 2), np.mean(audio.astype(np.float64) ** 2), rtol=1e-3
    )
    ir = reverb.impulse_response(SR, np.random.default_rng(0))
    energy = np.cumsum(ir[::-1] ** 2)[::-1]  # Schroeder decay
    db = 10 * np.log10(energy / energy[1])
    t20 = np.argmax(db < -20) / SR  # the time to fall 20 dB is a third of RT60
    assert 0.12 < t20 < 0.22


def test_gain_is_exact_in_db():
    audio = _speech_like()
    out = GainPerturbation(min_gain_db=6.0, max_gain_db=6.0)(audio, SR, np.random.default_rng(0))
    assert np.allclose(out, audio * 10 ** (6 / 20), rtol=1e-5)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"sped": {}}, rf"{KEY}: unknown key.*sped.*speed"),
        ({"speed": {"min_rat": 0.9}}, rf"{KEY}\.speed: unknown key.*min_rate"),
        ({"speed": {"min_rate": 1.2, "max_rate": 1.1}}, rf"{KEY}\.speed: min_rate .* above"),
        ({"speed": {"prob": 1.5}}, rf"{KEY}\.speed\.prob"),
        ({"noise": {"max_snr_db": "loud"}}, rf"{KEY}\.noise\.max_snr_db must be a number"),
        ({"noise": {"colours": ["purple"]}}, rf"{KEY}\.noise\.colours"),
        ({"noise": {"colours": 5}}, rf"{KEY}\.noise\.colours must be a list"),
        ({"noise": {"noise_dir": "/no/such/dir"}}, rf"{KEY}\.noise\.noise_dir"),
        ({"reverb": {"max_rt60": 9.0}}, rf"{KEY}\.reverb\.max_rt60 must lie"),
        ({"eq": {"min_bands": 4, "max_bands": 2}}, rf"{KEY}\.eq: min_bands"),
        ({"telephone": []}, rf"{KEY}\.telephone must be a mapping"),
    ],
)
def test_config_errors_name_the_setting(config, match):
    with pytest.raises(ConfigError, match=match):
        AudioAugmentor.from_config(config, key=KEY)


# -- the dataset -------------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path):
    rows = []
    for i in range(6):
        path = tmp_path / "wavs" / f"u{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), _speech_like(0.5 + 0.1 * i, seed=i), SR)
        rows.append({"audio_filepath": f"wavs/u{i}.wav", "duration": 0.5 + 0.1 * i, "text": "one"})
    return write_manifest_lines(tmp_path / "manifest.json", rows)


def _items(corpus, augmentor, *, workers=0, epoch=0, seed=3):
    cfg = {
        "manifest_filepath": str(corpus),
        "batch_size": 2,
        "shuffle": True,
        "num_workers": workers,
    }
    if augmentor is not None:
        cfg["augmentor"] = augmentor
    loader = build_dataloader(
        cfg, labels=ENGLISH_LABELS, sample_rate=SR, seed=seed, key="model.train_ds"
    )
    loader.batch_sampler.set_epoch(epoch)
    items = []  # in the loader's order, the same for the same seed and epoch
    for audio, lengths, _tokens, _ in loader:
        items += [row[: int(length)].numpy() for row, length in zip(audio, lengths)]
    return loader, items


def test_dataset_augments_training_items_deterministically_in_workers_and_epochs(corpus):
    _, plain = _items(corpus, None)
    loader, first = _items(corpus, ALL)
    _, again = _items(corpus, ALL, workers=1)
    _, other_epoch = _items(corpus, ALL, epoch=1)
    assert loader.dataset.augmentor is not None
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # worker == main process
    assert not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(first, plain))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other_epoch))
    # speed changes the length: the returned length is the augmented one
    assert {len(a) for a in first} != {len(p) for p in plain}


def test_item_by_index_is_seeded_by_seed_epoch_and_index(corpus):
    loader, _ = _items(corpus, {"gain": {}, "noise": {}})
    ds = loader.dataset
    a, a_len, tokens, _ = ds[(2, 3, 0)]
    b, b_len, tokens_b, _ = ds[(2, 3, 0)]
    assert torch.equal(a, b) and int(a_len) == a.shape[0] and torch.equal(tokens, tokens_b)
    assert not torch.equal(ds[(2, 3, 1)][0], a)
    ds.augmentor = None
    assert not torch.equal(ds[2][0], a)


def test_evaluation_sections_refuse_an_augmentor(corpus):
    for key in ("model.validation_ds", "model.test_ds"):
        with pytest.raises(ConfigError, match=rf"{key}\.augmentor: .*training data only"):
            build_dataloader(
                {"manifest_filepath": str(corpus), "augmentor": {"gain": {}}},
                labels=ENGLISH_LABELS,
                sample_rate=SR,
                key=key,
            )


def test_model_augments_training_only_and_transcribe_is_untouched(corpus):
    from ganglion_train_fixtures import quiet_trainer

    from ganglion_asr.models import EncDecCTCModel

    def config(augmentor):
        train = {"manifest_filepath": str(corpus), "batch_size": 2, "shuffle": True}
        if augmentor:
            train["augmentor"] = augmentor
        return {
            "sample_rate": SR,
            "labels": list(ENGLISH_LABELS),
            "train_ds": train,
            "validation_ds": {"manifest_filepath": str(corpus), "batch_size": 3},
            "test_ds": {"manifest_filepath": str(corpus), "batch_size": 3},
            **copy.deepcopy(TINY_ASR_MODULES),
            "optim": {"name": "adam", "lr": 1e-3},
        }

    trainer = quiet_trainer()
    torch.manual_seed(0)
    augmented = EncDecCTCModel(config(ALL), trainer=trainer)
    torch.manual_seed(0)
    plain = EncDecCTCModel(config(None), trainer=trainer)
    assert augmented._train_dl.dataset.augmentor is not None
    assert augmented._validation_dl.dataset.augmentor is None
    assert augmented._test_dl.dataset.augmentor is None
    plain.load_state_dict(augmented.state_dict())
    paths = [json.loads(line)["audio_filepath"] for line in corpus.read_text().splitlines()]
    paths = [str(corpus.parent / p) for p in paths]
    augmented.eval()
    plain.eval()
    with torch.no_grad():
        a = augmented.transcribe(paths)
        assert a == augmented.transcribe(paths) == plain.transcribe(paths)
        batch = next(iter(augmented._validation_dl))
        plain_batch = next(iter(plain._validation_dl))
    assert all(torch.equal(x, y) for x, y in zip(batch, plain_batch))
    # and training runs on the augmented items under Lightning
    trainer = quiet_trainer(max_steps=2, num_sanity_val_steps=0, limit_val_batches=0)
    augmented.train()
    trainer.fit(augmented)
    assert trainer.global_step == 2 and torch.isfinite(trainer.callback_metrics["train_loss"])
