"""Quantized attention primitives: a batched matrix product and a softmax with the runtimes' integer semantics.

Tensors follow the (N, C, T) convention of the rest of the network: a batch of matrices is ``[B, rows, cols]``.

* ``QMatMul``: ``out_quant(a @ b)`` for ``a: [B, M, K]``, ``b: [B, K, N]`` (ONNX MatMul / QLinearMatMul, TFLite
  BATCH_MATMUL int8: per-tensor scales on both operands, the output requantized from the exact int32 sum).
  Outside training the product is computed on the integer codes (exact), as the runtimes do.
* ``QSoftmax``: softmax over axis 1 (the channel axis: ``[B, keys, queries]`` scores), output fixed by the
  runtimes at scale 1/256, zero point -128 (int8; TFLite SOFTMAX refuses any other output quantization).
"""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec

SOFTMAX_SCALE = 1.0 / 256.0
SOFTMAX_ZERO_POINT = -128
_F64_EXACT_INTEGERS = 2.0**53


def _codes(x: QTensor) -> torch.Tensor:
    """``q - zero_point`` as float64 (exact integers)."""
    return torch.round(x.value.to(torch.float64) / x.scale.to(torch.float32).to(torch.float64))


class QMatMul(nn.Module):
    """``[B, M, K] @ [B, K, N] -> [B, M, N]``, requantized by ``out_quant``."""

    def __init__(self, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.out_quant = out_quant if out_quant is not None else spec.act()

    @torch.no_grad()
    def exact_product(self, a: QTensor, b: QTensor) -> torch.Tensor:
        """The int32 accumulator of an int8 runtime times ``s_a * s_b`` (float64)."""
        ca, cb = _codes(a), _codes(b)
        bound = float(ca.abs().max()) * float(cb.abs().max()) * ca.shape[-1] if ca.numel() and cb.numel() else 0.0
        if bound >= _F64_EXACT_INTEGERS:
            raise ValueError(f"QMatMul: the integer sum may exceed float64's exact range ({bound:.3g})")
        scale = a.scale.to(torch.float32).to(torch.float64) * b.scale.to(torch.float32).to(torch.float64)
        return (ca @ cb) * scale

    def forward(self, a: QTensor, b: QTensor) -> QTensor:
        exact = not self.training and a.scale is not None and b.scale is not None
        if not exact:
            return self.out_quant(a.value @ b.value)
        y = self.exact_product(a, b)
        if torch.is_grad_enabled():
            f = a.value @ b.value
            y = y.to(f.dtype) + (f - f.detach())
        out = self.out_quant(y)
        return out if out.value.dtype == a.value.dtype else out.with_value(out.value.to(a.value.dtype))


class QSoftmax(nn.Module):
    """Softmax over axis 1, output int8 at the runtimes' fixed scale 1/256 and zero point -128."""

    def __init__(self, spec: QuantSpec = QuantSpec()):
        super().__init__()
        self.out_quant = spec.fixed(SOFTMAX_SCALE, SOFTMAX_ZERO_POINT, bits=8)

    def forward(self, x: QTensor) -> QTensor:
        return self.out_quant(torch.softmax(x.value, dim=1))
