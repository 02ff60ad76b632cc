"""Temporal convolutional network (Conv-TasNet masker), built from quantized layers."""

from __future__ import annotations

from torch import nn

from fqss_edge.quant.layers import QAdd, QConv1d, QGlobalLayerNorm, QPReLU, make_activation
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


class TCNBlock(nn.Module):
    """1x1 conv -> PReLU -> gLN -> dilated depthwise conv -> PReLU -> gLN -> (residual 1x1, skip 1x1)."""

    def __init__(self, bn_chan: int, hid_chan: int, skip_chan: int, kernel_size: int, dilation: int, spec: QuantSpec,
                 first: bool = False):
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.in_conv = QConv1d(bn_chan, hid_chan, 1, spec=spec)
        self.act1 = QPReLU(spec=spec)
        self.norm1 = QGlobalLayerNorm(hid_chan, spec)
        self.dw_conv = QConv1d(hid_chan, hid_chan, kernel_size, padding=pad, dilation=dilation, groups=hid_chan,
                               spec=spec)
        self.act2 = QPReLU(spec=spec)
        self.norm2 = QGlobalLayerNorm(hid_chan, spec)
        self.res_conv = QConv1d(hid_chan, bn_chan, 1, spec=spec)
        self.skip_conv = QConv1d(hid_chan, skip_chan, 1, spec=spec)
        self.res_add = QAdd(spec)
        self.skip_add = None if first else QAdd(spec)  # the first block starts the skip sum

    def forward(self, x: QTensor, skip: QTensor | None) -> tuple[QTensor, QTensor]:
        h = self.norm1(self.act1(self.in_conv(x)))
        h = self.norm2(self.act2(self.dw_conv(h)))
        out = self.res_add(x, self.res_conv(h))
        s = self.skip_conv(h)
        return out, (s if self.skip_add is None else self.skip_add(skip, s))


class TCN(nn.Module):
    """gLN -> bottleneck 1x1 -> R x X TCN blocks (dilations 1..2^(X-1)) -> PReLU -> 1x1 -> mask activation."""

    def __init__(self, in_chan: int, n_src: int, bn_chan: int, hid_chan: int, skip_chan: int, conv_kernel_size: int,
                 n_blocks: int, n_repeats: int, mask_act: str, spec: QuantSpec):
        super().__init__()
        self.n_src = n_src
        self.in_chan = in_chan
        self.norm = QGlobalLayerNorm(in_chan, spec)
        self.bottleneck = QConv1d(in_chan, bn_chan, 1, spec=spec)
        self.blocks = nn.ModuleList(
            TCNBlock(bn_chan, hid_chan, skip_chan, conv_kernel_size, 2**x, spec, first=(r == 0 and x == 0))
            for r in range(n_repeats) for x in range(n_blocks)
        )
        self.out_act = QPReLU(spec=spec)
        self.mask_conv = QConv1d(skip_chan, n_src * in_chan, 1, spec=spec)
        self.mask_act = make_activation(mask_act, spec)

    def forward(self, tf_rep: QTensor) -> QTensor:
        """[B, N, F] -> masks [B, n_src * N, F]."""
        x = self.bottleneck(self.norm(tf_rep))
        skip = None
        for block in self.blocks:
            x, skip = block(x, skip)
        return self.mask_act(self.mask_conv(self.out_act(skip)))
