"""Jasper / QuartzNet convolutional encoders and the CTC decoder head.

An encoder is a stack of blocks described by config (NeMo's ``jasper:`` list)::

    encoder:
      _target_: ganglion_asr.modules.ConvASREncoder
      feat_in: 64
      activation: relu
      conv_mask: true
      jasper:
        - {filters: 256, repeat: 1, kernel: [33], stride: [2], dilation: [1], dropout: 0.0,
           residual: false, separable: true}
        - {filters: 256, repeat: 5, kernel: [33], stride: [1], dilation: [1], dropout: 0.0,
           residual: true, separable: true}
        ...

A block repeats ``repeat`` sub-blocks of convolution -> batch norm -> activation -> dropout;
with ``separable`` the convolution is time-channel separable (a depthwise convolution over
time, then a 1x1 convolution across channels: QuartzNet), otherwise a full convolution
(Jasper). With ``residual`` the block's input, through a 1x1 convolution and batch norm, is
added before the last activation; ``residual_dense`` adds the inputs of every earlier dense
block too (Jasper's "dense residual"). Convolutions are masked: each utterance's padding is
zeroed before every convolution that looks across time, so results do not depend on how an
utterance was batched; lengths are carried through strides.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganglion import typecheck
from ganglion.errors import ConfigError, check_known_keys
from ganglion.module import NeuralModule
from ganglion.types import LengthsType, LogprobsType, NeuralType

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "selu": lambda: nn.SELU(inplace=True),
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "hardtanh": lambda: nn.Hardtanh(0.0, 20.0, inplace=True),
}

_BLOCK_KEYS = {
    "filters",
    "repeat",
    "kernel",
    "stride",
    "dilation",
    "dropout",
    "residual",
    "separable",
    "residual_dense",
}

_INIT_MODES = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def _activation(name: str, where: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(
            f"{where}: unknown activation {name!r}; known: {', '.join(_ACTIVATIONS)}"
        ) from None


def _single(value: Any, key: str, where: str) -> int:
    """``33`` or ``[33]`` -> 33 (configs write 1-D sizes as one-element lists)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 1:
            raise ConfigError(
                f"{where}.{key}: expected one value for a 1-D convolution, got {list(value)!r}"
            )
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}.{key}: expected a positive integer, got {value!r}")
    return value


def conv_output_length(
    length: torch.Tensor, kernel: int, stride: int, dilation: int, padding: int
) -> torch.Tensor:
    """Frames a 1-D convolution leaves of ``length`` input frames."""
    return (
        torch.div(length + 2 * padding - dilation * (kernel - 1) - 1, stride, rounding_mode="floor")
        + 1
    )


def init_weights(module: nn.Module, mode: str = "xavier_uniform") -> None:
    """Initialise convolution/linear weights by ``mode``; batch norm to identity."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        if mode == "xavier_uniform":
            nn.init.xavier_uniform_(module.weight, gain=1.0)
        elif mode == "xavier_normal":
            nn.init.xavier_normal_(module.weight, gain=1.0)
        elif mode == "kaiming_uniform":
            nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
        elif mode == "kaiming_normal":
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        else:
            raise ConfigError(f"init_mode {mode!r}; known: {', '.join(_INIT_MODES)}")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d) and module.affine:
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


@functools.lru_cache(maxsize=256)
def _fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: sizes the FFT library handles fastest."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


class _FFTDepthwise(torch.autograd.Function):
    """Depthwise cross-correlation as a product of real spectra, with a hand-written backward.

    ``x`` is [B, C, T] and ``w`` [C, S] (taps already spread by the dilation). The backward
    reuses the forward's spectra: the input gradient is the correlation of the output
    gradient with the filter, the filter gradient its correlation with the input summed over
    the batch, each one product of spectra (two large FFTs instead of autograd's three, one
    of them complex-to-complex).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, padding: int) -> torch.Tensor:
        frames, span = x.shape[-1], w.shape[-1]
        n = _fft_size(frames + span - 1)  # long enough that the circular product cannot wrap
        x_spec = torch.fft.rfft(x, n=n)
        w_spec = torch.fft.rfft(w.flip(-1), n=n)
        full = torch.fft.irfft(x_spec * w_spec, n=n)
        start = span - 1 - padding
        out_len = frames + 2 * padding - span + 1
        ctx.save_for_backward(x_spec, w_spec)
        ctx.geometry = (n, frames, span, start, out_len)
        return full[..., start : start + out_len]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x_spec, w_spec = ctx.saved_tensors
        n, frames, span, start, out_len = ctx.geometry
        grad_full = F.pad(grad, (start, n - start - out_len))
        g_spec = torch.fft.rfft(grad_full, n=n)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.fft.irfft(g_spec * w_spec.conj(), n=n)[..., :frames]
        if ctx.needs_input_grad[1]:
            corr = (g_spec * x_spec.conj()).sum(dim=0)
            grad_w = torch.fft.irfft(corr, n=n)[..., :span].flip(-1)
        return grad_x, grad_w, None


def fft_depthwise_conv1d(
    x: torch.Tensor, weight: torch.Tensor, padding: int, dilation: int = 1
) -> torch.Tensor:
    """Depthwise (one filter per channel) 1-D cross-correlation through real FFTs.

    Same result as ``F.conv1d(x, weight, padding=padding, dilation=dilation,
    groups=channels)`` with stride 1, computed as a product of spectra. For the long kernels
    of QuartzNet (33-87 taps) this is several times faster on CPU than direct depthwise
    convolution, whose cost grows with the kernel. Runs in float32.
    """
    channels, _, taps = weight.shape
    w = weight[:, 0, :].float()
    if dilation > 1:  # spread the taps out with zeros between them
        span = dilation * (taps - 1) + 1
        w = F.pad(w.unsqueeze(-1), (0, dilation - 1)).reshape(channels, taps * dilation)[:, :span]
    return _FFTDepthwise.apply(x.float(), w, padding)


class DepthwiseConv1d(nn.Conv1d):
    """A depthwise ``nn.Conv1d`` (``groups == channels``) that uses FFTs for long kernels.

    Parameters and state dict are those of ``nn.Conv1d``; only the computation differs:
    kernels spanning at least :attr:`fft_min_span` frames at stride 1 go through
    :func:`fft_depthwise_conv1d`, shorter ones (or strided ones) through ``F.conv1d``.
    """

    #: measured crossover on CPU: direct convolution wins below about 19 taps
    fft_min_span: int = 19

    def __init__(
        self, channels: int, kernel: int, *, stride: int = 1, padding: int = 0, dilation: int = 1
    ) -> None:
        super().__init__(
            channels,
            channels,
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=channels,
            bias=False,
        )
        self._span = dilation * (kernel - 1) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torch.export (and so ONNX) traces the direct convolution: the FFT path sizes its
        # transform from the length in Python, which a dynamic time axis does not allow
        if (
            self.stride[0] == 1
            and self._span >= self.fft_min_span
            and not torch.compiler.is_exporting()
        ):
            with torch.autocast(x.device.type, enabled=False):
                return fft_depthwise_conv1d(x, self.weight, self.padding[0], self.dilation[0])
        return super().forward(x)


class _ConvBN(nn.Module):
    """One convolution (separable or full) and its batch norm."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int, dilation: int, separable: bool
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.padding = dilation * (kernel - 1) // 2
        if separable and kernel > 1:
            self.depthwise: nn.Conv1d | None = DepthwiseConv1d(
                in_ch, kernel, stride=stride, padding=self.padding, dilation=dilation
            )
            self.conv = nn.Conv1d(in_ch, out_ch, 1, bias=False)
        else:
            self.depthwise = None
            self.conv = nn.Conv1d(
                in_ch,
                out_ch,
                kernel,
                stride=stride,
                padding=self.padding,
                dilation=dilation,
                bias=False,
            )
        self.bn = nn.BatchNorm1d(out_ch, eps=1e-3, momentum=0.1)
        # only a convolution that looks across time needs its input's padding zeroed
        self.looks_across_time = kernel > 1

    def output_length(self, length: torch.Tensor) -> torch.Tensor:
        return conv_output_length(length, self.kernel, self.stride, self.dilation, self.padding)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None and self.looks_across_time:
            x = x * mask
        if self.depthwise is not None:
            x = self.depthwise(x)
        return self.bn(self.conv(x))


class JasperBlock(nn.Module):
    """``repeat`` x (conv -> BN -> activation -> dropout), with an optional residual.

    ``residual_inputs`` lists the channel counts of the residual sources: one (the block's
    input) for a plain residual, every earlier dense block's input for a dense one, none
    without a residual. A stride applies to the first sub-block (and its residual).
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        *,
        repeat: int,
        kernel: int,
        stride: int,
        dilation: int,
        dropout: float,
        separable: bool,
        activation: str,
        residual_inputs: Sequence[int],
        dense: bool,
        where: str,
    ) -> None:
        super().__init__()
        self.dense = dense
        self.subs = nn.ModuleList(
            _ConvBN(
                in_channels if i == 0 else filters,
                filters,
                kernel,
                stride if i == 0 else 1,
                dilation,
                separable,
            )
            for i in range(repeat)
        )
        self.acts = nn.ModuleList(_activation(activation, where) for _ in range(repeat))
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.res = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(ch, filters, 1, stride=stride, bias=False),
                nn.BatchNorm1d(filters, eps=1e-3, momentum=0.1),
            )
            for ch in residual_inputs
        )

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        length: torch.Tensor,
        sources: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out = x
        last = len(self.subs) - 1
        for i, (sub, act) in enumerate(zip(self.subs, self.acts)):
            out = sub(out, mask)
            if i == 0 and sub.stride > 1:  # time got shorter: new lengths, new mask
                length = sub.output_length(length)
                if mask is not None:
                    mask = _time_mask(length, out.shape[-1], mask.dtype)
            if i < last:
                out = act(out)
                if self.drop is not None:
                    out = self.drop(out)
        for res, src in zip(self.res, sources):
            out = out + res(src)
        out = self.acts[last](out)
        if self.drop is not None:
            out = self.drop(out)
        return out, length, mask


def _time_mask(length: torch.Tensor, frames: int, dtype: torch.dtype) -> torch.Tensor:
    """``[B, 1, T]`` mask: 1 on each utterance's frames, 0 on its padding."""
    steps = torch.arange(frames, device=length.device)
    return (steps[None, :] < length[:, None]).to(dtype)[:, None, :]


class ConvASREncoder(NeuralModule):
    """Jasper/QuartzNet encoder: spectrogram [B, D, T] -> encoding [B, C, T'] and lengths.

    Args:
        jasper: the block list (keys ``filters``, ``repeat``, ``kernel``, ``stride``,
            ``dilation``, ``dropout``, ``residual``, ``separable``, ``residual_dense``).
        activation: ``relu`` (default), ``selu``, ``swish``/``silu``, ``gelu``, ``tanh``,
            ``hardtanh``.
        feat_in: input features (mel bands).
        conv_mask: zero each utterance's padding before convolutions over time.
        init_mode: ``xavier_uniform`` (default), ``xavier_normal``, ``kaiming_uniform``,
            ``kaiming_normal``.
    """

    def __init__(
        self,
        jasper: Sequence[Mapping[str, Any]],
        activation: str = "relu",
        feat_in: int = 64,
        conv_mask: bool = True,
        init_mode: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        if not jasper:
            raise ConfigError("encoder.jasper: the block list is empty; give at least one block")
        if init_mode not in _INIT_MODES:
            raise ConfigError(f"encoder.init_mode {init_mode!r}; known: {', '.join(_INIT_MODES)}")
        self._feat_in = int(feat_in)
        self.conv_mask = bool(conv_mask)
        blocks = []
        channels = self._feat_in
        dense_channels: list[int] = []
        for i, raw in enumerate(jasper):
            where = f"encoder.jasper[{i}]"
            cfg = dict(raw)
            check_known_keys(cfg, _BLOCK_KEYS, where=where)
            if "filters" not in cfg:
                raise ConfigError(f"{where}: 'filters' (output channels) is required")
            filters = _single(cfg["filters"], "filters", where)
            dense = bool(cfg.get("residual_dense", False))
            residual = bool(cfg.get("residual", False))
            if dense:
                dense_channels.append(channels)
                residual_inputs = list(dense_channels) if residual else []
            else:
                residual_inputs = [channels] if residual else []
            dropout = float(cfg.get("dropout", 0.0))
            if not 0 <= dropout < 1:
                raise ConfigError(f"{where}.dropout must lie in [0, 1), got {dropout}")
            blocks.append(
                JasperBlock(
                    channels,
                    filters,
                    repeat=_single(cfg.get("repeat", 1), "repeat", where),
                    kernel=_single(cfg.get("kernel", 1), "kernel", where),
                    stride=_single(cfg.get("stride", 1), "stride", where),
                    dilation=_single(cfg.get("dilation", 1), "dilation", where),
                    dropout=dropout,
                    separable=bool(cfg.get("separable", False)),
                    activation=activation,
                    residual_inputs=residual_inputs,
                    dense=dense,
                    where=where,
                )
            )
            channels = filters
        self.blocks = nn.ModuleList(blocks)
        self._feat_out = channels
        self.apply(lambda m: init_weights(m, init_mode))

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import SpectrogramType

        return {
            "audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
            "length": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import AcousticEncodedRepresentation

        return {
            "outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
            "encoded_lengths": NeuralType(("B",), LengthsType()),
        }

    @property
    def feat_out(self) -> int:
        """Channels of the encoding (the decoder's ``feat_in``)."""
        return self._feat_out

    @property
    def stride(self) -> int:
        """Total time stride: input frames per output frame."""
        total = 1
        for block in self.blocks:
            total *= block.subs[0].stride
        return total

    @typecheck()
    def forward(
        self, audio_signal: torch.Tensor, length: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = audio_signal
        length = length.to(torch.long)
        dense_sources: list[torch.Tensor] = []
        mask = _time_mask(length, x.shape[-1], x.dtype) if self.conv_mask else None
        for block in self.blocks:
            if block.dense:
                dense_sources.append(x)
                sources: Sequence[torch.Tensor] = dense_sources
            else:
                sources = [x] if len(block.res) else ()
            x, length, mask = block(x, mask, length, sources)
        return x, length


class ConvASRDecoder(NeuralModule):
    """CTC head: a 1x1 convolution to ``num_classes + 1`` classes (the last is the blank),
    then log-softmax; returns log-probabilities [B, T, C].

    ``num_classes`` may be left out (or ``-1``) when ``vocabulary`` is given.
    """

    def __init__(
        self,
        feat_in: int,
        num_classes: int = -1,
        init_mode: str = "xavier_uniform",
        vocabulary: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if (num_classes is None or num_classes < 1) and vocabulary:
            num_classes = len(vocabulary)
        if num_classes is None or num_classes < 1:
            raise ConfigError(
                "decoder: set num_classes (the vocabulary size, without blank) or vocabulary"
            )
        if vocabulary is not None and len(vocabulary) != num_classes:
            raise ConfigError(
                f"decoder: num_classes={num_classes} but the vocabulary has "
                f"{len(vocabulary)} labels; they must agree"
            )
        self._feat_in = int(feat_in)
        self._num_classes = int(num_classes) + 1  # + blank
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.decoder_layers = nn.Sequential(nn.Conv1d(self._feat_in, self._num_classes, 1))
        self.apply(lambda m: init_weights(m, init_mode))

    @property
    def input_types(self) -> Mapping[str, NeuralType]:
        from ganglion_asr.types import AcousticEncodedRepresentation

        return {"encoder_output": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation())}

    @property
    def output_types(self) -> Mapping[str, NeuralType]:
        return {"logprobs": NeuralType(("B", "T", "D"), LogprobsType())}

    @property
    def num_classes_with_blank(self) -> int:
        """Output classes including the blank."""
        return self._num_classes

    @property
    def blank_id(self) -> int:
        return self._num_classes - 1

    @typecheck()
    def forward(self, encoder_output: torch.Tensor) -> torch.Tensor:
        logits = self.decoder_layers(encoder_output).transpose(1, 2)
        return F.log_softmax(logits.float(), dim=-1)
