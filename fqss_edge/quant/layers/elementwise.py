"""Quantized element-wise Add, Sub and Mul with a requantized output (TFLite ADD/SUB/MUL semantics).

``QAdd(..., act="relu")``: ``Q_out(relu(a + b))`` with a non-negative output quantizer (int8 zero point -128) unless
one is given, as TFLite's ADD with a fused RELU computes it (one requantization; a separate ``QReLU`` would be a
RELU that XNNPACK does not take on int8). Exported as ``Add -> Relu -> Q``.
"""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.layers.conv import FusedAct
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


class QAdd(nn.Module):
    def __init__(self, spec: QuantSpec = QuantSpec(), bits: int | None = None, out_quant: nn.Module | None = None,
                 act: FusedAct | None = None):
        super().__init__()
        if act is not None and (act != "relu" or type(self) is not QAdd):
            raise ValueError(f"fused activation {act!r}: only an Add fuses one, a ReLU")
        self.act = act
        self.out_quant = out_quant if out_quant is not None else spec.act(bits, nonneg=act == "relu")

    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        y = a.value + b.value
        return self.out_quant(torch.relu(y) if self.act == "relu" else y)


class QSub(QAdd):
    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        return self.out_quant(a.value - b.value)


class QMul(QAdd):
    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        return self.out_quant(a.value * b.value)
