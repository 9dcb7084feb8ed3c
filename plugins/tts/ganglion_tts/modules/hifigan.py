"""HiFi-GAN (Kong, Kim, Bae 2020), small: a generator that upsamples log-mels to audio, its
two discriminators, and the losses that train them.

* :class:`HifiGanGenerator`: a 7-tap convolution in, transposed convolutions whose strides
  multiply to the hop (``8 * 8 * 4 = 256``), each followed by a multi-receptive-field block
  (residual stacks of dilated convolutions with several kernel sizes, averaged), a 7-tap
  convolution out and ``tanh``. Frame ``t`` of the mel (centred on sample ``t * hop``, as the
  shared preprocessor's STFT is) becomes the ``hop`` samples around ``t * hop``: ``T``
  frames give ``(T - 1) * hop`` samples, whose mels have ``T`` frames again.
* :class:`MultiPeriodDiscriminator`: the audio folded into ``[S / p, p]`` for each period
  ``p`` (2, 3, 5, 7, 11), 2-D convolutions along time: sees periodic structure.
* :class:`MultiScaleDiscriminator`: 1-D strided, grouped convolutions on the audio and on
  two average-pooled copies of it: sees structure at several time scales.
* losses: least-squares adversarial (:func:`discriminator_loss`, :func:`generator_loss`),
  :func:`feature_matching_loss`, and :func:`multi_resolution_stft_loss` (spectral
  convergence + log-magnitude L1 at several STFT sizes), which makes short trainings
  converge much faster; the mel L1 is the model's (through the shared preprocessor).

Every convolution has weight normalisation (``torch.nn.utils.parametrizations.weight_norm``);
``remove_weight_norm()`` folds it away for inference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from ganglion import typecheck
from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import ChannelType, LogitsType, NeuralType
from ganglion_tts.modules.vocoder_ports import VocoderPorts

__all__ = [
    "HifiGanGenerator",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "multi_resolution_stft_loss",
]


def _whole(value: Any, name: str, owner: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{owner}: {name} must be a whole number >= {low}, got {value!r}")
    return value


def _wholes(values: Any, name: str, owner: str, low: int = 1) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ConfigError(
            f"{owner}: {name} must be a non-empty list of whole numbers, got {values!r}"
        )
    return [_whole(v, f"{name}[{i}]", owner, low) for i, v in enumerate(values)]


def _init_conv(module: nn.Module) -> None:
    # small initial weights: the generator starts near silence, the discriminators near 0
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d)):
        nn.init.normal_(module.weight, 0.0, 0.01)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _remove_weight_norm(module: nn.Module) -> None:
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)


# -- generator ---------------------------------------------------------------------------------
class _ResidualStack(nn.Module):
    """Dilated convolutions with residual connections, lengths kept: for each dilation ``d``,
    ``x + conv(lrelu(conv_d(lrelu(x))))`` (``double=True``) or ``x + conv_d(lrelu(x))``."""

    def __init__(
        self, channels: int, kernel: int, dilations: Sequence[int], slope: float, double: bool
    ) -> None:
        super().__init__()
        self.slope = slope
        self.dilated = nn.ModuleList(
            weight_norm(
                nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
            )
            for d in dilations
        )
        self.plain = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2))
            for _ in (dilations if double else ())
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = nn.functional.leaky_relu
        for i, dilated in enumerate(self.dilated):
            y = dilated(act(x, self.slope))
            if self.plain:
                y = self.plain[i](act(y, self.slope))
            x = x + y
        return x


class HifiGanGenerator(VocoderPorts, NeuralModule):
    """Log-mel ``[B, n_mels, T]`` -> audio ``[B, (T - 1) * hop]`` in [-1, 1].

    Args:
        n_mels: mel bands of the input (the preprocessor's ``features``).
        upsample_initial_channel: width after the input convolution; each upsampling halves
            it (128: 0.4 M weights with the defaults, 50 times faster than real time on
            one CPU core).
        upsample_rates: stride of each transposed convolution; their product is the hop.
        upsample_kernel_sizes: kernel of each (``rate + kernel`` must be even; ``2 * rate``
            is the usual).
        resblock_kernel_sizes: kernel sizes of the residual stacks of each
            multi-receptive-field block.
        resblock_dilations: dilations of each residual stack (one list per kernel size).
        resblock_double: two convolutions per dilation (the larger HiFi-GAN blocks, with
            kernels 3, 7, 11 and dilations 1, 3, 5 each) or one (the lighter blocks of the
            defaults: a fraction of the compute, what a CPU can train in minutes).
        leaky_relu_slope: negative slope of the activations.
        sample_rate: the rate of the audio made, for the output port's type (null: any).

    Example::

        gen = HifiGanGenerator(n_mels=80, upsample_initial_channel=128)
        audio, audio_len = gen(spec, spec_len)      # [B, (T - 1) * 256]
    """

    def __init__(
        self,
        n_mels: int = 80,
        upsample_initial_channel: int = 128,
        upsample_rates: Sequence[int] = (8, 8, 4),
        upsample_kernel_sizes: Sequence[int] = (16, 16, 8),
        resblock_kernel_sizes: Sequence[int] = (3, 5, 7),
        resblock_dilations: Sequence[Sequence[int]] = ((1, 2), (2, 6), (3, 12)),
        resblock_double: bool = False,
        leaky_relu_slope: float = 0.1,
        sample_rate: int | None = None,
    ) -> None:
        super().__init__()
        owner = "HifiGanGenerator"
        n_mels = _whole(n_mels, "n_mels", owner)
        width = _whole(upsample_initial_channel, "upsample_initial_channel", owner)
        rates = _wholes(upsample_rates, "upsample_rates", owner)
        kernels = _wholes(upsample_kernel_sizes, "upsample_kernel_sizes", owner)
        res_kernels = _wholes(resblock_kernel_sizes, "resblock_kernel_sizes", owner)
        if len(kernels) != len(rates):
            raise ConfigError(
                f"{owner}: upsample_kernel_sizes has {len(kernels)} entries, upsample_rates "
                f"{len(rates)}; give one kernel per upsampling"
            )
        for i, (rate, kernel) in enumerate(zip(rates, kernels)):
            if kernel < rate or (kernel - rate) % 2:
                raise ConfigError(
                    f"{owner}: upsample_kernel_sizes[{i}]={kernel} with rate {rate}: the kernel "
                    "must be at least the rate and differ from it by an even number (2 * rate is "
                    "usual), or the output length would not be frames * hop"
                )
        if len(resblock_dilations) != len(res_kernels):
            raise ConfigError(
                f"{owner}: resblock_dilations needs one list per resblock kernel size "
                f"({len(res_kernels)}), got {len(resblock_dilations)}"
            )
        dilations = [
            _wholes(d, f"resblock_dilations[{i}]", owner) for i, d in enumerate(resblock_dilations)
        ]
        if any(k % 2 == 0 for k in res_kernels):
            raise ConfigError(f"{owner}: resblock_kernel_sizes must be odd, got {res_kernels}")
        if width >> len(rates) < 1:
            raise ConfigError(
                f"{owner}: upsample_initial_channel={width} is halved {len(rates)} times; "
                f"give at least {1 << len(rates)}"
            )
        self.n_mels = n_mels
        self.hop_length = 1
        for rate in rates:
            self.hop_length *= rate
        self.sample_rate = sample_rate
        self.slope = float(leaky_relu_slope)
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, width, 7, padding=3))
        self.upsamples = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        channels = width
        for rate, kernel in zip(rates, kernels):
            self.upsamples.append(
                weight_norm(
                    nn.ConvTranspose1d(
                        channels, channels // 2, kernel, stride=rate, padding=(kernel - rate) // 2
                    )
                )
            )
            channels //= 2
            self.mrfs.append(
                nn.ModuleList(
                    _ResidualStack(channels, k, d, self.slope, bool(resblock_double))
                    for k, d in zip(res_kernels, dilations)
                )
            )
        self.conv_post = weight_norm(nn.Conv1d(channels, 1, 7, padding=3))
        self.apply(_init_conv)

    @typecheck()
    def forward(
        self, spec: torch.Tensor, spec_len: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``[B, (T - 1) * hop]`` and its lengths ``(spec_len - 1) * hop`` (samples past
        a row's length are zero)."""
        if spec.shape[1] != self.n_mels:
            raise ValueError(
                f"HifiGanGenerator: spec has {spec.shape[1]} mel bands, the generator takes "
                f"{self.n_mels} (n_mels)"
            )
        if spec.shape[2] < 2:
            raise ValueError(f"HifiGanGenerator: spec has {spec.shape[2]} frame(s); 2 at least")
        act = nn.functional.leaky_relu
        x = self.conv_pre(spec)
        for upsample, mrf in zip(self.upsamples, self.mrfs):
            x = upsample(act(x, self.slope))
            x = sum(stack(x) for stack in mrf) / len(mrf)
        # a gentler slope (0.01) before the output layer
        x = torch.tanh(self.conv_post(act(x))).squeeze(1)  # [B, T * hop]
        # output block t spans [t * hop, (t + 1) * hop); frame t is centred on t * hop
        half = self.hop_length // 2
        audio = x[:, half : x.shape[1] - (self.hop_length - half)]
        frames = spec.shape[2]
        if spec_len is None:
            spec_len = torch.full((spec.shape[0],), frames, dtype=torch.long, device=spec.device)
        audio_len = (spec_len.to(spec.device).long().clamp(1, frames) - 1) * self.hop_length
        samples = torch.arange(audio.shape[1], device=audio.device)
        audio = audio.masked_fill(samples[None, :] >= audio_len[:, None], 0.0)
        return audio, audio_len

    def remove_weight_norm(self) -> None:
        """Fold the weight normalisation into plain weights (inference only: no going back)."""
        _remove_weight_norm(self)


# -- discriminators ----------------------------------------------------------------------------
def _disc_output_types() -> dict[str, Any]:
    return {
        # one [B, N] score map per sub-discriminator, flattened
        "scores": [NeuralType(("B", "T"), LogitsType())],
        # the hidden activations of each sub-discriminator, layer by layer (for feature matching)
        "features": [[NeuralType(None, ChannelType())]],
    }


def _audio_input_types() -> dict[str, Any]:
    from ganglion_asr.types import AudioSignal

    return {"audio": NeuralType(("B", "T"), AudioSignal())}


class _DiscriminatorPorts:
    """The ports of both discriminators: audio in; a score map and the feature maps of each
    sub-discriminator out."""

    @property
    def input_types(self) -> Mapping[str, Any]:
        return _audio_input_types()

    @property
    def output_types(self) -> Mapping[str, Any]:
        return _disc_output_types()


class _PeriodDiscriminator(nn.Module):
    def __init__(
        self, period: int, channels: Sequence[int], kernel: int, stride: int, slope: float
    ):
        super().__init__()
        self.period = period
        self.slope = slope
        pad = (kernel - 1) // 2
        layers = []
        previous = 1
        for i, width in enumerate(channels):
            step = stride if i < len(channels) - 1 else 1
            layers.append(
                weight_norm(nn.Conv2d(previous, width, (kernel, 1), (step, 1), padding=(pad, 0)))
            )
            previous = width
        self.layers = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(previous, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, length = audio.shape
        extra = (-length) % self.period
        if extra:
            # reflect needs more samples than it pads: fall back to zeros for tiny inputs
            mode = "reflect" if length > extra else "constant"
            audio = nn.functional.pad(audio[:, None], (0, extra), mode=mode)[:, 0]
        x = audio.view(batch, 1, -1, self.period)
        features = []
        for layer in self.layers:
            x = nn.functional.leaky_relu(layer(x), self.slope)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class MultiPeriodDiscriminator(_DiscriminatorPorts, NeuralModule):
    """Real/fake scores of audio ``[B, S]`` by one 2-D convolutional stack per period.

    Args:
        periods: the folding periods (primes, so that the stacks see different structure).
        channels: widths of each stack's convolutions (the last one has stride 1).
        kernel_size, stride: of the convolutions along time.
        leaky_relu_slope: negative slope of the activations.

    Returns ``(scores, features)``: one ``[B, N]`` score map per period, and each stack's
    activations, layer by layer.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = (16, 64, 128, 128),
        kernel_size: int = 5,
        stride: int = 3,
        leaky_relu_slope: float = 0.1,
    ) -> None:
        super().__init__()
        owner = "MultiPeriodDiscriminator"
        periods = _wholes(periods, "periods", owner)
        channels = _wholes(channels, "channels", owner)
        kernel = _whole(kernel_size, "kernel_size", owner)
        stride = _whole(stride, "stride", owner)
        self.discriminators = nn.ModuleList(
            _PeriodDiscriminator(p, channels, kernel, stride, float(leaky_relu_slope))
            for p in periods
        )
        self.apply(_init_conv)

    @typecheck()
    def forward(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outputs = [d(audio) for d in self.discriminators]
        return [s for s, _ in outputs], [f for _, f in outputs]


class _ScaleDiscriminator(nn.Module):
    def __init__(self, channels: Sequence[int], groups: Sequence[int], slope: float) -> None:
        super().__init__()
        self.slope = slope
        layers = [weight_norm(nn.Conv1d(1, channels[0], 15, padding=7))]
        for i in range(1, len(channels)):
            layers.append(
                weight_norm(
                    nn.Conv1d(
                        channels[i - 1], channels[i], 41, stride=4, padding=20, groups=groups[i]
                    )
                )
            )
        layers.append(weight_norm(nn.Conv1d(channels[-1], channels[-1], 5, padding=2)))
        self.layers = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = audio[:, None]
        features = []
        for layer in self.layers:
            x = nn.functional.leaky_relu(layer(x), self.slope)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class MultiScaleDiscriminator(_DiscriminatorPorts, NeuralModule):
    """Real/fake scores of audio ``[B, S]`` at ``scales`` time scales (the audio, then
    average-pooled by 2 each time), each by a 1-D stack of strided grouped convolutions.

    Args:
        scales: how many scales (3 in HiFi-GAN).
        channels: widths of each stack's convolutions; all but the first have stride 4 and
            groups of 4 input channels (fewer weights).
        leaky_relu_slope: negative slope of the activations.

    Returns ``(scores, features)`` like :class:`MultiPeriodDiscriminator`.
    """

    def __init__(
        self,
        scales: int = 3,
        channels: Sequence[int] = (16, 64, 128, 128),
        leaky_relu_slope: float = 0.1,
    ) -> None:
        super().__init__()
        owner = "MultiScaleDiscriminator"
        scales = _whole(scales, "scales", owner)
        channels = _wholes(channels, "channels", owner)
        groups = [1]
        for i in range(1, len(channels)):
            group = max(1, channels[i - 1] // 4)
            while channels[i - 1] % group or channels[i] % group:
                group -= 1
            groups.append(group)
        self.discriminators = nn.ModuleList(
            _ScaleDiscriminator(channels, groups, float(leaky_relu_slope)) for _ in range(scales)
        )
        self.apply(_init_conv)

    @typecheck()
    def forward(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, features = [], []
        x = audio
        for i, disc in enumerate(self.discriminators):
            if i:
                x = nn.functional.avg_pool1d(x[:, None], 4, 2, padding=2)[:, 0]
            score, feats = disc(x)
            scores.append(score)
            features.append(feats)
        return scores, features


# -- losses ----------------------------------------------------------------------------------
def discriminator_loss(
    real_scores: Sequence[torch.Tensor], fake_scores: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Least-squares GAN loss of the discriminators: real scores towards 1, fake towards 0,
    summed over the sub-discriminators."""
    total = real_scores[0].new_zeros(())
    for real, fake in zip(real_scores, fake_scores):
        total = total + (1 - real).square().mean() + fake.square().mean()
    return total


def generator_loss(fake_scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN loss of the generator: its audio's scores towards 1."""
    total = fake_scores[0].new_zeros(())
    for fake in fake_scores:
        total = total + (1 - fake).square().mean()
    return total


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]], fake_features: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """Mean L1 between the discriminators' activations on real and generated audio, summed
    over layers and sub-discriminators (the real side carries no gradient)."""
    total = fake_features[0][0].new_zeros(())
    for reals, fakes in zip(real_features, fake_features):
        for real, fake in zip(reals, fakes):
            total = total + (real.detach() - fake).abs().mean()
    return total


def multi_resolution_stft_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    resolutions: Sequence[Sequence[int]] = ((512, 128, 512), (1024, 256, 1024), (256, 64, 256)),
) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1 between ``fake`` and ``real`` audio
    ``[B, S]``, averaged over STFT ``(n_fft, hop, win_length)`` resolutions (Hann windows)."""
    total = fake.new_zeros(())
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=fake.device, dtype=fake.dtype)
        fake_mag = _stft_magnitude(fake, n_fft, hop, win, window)
        real_mag = _stft_magnitude(real, n_fft, hop, win, window)
        convergence = torch.linalg.norm(real_mag - fake_mag) / torch.linalg.norm(real_mag).clamp(
            min=1e-7
        )
        log_l1 = (real_mag.log() - fake_mag.log()).abs().mean()
        total = total + convergence + log_l1
    return total / len(resolutions)


def _stft_magnitude(
    x: torch.Tensor, n_fft: int, hop: int, win: int, window: torch.Tensor
) -> torch.Tensor:
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window, return_complex=True)
    return (spec.real.square() + spec.imag.square()).clamp(min=1e-7).sqrt()
