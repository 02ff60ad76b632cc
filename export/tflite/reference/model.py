"""``ReferenceModel``: reads a .tflite file and runs its operators, in order, with the registered kernels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import NUMPY_TYPES, operator_name, unpack_int4
from fqss_edge.export.tflite.reference.registry import RefOp, kernel_for
from fqss_edge.export.tflite.reference.tensor import Tensor


def _tensor(model: schema.ModelT, t: schema.TensorT) -> Tensor:
    q = t.quantization
    buf = model.buffers[t.buffer].data if t.buffer else None
    int4 = t.type == schema.TensorType.INT4  # packed two per byte: read as int8 codes
    dt = np.dtype(np.int8) if int4 else NUMPY_TYPES[t.type]
    data = None
    if buf is not None and len(buf) and int4:
        data = unpack_int4(np.asarray(buf, dtype=np.uint8), int(np.prod(t.shape))).reshape(t.shape)
    elif buf is not None and len(buf):
        data = np.frombuffer(np.asarray(buf, dtype=np.uint8).tobytes(), dtype=dt).reshape(t.shape)
    scale = np.asarray(q.scale, dtype=np.float32) if q is not None and q.scale is not None else None
    zp = np.asarray(q.zeroPoint, dtype=np.int64) if q is not None and q.zeroPoint is not None else None
    name = t.name.decode() if isinstance(t.name, bytes) else t.name
    return Tensor(name, np.dtype(dt), tuple(int(s) for s in t.shape), scale, zp,
                  q.quantizedDimension if q is not None else 0, data)


class ReferenceModel:
    def __init__(self, data: bytes, name: str = "model.tflite"):
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise FqssError(f"{name}: not a TFLite flatbuffer")
        try:
            self.model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        except Exception as e:
            raise FqssError(f"{name}: corrupt TFLite file ({type(e).__name__})") from None
        self.sg = self.model.subgraphs[0]
        self.tensors: list[Tensor] = [_tensor(self.model, t) for t in self.sg.tensors]
        self.codes = [oc.builtinCode for oc in self.model.operatorCodes]

    @classmethod
    def from_file(cls, path: str | Path) -> "ReferenceModel":
        return cls(Path(path).read_bytes(), str(path))

    def op_names(self) -> list[str]:
        """The builtin operator of every operator, in execution order."""
        return [operator_name(self.codes[op.opcodeIndex]) for op in self.sg.operators]

    def run(self, *inputs: np.ndarray, keep: bool = False):
        """The model's output (a list if several); with ``keep``, also every tensor's value by name."""
        vals: dict[int, np.ndarray] = {i: t.data for i, t in enumerate(self.tensors) if t.data is not None}
        for idx, x in zip(self.sg.inputs, inputs):
            vals[idx] = np.asarray(x, dtype=self.tensors[idx].dtype)
        for op in self.sg.operators:
            vals[op.outputs[0]] = self._eval(op, vals)
        outs = [vals[i] for i in self.sg.outputs]
        out = outs[0] if len(outs) == 1 else outs
        if keep:
            return out, {self.tensors[i].name: v for i, v in vals.items()}
        return out

    def _eval(self, op: schema.OperatorT, vals: dict[int, np.ndarray]) -> np.ndarray:
        code = self.codes[op.opcodeIndex]
        call = RefOp(code, op.builtinOptions, [vals.get(i) if i >= 0 else None for i in op.inputs],
                     [self.tensors[i] if i >= 0 else None for i in op.inputs], self.tensors[op.outputs[0]],
                     tuple(self.tensors[i] for i in (op.intermediates if op.intermediates is not None else [])))
        kernel = kernel_for(code)
        try:
            return kernel(call)
        except FqssError:
            raise
        except Exception as e:
            raise FqssError(f"reference: {call.name} -> {call.out.name}: {type(e).__name__}: {e}") from None
