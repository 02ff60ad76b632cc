"""Failures are loud and one line: corrupt inputs, unsupported patterns, the registry's rules."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from qdq_builder import QDQ

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import convert_model, export, read_tflite_metadata
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.registry import lookup, register, unregister
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.runtimes.litert_backend import LiteRtBackend


def small_model() -> onnx.ModelProto:
    b = QDQ(channels=2, length=16)
    x = b.input(0.05, 0)
    b.output(b.op("Relu", [b.dq(x)], (0.05, -128)))
    return b.model()


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all \x00\xff" * 10, "truncated"])
def test_corrupt_or_truncated_onnx(tmp_path, content):
    p = tmp_path / "bad.onnx"
    if content == "truncated":
        data = small_model().SerializeToString()
        content = data[: len(data) // 2]
    p.write_bytes(content)
    with pytest.raises(FqssError) as e:
        export(p, tmp_path / "out.tflite")
    assert str(p) in one_line(e)
    assert not (tmp_path / "out.tflite").exists()


def test_missing_onnx(tmp_path):
    with pytest.raises(FqssError, match="no such ONNX file"):
        export(tmp_path / "nope.onnx", tmp_path / "out.tflite")


def test_unsupported_op_names_the_node():
    b = QDQ(channels=2, length=16)
    x = b.input(0.05, 0)
    b.output(b.op("Erf", [b.dq(x)], (1 / 128, 0), name="masker.weird_erf"))
    with pytest.raises(FqssError) as e:
        convert_model(b.model())
    msg = one_line(e)
    assert "masker.weird_erf" in msg and "Erf" in msg


def test_float_operator_between_quantized_tensors_is_refused():
    b = QDQ(channels=2, length=16)
    x = b.input(0.05, 0)
    r = b.node("Relu", [b.dq(x)], name="float_relu")  # no QuantizeLinear behind it
    y = b.op("Relu", [r], (0.05, -128), name="next_relu")
    b.output(y)
    with pytest.raises(FqssError) as e:
        convert_model(b.model())
    assert "float_relu" in one_line(e)


def test_unsupported_pattern_in_a_supported_op():
    b = QDQ(channels=2, length=16)
    x = b.input(0.0005, 0, 16)  # int16: TFLite's int16 LOGISTIC is not converted
    b.output(b.op("Sigmoid", [b.dq(x)], (1 / 32768, 0, 16), name="bad_sigmoid"))
    with pytest.raises(FqssError, match="bad_sigmoid.*int16 is not supported"):
        convert_model(b.model())


def test_bad_io_mode():
    with pytest.raises(FqssError, match="io='int8'"):
        convert_model(small_model(), io="int8")


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        register("Relu", writes=(B.RELU,))(lambda ctx, node: None)


def test_unknown_op_lookup_names_node():
    with pytest.raises(FqssError, match="node 'n1' \\(op type Frobnicate\\)"):
        lookup("Frobnicate", "n1")


def test_new_registration_is_used_and_removable():
    register("Frobnicate", writes=(B.TANH,))(lambda ctx, node: None)
    try:
        assert lookup("Frobnicate", "x").tflite == "TANH"
    finally:
        unregister("Frobnicate")
    with pytest.raises(FqssError):
        lookup("Frobnicate", "x")


@pytest.mark.parametrize("content", [b"", b"garbage" * 20, "truncated", "no_metadata"])
def test_corrupt_tflite_to_the_backend(tmp_path, content):
    p = tmp_path / "bad.tflite"
    buf, _ = convert_model(small_model())
    if content == "truncated":
        content = buf[: len(buf) // 3]
    elif content == "no_metadata":
        content = buf.replace(b"fqss_edge", b"other_xxx")
    p.write_bytes(content)
    with pytest.raises(FqssError) as e:
        LiteRtBackend().load(p)
    assert str(p) in one_line(e)
    with pytest.raises(FqssError):
        read_tflite_metadata(p)


def test_corrupt_tflite_to_the_reference():
    with pytest.raises(FqssError):
        ReferenceModel(b"garbage" * 10)


def test_backend_options_are_checked():
    with pytest.raises(FqssError, match="kernels"):
        LiteRtBackend(kernels="gpu")
    with pytest.raises(FqssError, match="threads"):
        LiteRtBackend(threads=0)
    with pytest.raises(FqssError, match="no model loaded"):
        LiteRtBackend().run(np.zeros(10, np.float32))
