"""What every one-node case module shares: the ``Case`` record, the seeded weight generator and small builders."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from qdq_builder import QDQ, strip_qdq

R = np.random.default_rng(7)  # weights: re-seeded from the case name by Case.model


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[int], QDQ | onnx.ModelProto]  # bit width -> graph (a float-only case ignores it)
    bits: tuple[int, ...] = (8,)  # activation bit widths; () for a float-only case
    tol: int | dict[int, int] = 1  # LSB vs onnxruntime (per bit width if a dict)
    io: str = "quantized"  # the .tflite I/O (``convert_model(io=...)``): the case's quantized tensors by default
    float32: bool = True  # also convert strip_qdq(graph) with the float32 converters (the float twin)
    lengths: tuple[int, ...] = ()  # also export with a symbolic length T and run at each of these lengths
    positive: bool = False  # inputs >= 0 (Sqrt)
    min_runtime: str | None = None  # ``convert_model(min_runtime=...)``: the variant for an older runtime
    delegated: bool = True  # XNNPACK takes the whole float32 graph (False: it has no kernel for the operator)

    @property
    def int8(self) -> bool:
        return bool(self.bits)

    def lsb_tolerance(self, bits: int) -> int:
        return self.tol[bits] if isinstance(self.tol, dict) else self.tol

    def model(self, bits: int, resizable: bool = False) -> onnx.ModelProto:
        """The case's graph (QDQ, or plain float for a float-only case); ``resizable``: symbolic length T. The
        same weights at every call, whichever tests run before."""
        R.bit_generator.state = np.random.PCG64(zlib.crc32(self.name.encode())).state
        b = self.build(bits)
        if isinstance(b, onnx.ModelProto):
            return b
        if resizable:
            b.in_shape[2] = "T"
            b.metadata.setdefault("fqss.stride", "2")  # a case may declare its own (a strided encoder's)
        return b.model()

    def float_model(self, resizable: bool = False) -> onnx.ModelProto:
        return strip_qdq(self.model(self.bits[0] if self.bits else 32, resizable))


# -- builders ---------------------------------------------------------------------------------------------------
def wq(shape, n_out):
    """Random int8 weight codes and per-channel scales."""
    return R.integers(-127, 128, shape), R.uniform(0.002, 0.02, n_out).astype(np.float32)


def bias(b: QDQ, s_in: float, s_w: np.ndarray):
    return b.qconst(R.integers(-3000, 3000, s_w.size), (np.float32(s_in) * s_w).astype(np.float32), bits=32, axis=0)


def act(bits):
    return (0.04, 5, 8) if bits == 8 else (0.0004, 0, 16)


def out_q(bits, scale=0.05, zp=-3):
    return (scale, zp, 8) if bits == 8 else (scale / 100, 0, 16)


def f32(v):
    return np.asarray(v, dtype=np.float32)

I8, I16 = (8,), (8, 16)
RESIZE = (6, 18, 40)
