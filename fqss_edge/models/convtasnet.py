"""Conv-TasNet as encoder -> masker (TCN) -> decoder, fully quantized (or float with quantization disabled).

With FQSS options the encoder takes the two bytes of the input (splitter) and the decoder output goes
through the residual output block. Input length contract: T is a multiple of ``stride`` and >= ``kernel_size``
(``forward`` pads other lengths with zeros and crops the output back).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.layers.io import BYTE_SCALE
from fqss_edge.quant.layers import InputQuant, InputSplitter, QConv1d, QConvTranspose1d, QMul, QReLU, ResidualOutput
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec
from fqss_edge.models.tcn import TCN


class ConvTasNet(nn.Module):
    def __init__(self, n_src: int = 2, n_filters: int = 512, kernel_size: int = 16, stride: int = 8,
                 bn_chan: int = 128, hid_chan: int = 512, skip_chan: int = 128, conv_kernel_size: int = 3,
                 n_blocks: int = 8, n_repeats: int = 3, mask_act: str = "relu", encoder_act: str = "relu",
                 spec: QuantSpec = QuantSpec(), splitter: bool = True, residual_output: bool = True, **_: object):
        super().__init__()
        self.n_src, self.n_filters, self.kernel_size, self.stride = n_src, n_filters, kernel_size, stride
        self.spec = spec
        self.splitter = splitter
        self.input = InputSplitter(spec) if splitter else InputQuant(spec)
        self.encoder = QConv1d(2 if splitter else 1, n_filters, kernel_size, stride, bias=False, spec=spec)
        self.enc_act = QReLU(spec) if encoder_act == "relu" else None
        self.masker = TCN(n_filters, n_src, bn_chan, hid_chan, skip_chan, conv_kernel_size, n_blocks, n_repeats,
                          mask_act, spec)
        self.apply_mask = QMul(spec)
        # with the residual output block the decoder output is the high byte of the 16-bit output: scale 1/128
        out_quant = spec.fixed(BYTE_SCALE, 0) if residual_output else spec.act()
        self.decoder = QConvTranspose1d(n_filters, 1, kernel_size, stride, bias=False, spec=spec, out_quant=out_quant)
        self.residual = ResidualOutput(self.decoder, n_filters, kernel_size, stride, spec) if residual_output else None

    # -- the pieces -----------------------------------------------------------------------------------------
    def forward_encoder(self, wav: torch.Tensor) -> QTensor:
        """[B, 1, T] -> [B, N, F]."""
        tf = self.encoder(self.input(wav))
        return self.enc_act(tf) if self.enc_act is not None else tf

    def forward_masker(self, tf_rep: QTensor) -> QTensor:
        """[B, N, F] -> masks [B, n_src * N, F]."""
        return self.masker(tf_rep)

    def apply_masks(self, tf_rep: QTensor, masks: QTensor) -> QTensor:
        """-> masked representation [B * n_src, N, F]."""
        b, _, f = tf_rep.value.shape
        m = masks.value.view(b, self.n_src, self.n_filters, f)
        masked = self.apply_mask(QTensor(tf_rep.value.unsqueeze(1), tf_rep.scale, tf_rep.zero_point, tf_rep.bits),
                                 masks.with_value(m))
        return masked.with_value(masked.value.reshape(b * self.n_src, self.n_filters, f))

    def forward_decoder(self, masked: QTensor) -> torch.Tensor:
        """[B * n_src, N, F] -> [B * n_src, 1, T]."""
        if self.residual is not None:
            return self.residual(masked)
        return self.decoder(masked).value

    # -- whole model ----------------------------------------------------------------------------------------
    def valid_length(self, n: int) -> int:
        n = max(n, self.kernel_size)
        return -(-n // self.stride) * self.stride

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] with T valid -> [B, n_src, T]: the graph that export writes."""
        b, t = wav.shape[0], wav.shape[-1]
        tf_rep = self.forward_encoder(wav)
        masked = self.apply_masks(tf_rep, self.forward_masker(tf_rep))
        return self.forward_decoder(masked).view(b, self.n_src, t)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, T] or [B, 1, T] waveform in [-1, 1) -> [B, n_src, T]."""
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        t = wav.shape[-1]
        pad = self.valid_length(t) - t
        if pad:
            wav = F.pad(wav, (0, pad))
        return self.forward_core(wav)[..., :t]
