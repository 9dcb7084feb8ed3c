"""Jasper/QuartzNet encoder, CTC decoder and loss, greedy decoding, WER/CER, shipped configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

import ganglion_asr
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import NeuralTypeError
from ganglion_asr.decoding import GreedyCTCDecoder, ctc_greedy_ids
from ganglion_asr.losses import CTCLoss
from ganglion_asr.metrics import error_rate_metrics, error_rates
from ganglion_asr.modules.conv_asr import (
    ConvASRDecoder,
    ConvASREncoder,
    DepthwiseConv1d,
    fft_depthwise_conv1d,
)
from ganglion_asr.modules.features import AudioToMelSpectrogramPreprocessor
from ganglion_asr.types import AcousticEncodedRepresentation

CONF = Path(ganglion_asr.__file__).parent / "conf"

TINY = [
    {"filters": 32, "repeat": 1, "kernel": [11], "stride": [2], "separable": True},
    {
        "filters": 32,
        "repeat": 2,
        "kernel": [21],
        "residual": True,
        "separable": True,
        "dropout": 0.1,
    },
    {"filters": 48, "repeat": 1, "kernel": [25], "dilation": [2], "separable": True},
    {"filters": 64, "repeat": 1, "kernel": [1]},
]


@pytest.mark.parametrize(("taps", "dilation", "frames"), [(33, 1, 57), (87, 2, 40), (21, 3, 9)])
def test_fft_depthwise_convolution_equals_direct_convolution_with_gradients(taps, dilation, frames):
    torch.manual_seed(0)
    pad = dilation * (taps - 1) // 2
    x = torch.randn(3, 8, frames, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, 1, taps, dtype=torch.float64, requires_grad=True)
    ref = F.conv1d(x, w, padding=pad, dilation=dilation, groups=8)
    grad = torch.randn_like(ref)
    gx, gw = torch.autograd.grad(ref, (x, w), grad)
    x32 = x.detach().float().requires_grad_()
    w32 = w.detach().float().requires_grad_()
    out = fft_depthwise_conv1d(x32, w32, pad, dilation)
    out.backward(grad.float())
    assert out.shape == ref.shape
    assert torch.allclose(out.double(), ref, atol=1e-4)
    assert torch.allclose(x32.grad.double(), gx, atol=1e-4)
    assert torch.allclose(w32.grad.double(), gw, atol=1e-4)


def test_depthwise_module_keeps_conv1d_parameters_and_direct_path_for_short_kernels():
    conv = DepthwiseConv1d(4, 5, padding=2)
    assert conv.weight.shape == (4, 1, 5) and conv.groups == 4
    x = torch.randn(2, 4, 30)
    assert torch.allclose(conv(x), F.conv1d(x, conv.weight, padding=2, groups=4))


def test_encoder_output_shapes_lengths_and_type():
    enc = ConvASREncoder(TINY, feat_in=16)
    out, lengths = enc(torch.randn(3, 16, 40), torch.tensor([40, 33, 10]))
    assert out.shape == (3, 64, 20) and lengths.tolist() == [20, 17, 5]
    assert enc.feat_out == 64 and enc.stride == 2
    assert out.neural_type.elements_type == AcousticEncodedRepresentation()


def test_masked_encoder_gives_the_same_output_alone_and_in_a_padded_batch():
    torch.manual_seed(0)
    enc = ConvASREncoder(TINY, feat_in=16).eval()
    short = torch.randn(1, 16, 24)
    batch = torch.randn(2, 16, 40)  # the padding of row 0 holds garbage on purpose
    batch[0, :, :24] = short[0]
    out_b, len_b = enc(batch, torch.tensor([24, 40]))
    out_a, len_a = enc(short, torch.tensor([24]))
    n = int(len_a)
    assert int(len_b[0]) == n == 12
    assert torch.allclose(out_b[0, :, :n], out_a[0, :, :n], atol=1e-5)


def test_dense_residual_blocks_take_every_earlier_dense_input():
    layout = [{"filters": 8, "kernel": [3], "stride": [2]}] + [
        {"filters": 8, "repeat": 2, "kernel": [3], "residual": True, "residual_dense": True}
        for _ in range(3)
    ]
    enc = ConvASREncoder(layout, feat_in=4)
    assert [len(b.res) for b in enc.blocks] == [0, 1, 2, 3]
    out, _ = enc(torch.randn(2, 4, 16), torch.tensor([16, 12]))
    assert out.shape == (2, 8, 8)


def test_encoder_config_errors_name_the_block_and_key():
    with pytest.raises(
        ConfigError,
        match=r"encoder.jasper\[1\]: unknown key\(s\) kernal.*"
        r"Did you mean 'kernel'",
    ):
        ConvASREncoder([{"filters": 8}, {"filters": 8, "kernal": [3]}], feat_in=4)
    with pytest.raises(ConfigError, match=r"jasper\[0\].kernel: expected one value"):
        ConvASREncoder([{"filters": 8, "kernel": [3, 3]}], feat_in=4)


def test_encoder_refuses_a_wrongly_typed_input():
    enc = ConvASREncoder(TINY, feat_in=16)
    logprobs = ConvASRDecoder(64, 28)(torch.randn(2, 64, 10))  # typed LogprobsType [B, T, D]
    with pytest.raises(NeuralTypeError, match="audio_signal"):
        enc(logprobs, torch.tensor([10, 10]))


def test_decoder_gives_normalised_log_probs_over_labels_and_blank():
    dec = ConvASRDecoder(64, vocabulary=list(" abc"))
    lp = dec(torch.randn(2, 64, 7))
    assert lp.shape == (2, 7, 5) and dec.blank_id == 4
    assert torch.allclose(lp.exp().sum(-1), torch.ones(2, 7), atol=1e-5)
    with pytest.raises(ConfigError, match="num_classes=3 but the vocabulary has 4"):
        ConvASRDecoder(64, num_classes=3, vocabulary=list(" abc"))


def test_ctc_loss_matches_torch_and_reductions():
    torch.manual_seed(0)
    lp = torch.randn(3, 20, 6).log_softmax(-1)
    targets = torch.randint(0, 5, (3, 4))
    in_len, tgt_len = torch.tensor([20, 18, 15]), torch.tensor([4, 3, 2])
    ref = F.ctc_loss(lp.transpose(0, 1), targets, in_len, tgt_len, blank=5, reduction="none")
    assert torch.allclose(CTCLoss(5, reduction="none")(lp, targets, in_len, tgt_len), ref)
    assert torch.allclose(CTCLoss(5)(lp, targets, in_len, tgt_len), ref.mean())
    assert torch.allclose(
        CTCLoss(5, reduction="mean")(lp, targets, in_len, tgt_len), (ref / tgt_len).mean()
    )


def test_a_few_training_steps_decrease_the_ctc_loss():
    torch.manual_seed(0)
    pre = AudioToMelSpectrogramPreprocessor(features=16, dither=0.0)
    enc = ConvASREncoder(TINY, feat_in=16)
    dec = ConvASRDecoder(enc.feat_out, 4)
    loss_fn = CTCLoss(4)
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    audio = torch.randn(4, 4000) * 0.1
    audio_len = torch.tensor([4000, 3500, 3000, 2500])
    targets = torch.tensor([[0, 1, 2], [1, 2, 3], [3, 2, 0], [2, 0, 1]])
    target_len = torch.tensor([3, 3, 2, 3])
    losses = []
    for _ in range(12):
        feats, feat_len = pre(audio, audio_len)
        out, out_len = enc(feats, feat_len)
        loss = loss_fn(dec(out), targets, out_len, target_len)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_bf16_autocast_runs_and_keeps_features_and_loss_in_float32():
    enc = ConvASREncoder(TINY, feat_in=16)
    pre = AudioToMelSpectrogramPreprocessor(features=16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, n = pre(torch.randn(2, 4000), torch.tensor([4000, 3000]))
        out, out_len = enc(feats, n)
        lp = ConvASRDecoder(64, 4)(out)
        loss = CTCLoss(4)(lp, torch.tensor([[0, 1], [2, 3]]), out_len, torch.tensor([2, 2]))
    assert feats.dtype == torch.float32 and lp.dtype == torch.float32
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()


def test_greedy_decoding_merges_repeats_drops_blanks_and_respects_lengths():
    blank = 3
    ids = torch.tensor([[0, 0, 3, 0, 1, 1, 3, 2, 2], [2, 3, 3, 2, 1, 1, 1, 0, 0]])
    assert ctc_greedy_ids(ids, torch.tensor([9, 5]), blank) == [[0, 0, 1, 2], [2, 2, 1]]
    logits = F.one_hot(ids, 4).float().log_softmax(-1)
    decoder = GreedyCTCDecoder(["a", "b", "c"])
    assert decoder(logits, torch.tensor([9, 5])) == ["aabc", "ccb"]
    assert decoder.targets_to_text(torch.tensor([[0, 1, 0], [2, 2, 2]]), torch.tensor([2, 1])) == [
        "ab",
        "c",
    ]


def test_error_rates_are_corpus_level_and_merge_across_processes():
    hyps = ["one two three", "four", "five six"]
    refs = ["one two three", "four five", "five seven"]
    wer, cer = error_rates(hyps, refs)
    assert wer == pytest.approx(2 / 7)
    # two "ranks" each see part of the data; torchmetrics sums the counts, as its DDP sync
    # does, so the merged rate is the corpus rate, not the mean of per-rank rates
    rank0, rank1 = error_rate_metrics(), error_rate_metrics()
    rank0.update(hyps[:1], refs[:1])
    rank1.update(hyps[1:], refs[1:])
    for name in ("wer", "cer"):
        rank0[name].merge_state(rank1[name])
    merged = rank0.compute()
    assert float(merged["wer"]) == pytest.approx(wer)
    assert float(merged["cer"]) == pytest.approx(cer)


@pytest.mark.parametrize(("name", "params_m"), [("quartznet_5x5", 6.71), ("quartznet_15x5", 18.92)])
def test_shipped_quartznet_configs_build_the_published_sizes(name, params_m):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    enc = NeuralModule.from_config_dict(cfg.model.encoder, where="model.encoder")
    dec = NeuralModule.from_config_dict(cfg.model.decoder, where="model.decoder")
    assert (enc.num_weights + dec.num_weights) / 1e6 == pytest.approx(params_m, abs=0.01)
    assert dec.num_classes_with_blank == len(cfg.model.labels) + 1


def test_jasper_10x5_config_is_the_dense_residual_layout():
    cfg = OmegaConf.load(CONF / "jasper_10x5.yaml")
    blocks = cfg.model.encoder.jasper
    assert len(blocks) == 13
    middle = blocks[1:11]
    assert all(b.residual_dense and b.repeat == 5 and not b.separable for b in middle)
    assert [b.filters for b in middle] == [256, 256, 384, 384, 512, 512, 640, 640, 768, 768]
    assert [b.kernel[0] for b in middle] == [11, 11, 13, 13, 17, 17, 21, 21, 25, 25]


@pytest.mark.parametrize(
    "name", ["quartznet_5x5", "quartznet_15x5", "jasper_10x5", "quartznet_digits"]
)
def test_shipped_configs_compose_and_validate_as_ganglion_train_does(name):
    from ganglion.training import compose_config, validate_config

    cfg = compose_config(
        name,
        ["model.train_ds.manifest_filepath=a.json", "model.validation_ds.manifest_filepath=b.json"],
    )
    validate_config(cfg)  # trainer, exp_manager, model._target_ and model.optim all checked
    assert cfg.model.encoder.feat_in == cfg.model.preprocessor.features
    assert list(cfg.model.train_ds.labels) == list(cfg.model.labels)
