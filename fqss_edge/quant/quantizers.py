"""Fake quantizers with the integer semantics of the int8 runtimes.

* ``WeightQuantizer``: per-output-channel, symmetric, signed b-bit, zero point 0, codes in
  [-(2^(b-1)-1), 2^(b-1)-1]. The per-channel range ``max_abs`` is initialised from max|w| and then trained
  (straight-through estimator on the rounding).
* ``ActQuantizer``: per-tensor. 8-bit is asymmetric int8 with an integer zero point; 16-bit is symmetric
  int16 with zero point 0 (TFLite 16x8). The range (lo, hi) is initialised by an exponential moving average
  over the first ``calib_batches`` training batches, during which values pass unquantized, and trained by
  gradient afterwards (learned range, PACT-like). ``tracking=True`` keeps the moving average instead (no
  gradient): for per-utterance scalars such as the gLN statistics, whose magnitude can be far below Adam's
  absolute step (a learned ``hi`` of a 0.002 variance crossed 0 within the 200 QAT steps and froze the input gLN).
* ``FixedQuantizer``: a range the runtime imposes (e.g. LOGISTIC output 1/256, -128) or the FQSS
  output bytes (1/128, 0).
* ``TiedQuantizer``: another quantizer's scale and zero point (an intermediate a runtime keeps at that scale).
* ``SquareCodesQuantizer``: int8 at scale ``s^2`` (s: another quantizer's scale), zero point -128: holds the
  squares of that quantizer's codes exactly up to 255 and saturates above (the small part of split squares).
* ``quantize_bias``: int32 with scale ``s_in * s_w`` per output channel.

``qparams()`` of every quantizer is the single source of truth for its scale and zero point: the
simulation and the exporters read the same float32 numbers, so export has nothing left to decide.
Rounding is half-to-even (``torch.round``), as onnxruntime's QuantizeLinear.
"""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.ranges import INT32, activation_range, weight_range

_MIN_SCALE = 1e-10


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half-to-even forward, identity gradient backward."""
    return x + (torch.round(x) - x).detach()


_rounding_noise: list[tuple[float, torch.Generator]] = []  # set by ``tools.perturbed_rounding`` (analysis only)


def fake_quant_ops(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
                   ) -> torch.Tensor:
    """``fake_quant`` as differentiable torch operations: the definition ``FakeQuant`` reproduces bit for bit, and
    the path of ``tools.perturbed_rounding``. Autograd keeps three float tensors of ``x``'s size for backward
    (``x / scale``'s input, the clamp's input, the product's factor)."""
    v = x / scale
    if _rounding_noise:
        eps, gen = _rounding_noise[-1]
        v = v + (torch.rand(v.shape, generator=gen, dtype=v.dtype) * 2 - 1) * eps
    q = torch.clamp(round_ste(v) + zero_point, qmin, qmax)
    return (q - zero_point) * scale


def _shifted_codes(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """``round_ste(x / scale) + zero_point`` of ``fake_quant_ops`` (the same float operations, in place)."""
    v = x / scale
    return torch.round(v).sub_(v).add_(v).add_(zero_point)  # v + (round(v) - v): addition commutes exactly


def _reduced(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A broadcast operand's gradient as autograd forms it: summed to the operand's shape, in its dtype."""
    return g.sum_to_size(like.shape).to(like.dtype)


class FakeQuant(torch.autograd.Function):
    """``fake_quant_ops`` in one autograd node, with its values and gradients bit for bit (the same float
    operations, in the order autograd runs them) but less kept for backward: the input ``x`` alone when the range
    has a gradient (the codes are recomputed from it), else the bool mask of the codes inside [qmin, qmax]."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                qmin: int, qmax: int) -> torch.Tensor:
        t = _shifted_codes(x, scale, zero_point)
        ctx.qrange = (qmin, qmax)
        ctx.recompute = scale.requires_grad or zero_point.requires_grad
        if ctx.recompute:
            ctx.save_for_backward(x, scale, zero_point)
        else:
            ctx.save_for_backward((t >= qmin).logical_and_(t <= qmax), scale)
        return t.clamp_(qmin, qmax).sub_(zero_point).mul_(scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor):
        qmin, qmax = ctx.qrange
        if ctx.recompute:
            x, scale, zero_point = ctx.saved_tensors
            t = _shifted_codes(x, scale, zero_point)
            inside = (t >= qmin).logical_and_(t <= qmax)
        else:
            inside, scale = ctx.saved_tensors
        # (q - zp) * scale -> clamp -> + zp -> round_ste -> x / scale, as autograd differentiates them
        g_d = g * scale
        g_v = torch.where(inside, g_d, torch.zeros((), dtype=g_d.dtype))
        gx = g_v / scale if ctx.needs_input_grad[0] else None
        gs = gz = None
        if ctx.needs_input_grad[1]:
            d = t.clamp_(qmin, qmax).sub_(zero_point)
            gs = _reduced(g * d, scale) + _reduced(-g_v * ((x / scale) / scale), scale)
        if ctx.needs_input_grad[2]:
            gz = _reduced(-g_d, zero_point) + _reduced(g_v, zero_point)
        return gx, gs, gz, None, None


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """``(clamp(round(x / scale) + zero_point, qmin, qmax) - zero_point) * scale``, rounding with a straight-through
    gradient; ``scale`` and ``zero_point`` are 0-d and may carry gradients (learned ranges)."""
    if _rounding_noise:
        return fake_quant_ops(x, scale, zero_point, qmin, qmax)
    return FakeQuant.apply(x, scale, zero_point, qmin, qmax)


class ActQuantizer(nn.Module):
    """Per-tensor activation quantizer with a learned range and EMA initialisation.

    ``symmetric``: zero point 0 at 8 bits too (scale ``max(-lo, hi) / 127``), as 16-bit activations always are:
    for the right-hand operand of an int8 BATCH_MATMUL, which XNNPACK takes only with a zero point of 0."""

    def __init__(self, bits: int = 8, calib_batches: int = 50, ema_alpha: float = 0.9, enabled: bool = True,
                 nonneg: bool = False, tracking: bool = False, symmetric: bool = False):
        super().__init__()
        if nonneg and symmetric:
            raise ValueError("an activation quantizer is nonneg or symmetric, not both")
        self.bits = bits
        self.nonneg = nonneg  # the range starts at 0 (int8: zero point -128): negative values saturate to 0
        self.symmetric = symmetric
        self.tracking = tracking  # the range follows the EMA of every training batch, no gradient
        self.range = activation_range(bits)
        self.calib_batches = calib_batches
        self.ema_alpha = ema_alpha
        self.enabled = enabled
        self.observing = False  # forced observation (post-training calibration)
        self.lo = nn.Parameter(torch.zeros(()), requires_grad=not tracking)
        self.hi = nn.Parameter(torch.zeros(()), requires_grad=not tracking)
        self.register_buffer("n_obs", torch.zeros((), dtype=torch.long))

    @property
    def calibrated(self) -> bool:
        return int(self.n_obs) > 0

    def extra_repr(self) -> str:
        return f"bits={self.bits}, enabled={self.enabled}" + (", nonneg" if self.nonneg else "") + \
            (", symmetric" if self.symmetric else "") + (", tracking" if self.tracking else "")

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.min().float(), x.max().float()
        if int(self.n_obs) == 0:
            self.lo.copy_(lo)
            self.hi.copy_(hi)
        else:
            a = self.ema_alpha
            self.lo.mul_(a).add_((1 - a) * lo)
            self.hi.mul_(a).add_((1 - a) * hi)
        self.n_obs += 1

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale float32 0-d, zero point 0-d float holding an integer); differentiable in lo/hi."""
        r = self.range
        lo = torch.zeros_like(self.lo) if self.nonneg else torch.clamp(self.lo, max=0.0)
        hi = torch.clamp(self.hi, min=0.0)
        if self.bits == 16 or self.symmetric:
            scale = torch.clamp(torch.maximum(-lo, hi) / r.qmax, min=_MIN_SCALE)
            return scale, torch.zeros((), device=scale.device)
        scale = torch.clamp((hi - lo) / r.levels, min=_MIN_SCALE)
        zero_point = torch.clamp(round_ste(r.qmin - lo / scale), r.qmin, r.qmax)
        return scale, zero_point

    def export_qparams(self) -> tuple[float, int]:
        if not self.calibrated:
            raise RuntimeError("activation quantizer was never calibrated")
        scale, zp = self.qparams()
        return float(scale.detach().to(torch.float32)), int(zp.detach())

    def observing_now(self) -> bool:
        """Values pass unquantized while the range is being observed (forced, or the first training batches)."""
        return self.observing or (self.training and int(self.n_obs) < self.calib_batches)

    def forward(self, x: torch.Tensor) -> QTensor:
        if not self.enabled:
            return QTensor(x)
        if self.observing_now():
            self.observe(x.detach())
            return QTensor(x)
        if not self.calibrated:
            raise RuntimeError("activation quantizer used before calibration (run training or `calibrate`)")
        if self.tracking and self.training:
            self.observe(x.detach())
        scale, zp = self.qparams()
        y = fake_quant(x, scale, zp, self.range.qmin, self.range.qmax)
        return QTensor(y, scale.detach(), zp.detach(), self.bits)


class FixedQuantizer(nn.Module):
    """A quantizer whose scale and zero point are fixed (set by the runtime's operator or the I/O contract)."""

    def __init__(self, scale: float, zero_point: int, bits: int = 8, enabled: bool = True):
        super().__init__()
        self.bits = bits
        self.range = activation_range(bits) if bits == 16 else activation_range(8)
        self.enabled = enabled
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(float(zero_point)))

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.scale, self.zero_point

    def export_qparams(self) -> tuple[float, int]:
        return float(self.scale), int(self.zero_point)

    def forward(self, x: torch.Tensor) -> QTensor:
        if not self.enabled:
            return QTensor(x)
        y = fake_quant(x, self.scale, self.zero_point, self.range.qmin, self.range.qmax)
        return QTensor(y, self.scale, self.zero_point, self.bits)


class TiedQuantizer(nn.Module):
    """Quantizes with another quantizer's scale and zero point (no parameters of its own).

    Used where a runtime keeps an intermediate at its input's scale, e.g. the per-channel time means of an int16
    tensor before the mean over channels (TFLite's int16 MEAN over C x T would overflow its int32 sum)."""

    def __init__(self, tied: nn.Module):
        super().__init__()
        self._tied = [tied]  # not a child: its parameters belong to the module that owns it
        self.enabled = True

    @property
    def tied(self) -> nn.Module:
        return self._tied[0]

    @property
    def bits(self) -> int:
        return int(self.tied.bits)

    @property
    def range(self):  # noqa: ANN201
        return self.tied.range

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tied.qparams()

    def export_qparams(self) -> tuple[float, int]:
        return self.tied.export_qparams()

    def _passes_through(self) -> bool:
        """The tied quantizer is still observing: so is this one."""
        return isinstance(self.tied, ActQuantizer) and self.tied.observing_now()

    def forward(self, x: torch.Tensor) -> QTensor:
        if not (self.enabled and self.tied.enabled) or self._passes_through():
            return QTensor(x)
        scale, zp = self.qparams()
        y = fake_quant(x, scale, zp, self.range.qmin, self.range.qmax)
        return QTensor(y, scale.detach(), zp.detach(), self.bits)


class SquareCodesQuantizer(TiedQuantizer):
    """int8, scale ``s^2`` of the tied quantizer's scale ``s`` (float32), zero point -128 (no parameters).

    Applied to the square of a tensor quantized by the tied quantizer, it holds ``min(c^2, 255)`` for code
    ``c`` exactly: the requantization multiplier ``s * s / s^2`` is 1 to float32 precision in every runtime.
    Values pass unquantized only until the tied quantizer has its first range (it never observes itself)."""

    @property
    def bits(self) -> int:
        return 8

    @property
    def range(self):  # noqa: ANN201
        return activation_range(8)

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        s, _ = self.tied.qparams()
        s = s.detach().to(torch.float32)
        return (s * s).to(torch.float32), torch.tensor(float(self.range.qmin), device=s.device)

    def export_qparams(self) -> tuple[float, int]:
        s, zp = self.qparams()
        return float(s), int(zp)

    def saturation(self) -> torch.Tensor:
        """The largest value it holds, ``255 s^2`` (float32)."""
        s, zp = self.qparams()
        return (s * float(self.range.qmax - int(zp))).to(torch.float32)

    def _passes_through(self) -> bool:
        """Only until the tied quantizer has a range: the scale is derived, there is nothing to observe."""
        return isinstance(self.tied, ActQuantizer) and not self.tied.calibrated


class WeightQuantizer(nn.Module):
    """Per-channel symmetric weight quantizer with a learned per-channel range."""

    def __init__(self, n_channels: int, bits: int = 8, axis: int = 0, enabled: bool = True):
        super().__init__()
        self.bits = bits
        self.range = weight_range(bits)
        self.axis = axis
        self.enabled = enabled
        self.max_abs = nn.Parameter(torch.zeros(n_channels))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def extra_repr(self) -> str:
        return f"channels={self.max_abs.numel()}, bits={self.bits}, axis={self.axis}, enabled={self.enabled}"

    @torch.no_grad()
    def init_range(self, w: torch.Tensor) -> None:
        dims = [d for d in range(w.dim()) if d != self.axis]
        self.max_abs.copy_(w.detach().abs().amax(dim=dims))
        self.initialized.fill_(True)

    def scale(self) -> torch.Tensor:
        return torch.clamp(self.max_abs.abs(), min=_MIN_SCALE) / self.range.qmax

    def _shape(self, w: torch.Tensor) -> list[int]:
        shape = [1] * w.dim()
        shape[self.axis] = -1
        return shape

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return w
        if not bool(self.initialized):
            self.init_range(w)
        s = self.scale().view(self._shape(w))
        q = torch.clamp(round_ste(w / s), self.range.qmin, self.range.qmax)
        return q * s

    @torch.no_grad()
    def export(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(integer codes as int64, per-channel scale float32) exactly as the simulation uses them."""
        if not bool(self.initialized):
            self.init_range(w)
        s = self.scale().to(torch.float32)
        q = torch.clamp(torch.round(w / s.view(self._shape(w))), self.range.qmin, self.range.qmax)
        return q.to(torch.int64), s


ACTIVATION_QUANTIZERS = (ActQuantizer, FixedQuantizer, TiedQuantizer)  # QTensor outputs (subclasses too)


def bias_scale(input_scale: torch.Tensor, weight_scale: torch.Tensor) -> torch.Tensor:
    """int32 bias scale per output channel, computed in float32 as the runtimes expect."""
    return (input_scale.to(torch.float32) * weight_scale.to(torch.float32)).to(torch.float32)


def quantize_bias(bias: torch.Tensor, input_scale: torch.Tensor, weight_scale: torch.Tensor) -> torch.Tensor:
    s = torch.clamp(bias_scale(input_scale, weight_scale), min=_MIN_SCALE)
    q = torch.clamp(round_ste(bias / s), INT32.qmin, INT32.qmax)
    return q * s


@torch.no_grad()
def export_bias(bias: torch.Tensor, input_scale: float, weight_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int32 codes, float32 scale per channel) as the simulation uses them."""
    s = torch.clamp(bias_scale(torch.tensor(input_scale, dtype=torch.float32), weight_scale), min=_MIN_SCALE)
    # clamp in float64: float32 holds INT32.qmax as 2^31, which would wrap to -2^31 in int32
    q = torch.clamp(torch.round(bias / s).to(torch.float64), INT32.qmin, INT32.qmax)
    return q.to(torch.int32), s
