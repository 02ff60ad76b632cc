"""A tensor that carries the quantization parameters of the values it holds.

Quantized layers pass ``QTensor`` between each other so that every tensor between operations is
quantized by construction: a layer that receives a ``QTensor`` knows the scale and zero point its input
has in an int8 runtime (which it needs, e.g., for the int32 bias scale ``s_in * s_w``).

``value`` is the dequantized (float) view: ``(q - zero_point) * scale``. ``scale`` is ``None`` for a float
tensor (float models, or activations still in their EMA calibration phase).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class QTensor(NamedTuple):
    value: torch.Tensor
    scale: torch.Tensor | None = None  # 0-d float32
    zero_point: torch.Tensor | None = None  # 0-d int64 (integer valued)
    bits: int | None = None

    @property
    def is_quantized(self) -> bool:
        return self.scale is not None

    def int_repr(self) -> torch.Tensor:
        """The integer tensor an int8/int16 runtime holds (int64 for convenience)."""
        if self.scale is None:
            raise ValueError("float tensor has no integer representation")
        return torch.round(self.value / self.scale).to(torch.int64) + self.zero_point

    def with_value(self, value: torch.Tensor) -> "QTensor":
        return QTensor(value, self.scale, self.zero_point, self.bits)
