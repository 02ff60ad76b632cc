"""ONNX Resize along time (torch Upsample / interpolate on ``[N, C, T]``: DQ -> Resize -> Q) -> TFLite
RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR on the ``[N, 1, T, C]`` layout (H = 1, W = T), then a QUANTIZE when
the output is quantized differently (the TFLite kernels move codes and need one quantization).

The ONNX coordinate transformation and rounding map to TFLite's two flags where they compute the same source
positions (tflite/kernels/internal/reference/resize_nearest_neighbor.h, resize_bilinear.h):

* nearest: asymmetric + floor (torch ``nearest``) -> neither flag; half_pixel + round_prefer_ceil -> half_pixel_centers
  (floor((x + 0.5) * in/out)); align_corners + round_prefer_ceil -> align_corners (round half away from zero);
* linear: half_pixel / pytorch_half_pixel (torch ``align_corners=False``) -> half_pixel_centers; align_corners ->
  align_corners; asymmetric -> neither.

RESIZE_BILINEAR's integer kernel places the sources with 10 fractional bits: an in/out ratio that is not a
multiple of 1/1024 (x3) moves them slightly, a few LSB from onnxruntime on steep inputs (x2, x4 and align_corners
23 from 12 are exact). XNNPACK takes the float32 RESIZE_BILINEAR, not RESIZE_NEAREST_NEIGHBOR (the float twins'
cases).

A nearest resize by an integer factor k (asymmetric/floor or half_pixel/round_prefer_ceil: both repeat each frame k
times) is written as RESHAPE + CONCATENATION + RESHAPE instead: XNNPACK takes it, and it follows the input length.
Other combinations, a resize of another axis, or another resize of the length-dependent axis (TFLite's size input
is a constant: export with a fixed length) fail naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import reshape
from fqss_edge.export.tflite.registry import register

NEAREST = {("asymmetric", "floor"): (False, False), ("half_pixel", "round_prefer_ceil"): (False, True),
           ("pytorch_half_pixel", "round_prefer_ceil"): (False, True),
           ("align_corners", "round_prefer_ceil"): (True, False)}
LINEAR = {"half_pixel": (False, True), "pytorch_half_pixel": (False, True), "align_corners": (True, False),
          "asymmetric": (False, False)}


def _text(v, default: str) -> str:
    return default if v is None else v.decode() if isinstance(v, bytes) else str(v)


@dataclass(frozen=True)
class ResizePlan:
    code: int  # RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, or CONCATENATION: each frame repeated ``repeat`` times
    options: object = None
    size: np.ndarray | None = None  # int32 [1, T_out] of a RESIZE_*
    repeat: int = 0


def repeat_factor(ctx, x_name: str, out_name: str, x_shape, out_shape) -> int:
    """The integer k with T_out = k * T at both lengths the graph is read at (0: none)."""
    pairs = [(x_shape[2], out_shape[2]),
             (ctx.g.shapes2.get(x_name, x_shape)[2], ctx.g.shapes2.get(out_name, out_shape)[2])]
    k = out_shape[2] // x_shape[2]
    return k if k >= 1 and all(o == k * i for i, o in pairs) else 0


def resize_plan(ctx, node, x_shape, x_dynamic, out_shape) -> ResizePlan:
    """How a Resize along the time axis of a rank-3 tensor is written (shared with the float32 converter)."""
    attr = ctx.g.attr
    if len(x_shape) != 3 or tuple(out_shape[:2]) != tuple(x_shape[:2]):
        raise ctx.fail(node, f"a Resize of {x_shape} to {out_shape}: only the last axis of a rank-3 [N, C, T] tensor "
                             "can be resized")
    if int(attr(node, "antialias", 0)) or int(attr(node, "exclude_outside", 0)):
        raise ctx.fail(node, "antialias / exclude_outside are not supported")
    mode = _text(attr(node, "mode"), "nearest")
    ctm = _text(attr(node, "coordinate_transformation_mode"), "half_pixel")
    if mode == "nearest":
        nm = _text(attr(node, "nearest_mode"), "round_prefer_floor")
        flags, code, opt = NEAREST.get((ctm, nm)), B.RESIZE_NEAREST_NEIGHBOR, schema.ResizeNearestNeighborOptionsT()
        what = f"nearest with {ctm} / {nm}"
    elif mode == "linear":
        flags, code, opt = LINEAR.get(ctm), B.RESIZE_BILINEAR, schema.ResizeBilinearOptionsT()
        what = f"linear with {ctm}"
    else:
        flags, what = None, f"mode {mode!r}"
    if flags is None:
        raise ctx.fail(node, f"Resize {what} has no TFLite equivalent (nearest: asymmetric/floor, half_pixel or "
                             "align_corners with round_prefer_ceil; linear: half_pixel, pytorch_half_pixel, "
                             "align_corners, asymmetric)")
    k = repeat_factor(ctx, node.input[0], node.output[0], x_shape, out_shape)
    if mode == "nearest" and not flags[0] and k:  # floor(x / k) and floor((x + 0.5) / k) both pick frame x // k
        return ResizePlan(B.CONCATENATION, repeat=k)
    if x_dynamic[2]:
        raise ctx.fail(node, "resizes the length-dependent axis: TFLite's resize size is a constant; export with a "
                             "fixed length (--length N)")
    opt.alignCorners, opt.halfPixelCenters = flags
    return ResizePlan(code, opt, np.array([1, out_shape[2]], dtype=np.int32))


def emit_resize(b, plan: ResizePlan, t, name: str, out=None):
    """The resized ``t`` ([N, 1, T, C]), written into ``out`` when given. A repeat is RESHAPE [N, T, 1, C],
    CONCATENATION of k copies on axis 2, RESHAPE [N, 1, k*T, C] (XNNPACK takes all three, any length)."""
    n, _, f, c = t.shape
    dyn_t = t.dynamic[2]
    if plan.code != B.CONCATENATION:
        y = out if out is not None else b.tensor(name, (n, 1, int(plan.size[1]), c), t.dtype, t.quant, t.dynamic)
        b.op(plan.code, [t, b.const(f"{name}/size", plan.size)], [y], plan.options)
        return y
    frames = reshape(b, t, (n, f, 1, c), (False, dyn_t, False, False), f"{name}/frames")
    copies = b.tensor(f"{name}/copies", (n, f, plan.repeat, c), t.dtype, t.quant, (False, dyn_t, False, False))
    opt = schema.ConcatenationOptionsT()
    opt.axis = 2
    b.op(B.CONCATENATION, [frames] * plan.repeat, [copies], opt)
    return reshape(b, copies, (n, 1, f * plan.repeat, c), (False, False, dyn_t, False), name, out=out)


@register("Resize", writes=(B.RESIZE_NEAREST_NEIGHBOR, B.RESIZE_BILINEAR, B.CONCATENATION, B.RESHAPE, B.QUANTIZE),
          tflite="RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, or RESHAPE + CONCATENATION (nearest, integer factor) "
                 "(+QUANTIZE)", bits=(8, 16),
          constraints="the last axis of [N, C, T]; nearest (asymmetric/floor, half_pixel or align_corners with "
                      "round_prefer_ceil) or linear (half_pixel, pytorch_half_pixel, align_corners, asymmetric); "
                      "a fixed length unless nearest by an integer factor; an output quantized unlike the input is "
                      "requantized after (QUANTIZE)")
def convert_resize(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    if x.bits != out.bits or not x.q.per_tensor:
        raise ctx.fail(node, "the input and output must be per-tensor of one type")
    plan = resize_plan(ctx, node, x.shape, x.dynamic, out.shape)
    t = ctx.activation(x, node)
    y = emit_resize(ctx.b, plan, t, out.name, ctx.moved_output(x, out, t))
    ctx.requantized(x, out, y)
