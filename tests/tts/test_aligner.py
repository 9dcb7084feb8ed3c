"""The learned aligner: monotonic alignment search, the beta-binomial prior, the forward-sum
and binarisation losses, and the AlignmentEncoder's ports; the soft alignment learns a toy
alignment from the forward-sum loss alone."""

from __future__ import annotations

import itertools

import pytest
import torch

from ganglion.types import LogprobsType
from ganglion_asr.types import MelSpectrogramType
from ganglion_tts.modules.aligner import AlignmentEncoder
from ganglion_tts.modules.alignment import (
    AlignmentError,
    beta_binomial_log_prior,
    binarization_loss,
    durations_from_alignment,
    forward_sum_loss,
    monotonic_alignment_search,
)


def _best_durations(scores: torch.Tensor) -> tuple[float, list[int]]:
    """Every split of the frames into consecutive non-empty runs, one per token: the best."""
    frames, tokens = scores.shape
    best: tuple[float, list[int]] | None = None
    for cuts in itertools.combinations(range(1, frames), tokens - 1):
        bounds = [0, *cuts, frames]
        total = sum(float(scores[bounds[n] : bounds[n + 1], n].sum()) for n in range(tokens))
        if best is None or total > best[0]:
            best = (total, [bounds[n + 1] - bounds[n] for n in range(tokens)])
    assert best is not None
    return best


def test_mas_finds_the_best_monotonic_path_of_a_hand_made_matrix():
    # 6 frames, 3 tokens: token 0 wins frames 0-1, token 1 frame 2, token 2 frames 3-5, except
    # frame 4 prefers token 0, which no monotonic path can give it
    scores = torch.full((6, 3), -5.0)
    for frame, token in ((0, 0), (1, 0), (2, 1), (3, 2), (4, 0), (5, 2)):
        scores[frame, token] = 0.0
    hard = monotonic_alignment_search(scores[None], torch.tensor([6]), torch.tensor([3]))
    assert hard[0].argmax(dim=1).tolist() == [0, 0, 1, 2, 2, 2]
    assert durations_from_alignment(hard).tolist() == [[2, 1, 3]]


def test_mas_agrees_with_exhaustive_search_and_respects_lengths():
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        scores = torch.randn(2, 9, 4, generator=gen)
        mel_lens, token_lens = torch.tensor([9, 6]), torch.tensor([4, 3])
        hard = monotonic_alignment_search(scores, mel_lens, token_lens)
        durations = durations_from_alignment(hard)
        assert durations[0].tolist() == _best_durations(scores[0])[1]
        assert durations[1, :3].tolist() == _best_durations(scores[1, :6, :3])[1]
        assert durations[1, 3] == 0 and hard[1, 6:].sum() == 0


def test_mas_path_is_monotonic_covers_every_token_and_sums_to_the_mel_length():
    gen = torch.Generator().manual_seed(1)
    batch, frames, tokens = 5, 120, 30
    scores = torch.randn(batch, 1, frames, tokens, generator=gen).log_softmax(-1)
    mel_lens = torch.tensor([120, 97, 64, 30, 111])
    token_lens = torch.tensor([30, 12, 30, 30, 1])
    hard = monotonic_alignment_search(scores, mel_lens, token_lens)
    assert hard.shape == (batch, frames, tokens)
    durations = durations_from_alignment(hard)
    assert torch.equal(durations.sum(dim=1), mel_lens)
    for b in range(batch):
        n, t = int(token_lens[b]), int(mel_lens[b])
        assert (durations[b, :n] >= 1).all() and (durations[b, n:] == 0).all()
        assert torch.equal(hard[b, :t].sum(dim=1), torch.ones(t))  # one token per frame
        path = hard[b, :t].argmax(dim=1)
        steps = path[1:] - path[:-1]
        assert path[0] == 0 and path[-1] == n - 1
        assert ((steps == 0) | (steps == 1)).all()


def test_mas_refuses_fewer_frames_than_tokens():
    with pytest.raises(AlignmentError, match="item 1: 3 frames < 4 tokens"):
        monotonic_alignment_search(torch.zeros(2, 5, 4), torch.tensor([5, 3]), torch.tensor([4, 4]))


def test_beta_binomial_prior_is_a_distribution_over_tokens_along_the_diagonal():
    mel_lens, token_lens = torch.tensor([40, 20]), torch.tensor([10, 5])
    prior = beta_binomial_log_prior(mel_lens, token_lens, 50, 12)
    assert prior.shape == (2, 50, 12)
    probs = prior[0, :40, :10].exp()
    assert torch.allclose(probs.sum(dim=1), torch.ones(40), atol=1e-4)
    peaks = probs.argmax(dim=1)
    assert peaks[0] == 0 and peaks[-1] == 9 and bool((peaks[1:] >= peaks[:-1]).all())
    assert prior[1, 20:].abs().sum() == 0 and prior[1, :, 5:].abs().sum() == 0


def _toy_problem(seed: int = 0):
    """Utterances of 6 symbols of an 8-symbol alphabet; each symbol sounds like a fixed
    20-band template (plus noise) for a random 2-6 frames."""
    gen = torch.Generator().manual_seed(seed)
    batch, tokens, vocab, bands = 8, 6, 8, 20
    templates = 2 * torch.randn(vocab, bands, generator=gen)
    ids = torch.randint(0, vocab, (batch, tokens), generator=gen)
    durations = torch.randint(2, 7, (batch, tokens), generator=gen)
    mel_lens = durations.sum(dim=1)
    mel = torch.zeros(batch, bands, int(mel_lens.max()))
    for b in range(batch):
        frame_symbols = torch.repeat_interleave(ids[b], durations[b])
        mel[b, :, : len(frame_symbols)] = templates[frame_symbols].T
    mel = mel + 0.3 * torch.randn(mel.shape, generator=gen)
    return ids, mel, torch.full((batch,), tokens), mel_lens, durations


def test_forward_sum_loss_trains_the_soft_alignment_on_a_toy_problem():
    torch.manual_seed(0)
    ids, mel, token_lens, mel_lens, true_durations = _toy_problem()
    embedding = torch.nn.Embedding(8, 16)
    aligner = AlignmentEncoder(n_mel_channels=20, n_text_channels=16, n_att_channels=16)
    params = [*aligner.parameters(), *embedding.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    prior = beta_binomial_log_prior(mel_lens, token_lens)

    def align():
        keys = embedding(ids).transpose(1, 2)
        return aligner(queries=mel, keys=keys, key_lens=token_lens, attn_prior=prior)[1]

    def boundaries_found() -> float:
        """The share of token boundaries the hard alignment puts within a frame of the truth
        (a convolution may learn to look one frame ahead: CTC cannot tell)."""
        with torch.no_grad():
            hard = monotonic_alignment_search(align(), mel_lens, token_lens)
        found = durations_from_alignment(hard).cumsum(1)[:, :-1]
        true = true_durations.cumsum(1)[:, :-1]
        return float(((found - true).abs() <= 1).float().mean())

    before = boundaries_found()
    losses = []
    for _ in range(60):
        loss = forward_sum_loss(align(), token_lens, mel_lens)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert before < 0.75 and boundaries_found() >= 0.85


def test_binarization_loss_is_low_when_soft_matches_hard():
    hard = torch.eye(4)[None]
    sharp = 0.97 * torch.eye(4)[None] + 0.01
    flat = torch.full((1, 4, 4), 0.25)
    assert binarization_loss(hard, sharp) < 0.1 < binarization_loss(hard, flat)


def test_alignment_encoder_ports_shapes_and_masking():
    aligner = AlignmentEncoder(n_mel_channels=20, n_text_channels=8, n_att_channels=12)
    mel, keys = torch.randn(2, 20, 15), torch.randn(2, 8, 5)
    token_lens, mel_lens = torch.tensor([5, 3]), torch.tensor([15, 9])
    prior = beta_binomial_log_prior(mel_lens, token_lens, 15, 5)
    soft, logprob = aligner(queries=mel, keys=keys, key_lens=token_lens, attn_prior=prior)
    assert soft.shape == logprob.shape == (2, 1, 15, 5)
    assert torch.allclose(soft.sum(dim=-1), torch.ones(2, 1, 15), atol=1e-5)
    assert soft[1, :, :, 3:].abs().sum() == 0  # padded tokens get nothing
    assert isinstance(aligner.input_ports["queries"].elements_type, MelSpectrogramType)
    assert soft.neural_type.axes[2].kind.name == "Time"
    assert isinstance(logprob.neural_type.elements_type, LogprobsType)
    with pytest.raises(Exception, match="queries"):
        aligner(queries=torch.randn(20, 15), keys=keys, key_lens=token_lens)
    # the config it was built from rebuilds it
    clone = AlignmentEncoder.from_config_dict(aligner.to_config_dict())
    assert clone.temperature == aligner.temperature


def test_forward_sum_loss_ignores_padding():
    gen = torch.Generator().manual_seed(3)
    logprob = torch.randn(1, 1, 10, 4, generator=gen).log_softmax(-1)
    alone = forward_sum_loss(logprob, torch.tensor([4]), torch.tensor([10]))
    padded = torch.nn.functional.pad(logprob, (0, 3, 0, 5), value=7.0)
    again = forward_sum_loss(padded, torch.tensor([4]), torch.tensor([10]))
    assert torch.allclose(alone, again)
