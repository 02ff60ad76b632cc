"""The operator version table (``export/tflite/versions.py``): every builtin the converters write has an entry,
the builder stamps from it (and refuses a builtin without one), the rules give TensorFlow's converter's versions,
and the minimum runtime / ``min_runtime`` check read them back from a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant, operator_name
from fqss_edge.export.tflite.registry import FLOAT32, INT8
from fqss_edge.export.tflite.versions import TABLE, OpSignature, check_runtime, file_ops, min_runtime, stamp

Q8, Q16 = Quant.make(0.02, 3), Quant.make(1 / 32768, 0)


def test_every_builtin_a_converter_writes_has_a_version_entry():
    written = {c for reg in (INT8, FLOAT32) for s in reg.specs() for c in s.writes}
    assert written - set(TABLE) == set(), [operator_name(c) for c in written - set(TABLE)]


def test_every_version_a_rule_can_give_has_a_runtime():
    for code, entry in TABLE.items():
        assert all(isinstance(v, int) and rt.count(".") == 2 for v, rt in entry.runtimes.items()), operator_name(code)


def test_the_builder_refuses_a_builtin_missing_from_the_table():
    b = ModelBuilder()
    x = b.tensor("x", (1, 4), np.float32)
    y = b.tensor("y", (1, 4), np.float32)
    b.op(B.GELU, [x], [y])
    with pytest.raises(FqssError, match="GELU has no entry in export/tflite/versions.py"):
        b.build([x], [y])


def _t(b: ModelBuilder, dtype, quant=None, shape=(1, 1, 8, 4)):
    return b.tensor("t", shape, dtype, quant)


@pytest.mark.parametrize("src,dst,quant,want", [
    (np.float32, np.int8, Q8, 1), (np.int16, np.int8, Q8, 1), (np.int8, np.int8, Q8, 1),  # int8 out: 1
    (np.float32, np.int16, Q16, 2), (np.int16, np.int16, Q16, 2),  # int16 out: 2
    (np.float32, np.int8, Quant.make([0.1, 0.2], 0, axis=3), 3),  # per-channel out: 3
])
def test_quantize_versions_follow_the_converter(src, dst, quant, want):
    b = ModelBuilder()
    sig = OpSignature(B.QUANTIZE, (_t(b, src, Q8 if src != np.float32 else None),), (_t(b, dst, quant),))
    assert stamp(sig)[0] == want


def test_versions_follow_types_options_and_inputs():
    b = ModelBuilder()
    f, i8, i16 = _t(b, np.float32), _t(b, np.int8, Q8), _t(b, np.int16, Q16)
    w8 = _t(b, np.int8, Quant.make([0.1] * 4, 0, axis=0))
    add16 = schema.AddOptionsT()
    add16.potScaleInt16 = False
    tconv = schema.TransposeConvOptionsT()
    cases = [
        (OpSignature(B.ADD, (i8, i8), (i8,), schema.AddOptionsT()), 2),
        (OpSignature(B.ADD, (i16, i16), (i16,), add16), 3),
        (OpSignature(B.LEAKY_RELU, (i8,), (i8,)), 1),
        (OpSignature(B.LEAKY_RELU, (i16,), (i16,)), 2),
        (OpSignature(B.CONV_2D, (i8, w8, None), (i8,), schema.Conv2DOptionsT()), 3),
        (OpSignature(B.TRANSPOSE_CONV, (None, w8, i8), (i8,), tconv), 2),
        (OpSignature(B.TRANSPOSE_CONV, (None, f, f, f), (f,), tconv), 3),
        (OpSignature(B.CAST, (i16,), (i8,)), 3),
        (OpSignature(B.PAD, (i16, None), (i16,)), 3),
        (OpSignature(B.STRIDED_SLICE, (i16,), (i16,), schema.StridedSliceOptionsT()), 1),
    ]
    for sig, want in cases:
        assert stamp(sig)[0] == want, (operator_name(sig.code), stamp(sig))
    tconv.fusedActivationFunction = schema.ActivationFunctionType.RELU
    assert stamp(OpSignature(B.TRANSPOSE_CONV, (None, w8, i8), (i8,), tconv)) == (4, "a fused activation")


def _requantize_model(zero_point: int) -> bytes:
    """int8 -> int16: CAST + int16 QUANTIZE with zero point 0, an int8 -> int16 QUANTIZE otherwise."""
    from fqss_edge.export.tflite.emit import quantize

    b = ModelBuilder()
    x = b.tensor("x", (1, 8), np.int8, Quant.make(0.01, zero_point))
    y = quantize(b, x, np.int16, Q16, "y")
    return b.build([x], [y])


def test_minimum_runtime_is_read_back_from_the_file():
    ops = file_ops(_requantize_model(0))
    assert [(s.code, v) for s, v in ops] == [(B.CAST, 3), (B.QUANTIZE, 2)]
    assert min_runtime(ops) == ("2.8.0", ["CAST v3"])
    check_runtime(ops, "2.14")


def test_a_runtime_too_old_for_the_model_is_a_one_line_error_naming_the_op():
    ops = file_ops(_requantize_model(-5))
    assert min_runtime(ops)[0] == "2.15.0"
    with pytest.raises(FqssError, match=r"runtime 2.14: QUANTIZE v2 \(int8 -> int16 requantization .*\) needs 2.15.0"):
        check_runtime(ops, "2.14")
    with pytest.raises(FqssError, match="not a runtime version"):
        check_runtime(ops, "latest")


@pytest.mark.parametrize("bidirectional,want,needed_by", [
    (False, "2.14.0", "UNIDIRECTIONAL_SEQUENCE_LSTM v1 (fully integer LSTM kernel"),  # measured in 2.14
    (True, "2.15.0", "REVERSE_V2 v3 (int8 (not registered in tflite-runtime 2.14))"),  # measured refused by 2.14
])
def test_integer_lstm_runtime_floors(bidirectional, want, needed_by):
    from tests.quant.test_lstm import calibrated, tflite_of

    ops = file_ops(tflite_of(calibrated(bidirectional, 0), (25, 3, 8)))
    runtime, ops_needing = min_runtime(ops)
    assert runtime == want and len(ops_needing) == 1 and ops_needing[0].startswith(needed_by), (runtime, ops_needing)


@pytest.mark.parametrize("level,message", [
    ("2.7", "runtime 2.7: CAST v3 needs 2.8.0"),  # CAST to / from int8 (the byte split either way)
    ("two", "not a runtime version: 'two'"),
])
def test_export_min_runtime_refuses_what_the_level_cannot_express(tmp_path, capsys, level, message):
    from fqss_edge.cli.main import main

    ckpt = Path(__file__).resolve().parents[3] / "fqss_edge" / "assets" / "convtasnet_tiny_fqss.safetensors"
    out = tmp_path / "out"
    assert main(["export", str(ckpt), "--int8", "-o", str(out), "--min-runtime", level]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (out / "model.tflite").exists() and not (out / "model.onnx").exists()
