"""The manifest dataset: audio loading, resampling, vocabulary policies, collation, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from asr_fixtures import write_manifest_lines, write_tone
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from ganglion.errors import ConfigError
from ganglion_asr.data.audio import load_audio, resample
from ganglion_asr.data.dataset import AudioToCharDataset, build_dataloader, collate_audio_tokens
from ganglion_asr.data.sampler import DurationBucketBatchSampler
from ganglion_asr.data.vocab import ENGLISH_LABELS, CharVocabulary, normalize_text
from ganglion_asr.errors import AudioLoadError, ManifestError, VocabularyError


def test_items_hold_audio_and_token_ids(tone_corpus):
    ds = AudioToCharDataset(tone_corpus, ENGLISH_LABELS, 16000)
    audio, audio_len, tokens, token_len = ds[1]
    assert audio.dtype == torch.float32 and audio.shape == (16000,) and int(audio_len) == 16000
    assert ds.vocabulary.decode(tokens.tolist()) == "two three" and int(token_len) == 9
    assert ds.durations == [0.5, 1.0, 1.5, 2.0, 2.5]


def test_audio_at_another_rate_is_resampled_to_the_model_rate(tmp_path):
    write_tone(tmp_path / "a.wav", 1.0, sample_rate=22050, freq=440)
    m = write_manifest_lines(
        tmp_path / "m.json", [{"audio_filepath": "a.wav", "duration": 1.0, "text": "a"}]
    )
    audio = AudioToCharDataset(m, ENGLISH_LABELS, 16000)[0][0].numpy()
    assert audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) <= 1  # the tone keeps its pitch


def test_resampling_filters_content_above_the_new_nyquist():
    sr = 48000
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 12000 * t).astype(np.float32)  # above 8 kHz: must vanish
    out = resample(tone, sr, 16000)
    # naive decimation would fold 12 kHz onto 4 kHz at full strength
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 1e-2


def test_offset_and_duration_select_a_segment(tmp_path):
    sr = 16000
    audio = np.concatenate([np.zeros(sr), np.full(sr, 0.5)]).astype(np.float32)
    import soundfile as sf

    sf.write(str(tmp_path / "a.wav"), audio, sr)
    seg = load_audio(tmp_path / "a.wav", sr, offset=1.0, duration=0.5)
    assert seg.shape == (8000,) and np.allclose(seg, 0.5, atol=1e-3)


def test_stereo_is_averaged_to_mono(tmp_path):
    import soundfile as sf

    sf.write(str(tmp_path / "s.wav"), np.stack([np.full(100, 0.2), np.full(100, 0.4)], 1), 16000)
    assert np.allclose(load_audio(tmp_path / "s.wav", 16000), 0.3, atol=1e-3)


def test_missing_audio_files_are_listed_with_manifest_line(tone_corpus):
    (tone_corpus.parent / "wavs" / "u3.wav").unlink()
    with pytest.raises(ManifestError, match=rf"1 of 5 audio files do not exist: {tone_corpus}:4"):
        AudioToCharDataset(tone_corpus, ENGLISH_LABELS, 16000)


def test_corrupt_audio_file_names_manifest_and_line(tone_corpus):
    (tone_corpus.parent / "wavs" / "u2.wav").write_bytes(b"RIFF....not a wav")
    ds = AudioToCharDataset(tone_corpus, ENGLISH_LABELS, 16000)
    with pytest.raises(AudioLoadError, match=rf"{tone_corpus}:3: cannot decode audio file .*u2"):
        ds[2]


def _odd_manifest(tmp_path):
    rows = []
    for i, text in enumerate(["fine text", "Café au lait!", "ok", "50% off"]):
        write_tone(tmp_path / f"{i}.wav", 0.3)
        rows.append({"audio_filepath": f"{i}.wav", "duration": 0.3, "text": text})
    return write_manifest_lines(tmp_path / "m.json", rows)


def test_unknown_characters_are_an_error_with_counts_and_examples(tmp_path):
    m = _odd_manifest(tmp_path)
    with pytest.raises(VocabularyError) as info:
        AudioToCharDataset(m, ENGLISH_LABELS, 16000)
    msg = str(info.value)
    assert "in 2 utterances" in msg and "'é' x1" in msg and "'!' x1" in msg
    assert f"{m}:2: 'café au lait!'" in msg and "unknown_chars" in msg


def test_unknown_characters_skip_utterances_when_configured(tmp_path, caplog):
    ds = AudioToCharDataset(
        _odd_manifest(tmp_path), ENGLISH_LABELS, 16000, unknown_chars="skip_utterance"
    )
    assert [ds.vocabulary.decode(t) for t in ds.tokens] == ["fine text", "ok"]
    assert "in 2 utterances" in caplog.text


def test_unknown_characters_are_dropped_when_configured(tmp_path):
    ds = AudioToCharDataset(
        _odd_manifest(tmp_path), ENGLISH_LABELS, 16000, unknown_chars="drop_chars"
    )
    assert [ds.vocabulary.decode(t) for t in ds.tokens] == ["fine text", "caf au lait", "ok", "off"]


def test_vocabulary_round_trip_and_blank():
    vocab = CharVocabulary([" ", *"abc"])
    assert vocab.encode("cab") == [3, 1, 2] and vocab.decode([3, 4, 1, 2]) == "cab"
    assert vocab.blank_id == 4 and vocab.num_classes == 5
    with pytest.raises(VocabularyError, match="repeat"):
        CharVocabulary(["a", "a"])


def test_normalize_text_strips_punctuation_and_case():
    assert normalize_text("Hello,  World! Don’t-stop") == "hello world don't stop"


def test_collate_pads_audio_and_tokens_and_keeps_lengths():
    items = [
        (torch.ones(5), torch.tensor(5), torch.tensor([1, 2]), torch.tensor(2)),
        (torch.ones(3), torch.tensor(3), torch.tensor([3, 4, 5]), torch.tensor(3)),
    ]
    audio, alen, tokens, tlen = collate_audio_tokens(items)
    assert audio.shape == (2, 5) and audio[1, 3:].abs().sum() == 0
    assert tokens.tolist() == [[1, 2, 0], [3, 4, 5]]
    assert alen.tolist() == [5, 3] and tlen.tolist() == [2, 3]


def test_bucketing_groups_similar_durations_and_covers_every_index():
    durations = [float(d) for d in torch.randperm(100, generator=torch.Generator().manual_seed(0))]
    sampler = DurationBucketBatchSampler(
        RandomSampler(range(100)), 10, durations=durations, pool_batches=10
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    assert sorted(i for b in batches for i in b) == list(range(100))
    # whole pool sorted: each batch spans ten consecutive durations
    assert all(max(durations[i] for i in b) - min(durations[i] for i in b) == 9 for b in batches)
    assert list(sampler) != batches  # a new order each epoch


def test_sequential_sampler_without_pools_sorts_by_duration():
    durations = [3.0, 1.0, 2.0, 5.0, 4.0]
    sampler = DurationBucketBatchSampler(
        SequentialSampler(range(5)), 2, durations=durations, pool_batches=None
    )
    assert list(sampler) == [[1, 2], [0, 4], [3]] and len(sampler) == 3
    sampler.drop_last = True
    assert list(sampler) == [[1, 2], [0, 4]] and len(sampler) == 2


def test_bucketing_shards_across_ranks_with_equal_batch_counts(tone_corpus):
    ds = AudioToCharDataset(tone_corpus, ENGLISH_LABELS, 16000)
    shards = []
    for rank in range(2):
        dist = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=3)
        # built as Lightning rebuilds it: (sampler, batch_size, drop_last), durations found
        # through the sampler's dataset
        sampler = DurationBucketBatchSampler(dist, batch_size=2, drop_last=False)
        shards.append(list(sampler))
    assert len(shards[0]) == len(shards[1]) == 2
    seen = {i for shard in shards for b in shard for i in b}
    assert seen == set(range(5))  # DistributedSampler pads 5 to 6 by repeating one


def test_build_dataloader_from_config_yields_padded_batches(tone_corpus):
    loader = build_dataloader(
        {"manifest_filepath": str(tone_corpus), "batch_size": 2, "shuffle": False},
        labels=ENGLISH_LABELS,
        sample_rate=16000,
    )
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[8000, 16000], [24000, 32000], [40000]]
    assert batches[0][0].shape == (2, 16000) and batches[0][2].shape == (2, 9)


def test_build_dataloader_without_manifest_says_which_key():
    with pytest.raises(ManifestError, match="manifest_filepath"):
        build_dataloader({"batch_size": 2}, labels=ENGLISH_LABELS, sample_rate=16000)


def test_build_dataloader_names_unknown_keys_with_a_suggestion(tone_corpus):
    with pytest.raises(
        ConfigError, match=r"model.train_ds: unknown key\(s\) batchsize\..*batch_size"
    ):
        build_dataloader(
            {"manifest_filepath": str(tone_corpus), "batchsize": 2},
            labels=ENGLISH_LABELS,
            sample_rate=16000,
            key="model.train_ds",
        )


@pytest.mark.filterwarnings("ignore:.*set_vital.*:UserWarning")
def test_lightning_can_inject_a_distributed_sampler_into_the_loader(tone_corpus):
    """What Lightning does under DDP with use_distributed_sampler: rebuild the batch sampler
    around a DistributedSampler. Each rank must get its own shard, still bucketed."""
    from pytorch_lightning.utilities.data import _update_dataloader

    loader = build_dataloader(
        {"manifest_filepath": str(tone_corpus), "batch_size": 2, "shuffle": True},
        labels=ENGLISH_LABELS,
        sample_rate=16000,
    )
    shards = []
    for rank in range(2):
        dist = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, seed=1)
        rebuilt = _update_dataloader(loader, dist)
        assert isinstance(rebuilt.batch_sampler, DurationBucketBatchSampler)
        assert rebuilt.batch_sampler.sampler is dist
        shards.append([b[1].tolist() for b in rebuilt])
    assert len(shards[0]) == len(shards[1]) == 2
    lengths = {n for shard in shards for batch in shard for n in batch}
    assert lengths == {8000, 16000, 24000, 32000, 40000}
