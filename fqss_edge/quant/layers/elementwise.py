"""Quantized element-wise Add, Sub and Mul with a requantized output (TFLite ADD/SUB/MUL semantics)."""

from __future__ import annotations

from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


class QAdd(nn.Module):
    def __init__(self, spec: QuantSpec = QuantSpec(), bits: int | None = None, out_quant: nn.Module | None = None):
        super().__init__()
        self.out_quant = out_quant if out_quant is not None else spec.act(bits)

    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        return self.out_quant(a.value + b.value)


class QSub(QAdd):
    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        return self.out_quant(a.value - b.value)


class QMul(QAdd):
    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        return self.out_quant(a.value * b.value)
