"""Small TFLite emitters shared by the operator converters: RESHAPE, TRANSPOSE, QUANTIZE, PAD, slices, and the
moves between an application-facing tensor (ONNX axis order) and the internal NHWC layout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import TENSOR_TYPES, ModelBuilder, Quant, TensorInfo
from fqss_edge.export.tflite.layout import std_layout, to_tflite_flags, to_tflite_shape

def dynamic_new_shape(shape: tuple[int, ...], dynamic: tuple[bool, ...], what: str) -> np.ndarray:
    if sum(dynamic) > 1:
        raise FqssError(f"TFLite export: {what}: more than one dimension follows the input length {shape}")
    return np.array([-1 if d else s for s, d in zip(shape, dynamic)], dtype=np.int32)


def reshape(b: ModelBuilder, x: TensorInfo, shape: tuple[int, ...], dynamic: tuple[bool, ...], name: str,
            out: TensorInfo | None = None) -> TensorInfo:
    """RESHAPE (same data, same quantization). Writes into ``out`` when given."""
    shape = tuple(int(s) for s in shape)
    if out is None:
        if shape == x.shape and tuple(dynamic) == tuple(x.dynamic):
            return x
        out = b.tensor(name, shape, x.dtype, x.quant, dynamic)
    new_shape = b.const(f"{name}/shape", dynamic_new_shape(shape, dynamic, name))
    b.op(B.RESHAPE, [x, new_shape], [out])
    return out


def transpose(b: ModelBuilder, x: TensorInfo, perm: tuple[int, ...], name: str) -> TensorInfo:
    shape = tuple(x.shape[p] for p in perm)
    dyn = tuple(x.dynamic[p] for p in perm)
    # moving only unit axes is a reshape
    if [p for p in perm if x.shape[p] != 1 or x.dynamic[p]] == [p for p in range(len(perm)) if x.shape[p] != 1 or x.dynamic[p]]:
        return reshape(b, x, shape, dyn, name)
    out = b.tensor(name, shape, x.dtype, x.quant, dyn)
    p = b.const(f"{name}/perm", np.array(perm, dtype=np.int32))
    b.op(B.TRANSPOSE, [x, p], [out])
    return out


def quantize(b: ModelBuilder, x: TensorInfo, dtype: object, quant: Quant, name: str) -> TensorInfo:
    """QUANTIZE: float -> int, or requantize int8/int16 -> int8/int16 (TFLite QUANTIZE).

    int8 (zero point 0) -> int16 is written as CAST (the same real values) then an int16 -> int16 QUANTIZE: the
    same arithmetic (``zp_out + MBQM(q - zp_in, s_in / s_out)``), which tflite-runtime 2.14 runs (its QUANTIZE
    has no int8 -> int16 case). With another zero point (int16 requantization needs 0) the int8 -> int16
    QUANTIZE stays; ``versions.py`` records that it needs a newer runtime."""
    if x.dtype == np.int8 and np.dtype(dtype) == np.int16 and x.quant is not None and x.quant.per_tensor \
            and int(x.quant.zero_point[0]) == 0:  # int16 requantization needs zero point 0
        x = cast(b, x, np.int16, x.quant, f"{name}/int16")
    out = b.tensor(name, x.shape, dtype, quant, x.dynamic)
    b.op(B.QUANTIZE, [x], [out])
    return out


def cast(b: ModelBuilder, x: TensorInfo, dtype: object, quant: Quant | None, name: str) -> TensorInfo:
    """CAST: the integer values as they are (wrapping to the narrower type), read with ``quant``."""
    out = b.tensor(name, x.shape, dtype, quant, x.dynamic)
    opt = schema.CastOptionsT()
    opt.inDataType, opt.outDataType = TENSOR_TYPES[x.dtype], TENSOR_TYPES[np.dtype(dtype)]
    b.op(B.CAST, [x], [out], opt)
    return out


def dequantize(b: ModelBuilder, x: TensorInfo, name: str) -> TensorInfo:
    out = b.tensor(name, x.shape, np.float32, None, x.dynamic)
    b.op(B.DEQUANTIZE, [x], [out])
    return out


def pad_time(b: ModelBuilder, x: TensorInfo, before: int, after: int, name: str) -> TensorInfo:
    """PAD axis 2 (time in [N, 1, T, C]) with the zero point (real 0)."""
    pads = np.zeros((len(x.shape), 2), dtype=np.int32)
    pads[2] = (before, after)
    shape = list(x.shape)
    shape[2] += before + after
    out = b.tensor(name, tuple(shape), x.dtype, x.quant, x.dynamic)
    b.op(B.PAD, [x, b.const(f"{name}/paddings", pads)], [out])
    return out


def crop_time(b: ModelBuilder, x: TensorInfo, start: int, stop_from_end: int, name: str) -> TensorInfo:
    """STRIDED_SLICE of axis 2: drop ``start`` leading and ``stop_from_end`` trailing steps (works for any length)."""
    if start == 0 and stop_from_end == 0:
        return x
    n = len(x.shape)
    begin = np.zeros(n, dtype=np.int32)
    end = np.zeros(n, dtype=np.int32)
    begin[2] = start
    end[2] = -stop_from_end
    end_mask = sum(1 << i for i in range(n) if i != 2 or stop_from_end == 0)
    begin_mask = sum(1 << i for i in range(n) if i != 2)
    opt = schema.StridedSliceOptionsT()
    opt.beginMask, opt.endMask = begin_mask, end_mask
    shape = list(x.shape)
    shape[2] -= start + stop_from_end
    out = b.tensor(name, tuple(shape), x.dtype, x.quant, x.dynamic)
    b.op(B.STRIDED_SLICE, [x, b.const(f"{name}/begin", begin), b.const(f"{name}/end", end),
                           b.const(f"{name}/strides", np.ones(n, dtype=np.int32))], [out], opt)
    return out


def _memory_order_kept(onnx_shape: tuple[int, ...], onnx_dyn: tuple[bool, ...]) -> bool:
    """True when the std NHWC layout keeps the ONNX row-major order of the non-unit axes (a RESHAPE suffices)."""
    nonunit = [p for p in std_layout(len(onnx_shape)) if p >= 0 and (onnx_shape[p] != 1 or onnx_dyn[p])]
    return nonunit == sorted(nonunit)


def to_std_layout(b: ModelBuilder, x: TensorInfo, onnx_shape: tuple[int, ...], onnx_dyn: tuple[bool, ...],
                  name: str) -> TensorInfo:
    """A tensor holding data in ONNX axis order (any shape of that size) -> the std NHWC layout."""
    if not _memory_order_kept(onnx_shape, onnx_dyn):
        x = reshape(b, x, onnx_shape, onnx_dyn, f"{name}/onnx_shape")
        perm = tuple(p for p in std_layout(len(onnx_shape)) if p >= 0)
        x = transpose(b, x, perm, f"{name}/to_nhwc")
    return reshape(b, x, to_tflite_shape(onnx_shape), to_tflite_flags(onnx_dyn), f"{name}/nhwc")


def from_std_layout(b: ModelBuilder, x: TensorInfo, onnx_shape: tuple[int, ...], onnx_dyn: tuple[bool, ...],
                    app_shape: tuple[int, ...], app_dyn: tuple[bool, ...], name: str,
                    out: TensorInfo | None = None) -> TensorInfo:
    """The std NHWC layout -> data in ONNX axis order, shaped ``app_shape`` (written into ``out`` if given)."""
    if not _memory_order_kept(onnx_shape, onnx_dyn):
        perm = tuple(p for p in std_layout(len(onnx_shape)) if p >= 0)
        x = reshape(b, x, tuple(onnx_shape[p] for p in perm), tuple(onnx_dyn[p] for p in perm), f"{name}/squeeze")
        x = transpose(b, x, tuple(int(i) for i in np.argsort(perm)), f"{name}/to_onnx")
    if out is not None:
        return reshape(b, x, out.shape, out.dynamic, name, out=out)
    return reshape(b, x, app_shape, app_dyn, name)


def broadcast_rank(b: ModelBuilder, x: TensorInfo, onnx_shape: tuple[int, ...], onnx_dyn: tuple[bool, ...],
                   rank: int, name: str) -> TensorInfo:
    """An activation of ONNX rank < ``rank`` (std layout) in the std layout of rank ``rank``, as numpy broadcasting
    reads it (leading unit axes): ``[1, T]`` against ``[1, C, T]`` is ``[1, 1, T]``."""
    pad = rank - len(onnx_shape)
    shape, dyn = (1,) * pad + tuple(onnx_shape), (False,) * pad + tuple(onnx_dyn)
    t = from_std_layout(b, x, onnx_shape, onnx_dyn, onnx_shape, onnx_dyn, f"{name}/onnx_order")
    return to_std_layout(b, t, shape, dyn, f"{name}/rank{rank}")


def over_inner_axis(b: ModelBuilder, x: TensorInfo, perm: tuple[int, ...], name: str,
                    body: Callable[[TensorInfo, str], TensorInfo]) -> TensorInfo:
    """``body(moved, out_name)`` on ``x`` transposed by ``perm`` (``layout.inner_axis_perm``), its result transposed
    back to ``x``'s layout and named ``name``; no TRANSPOSE at all when ``perm`` is the identity (``body`` then names
    its output ``name``)."""
    moved = transpose(b, x, perm, f"{name}/axis_inner")
    if moved is x:
        return body(x, name)
    return transpose(b, body(moved, f"{name}/inner"), tuple(int(i) for i in np.argsort(perm)), name)
