"""``FloatContext``: what a float32 operator converter sees while the float walker converts one ONNX graph.

The float counterpart of ``ConvertContext``: every float ONNX tensor maps to one float32 TFLite tensor in the
standard NHWC layout of its rank (``layout.py``); constants (initializers, ``Constant`` nodes) become TFLite
constant buffers in that layout when an operator reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import TensorInfo
from fqss_edge.export.tflite.context import GraphContext
from fqss_edge.export.tflite.layout import to_tflite_array, to_tflite_flags, to_tflite_shape


@dataclass
class FIn:
    """One float input of an operator: the ONNX tensor ``name``; ``const`` when it is a constant."""

    name: str
    shape: tuple[int, ...]
    dynamic: tuple[bool, ...]
    const: np.ndarray | None = None


@dataclass
class FOut:
    """One float output of an operator (ONNX name, shape, which dims follow the input length)."""

    name: str
    shape: tuple[int, ...]
    dynamic: tuple[bool, ...]


@dataclass
class FloatContext(GraphContext):
    WHAT: ClassVar[str] = "TFLite export (float32)"
    io: str = "float32"

    # -- inputs and outputs of an operator ------------------------------------------------------------------
    def input(self, node: onnx.NodeProto, i: int) -> FIn:
        if i >= len(node.input) or not node.input[i]:
            raise self.fail(node, f"input {i} is missing")
        name = node.input[i]
        const = self.g.const(name)
        if const is not None:
            if const.dtype != np.float32:
                raise self.fail(node, f"constant input {i} ({name!r}) is {const.dtype}, not float32")
            return FIn(name, tuple(const.shape), (False,) * const.ndim, const)
        return FIn(name, self.g.shape(name), self.g.dynamic(name))

    def optional_input(self, node: onnx.NodeProto, i: int) -> FIn | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        return self.input(node, i)

    def int_const(self, node: onnx.NodeProto, i: int, what: str) -> np.ndarray:
        """A constant integer operand (axes, shapes)."""
        v = self.g.const(node.input[i]) if i < len(node.input) and node.input[i] else None
        if v is None:
            raise self.fail(node, f"{what} (input {i}) is not a constant")
        return np.asarray(v).astype(np.int64)

    def output(self, node: onnx.NodeProto, i: int = 0) -> FOut:
        name = node.output[i]
        return FOut(name, self.g.shape(name), self.g.dynamic(name))

    # -- TFLite tensors -------------------------------------------------------------------------------------
    def activation(self, x: FIn, node: onnx.NodeProto) -> TensorInfo:
        if x.const is not None:
            return self.const_operand(x, len(x.shape))
        if x.name not in self.tensors:
            raise self.fail(node, f"input {x.name!r} has not been converted yet (graph not topologically sorted?)")
        return self.tensors[x.name]

    def const_operand(self, x: FIn, rank: int) -> TensorInfo:
        """A float constant broadcast-ready for a rank-``rank`` operator, in that rank's TFLite layout."""
        a = np.asarray(x.const, dtype=np.float32)
        if a.ndim > rank:
            raise FqssError(f"TFLite export (float32): constant {x.name!r} has rank {a.ndim} > {rank}")
        a = a.reshape((1,) * (rank - a.ndim) + a.shape)
        return self.b.const(x.name, to_tflite_array(a))

    def new_output(self, out: FOut) -> TensorInfo:
        """The float32 TFLite tensor of an ONNX output (std layout), registered under its ONNX name."""
        t = self.b.tensor(out.name, to_tflite_shape(out.shape), np.float32, None, to_tflite_flags(out.dynamic))
        self.define(out.name, t)
        return t
