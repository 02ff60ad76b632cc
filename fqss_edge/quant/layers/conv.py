"""Quantized Conv1d (incl. depthwise and dilated) and ConvTranspose1d.

int8 weights per output channel, int32 bias with scale ``s_in * s_w``, output requantized by the layer's
own activation quantizer: the arithmetic of a QLinearConv / TFLite CONV_2D.

The accumulator is exact outside training. Integer runtimes (onnxruntime's QLinearConv, TFLite, XNNPACK) sum
integer codes, and a float32 convolution of the dequantized values rounds each product and partial sum. That
rounding moves a few values in 10^5 across a rounding boundary of the output quantizer, and the layers after
carry the flip on. So in eval mode ``linear`` convolves the integer codes instead (direct summation, not
NNPACK's transforms): in float32 where every partial sum is an integer below 2^24 (then the sum is exact in
any order), in float64 otherwise, plus the int32 bias codes, times ``s_in * s_w`` in float64 (the product of
two float32 numbers is exact there; what is left is float64 rounding, 1e-16 relative). Training
keeps the float32 convolution, which is differentiable and twice as fast as float64; with gradients enabled in
eval mode the exact value goes forward and the gradient is the float convolution's.

Input offset (``set_input_offset``, the model's input layer only): the layer reads input channel c as
``x_c + offset_c``. The convolution of the constant is ``sum_{c,k} w[:, c, k] * offset_c`` per output channel,
added to the bias: tied to the (quantized) weights, not learned, an exact integer number of bias codes when
``offset_c`` is a whole number of input steps. The runtimes see an ordinary int32 bias. Zero padding stays
``x_c = 0`` (the constant is added to the padded taps too), so a model whose input layer pads moves that padding
before the split (``InputSplitter.pad``), where a padded sample is silence.

Folded BatchNorm (``QConv1d(..., fold_bn="in" | "out")``, ``bn_fold.py``): the conv's weights and bias are the
folded ones everywhere (``folded_params``: the weight quantizer, the int32 bias, the exports), except in float
training, where the BatchNorm runs on batch statistics next to the plain convolution.

Folded gLN affine (``QConv1d.fold_affine_of(norm)``, a ``QGlobalLayerNorm(..., folded=True)`` before the conv): the
conv applies the norm's gamma and beta, folded into its weights and bias (``QGlobalLayerNorm.affine_fold``) in
training and everywhere else; the norm holds the parameters (one norm may feed several convs), the conv only
refers to it (not a submodule: the parameters are saved once, under the norm).

Fused ReLU (``act="relu"``): ``Q_out(relu(accumulator))`` with a non-negative output quantizer (int8 zero point
-128) unless one is given: one requantization, as TFLite's CONV_2D with a fused RELU (its clamp at the output zero
point) computes it, where a separate ``QReLU`` costs a second requantization (a QUANTIZE in the .tflite). Exported
as ``Conv -> Relu -> Q``: the .tflite converter fuses the RELU, onnxruntime drops a Relu before a QuantizeLinear
whose zero point is the type's minimum and runs a QLinearConv.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.layers.bn_fold import FoldedBatchNorm, FoldSide, check_foldable
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import bias_scale, export_bias, quantize_bias
from fqss_edge.quant.ranges import INT32
from fqss_edge.quant.spec import QuantSpec

FusedAct = Literal["relu"]
_F32_EXACT_INTEGERS = 2.0**24  # float32 holds every integer of magnitude up to 2^24


class _QConvBase(nn.Module):
    conv: nn.Conv1d | nn.ConvTranspose1d
    weight_axis: int
    input_offset: torch.Tensor | None  # per input channel, a buffer (saved with the weights once set)
    bn: FoldedBatchNorm | None

    def _init_quant(self, spec: QuantSpec, out_channels: int, out_quant: nn.Module | None,
                    weight_quant: nn.Module | None, fold_bn: FoldSide | None = None,
                    act: FusedAct | None = None) -> None:
        """Quantizers given as arguments (e.g. a 4-bit weight quantizer, a fixed-scale output) or from ``spec``;
        ``fold_bn``: a BatchNorm on that side of the conv, folded into its weights and bias; ``act``: a fused
        activation (module docstring)."""
        if act not in (None, "relu"):
            raise ValueError(f"fused activation {act!r}: only 'relu' is fused into a convolution")
        self.act = act
        self.bn = None
        self.affine_in = None  # a folded QGlobalLayerNorm whose gamma / beta this conv applies (fold_affine_of)
        if fold_bn is not None:
            self.bn = FoldedBatchNorm(out_channels if fold_bn == "out" else self.conv.in_channels, fold_bn)
            check_foldable(self.bn, self.conv)
        self.weight_quant = weight_quant if weight_quant is not None else spec.weight(out_channels,
                                                                                       axis=self.weight_axis)
        self.out_quant = out_quant if out_quant is not None else spec.act(nonneg=act == "relu")
        self.register_buffer("input_offset", None)

    def folded_params(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weights and bias the layer applies: the conv's own, or with its BatchNorm (running statistics)
        folded in."""
        if self.affine_in is not None:
            return self.affine_in.affine_fold(self.conv.weight, self.conv.bias, self.conv.groups)
        if self.bn is None:
            return self.conv.weight, self.conv.bias
        return self.bn.fold(self.conv.weight, self.conv.bias)

    def fold_affine_of(self, norm: nn.Module) -> None:
        """Apply ``norm``'s gamma and beta (a ``QGlobalLayerNorm(..., folded=True)`` whose output is this conv's
        input) folded into the weights and bias; a Conv1d with groups 1 or depthwise, no folded BatchNorm."""
        c = self.conv
        depthwise = c.groups == c.in_channels == c.out_channels
        if not getattr(norm, "folded", False) or self.weight_axis != 0 or self.bn is not None \
                or not (c.groups == 1 or depthwise) or norm.gamma.numel() != c.in_channels:
            raise ValueError(f"a folded norm's affine goes into a Conv1d (groups 1 or depthwise, no folded BatchNorm) "
                             f"with as many input channels as the norm ({c.in_channels} here)")
        object.__setattr__(self, "affine_in", norm)  # a reference, not a submodule

    def batch_statistics(self) -> bool:
        """Float training with a BatchNorm: it normalises with batch statistics (and updates its running ones)."""
        return self.bn is not None and self.training and not self.weight_quant.enabled

    def init_quant_ranges(self) -> None:
        self.weight_quant.init_range(self.folded_params()[0])

    def set_input_offset(self, offset: list[float]) -> None:
        """Read input channel c as ``x_c + offset[c]`` (compensated in the bias; see the module docstring)."""
        if self.weight_axis != 0 or self.conv.groups != 1 or len(offset) != self.conv.in_channels \
                or self.bn is not None or self.affine_in is not None:
            raise ValueError(f"an input offset needs a Conv1d with groups 1, no folded norm and one offset per "
                             f"input channel ({self.conv.in_channels}), not {len(offset)}")
        self.register_buffer("input_offset", torch.tensor(offset, dtype=torch.float32))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        # weights saved before the layer had an input offset were trained reading the input as it is: offset 0
        key = prefix + "input_offset"
        if self.input_offset is not None and key not in state_dict and prefix + "conv.weight" in state_dict:
            state_dict[key] = torch.zeros_like(self.input_offset)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def offset_bias(self, w: torch.Tensor) -> torch.Tensor | None:
        """The bias that reads the input with its offset: ``sum_{c,k} w[o, c, k] * offset[c]`` (None: no offset)."""
        if self.input_offset is None or not bool(self.input_offset.any()):
            return None
        return (w * self.input_offset.to(w.dtype).view(1, -1, 1)).sum(dim=(1, 2))

    def bias_codes(self, s_in: float, s_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(int32 codes, float32 scale per channel) of the bias the runtimes add: the learned bias plus the input
        offset's exact integer share ``sum_{c,k} w_codes[o, c, k] * offset[c] / s_in`` (None: neither)."""
        w, bias = self.folded_params()
        comp = self.offset_bias(self.weight_quant.export(w)[0].to(torch.float64))
        if bias is None and comp is None:
            return None
        bias = bias.detach() if bias is not None else torch.zeros(self.conv.out_channels)
        codes, s_b = export_bias(bias, s_in, s_w)
        if comp is None:
            return codes, s_b
        steps = comp / s_in  # sum of weight codes times the offset in input steps: an integer
        if not torch.equal(steps, torch.round(steps)):
            raise ValueError(f"input offset {self.input_offset.tolist()} is not a whole number of input steps "
                             f"({s_in:g})")
        # at the bias scale s_in * s_w exactly these codes; a clamped scale (degenerate channel) rescales them
        exact = s_b == bias_scale(torch.tensor(s_in), s_w)
        s_in_w = torch.tensor(s_in, dtype=torch.float64) * s_w.to(torch.float64)
        share = torch.where(exact, steps, torch.round(steps * s_in_w / s_b.to(torch.float64)))
        return torch.clamp(codes.to(torch.float64) + share, INT32.qmin, INT32.qmax).to(torch.int32), s_b

    def quant_params(self, x: QTensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        w, b = self.folded_params()
        w = self.weight_quant(w)
        if b is not None and self.weight_quant.enabled and x.scale is not None:
            b = quantize_bias(b, x.scale, self.weight_quant.scale())
        comp = self.offset_bias(w)
        if comp is not None:
            b = comp if b is None else b + comp
        return w, b

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def float_linear(self, x: QTensor) -> torch.Tensor:
        """The accumulator as a float32 convolution of the dequantized input, weights and bias."""
        w, b = self.quant_params(x)
        return self._conv(x.value, w, b)

    @torch.no_grad()
    def exact_linear(self, x: QTensor) -> torch.Tensor:
        """The integer accumulator of an int8 runtime times ``s_in * s_w`` (float64: exact up to its final rounding)."""
        assert x.scale is not None
        s_in = x.scale.to(torch.float32)
        w_codes, s_w = self.weight_quant.export(self.folded_params()[0])
        x_codes = (x.value / s_in).round_()  # q - zero_point; zero padding is code zero_point, as in the runtimes
        # |every partial sum| <= max|x| * sum|w| over one output channel's taps (all of them, for a bound)
        other_dims = [d for d in range(w_codes.dim()) if d != self.weight_axis]
        bound = float(x_codes.abs().max()) * float(w_codes.abs().sum(dim=other_dims).max()) if x_codes.numel() else 0.0
        dtype = torch.float32 if bound <= _F32_EXACT_INTEGERS else torch.float64
        # direct summation only: NNPACK's FFT / Winograd transforms are not exact on integers
        with torch.backends.nnpack.flags(enabled=False):
            acc = self._conv(x_codes.to(dtype), w_codes.to(dtype), None)
        del x_codes
        # in place from here (a whole track in float64 is large): an integer; rounding absorbs any error below 1/2
        acc = acc.to(torch.float64).round_()
        scale = s_in.to(torch.float64) * s_w.to(torch.float64)  # exact: the product of two float32 numbers
        y = acc.mul_(scale.view(1, -1, 1))
        bias = self.bias_codes(float(s_in), s_w)
        if bias is not None:
            # int32 codes added to the accumulator, as the runtimes do; at scale s_b where the bias scale is clamped
            # (a degenerate channel with s_in * s_w < 1e-10), as the float path and the exporter use it
            b_codes, s_b = bias
            b_scale = torch.where(s_b == bias_scale(s_in, s_w), scale, s_b.to(torch.float64))
            y = y.add_((b_codes.to(torch.float64) * b_scale).view(1, -1, 1))
        return y

    def linear(self, x: QTensor) -> torch.Tensor:
        """The int32 accumulator (dequantized): exact outside training (float64), else the float convolution
        (float training with a BatchNorm: the BatchNorm on batch statistics next to the plain convolution)."""
        if self.batch_statistics():
            if self.bn.side == "in":
                return self._conv(self.bn(x.value), self.conv.weight, self.conv.bias)
            return self.bn(self._conv(x.value, self.conv.weight, self.conv.bias))
        if self.training or x.scale is None or not self.weight_quant.enabled:
            return self.float_linear(x)
        exact = self.exact_linear(x)
        if not torch.is_grad_enabled():
            return exact
        y = self.float_linear(x)
        return exact + (y - y.detach())  # the exact value, the float convolution's gradient

    def requantized(self, x: QTensor, quantizer: nn.Module) -> QTensor:
        """``quantizer(linear(x))`` (``act``: of its ReLU) with values in the input's dtype (the exact accumulator is
        float64)."""
        acc = self.linear(x)
        y = quantizer(torch.relu(acc) if self.act == "relu" else acc)
        return y if y.value.dtype == x.value.dtype else y.with_value(y.value.to(x.value.dtype))

    def forward(self, x: QTensor) -> QTensor:
        return self.requantized(x, self.out_quant)


class QConv1d(_QConvBase):
    weight_axis = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, spec: QuantSpec = QuantSpec(),
                 out_quant: nn.Module | None = None, weight_quant: nn.Module | None = None,
                 fold_bn: FoldSide | None = None, act: FusedAct | None = None):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self._init_quant(spec, out_channels, out_quant, weight_quant, fold_bn, act)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        c = self.conv
        return F.conv1d(x, w, b, c.stride, c.padding, c.dilation, c.groups)


class QConvTranspose1d(_QConvBase):
    weight_axis = 1  # weight is [in, out/groups, k]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None,
                 weight_quant: nn.Module | None = None):
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_quant(spec, out_channels, out_quant, weight_quant)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        c = self.conv
        return F.conv_transpose1d(x, w, b, c.stride, c.padding, c.output_padding, c.groups)
