"""ModelBuilder packing: quantization vectors are stored once and round-trip bit for bit.

(Every converter and end-to-end test loads files packed this way in LiteRT.)
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator, ModelBuilder, Quant

_ZERO_POINT_FIELD = 10  # QuantizationParameters.zero_point (vtable offset of the 4th field)
_SCALE_FIELD = 8


def _weights_model(n_weights: int, channels: int) -> tuple[bytes, list[np.ndarray]]:
    """``n_weights`` per-channel int8 constants (distinct scales, zero points all 0); packed, not run."""
    b = ModelBuilder()
    rng = np.random.default_rng(0)
    x = b.tensor("x", (1, channels), np.int8, Quant.make(0.02, 0))
    scales = []
    for i in range(n_weights):
        s = rng.uniform(1e-3, 1e-2, channels).astype(np.float32)
        scales.append(s)
        w = b.const(f"w{i}", rng.integers(-127, 128, (1, channels), dtype=np.int8), Quant.make(s, 0, axis=1))
        y = b.tensor(f"y{i}", (1, channels), np.int8, Quant.make(0.05, 0))
        b.op(BuiltinOperator.ADD, [x, w], [y])
    return b.build([x], [y]), scales


def _vector_position(tensor: schema.Tensor, field: int) -> int:
    tab = tensor.Quantization()._tab
    return tab.Vector(tab.Offset(field))


def test_identical_zero_point_vectors_are_stored_once() -> None:
    data, scales = _weights_model(n_weights=6, channels=512)
    sg = schema.Model.GetRootAs(data, 0).Subgraphs(0)
    weights = [sg.Tensors(i) for i in range(sg.TensorsLength()) if sg.Tensors(i).Name().startswith(b"w")]
    assert len(weights) == 6
    assert len({_vector_position(t, _ZERO_POINT_FIELD) for t in weights}) == 1  # one shared int64[512] of zeros
    assert len({_vector_position(t, _SCALE_FIELD) for t in weights}) == 6  # distinct scales stay distinct
    for t, s in zip(weights, scales):
        q = t.Quantization()
        assert q.ScaleAsNumpy().tobytes() == s.tobytes()  # bit for bit
        assert np.array_equal(q.ZeroPointAsNumpy(), np.zeros(512, np.int64))
        assert q.QuantizedDimension() == 1
    # six unshared zero-point vectors would take 6 x 512 x 8 bytes; shared, the file is well below that overhead
    unshared_zero_points = 6 * 512 * 8
    payload = 6 * 512 + 6 * 512 * 4  # weight bytes + scales
    assert len(data) < payload + unshared_zero_points / 2

