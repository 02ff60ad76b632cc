"""Quantized attention primitives: a batched matrix product and a softmax with the runtimes' integer semantics.

Tensors follow the (N, C, T) convention of the rest of the network: a batch of matrices is ``[B, rows, cols]``.

* ``QMatMul``: ``out_quant(a @ b)`` for ``a: [B, M, K]``, ``b: [B, K, N]`` (ONNX MatMul / QLinearMatMul, TFLite
  BATCH_MATMUL int8: per-tensor scales on both operands, the output requantized from the exact int32 sum).
  Outside training the product is computed on the integer codes (exact), as the runtimes do.
* ``QSoftmax``: softmax over axis 1 (the channel axis: ``[B, keys, queries]`` scores), output fixed by the
  runtimes at scale 1/256, zero point -128 (int8; TFLite SOFTMAX refuses any other output quantization).
* ``QPositionalEncoding``: ``x + PE[:, :L]``, SpeechBrain's sinusoidal table as an int8 constant (scale 1/127,
  zero point 0: its values are in [-1, 1]) and a quantized Add. With a fixed ``length`` the table is a constant of
  that length (ONNX ``DQ(x), DQ(table) -> Add -> Q``, TFLite ADD); without, L follows the input (at most
  ``max_len``, SpeechBrain's 2500) and the export cuts the table's first L frames with constant operations
  (CONCATENATION with the input, STRIDED_SLICE with a negative end: see the emitter), the same codes the
  simulation adds.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fqss_edge.quant.layers.elementwise import QAdd
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


TABLE_SCALE = 1.0 / 127  # the positional table's int8 scale (zero point 0): |sin|, |cos| <= 1


def sinusoid_table(d_model: int, length: int) -> torch.Tensor:
    """``[d_model, length]``: SpeechBrain's ``PositionalEncoding`` (sin on even channels, cos on odd ones; the same
    float32 operations, so that the float model reproduces SpeechBrain's)."""
    if d_model % 2:
        raise ValueError(f"a sinusoidal positional encoding needs an even d_model, not {d_model}")
    positions = torch.arange(0, length).unsqueeze(1).float()
    denominator = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(positions * denominator)
    pe[:, 1::2] = torch.cos(positions * denominator)
    return pe.t().contiguous()


class QPositionalEncoding(nn.Module):
    """``[B, D, L] -> [B, D, L]``: ``x + PE[:, :L]``. ``length``: L is always this (the table is a constant of
    that length); None: L follows the input (at most ``max_len``)."""

    def __init__(self, d_model: int, spec: QuantSpec, length: int | None = None, max_len: int = 2500):
        super().__init__()
        self.length = length
        table = sinusoid_table(d_model, length or max_len)
        if spec.enabled:  # the int8 constant: its codes are round(table * 127)
            table = torch.round(table / TABLE_SCALE) * TABLE_SCALE
        self.register_buffer("table", table.unsqueeze(0), persistent=False)
        self.add = QAdd(spec)

    def codes(self) -> torch.Tensor:
        """The int8 table ``[1, D, length]`` (scale ``TABLE_SCALE``, zero point 0)."""
        return torch.round(self.table / TABLE_SCALE).to(torch.int8)

    def forward(self, x: QTensor) -> QTensor:
        n = x.value.shape[-1]
        if self.length is not None and n != self.length:
            raise ValueError(f"QPositionalEncoding: sequences of {self.length} frames, not {n}")
        if n > self.table.shape[-1]:
            raise ValueError(f"QPositionalEncoding: {n} frames, more than the table's {self.table.shape[-1]}")
        return self.add(x, QTensor(self.table[..., :n]))
