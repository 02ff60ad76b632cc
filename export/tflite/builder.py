"""``ModelBuilder``: tensors, constant buffers and operators of one TFLite subgraph, packed with the schema's
object API (``ModelT.Pack``) into a ``.tflite`` flatbuffer.

Rules of the format this builder enforces (see docs: PLATFORM_FACTS): ``Model.version`` 3, the ``TFL3`` file
identifier, buffer 0 empty, per-channel quantization with ``quantized_dimension``. Scales are stored as the
float32 values given (bit for bit); zero points as int64.

Operator versions come from one table (``versions.py``): each operator is stamped at ``build`` with the lowest
version that expresses it, so older runtimes load the file (a builtin missing from the table is an error).

Identical quantization vectors are written once and shared (``_SharedVectorBuilder``): every per-channel weight
and bias carries an int64 zero-point vector of zeros, one per channel, which alone was 0.52 MB (8.6 %) of the
full-size int8 file. Flatbuffer tables may point at the same vector; readers do not see the difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.versions import OpSignature, stamp

BuiltinOperator = schema.BuiltinOperator
BuiltinOptions = schema.BuiltinOptions

TENSOR_TYPES: dict[np.dtype, int] = {
    np.dtype(np.float32): schema.TensorType.FLOAT32,
    np.dtype(np.int8): schema.TensorType.INT8,
    np.dtype(np.int16): schema.TensorType.INT16,
    np.dtype(np.int32): schema.TensorType.INT32,
    np.dtype(np.int64): schema.TensorType.INT64,
    np.dtype(np.uint8): schema.TensorType.UINT8,
}
NUMPY_TYPES: dict[int, np.dtype] = {v: k for k, v in TENSOR_TYPES.items()}



def pack_int4(codes: np.ndarray) -> np.ndarray:
    """int4 codes (flattened) two per byte, low nibble first: the bytes of a TensorType INT4 buffer."""
    flat = np.asarray(codes, dtype=np.int8).reshape(-1).astype(np.uint8) & 0x0F
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def unpack_int4(data: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` int8 codes of packed int4 bytes (sign-extended nibbles, low nibble first)."""
    b = np.asarray(data, dtype=np.uint8)
    lo = ((b & 0x0F).astype(np.int8) << 4) >> 4
    hi = (b.astype(np.int8) >> 4)
    return np.stack([lo, hi], axis=1).reshape(-1)[:count].astype(np.int8)


_OPERATOR_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def operator_name(code: int) -> str:
    return _OPERATOR_NAMES.get(code, str(code))


@dataclass(frozen=True)
class Quant:
    """Affine quantization of a tensor: float32 scales, integer zero points, the axis of per-channel scales."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    @classmethod
    def make(cls, scale: object, zero_point: object, axis: int = 0) -> "Quant":
        s = np.atleast_1d(np.asarray(scale, dtype=np.float32)).reshape(-1)
        z = np.atleast_1d(np.asarray(zero_point)).astype(np.int64).reshape(-1)
        if z.size == 1 and s.size > 1:
            z = np.repeat(z, s.size)
        if z.size != s.size:
            raise ValueError(f"{s.size} scales but {z.size} zero points")
        return cls(s, z, axis)

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1

    def same_as(self, other: "Quant | None") -> bool:
        return (other is not None and self.scale.size == other.scale.size
                and self.scale.tobytes() == other.scale.tobytes()
                and np.array_equal(self.zero_point, other.zero_point)
                and (self.per_tensor or self.axis == other.axis))

    def to_schema(self) -> schema.QuantizationParametersT:
        q = schema.QuantizationParametersT()
        q.scale = np.ascontiguousarray(self.scale, dtype=np.float32)  # ndarrays: packed by CreateNumpyVector
        q.zeroPoint = np.ascontiguousarray(self.zero_point, dtype=np.int64)
        q.quantizedDimension = int(self.axis)
        return q


@dataclass
class TensorInfo:
    """A tensor of the subgraph being built: its concrete shape, which dims vary with the input length."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quant: Quant | None = None
    dynamic: tuple[bool, ...] = ()
    data: np.ndarray | None = None
    variable: bool = False  # a state the runtime keeps between invocations (LSTM output and cell state)
    int4: bool = False  # a constant of int4 codes (``data`` int8), stored packed two per byte (TensorType INT4)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def signature(self) -> list[int]:
        dyn = self.dynamic or (False,) * len(self.shape)
        return [-1 if d else int(s) for s, d in zip(self.shape, dyn)]


@dataclass
class ModelBuilder:
    tensors: list[TensorInfo] = field(default_factory=list)
    operators: list[schema.OperatorT] = field(default_factory=list)
    buffers: list[schema.BufferT] = field(default_factory=lambda: [schema.BufferT()])  # buffer 0 stays empty
    _signatures: list[OpSignature] = field(default_factory=list)  # one per operator, stamped by build()
    _names: set[str] = field(default_factory=set)
    _tensor_buffer: dict[int, int] = field(default_factory=dict)
    producer: dict[int, schema.OperatorT] = field(default_factory=dict)  # tensor index -> operator writing it

    # -- tensors --------------------------------------------------------------------------------------------
    def unique(self, name: str) -> str:
        base, k = name, 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def tensor(self, name: str, shape: tuple[int, ...] | list[int], dtype: object, quant: Quant | None = None,
               dynamic: tuple[bool, ...] | None = None, variable: bool = False) -> TensorInfo:
        shape = tuple(int(s) for s in shape)
        dyn = tuple(bool(d) for d in dynamic) if dynamic is not None else (False,) * len(shape)
        if len(dyn) != len(shape):
            raise ValueError(f"{name}: dynamic flags {dyn} do not match shape {shape}")
        info = TensorInfo(len(self.tensors), self.unique(name), shape, np.dtype(dtype), quant, dyn, variable=variable)
        self.tensors.append(info)
        return info

    def const(self, name: str, value: np.ndarray, quant: Quant | None = None) -> TensorInfo:
        value = np.ascontiguousarray(value)
        if value.dtype not in TENSOR_TYPES:
            raise ValueError(f"{name}: constants of type {value.dtype} are not supported")
        info = self.tensor(name, value.shape, value.dtype, quant)
        info.data = value
        self._tensor_buffer[info.index] = len(self.buffers)
        self.buffers.append(schema.BufferT(data=np.frombuffer(value.astype(value.dtype.newbyteorder("<")).tobytes(),
                                                                dtype=np.uint8)))
        return info

    def const_int4(self, name: str, codes: np.ndarray, quant: Quant | None = None) -> TensorInfo:
        """A constant of int4 codes (int8 values in [-8, 7]) stored as TensorType INT4: two codes per byte, the
        first in the low nibble (LiteRT's ``UnpackPackedIntToInt8``), an odd count padded with a zero nibble."""
        codes = np.ascontiguousarray(codes, dtype=np.int8)
        if codes.size and (codes.min() < -8 or codes.max() > 7):
            raise ValueError(f"{name}: int4 codes must be in [-8, 7], not [{codes.min()}, {codes.max()}]")
        info = self.tensor(name, codes.shape, np.int8, quant)
        info.data, info.int4 = codes, True
        self._tensor_buffer[info.index] = len(self.buffers)
        self.buffers.append(schema.BufferT(data=pack_int4(codes)))
        return info

    def like(self, name: str, ref: TensorInfo, dtype: object = None, quant: Quant | None = None,
             shape: tuple[int, ...] | None = None, dynamic: tuple[bool, ...] | None = None) -> TensorInfo:
        """A new activation tensor shaped like ``ref`` unless told otherwise."""
        return self.tensor(name, ref.shape if shape is None else shape, ref.dtype if dtype is None else dtype,
                           quant, ref.dynamic if dynamic is None and shape is None else dynamic)

    # -- operators ------------------------------------------------------------------------------------------
    def op(self, code: int, inputs: list[TensorInfo | None], outputs: list[TensorInfo], options: object = None,
           intermediates: list[TensorInfo] | None = None) -> schema.OperatorT:
        """Append an operator. Its version is not chosen here: ``build`` stamps each operator from the version
        table (``versions.py``) once its options are final (a later RELU may still fuse into it)."""
        o = schema.OperatorT()
        o.inputs = [-1 if t is None else t.index for t in inputs]
        o.outputs = [t.index for t in outputs]
        if intermediates:
            o.intermediates = [t.index for t in intermediates]
        if options is not None:
            o.builtinOptionsType = getattr(BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self.operators.append(o)
        self._signatures.append(OpSignature(code, tuple(inputs), tuple(outputs), options))
        for t in outputs:
            self.producer[t.index] = o
        return o

    def opcode(self, o: schema.OperatorT) -> int:
        return next(sig.code for op, sig in zip(self.operators, self._signatures) if op is o)

    def stamped(self) -> list[tuple[int, int, str]]:
        """(builtin, version, reason) of every operator, in order, from the version table."""
        return [(sig.code, *stamp(sig)) for sig in self._signatures]

    def _operator_codes(self) -> list[schema.OperatorCodeT]:
        """Stamp each operator (``versions.TABLE``) and set its ``opcodeIndex``; one code per (builtin, version)."""
        index: dict[tuple[int, int], int] = {}
        for o, (code, version, _) in zip(self.operators, self.stamped()):
            o.opcodeIndex = index.setdefault((code, version), len(index))
        codes = []
        for code, version in index:
            oc = schema.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.version = version
            codes.append(oc)
        return codes

    # -- packing --------------------------------------------------------------------------------------------
    def _tensor_t(self, info: TensorInfo) -> schema.TensorT:
        t = schema.TensorT()
        t.name = info.name
        t.shape = list(info.shape)
        if any(info.dynamic):
            t.shapeSignature = info.signature
        t.type = schema.TensorType.INT4 if info.int4 else TENSOR_TYPES[info.dtype]
        t.isVariable = info.variable
        t.buffer = self._tensor_buffer.get(info.index, 0)
        if info.quant is not None:
            t.quantization = info.quant.to_schema()
        return t

    def build(self, inputs: list[TensorInfo], outputs: list[TensorInfo], metadata: dict[str, bytes] | None = None,
              description: str = "fqss-edge", signature_key: str = "serving_default") -> bytes:
        model = schema.ModelT()
        model.version = 3
        model.description = description
        model.operatorCodes = self._operator_codes()
        sg = schema.SubGraphT()
        sg.name = "main"
        sg.tensors = [self._tensor_t(t) for t in self.tensors]
        sg.inputs = [t.index for t in inputs]
        sg.outputs = [t.index for t in outputs]
        sg.operators = self.operators
        model.subgraphs = [sg]
        buffers = list(self.buffers)
        model.metadata = []
        for name, payload in (metadata or {}).items():
            m = schema.MetadataT()
            m.name = name
            m.buffer = len(buffers)
            buffers.append(schema.BufferT(data=np.frombuffer(payload, dtype=np.uint8)))
            model.metadata.append(m)
        model.buffers = buffers
        sig = schema.SignatureDefT()
        sig.signatureKey = signature_key
        sig.subgraphIndex = 0
        sig.inputs = [_tensor_map(t) for t in inputs]
        sig.outputs = [_tensor_map(t) for t in outputs]
        model.signatureDefs = [sig]
        fb = _SharedVectorBuilder(1024 + sum(b.data.size if b.data is not None else 0 for b in buffers))
        fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
        return bytes(fb.Output())


class _SharedVectorBuilder(flatbuffers.Builder):
    """A flatbuffers builder that writes each distinct quantization vector (float32 scales, int64 zero points)
    once and hands out the same offset for every repeat. Other vectors (buffer bytes, shapes) are written as usual."""

    _SHARED = (np.dtype(np.float32), np.dtype(np.int64))

    def __init__(self, initial_size: int = 1024):
        super().__init__(initial_size)
        self._vectors: dict[tuple[str, bytes], int] = {}

    def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers' name)
        if x.dtype not in self._SHARED:
            return super().CreateNumpyVector(x)
        key = (x.dtype.str, x.tobytes())
        if key not in self._vectors:
            self._vectors[key] = super().CreateNumpyVector(x)
        return self._vectors[key]


def _tensor_map(t: TensorInfo) -> schema.TensorMapT:
    m = schema.TensorMapT()
    m.name = t.name
    m.tensorIndex = t.index
    return m
