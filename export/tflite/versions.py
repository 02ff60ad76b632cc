"""Operator versions: the one table the ``.tflite`` writer stamps operator codes from.

An interpreter registers each builtin for a range of versions and refuses a model whose operator code carries a
version past that range ("Didn't find op for builtin opcode 'QUANTIZE' version '4' ... an old TFLite binary"),
even when its kernel would compute the case. So each operator is stamped with the **lowest** version that
expresses it, by the rule TensorFlow's converter follows (``tensorflow/lite/tools/versioning/op_version.cc``,
``GetBuiltinOperatorVersion``: per builtin, from the tensor types, per-channel quantization and options), and
each version maps to the first TF Lite runtime that has it (``runtime_version.cc``,
``FindMinimumRuntimeVersionForOp``); the model's minimum runtime is the newest of its operators'.

One ``OpVersions`` entry per builtin the writer can emit: ``rule(sig) -> (version, reason)`` and the runtime of
each version. ``ModelBuilder.build`` stamps every operator through ``stamp`` and raises for a builtin missing
here, so a new operator cannot be written with a guessed version: add its entry (rule from op_version.cc,
runtimes from runtime_version.cc) with the reason for each bump.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError

B = schema.BuiltinOperator

INT8, INT16 = np.dtype(np.int8), np.dtype(np.int16)


@dataclass(frozen=True)
class OpSignature:
    """What the version rules read of one operator: its tensors (``None`` for an omitted optional input; each
    with ``dtype``, ``shape`` and ``quant``) and its builtin options object (or ``None``)."""

    code: int
    inputs: Sequence[object | None]
    outputs: Sequence[object]
    options: object = None

    def dtype(self, i: int) -> np.dtype | None:
        t = self.inputs[i] if i < len(self.inputs) else None
        return None if t is None else t.dtype

    def out_dtype(self, i: int = 0) -> np.dtype:
        return self.outputs[i].dtype

    def rank(self, i: int = 0) -> int:
        return len(self.inputs[i].shape)

    def per_channel(self, i: int) -> bool:
        t = self.inputs[i] if i < len(self.inputs) else None
        return t is not None and t.quant is not None and not t.quant.per_tensor

    def option(self, name: str, default: object = None) -> object:
        return getattr(self.options, name, default) if self.options is not None else default


Rule = Callable[[OpSignature], tuple[int, str]]
BASE = "float32 (or the type every runtime has)"


Floor = Callable[[OpSignature], "tuple[str, str] | None"]


@dataclass(frozen=True)
class OpVersions:
    rule: Rule
    runtimes: dict[int, str]  # version -> first TF Lite runtime that registers it (runtime_version.cc)
    # a kernel case that no version number tells apart: (first runtime known to compute it, why), or None
    floor: Floor | None = None


def _by_type(int8: int, int16: int, what: str = "activations") -> Rule:
    """The common rule: int8 -> ``int8``, int16 -> ``int16``, else 1 (op_version.cc's default case)."""
    def rule(sig: OpSignature) -> tuple[int, str]:
        if sig.dtype(0) == INT16:
            return int16, f"int16 {what}"
        if sig.dtype(0) == INT8:
            return int8, f"int8 {what}"
        return 1, BASE
    return rule


def _int4_filter(sig: OpSignature) -> bool:
    return bool(getattr(sig.inputs[1], "int4", False))


def _conv_2d(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT8 and _int4_filter(sig) and sig.out_dtype() == INT8:
        return 7, "int8 activations, int4 filter (TensorType INT4, unpacked by the kernel)"
    if sig.inputs[1].shape[3] != sig.inputs[0].shape[3]:
        return 6, "grouped convolution (filter input channels < input channels)"
    if sig.dtype(0) == INT16 and sig.dtype(1) == INT8:
        return 4, "16x8: int16 activations, int8 weights (kernel since TF 2.3)"
    if sig.dtype(0) == INT8 and sig.dtype(1) == INT8 and sig.out_dtype() == INT8:
        return 3, "int8 activations and weights"
    return 1, BASE


def _depthwise(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and sig.dtype(1) == INT8:
        return 5, "16x8: int16 activations, int8 weights"
    if sig.dtype(0) == INT8 and sig.dtype(1) == INT8 and sig.out_dtype() == INT8:
        return 3, "int8 activations and weights"
    if sig.option("dilationWFactor", 1) != 1 or sig.option("dilationHFactor", 1) != 1:
        return 2, "dilation"
    return 1, BASE


def _transpose_conv(sig: OpSignature) -> tuple[int, str]:
    if sig.option("fusedActivationFunction", 0):
        return 4, "a fused activation"
    if len(sig.inputs) == 4 and sig.inputs[3] is not None:
        return 3, "a bias input"
    if sig.dtype(1) == INT8:
        return 2, "int8 weights"
    return 1, BASE


def _add(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and sig.inputs[0].quant is None:
        return 5, "plain (not quantized) int16"
    if sig.dtype(0) == INT16 and not sig.option("potScaleInt16", True):
        return 3, "int16 with general (not power-of-two) scales"
    if sig.dtype(0) == INT8:
        return 2, "int8 activations"
    return 1, BASE


def _sub(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and not sig.option("potScaleInt16", True):
        return 5, "int16 with general (not power-of-two) scales"
    if sig.inputs[0].shape != sig.inputs[1].shape and max(sig.rank(0), sig.rank(1)) > 4:
        return 3, "broadcast over more than 4 dimensions"
    if sig.dtype(0) == INT8:
        return 2, "int8 activations"
    return 1, BASE


def _mul(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and sig.inputs[0].quant is None:
        return 7, "plain (not quantized) int16"
    if sig.dtype(0) == INT16:
        return 4, "int16 activations"
    quants = [t.quant for t in (sig.inputs[0], sig.inputs[1], sig.outputs[0])]
    if all(q is not None for q in quants):
        s1, s2, so = (float(q.scale[0]) for q in quants)
        if s1 * s2 / so >= 1.0:
            return 3, "rescale s1*s2/s_out >= 1"
    if sig.dtype(0) == INT8:
        return 2, "int8 activations"
    return 1, BASE


def _quantize_floor(sig: OpSignature) -> tuple[str, str] | None:
    # The converter stamps int8 -> int16 as version 2 like float -> int16, but tflite-runtime 2.14.0's QUANTIZE
    # refuses it in Prepare ("output->type == kTfLiteUInt8 || output->type == kTfLiteInt8", measured) while
    # ai-edge-litert 2.3 runs it. Which release added it was not checked: 2.15.0 is the first after the one
    # measured without it. The exporter avoids it where it can (emit.quantize: CAST + int16 requantization).
    if sig.dtype(0) == INT8 and sig.out_dtype() == INT16:
        return "2.15.0", "int8 -> int16 requantization (not in tflite-runtime 2.14)"
    return None


def _quantize(sig: OpSignature) -> tuple[int, str]:
    q = sig.outputs[0].quant
    if q is not None and not q.per_tensor:
        return 3, "per-channel output"
    if sig.out_dtype() == INT16:
        return 2, "int16 output"
    return 1, "int8 output (from float32, int8 or int16)"


def _dequantize(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16:
        return 3, "int16 input"
    if sig.dtype(0) == INT8:
        return (5, "per-channel int8 input") if sig.per_channel(0) else (2, "int8 input")
    return 1, BASE


def _transpose(sig: OpSignature) -> tuple[int, str]:
    if sig.rank(0) > 5:
        return 6, "more than 5 dimensions"
    if sig.dtype(0) == INT16:
        return 5, "int16"
    if sig.rank(0) > 4:
        return 4, "5 dimensions"
    if sig.dtype(0) == INT8:
        return 2, "int8"
    return 1, BASE


def _pad(sig: OpSignature) -> tuple[int, str]:
    if sig.rank(0) > 4:
        return 4, "more than 4 dimensions"
    return _by_type(2, 3)(sig)


def _strided_slice(sig: OpSignature) -> tuple[int, str]:
    if sig.option("offset", False):
        return 8, "offset"
    if sig.option("ellipsisMask", 0) or sig.option("newAxisMask", 0):
        return 6, "ellipsis / new-axis mask"
    if sig.rank(0) > 4:
        return 4, "more than 4 dimensions"
    if sig.dtype(0) == INT8:
        return 2, "int8"
    return 1, "float32 or int16 (no int16 variant)"


def _resize(sig: OpSignature) -> tuple[int, str]:
    # op_version.cc: 4 int16; 3 half_pixel_centers (bilinear), half_pixel_centers or align_corners (nearest); 2 int8
    if sig.dtype(0) == INT16:
        return 4, "int16"
    flags = sig.option("halfPixelCenters", False) or (sig.code == B.RESIZE_NEAREST_NEIGHBOR
                                                      and sig.option("alignCorners", False))
    if flags:
        return 3, "half_pixel_centers" + (" or align_corners" if sig.code == B.RESIZE_NEAREST_NEIGHBOR else "")
    if sig.dtype(0) == INT8:
        return 2, "int8"
    return 1, BASE


def _cast(sig: OpSignature) -> tuple[int, str]:
    if INT8 in (sig.dtype(0), sig.out_dtype()):
        return 3, "int8 in or out"
    return 1, BASE


def _min_max(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and sig.out_dtype() == INT16:
        return 4, "int16"
    if sig.inputs[0].shape != sig.inputs[1].shape and max(sig.rank(0), sig.rank(1)) > 4:
        return 3, "broadcast over more than 4 dimensions"
    if sig.dtype(0) == INT8:
        return 2, "int8"
    return 1, BASE


def _batch_matmul(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16:
        return 3, "int16 operands"
    if sig.dtype(0) == INT8:
        return 2, "int8 operands"
    return 1, BASE


def _fully_connected(sig: OpSignature) -> tuple[int, str]:
    # op_version.cc: 6 without a bias input (the writer always gives one), 5 keep_num_dims, 4 int8; per-channel
    # int8 weights need no other version
    if len(sig.inputs) < 3 or sig.inputs[2] is None:
        return 6, "no bias"
    if sig.option("keepNumDims", False):
        return 5, "keep_num_dims"
    if sig.dtype(0) == INT8 and sig.dtype(1) == INT8 and sig.out_dtype() == INT8:
        return 4, "int8 activations and weights"
    return 1, BASE


def _tanh_logistic(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT16 and sig.out_dtype() == INT16:
        return 3, "int16 in and out"
    if sig.dtype(0) == INT8:
        return 2, "int8 input"
    return 1, BASE


def _reverse_v2(sig: OpSignature) -> tuple[int, str]:
    if sig.dtype(0) == INT8:
        return 3, "int8"
    return 1, BASE


def _reverse_v2_floor(sig: OpSignature) -> tuple[str, str] | None:
    # runtime_version.cc gives version 3 (int8) 2.5.0, but tflite-runtime 2.14.0 registers REVERSE_V2 up to
    # version 2 only ("Didn't find op for builtin opcode 'REVERSE_V2' version '3'", measured on a bidirectional
    # QLSTM); 2.15.0 is the first release after the one measured without it
    if sig.dtype(0) == INT8:
        return "2.15.0", "int8 (not registered in tflite-runtime 2.14)"
    return None


def _lstm(sig: OpSignature) -> tuple[int, str]:
    # op_version.cc: 5 for int16 activations, 4 diagonal recurrent weights, 2/3 hybrid (float activations, int8
    # weights); the fully integer int8 LSTM (8x8_16) falls through to version 1
    if sig.dtype(0) == INT8:
        return 1, "fully integer int8 (op_version.cc's default case)"
    return 1, BASE


def _lstm_floor(sig: OpSignature) -> tuple[str, str] | None:
    # Version 1 covers the float LSTM of TF Lite 1.13 and the fully integer one, which came later; the integer
    # kernel is measured in tflite-runtime 2.14.0 (a unidirectional QLSTM: BUILTIN_REF and default kernels equal
    # ai-edge-litert's BUILTIN_REF code for code), earlier releases not checked: 2.14.0 is the floor claimed.
    if sig.dtype(0) == INT8:
        return "2.14.0", "fully integer LSTM kernel (measured from tflite-runtime 2.14)"
    return None


def _v1(sig: OpSignature) -> tuple[int, str]:
    return 1, "one version"


# builtin -> rule and runtimes (runtime_version.cc); only the versions a rule above can give are listed
TABLE: dict[int, OpVersions] = {
    B.CONV_2D: OpVersions(_conv_2d, {1: "1.5.0", 3: "1.14.0", 4: "2.3.0", 6: "2.9.0", 7: "2.11.0"}),
    B.DEPTHWISE_CONV_2D: OpVersions(_depthwise, {1: "1.5.0", 2: "1.12.0", 3: "1.14.0", 5: "2.3.0"}),
    B.TRANSPOSE_CONV: OpVersions(_transpose_conv, {1: "1.9.0", 2: "2.2.0", 3: "2.3.0", 4: "2.13.0"}),
    B.ADD: OpVersions(_add, {1: "1.5.0", 2: "1.14.0", 3: "2.4.0", 5: "2.13.0"}),
    B.SUB: OpVersions(_sub, {1: "1.6.0", 2: "1.14.0", 3: "2.3.0", 5: "2.4.0"}),
    B.MUL: OpVersions(_mul, {1: "1.5.0", 2: "1.14.0", 3: "1.15.0", 4: "2.3.0", 7: "2.13.0"}),
    B.MEAN: OpVersions(_by_type(2, 3), {1: "1.6.0", 2: "1.14.0", 3: "2.4.0"}),
    B.RSQRT: OpVersions(_by_type(2, 3), {1: "1.10.0", 2: "2.5.0", 3: "2.15.0"}),
    B.RELU: OpVersions(_by_type(2, 3), {1: "1.5.0", 2: "2.1.0", 3: "2.5.0"}),
    B.LEAKY_RELU: OpVersions(_by_type(1, 2), {1: "1.13.1", 2: "2.3.0"}),
    B.PRELU: OpVersions(_v1, {1: "1.8.0"}),  # op_version.cc has no PRELU case: version 1 for every type
    B.LOGISTIC: OpVersions(_tanh_logistic, {1: "1.14.0", 2: "1.14.0", 3: "2.3.0"}),
    B.TANH: OpVersions(_tanh_logistic, {1: "1.14.0", 2: "1.14.0", 3: "2.3.0"}),
    B.SOFTMAX: OpVersions(_by_type(2, 3), {1: "1.5.0", 2: "1.14.0", 3: "2.3.0"}),
    B.FULLY_CONNECTED: OpVersions(_fully_connected, {1: "1.5.0", 4: "1.14.0", 5: "2.0.0", 6: "2.1.0"}),
    B.BATCH_MATMUL: OpVersions(_batch_matmul, {1: "2.3.0", 2: "2.3.0", 3: "2.4.0"}),
    B.CONCATENATION: OpVersions(_by_type(2, 3, "inputs"), {1: "1.5.0", 2: "1.14.0", 3: "2.3.0"}),
    B.PAD: OpVersions(_pad, {1: "1.5.0", 2: "1.14.0", 3: "2.4.0", 4: "2.6.0"}),
    B.PADV2: OpVersions(_pad,  # the same rule (bool / float8 aside: not written)
                         {1: "1.9.0", 2: "1.14.0", 3: "2.4.0", 4: "2.6.0"}),
    B.MIRROR_PAD: OpVersions(_by_type(2, 3), {1: "1.13.1", 2: "2.3.0", 3: "2.12.0"}),
    B.RESIZE_NEAREST_NEIGHBOR: OpVersions(_resize, {1: "1.13.1", 2: "1.14.0", 3: "2.3.0", 4: "2.4.0"}),
    B.RESIZE_BILINEAR: OpVersions(_resize, {1: "1.7.0", 2: "1.14.0", 3: "2.2.0", 4: "2.5.0"}),
    B.TRANSPOSE: OpVersions(_transpose, {1: "1.6.0", 2: "1.14.0", 4: "2.3.0", 5: "2.4.0", 6: "2.12.0"}),
    B.STRIDED_SLICE: OpVersions(_strided_slice, {1: "1.6.0", 2: "1.14.0", 4: "2.2.0", 6: "2.6.0", 8: "2.14.0"}),
    B.RESHAPE: OpVersions(_v1, {1: "1.5.0"}),
    B.REVERSE_V2: OpVersions(_reverse_v2, {1: "1.14.0", 3: "2.5.0"}, _reverse_v2_floor),
    B.UNIDIRECTIONAL_SEQUENCE_LSTM: OpVersions(_lstm, {1: "1.13.1"}, _lstm_floor),
    B.QUANTIZE: OpVersions(_quantize, {1: "1.14.0", 2: "1.15.0", 3: "2.7.0"}, _quantize_floor),
    B.DEQUANTIZE: OpVersions(_dequantize, {1: "1.13.1", 2: "1.14.0", 3: "1.15.0", 5: "2.7.0"}),
    B.CAST: OpVersions(_cast, {1: "1.5.0", 3: "2.8.0"}),
    B.MAXIMUM: OpVersions(_min_max, {1: "1.14.0", 2: "1.14.0", 3: "2.3.0", 4: "2.3.0"}),
    B.MINIMUM: OpVersions(_min_max, {1: "1.14.0", 2: "1.14.0", 3: "2.3.0", 4: "2.3.0"}),
    B.FLOOR: OpVersions(_v1, {1: "1.9.0"}),
    B.RIGHT_SHIFT: OpVersions(_v1, {1: "2.13.0"}),
    B.BITWISE_XOR: OpVersions(_v1, {1: "2.13.0"}),
}


def _name(code: int) -> str:
    from fqss_edge.export.tflite.builder import operator_name

    return operator_name(code)


def stamp(sig: OpSignature) -> tuple[int, str]:
    """(version, reason) of one operator. Raises for a builtin without an entry in ``TABLE``, or a rule giving a
    version without a known runtime."""
    entry = TABLE.get(sig.code)
    if entry is None:
        raise FqssError(f"TFLite export: builtin {_name(sig.code)} has no entry in export/tflite/versions.py TABLE "
                        "(add its version rule and runtimes before writing it)")
    version, reason = entry.rule(sig)
    if version not in entry.runtimes:
        raise FqssError(f"TFLite export: {_name(sig.code)} version {version} ({reason}) has no runtime in "
                        "export/tflite/versions.py TABLE")
    return version, reason


def parse_version(v: str) -> tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in v.strip().split("."))
    except ValueError:
        raise FqssError(f"not a runtime version: {v!r} (expected e.g. 2.14)") from None
    if not parts or len(parts) > 3:
        raise FqssError(f"not a runtime version: {v!r} (expected e.g. 2.14)")
    return parts + (0,) * (3 - len(parts))


def needs(sig: OpSignature, version: int) -> tuple[str, str] | None:
    """(first runtime, why) for one operator written at ``version``: the version's runtime, or the kernel floor
    when that is newer. None for a builtin or version outside the table (as TensorFlow's
    ``UpdateMinimumRuntimeVersionForModel`` skips them)."""
    entry = TABLE.get(sig.code)
    if entry is None or version not in entry.runtimes:
        return None
    best = (entry.runtimes[version], f"{_name(sig.code)} v{version}")
    floor = entry.floor(sig) if entry.floor is not None else None
    if floor is not None and parse_version(floor[0]) > parse_version(best[0]):
        best = (floor[0], f"{_name(sig.code)} v{version} ({floor[1]})")
    return best


def min_runtime(ops: Sequence[tuple[OpSignature, int]]) -> tuple[str, list[str]]:
    """The newest runtime the operators ``(signature, written version)`` need, and the operators that need it."""
    need: dict[str, set[str]] = {}
    for sig, version in ops:
        n = needs(sig, version)
        if n is not None:
            need.setdefault(n[0], set()).add(n[1])
    if not need:
        return "", []
    newest = max(need, key=parse_version)
    return newest, sorted(need[newest])


def check_runtime(ops: Sequence[tuple[OpSignature, int]], target: str) -> None:
    """Raise (one line, naming the operators) if an operator needs a runtime newer than ``target``."""
    want = parse_version(target)
    too_new = sorted({f"{n[1]} needs {n[0]}" for sig, v in ops
                      if (n := needs(sig, v)) is not None and parse_version(n[0]) > want})
    if too_new:
        raise FqssError(f"TFLite export: the model cannot be written for runtime {target}: {'; '.join(too_new)}")


@dataclass(frozen=True)
class _FileTensor:
    dtype: np.dtype
    shape: tuple[int, ...]
    quant: object | None


def file_ops(buf: bytes) -> list[tuple[OpSignature, int]]:
    """``(signature, written version)`` of every builtin operator of a ``.tflite`` flatbuffer."""
    from fqss_edge.export.tflite.builder import NUMPY_TYPES, Quant

    model = schema.ModelT.InitFromPackedBuf(buf, 0)

    def tensor(t: schema.TensorT) -> _FileTensor:
        q = t.quantization
        quant = None
        if q is not None and q.scale is not None and len(q.scale):
            quant = Quant.make(q.scale, q.zeroPoint if q.zeroPoint is not None else 0, q.quantizedDimension)
        return _FileTensor(NUMPY_TYPES.get(t.type, np.dtype(np.uint8)), tuple(t.shape if t.shape is not None else ()),
                           quant)

    ops = []
    for sg in model.subgraphs or []:
        ts = [tensor(t) for t in sg.tensors or []]
        for o in sg.operators or []:
            oc = model.operatorCodes[o.opcodeIndex]
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            ins = tuple(None if i < 0 else ts[i] for i in (o.inputs if o.inputs is not None else []))
            outs = tuple(ts[i] for i in (o.outputs if o.outputs is not None else []))
            ops.append((OpSignature(code, ins, outs, o.builtinOptions), oc.version))
    return ops
