"""Global layer normalisation (gLN) expressed with quantized element-wise operations.

Every intermediate tensor has its own quantizer, so the graph maps one-to-one onto int8/int16 runtime
operators (MEAN, SUB, MUL, ADD, RSQRT, MUL, ADD). The statistics path (squared deviations, variance,
1/std, normalised values) uses ``norm_bits`` (int16 by default: an int16 island, declared as such by
``island_tensors``); the output is ``act_bits``.

    mean = Q8(mean(x))               xc = Q8(x - mean)         xn = Q16(xc)
    sq   = Q16(xn * xn)              var = Q16(mean(sq))       ve = Q16(var + eps)
    rstd = Q16(rsqrt(ve))            nrm = Q16(xn * rstd)      n8 = Q8(nrm)
    y    = Q8(n8 * gamma_q)          out = Q8(y + beta_q)

``folded=True`` (``norm: gLN_folded``): gamma and beta stay the layer's parameters but the consumer convolutions
apply them (``affine_fold``: the conv's weights and bias with the affine map folded in, before the conv's own
weight quantizer), so the layer ends at the normalised values, ``out = Q8(xn * rstd)`` (``norm_bits`` 16:
``nrm = Q16(xn * rstd)``, ``out = Q8(nrm)``): two full-tensor operations fewer (the MUL by gamma, the ADD of
beta) and no int8 gamma / beta constants. The fold is exact for a 1x1 convolution; a padded (depthwise)
convolution reads its padded taps as 0 in the normalised domain, where the unfolded layer read 0 after the
affine map, so its first and last ``pad`` frames differ from gLN-then-conv (simulation, ONNX and .tflite compute
the folded model; an unfolded checkpoint loads into it, ``absent_quantizers``).

With ``norm_bits: 8`` the squares are split, because one int8 range cannot hold squares that span four decades
(most of them round to code 0 and the variance came out 0.6-1.2x the true one, varying by layer and utterance):

    small = min(xc_code^2, 255) * s^2       exact: int8 at scale s^2 (s: xc's scale), zero point -128
    sq    = Q8(xc * xc)                      the coarse squares (learned range)
    rest  = Q8(sq - 255 s^2), range [0, hi]  what exceeds ``small`` (negative values saturate to 0)
    var   = Q8(Q8(mean(small)) + Q8(mean(rest)))

Every op stays int8 (MUL, ADD with a constant, MEAN: XNNPACK takes them all); ``255 s^2`` is the int8
constant ``<gln>.square_threshold``, code -1.

The per-utterance scalars (mean, variance, variance + eps, 1/std) have tracking ranges: the moving average
of every training batch's min/max, not learned by gradient (see ``ActQuantizer``).

Means are over time, then over channels. For an int16 input (the squared deviations when ``norm_bits`` is
16) the per-channel time means are kept in int16 at the input's own scale (``q_var_time``, tied to
``q_square``), as every runtime must: TFLite's int16 MEAN sums into int32, which overflows over C x T values,
and onnxruntime's one-pass float32 sum over C x T values drifts by several int16 codes. Writing the
intermediate makes the simulation, the ONNX graph and the .tflite compute the same thing.
"""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import SquareCodesQuantizer, TiedQuantizer
from fqss_edge.quant.spec import QuantSpec


RSQRT_FLOOR = 1e-12  # float32(1e-12): the .tflite's int8 RSQRT island clamps with the same constant


def rsqrt(v: torch.Tensor) -> torch.Tensor:
    """1/sqrt of the (quantized) variance + eps, clamped away from 0 and below: the function the exports
    quantize (an int8 .tflite computes it as DEQUANTIZE -> MAXIMUM -> RSQRT -> QUANTIZE, ``export/tflite/ops/
    rsqrt.py``)."""
    return torch.rsqrt(torch.clamp(v, min=RSQRT_FLOOR))


def _mean_tc(v: torch.Tensor) -> torch.Tensor:
    """Mean over time, then over channels (keepdims), as the exported graph computes it."""
    return v.mean(dim=2, keepdim=True).mean(dim=1, keepdim=True)


def exact_time_mean(x: QTensor, mean: torch.Tensor) -> torch.Tensor:
    """For the int16 per-channel time means kept at ``x``'s scale (``q_var_time``): ``mean`` (the float mean of
    ``x`` over time) replaced in value by ``round(sum of x's codes / T) * scale``, the code rounded half to even
    from the exact quotient (float64: the sum is exact, a tie exactly k + 1/2). The float32 mean put the ties
    (frequent: a mean of T integers is k + 1/2 for about one sum in T when T is even) on either side by its
    summation order's rounding, a code no other runtime could reproduce (``tests/quant/test_layers.py``);
    the exact one every runtime can (the onnxruntime flavour: ``export/onnx/flavour.py``,
    ``exact_time_means``). The gradient is the float mean's."""
    if not x.is_quantized or int(x.zero_point) != 0:
        return mean
    codes = torch.round(x.value.detach().double() / x.scale.double())
    exact = torch.round(codes.sum(dim=2, keepdim=True) / codes.shape[2]).to(mean.dtype) * x.scale
    return mean + (exact - mean).detach()


def _mean_c(v: torch.Tensor) -> torch.Tensor:
    """Mean over channels (keepdims): per frame."""
    return v.mean(dim=1, keepdim=True)


class QGlobalLayerNorm(nn.Module):
    over_time: bool = True  # statistics over channels and time (gLN); False: over channels per frame (LayerNorm)

    def __init__(self, channels: int, spec: QuantSpec = QuantSpec(), eps: float = 1e-5, folded: bool = False):
        super().__init__()
        self.eps = eps
        self.folded = folded
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        nb, ab = spec.norm_bits, spec.act_bits
        self.widen = nb != ab
        self.q_mean = spec.act(ab, tracking=True)
        self.q_centered = spec.act(ab)
        self.q_centered_wide = spec.act(nb) if self.widen else None
        self.q_square = spec.act(nb)
        self.q_var_time = TiedQuantizer(self.q_square) if nb == 16 and self.over_time else None
        self.split_square = nb == 8 and ab == 8
        if self.split_square:
            self.q_square_small = SquareCodesQuantizer(self.q_centered)
            self.q_square_rest = spec.act(8, nonneg=True)
            self.q_var_small = spec.act(8, tracking=True)
            self.q_var_rest = spec.act(8, tracking=True)
        self.q_var = spec.act(nb, tracking=True)
        self.q_var_eps = spec.act(nb, tracking=True)
        self.q_rstd = spec.act(nb, tracking=True)
        if folded:  # the layer ends at the normalised values: out_quant (int8), after q_normed when widened
            self.q_normed = spec.act(nb) if self.widen else None
            self.q_normed_narrow = self.q_scaled = self.gamma_quant = self.beta_quant = None
            self.out_quant = spec.act(ab)
            return
        self.q_normed = spec.act(nb)
        self.q_normed_narrow = spec.act(ab) if self.widen else None
        self.q_scaled = spec.act(ab)
        self.out_quant = spec.act(ab)
        # gamma and beta: per-tensor symmetric int8 constants (TFLite MUL/ADD take per-tensor operands)
        self.gamma_quant = spec.weight(1, axis=0, bits=8)
        self.beta_quant = spec.weight(1, axis=0, bits=8)

    def island_tensors(self) -> list[str]:
        """Names of the quantizers whose tensors are int16 (declared int16 island)."""
        if not self.widen:
            return []
        return ["q_centered_wide", "q_square", "q_var_time", "q_var", "q_var_eps", "q_rstd", "q_normed"]

    def absent_quantizers(self) -> list[str]:
        """The quantizers an unfolded layer has and this one has not (a folded layer's affine map and what led to
        it): their ranges in an unfolded checkpoint are dropped when it loads (``load_network_state``)."""
        return [n for n in ("q_normed", "q_normed_narrow", "q_scaled", "gamma_quant", "beta_quant")
                if self.folded and getattr(self, n) is None]

    def init_quant_ranges(self) -> None:
        if not self.folded:
            self.gamma_quant.init_range(self.gamma.view(1, -1))
            self.beta_quant.init_range(self.beta.view(1, -1))

    def affine_fold(self, w: torch.Tensor, b: torch.Tensor | None, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A folded layer's gamma and beta folded into its consumer, a Conv1d with weights ``w`` [out, in / groups,
        k], bias ``b`` and ``groups`` 1 or in = out (depthwise): ``W gamma`` per input channel, ``b + sum_{c, k}
        W[o, c, k] beta_c`` (float; the conv's weight quantizer quantizes the result)."""
        depthwise = groups > 1
        shape = (-1, 1, 1) if depthwise else (1, -1, 1)
        shift = (w * self.beta.view(shape)).sum(dim=(1, 2))
        return w * self.gamma.view(shape), shift if b is None else b + shift

    def quantized_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.gamma_quant(self.gamma.view(1, -1)).view(-1)
        b = self.beta_quant(self.beta.view(1, -1)).view(-1)
        return g, b

    def splits_squares(self) -> bool:
        """Split squares (int8 statistics) and quantization on (the float network keeps the plain variance)."""
        return self.split_square and self.q_square.enabled

    def square_threshold(self) -> torch.Tensor:
        """``255 s^2`` (float32): where the exact small squares saturate (split squares only)."""
        return self.q_square_small.saturation()

    def _mean(self, v: torch.Tensor) -> torch.Tensor:
        return _mean_tc(v) if self.over_time else _mean_c(v)

    def forward(self, x: QTensor) -> QTensor:
        v = x.value  # [B, C, T]
        mean = self.q_mean(self._mean(v))
        xc = self.q_centered(v - mean.value)
        xn = self.q_centered_wide(xc.value) if self.q_centered_wide is not None else xc
        sq = self.q_square(xn.value * xn.value)
        if self.splits_squares():
            small = self.q_square_small(xn.value * xn.value)
            rest = self.q_square_rest(torch.relu(sq.value - self.square_threshold()))  # = its int8 saturation
            v_small = self.q_var_small(self._mean(small.value))
            v_rest = self.q_var_rest(self._mean(rest.value))
            var = self.q_var(v_small.value + v_rest.value)
        elif not self.over_time:
            var = self.q_var(_mean_c(sq.value))
        else:
            var_t = sq.value.mean(dim=2, keepdim=True)
            if self.q_var_time is not None:
                var_t = self.q_var_time(exact_time_mean(sq, var_t)).value
            var = self.q_var(var_t.mean(dim=1, keepdim=True))
        ve = self.q_var_eps(var.value + self.eps)
        rstd = self.q_rstd(rsqrt(ve.value))
        if self.folded:
            if not self.widen:
                return self.out_quant(xn.value * rstd.value)
            return self.out_quant(self.q_normed(xn.value * rstd.value).value)
        nrm = self.q_normed(xn.value * rstd.value)
        if self.q_normed_narrow is not None:
            nrm = self.q_normed_narrow(nrm.value)
        g, b = self.quantized_affine()
        y = self.q_scaled(nrm.value * g.view(1, -1, 1))
        return self.out_quant(y.value + b.view(1, -1, 1))


class QLayerNorm(QGlobalLayerNorm):
    """Layer normalisation over channels, per frame (a transformer's LayerNorm on ``[B, C, T]``): the gLN's
    quantized operations with every mean over channels only. The statistics are ``[B, 1, T]`` tensors (one
    mean, variance and 1/std per frame, each quantized per tensor); their ranges track the batches' min/max."""

    over_time = False
