"""FQSS input splitter and residual output block: the two bytes of 16-bit PCM, in and out.

Input: x in [-1, 1) (int16 PCM p / 32768). ``x_hi = clip(floor(128 x), -128, 127)`` is the high byte of p;
the residual ``x - x_hi/128`` in [0, 1/128), rescaled to [-1, 1) and floored the same way, is
``x_lo = (p & 0xFF) - 128``. Both are int8 with scale 1/128 and zero point 0 (one tensor, two channels). The
model's input layer reads the low byte offset-free, ``x_lo + LOW_BYTE_OFFSET = (p & 0xFF) / 128`` (the offset's
share of its convolution is an exact int32 bias, ``QConv1d.set_input_offset``): then ``x = x_hi/128 +
(x_lo + 1)/32768`` with no constant term, and digital silence (p = 0) reaches the network as zero, as it does the
float model. Weights trained before (without the offset) load with offset 0 and compute what they did.

Output: the decoder output y0 is quantized with scale 1/128 (the high byte); the residual branch re-encodes it,
quantizes what the decoder still has to say, ``Y1 = Q(Y - reenc(y0))``, decodes it with the shared decoder
into y1 (scale 1/128) and the output is ``y = y0 + y1 / 256``: ``256*q0 + q1`` is 16-bit PCM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.layers.conv import QConv1d, QConvTranspose1d
from fqss_edge.quant.layers.elementwise import QSub
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec

BYTE_SCALE = 1.0 / 128.0
PCM16_SCALE = 1.0 / 32768.0
LOW_BYTE_OFFSET = 1.0  # the input layer reads x_lo + 1 = (p & 0xFF) / 128: 128 input steps, an exact bias share


def split_bytes(x: torch.Tensor) -> torch.Tensor:
    """[B, 1, T] float in [-1, 1) -> [B, 2, T] (x_hi/128, x_lo/128), exactly the PCM16 bytes."""
    hi = torch.clamp(torch.floor(x * 128.0), -128, 127)
    r = x * 128.0 - hi  # in [0, 1)
    lo = torch.clamp(torch.floor(r * 256.0) - 128.0, -128, 127)
    return torch.cat([hi, lo], dim=1) * BYTE_SCALE


class InputSplitter(nn.Module):
    """The FQSS input splitter. ``pad`` (left, right): zero samples added to the waveform before the split, set by
    the model in place of its input layer's own zero padding: a padded sample then has the bytes of digital
    silence (hi 0, lo -128, which the offset-free input layer reads as 0), where the layer's padding of the split
    bytes would read lo 0 as 128."""

    def __init__(self, spec: QuantSpec = QuantSpec()):
        super().__init__()
        self.enabled = spec.enabled
        self.pad = (0, 0)

    def forward(self, x: torch.Tensor) -> QTensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        v = split_bytes(x)
        if not self.enabled:
            return QTensor(v)
        return QTensor(v, torch.tensor(BYTE_SCALE), torch.tensor(0.0), 8)


class InputQuant(nn.Module):
    """Plain learned-range input quantizer (vanilla QAT: no splitter)."""

    def __init__(self, spec: QuantSpec = QuantSpec()):
        super().__init__()
        self.out_quant = spec.act()

    def forward(self, x: torch.Tensor) -> QTensor:
        return self.out_quant(x)


class ResidualOutput(nn.Module):
    """FQSS residual output quantization around a shared decoder.

    The re-encoder mirrors the decoder: a ConvTranspose1d decoder (N -> C, kernel K, stride S) is re-encoded by a
    Conv1d C -> N with the same kernel and stride; a same-length Conv1d decoder (H -> C, stride 1) by a Conv1d
    C -> H with the same kernel, padding and dilation. The decoder has no bias (it decodes y0 and y1 alike)."""

    def __init__(self, decoder: QConv1d | QConvTranspose1d, spec: QuantSpec = QuantSpec()):
        super().__init__()
        self.decoder = [decoder]  # shared, not registered twice; its output quantizer is the fixed high byte
        self.reencoder = _mirror(decoder, spec)
        self.sub = QSub(spec)
        self.q_y1 = spec.fixed(BYTE_SCALE, 0)

    def forward(self, latent: QTensor) -> torch.Tensor:
        dec = self.decoder[0]
        y0 = dec(latent)
        residual = self.sub(latent, self.reencoder(y0))
        y1 = dec.requantized(residual, self.q_y1)
        return y0.value + y1.value * (BYTE_SCALE * 0.5)


def _mirror(decoder: QConv1d | QConvTranspose1d, spec: QuantSpec) -> QConv1d:
    """A convolution from the decoder's output space back to its input space (same length as its input)."""
    c = decoder.conv
    if c.bias is not None:
        # the decoder runs twice (y0, y1) at two input scales: a bias would be added twice, with two int32 codings
        raise ValueError("residual output: the decoder must have no bias")
    if isinstance(decoder, QConvTranspose1d):
        if c.groups != 1 or c.output_padding[0] or c.dilation[0] != 1:
            raise ValueError("residual output: a transposed-conv decoder needs groups 1, dilation 1, no output_padding")
        return QConv1d(c.out_channels, c.in_channels, c.kernel_size[0], c.stride[0], c.padding[0], bias=False,
                       spec=spec)
    if c.stride[0] != 1 or c.groups != 1 or 2 * c.padding[0] != c.dilation[0] * (c.kernel_size[0] - 1):
        raise ValueError("residual output: a Conv1d decoder must keep the length (stride 1, groups 1, "
                         "padding = dilation * (kernel_size - 1) / 2)")
    return QConv1d(c.out_channels, c.in_channels, c.kernel_size[0], 1, c.padding[0], c.dilation[0], bias=False,
                   spec=spec)
