"""What quantizers a quantized layer gets: bit widths and calibration settings, in one object."""

from __future__ import annotations

from dataclasses import dataclass

from fqss_edge.quant.quantizers import ActQuantizer, FixedQuantizer, WeightQuantizer


@dataclass(frozen=True)
class QuantSpec:
    enabled: bool = True
    weight_bits: int = 8
    act_bits: int = 8
    norm_bits: int = 8
    calib_batches: int = 50
    ema_alpha: float = 0.9

    def __post_init__(self) -> None:
        if self.weight_bits not in (4, 8, 16):
            raise ValueError(f"weight_bits must be 4, 8 or 16, not {self.weight_bits}")
        for name in ("act_bits", "norm_bits"):
            if getattr(self, name) not in (8, 16):
                raise ValueError(f"{name} must be 8 or 16, not {getattr(self, name)}")
        if self.calib_batches < 1:
            raise ValueError("calib_batches must be >= 1")

    def act(self, bits: int | None = None, nonneg: bool = False, tracking: bool = False,
            symmetric: bool = False) -> ActQuantizer:
        return ActQuantizer(bits or self.act_bits, self.calib_batches, self.ema_alpha, self.enabled, nonneg, tracking,
                            symmetric)

    def fixed(self, scale: float, zero_point: int, bits: int = 8) -> FixedQuantizer:
        return FixedQuantizer(scale, zero_point, bits, self.enabled)

    def weight(self, n_channels: int, axis: int = 0, bits: int | None = None) -> WeightQuantizer:
        return WeightQuantizer(n_channels, bits or self.weight_bits, axis, self.enabled)


FLOAT = QuantSpec(enabled=False)
