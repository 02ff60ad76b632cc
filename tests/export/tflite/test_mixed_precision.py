"""The .tflite side of mixed-precision plans: int4 weights stored as TensorType INT4 (packed) where LiteRT's
kernels unpack them, int8 codes elsewhere; the operator versions they need."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from op_cases import CASES

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.builder import pack_int4, unpack_int4

CONV = {c.name: c for c in CASES["Conv"]}


def _model(buf: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)


@pytest.mark.parametrize("count", [1, 2, 15, 16, 33])
def test_int4_packing_round_trips_every_code(count):
    codes = np.resize(np.arange(-8, 8, dtype=np.int8), count)
    packed = pack_int4(codes)
    assert packed.size == (count + 1) // 2
    assert np.array_equal(unpack_int4(packed, count), codes)
    first = (int(codes[0]) & 0x0F) | ((int(codes[1]) & 0x0F) << 4 if count > 1 else 0)
    assert int(packed[0]) == first  # the first code in the low nibble


@pytest.mark.parametrize("case, int4, version", [("int4_weights", True, 7), ("int4_weights_grouped", True, 7),
                                                 ("int4_weights_16x8", False, 4), ("pointwise", False, 3)])
def test_int4_weights_are_packed_only_in_int8_conv_2d(case, int4, version):
    bits = CONV[case].bits[0]
    buf, _ = convert_model(CONV[case].model(bits), io="quantized")
    m = _model(buf)
    sg = m.subgraphs[0]
    conv = next(op for op in sg.operators
                if m.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.CONV_2D)
    filt = sg.tensors[conv.inputs[1]]
    assert (filt.type == schema.TensorType.INT4) == int4
    n = int(np.prod(filt.shape))
    assert len(m.buffers[filt.buffer].data) == ((n + 1) // 2 if int4 else n)
    assert m.operatorCodes[conv.opcodeIndex].version == version


def test_int4_weights_need_runtime_2_11():
    case = CONV["int4_weights"]
    with pytest.raises(Exception, match="2.11"):
        convert_model(case.model(8), io="quantized", min_runtime="2.10")
    convert_model(case.model(8), io="quantized", min_runtime="2.11")
