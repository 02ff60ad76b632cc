"""One quantized layer at a time: export it with its emitter, run onnxruntime (optimisation off and all) and
compare with the PyTorch simulation in LSBs of the layer's own output quantizer (<= 1 LSB)."""

from __future__ import annotations

import contextlib

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from fqss_edge.export.onnx.exporter import check_onnx, make_model
from fqss_edge.export.onnx.expected import expected_from_model
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.metadata import island_props
from fqss_edge.export.onnx.registry import emit
from fqss_edge.export.onnx.verify import check_qdq_graph
from fqss_edge.quant.layers import (InputQuant, InputSplitter, QAdd, QConcat, QConv1d, QConvTranspose1d,
                                    QGlobalLayerNorm, QLayerNorm, QMatMul, QMul, QPad, QPositionalEncoding, QPReLU,
                                    QReLU, QSigmoid, QSlice, QSoftmax, QSub, QTanh, ResidualOutput)
from fqss_edge.quant.layers.activations import leaky_parts
from fqss_edge.quant.layers.io import BYTE_SCALE
from fqss_edge.quant.spec import QuantSpec
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=2)
T = 96


class OneLayer(nn.Module):
    """Input quantizers (one per input; none for the splitter) -> the layer under test."""

    def __init__(self, layer: nn.Module, shapes: list[tuple[int, ...]], raw_input: bool = False,
                 extra: nn.Module | None = None):
        super().__init__()
        self.shapes = shapes
        self.raw_input = raw_input
        self.inputs = nn.ModuleList([] if raw_input else [InputQuant(SPEC) for _ in shapes])
        self.layer = layer
        self.extra = extra  # registers modules the layer shares (the FQSS decoder)

    def forward(self, *xs: torch.Tensor):
        qs = xs if self.raw_input else [q(x) for q, x in zip(self.inputs, xs)]
        return self.layer(*qs)


def _inputs(shapes: list[tuple[int, ...]], seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(s, generator=g) * 1.8 - 0.9 for s in shapes]


def _calibrated(model: OneLayer) -> OneLayer:
    with torch.no_grad(), contextlib.ExitStack() as stack:
        stack.enter_context(observation(model))
        for k in range(2):
            model(*_inputs(model.shapes, k))
    return model.eval()


def _export(model: OneLayer, out_shape: tuple[int, ...]):
    b = GraphBuilder(True, module_names={id(m): n for n, m in model.named_modules()})
    names = [f"x{i}" for i in range(len(model.shapes))]
    refs = [TensorRef(n) for n in names] if model.raw_input else [
        emit(b, q, f"inputs.{i}", TensorRef(n)) for i, (q, n) in enumerate(zip(model.inputs, names))]
    out = emit(b, model.layer, "layer", *refs)
    elem = {None: TensorProto.FLOAT, 8: TensorProto.INT8, 16: TensorProto.INT16}[out.qparams and out.qparams.bits]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in zip(names, model.shapes)]
    proto = make_model(b, inputs, [helper.make_tensor_value_info(out.name, elem, list(out_shape))], island_props(b))
    return check_onnx(proto, "one-layer"), out


def _run_ort(proto, feeds: dict[str, np.ndarray], level: ort.GraphOptimizationLevel) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def _residual_case() -> OneLayer:
    dec = QConvTranspose1d(8, 1, 16, 8, bias=False, spec=SPEC, out_quant=SPEC.fixed(BYTE_SCALE, 0))
    return OneLayer(ResidualOutput(dec, SPEC), [(2, 8, T // 8 - 1)], extra=dec)


def _gln(spec: QuantSpec = SPEC, cls: type[QGlobalLayerNorm] = QGlobalLayerNorm) -> QGlobalLayerNorm:
    m = cls(6, spec)
    with torch.no_grad():
        m.gamma.copy_(torch.linspace(0.5, 1.5, 6))
        m.beta.copy_(torch.linspace(-0.2, 0.3, 6))
    return m


CASES = {
    "QConv1d-1x1-bias": lambda: OneLayer(QConv1d(4, 6, 1, spec=SPEC), [(1, 4, T)]),
    "QConv1d-strided-encoder": lambda: OneLayer(QConv1d(2, 8, 16, 8, bias=False, spec=SPEC), [(1, 2, T)]),
    "QConv1d-depthwise-dilated": lambda: OneLayer(QConv1d(6, 6, 3, padding=4, dilation=4, groups=6, spec=SPEC),
                                                 [(1, 6, T)]),
    "QConvTranspose1d": lambda: OneLayer(QConvTranspose1d(8, 1, 16, 8, spec=SPEC), [(2, 8, T // 8 - 1)]),
    "QPReLU": lambda: OneLayer(QPReLU(spec=SPEC), [(1, 4, T)]),
    "QReLU": lambda: OneLayer(QReLU(SPEC), [(1, 4, T)]),
    "QSigmoid": lambda: OneLayer(QSigmoid(SPEC), [(1, 4, T)]),
    "QTanh": lambda: OneLayer(QTanh(SPEC), [(1, 4, T)]),
    "QGlobalLayerNorm": lambda: OneLayer(_gln(), [(1, 6, T)]),
    "QGlobalLayerNorm-int16-stats": lambda: OneLayer(_gln(QuantSpec(calib_batches=2, norm_bits=16)), [(1, 6, T)]),
    "QLayerNorm": lambda: OneLayer(_gln(cls=QLayerNorm), [(1, 6, T)]),
    "QLayerNorm-int16-stats": lambda: OneLayer(_gln(QuantSpec(calib_batches=2, norm_bits=16), QLayerNorm),
                                               [(1, 6, T)]),
    "QMatMul": lambda: OneLayer(QMatMul(SPEC), [(2, 5, 7), (2, 7, 9)]),
    "QSoftmax": lambda: OneLayer(QSoftmax(SPEC), [(2, 9, 7)]),
    "QPositionalEncoding": lambda: OneLayer(QPositionalEncoding(6, SPEC, length=T), [(3, 6, T)]),
    "QPositionalEncoding-any-length": lambda: OneLayer(QPositionalEncoding(6, SPEC), [(3, 6, T)]),
    "QPad": lambda: OneLayer(QPad(3, 5), [(1, 4, T)]),
    "QSlice-tail": lambda: OneLayer(QSlice(2, 0, -6), [(1, 4, T)]),
    "QSlice-rank4": lambda: OneLayer(QSlice(3, 4, None), [(1, 4, 3, 8)]),
    "QSlice-decimate": lambda: OneLayer(QSlice(2, 0, None, 2), [(1, 4, T)]),
    "QConcat-requantize": lambda: OneLayer(QConcat(1, out_quant=SPEC.act()), [(1, 4, T), (1, 3, T)]),
    "QConv1d-strided-same": lambda: OneLayer(QConv1d(4, 8, 4, 2, padding=1, bias=False, spec=SPEC), [(1, 4, T)]),
    "QConv1d-depthwise-multiplier-2": lambda: OneLayer(QConv1d(4, 8, 2, groups=4, bias=False, spec=SPEC),
                                                       [(1, 4, T)]),
    "QAdd": lambda: OneLayer(QAdd(SPEC), [(1, 4, T), (1, 4, T)]),
    "QSub": lambda: OneLayer(QSub(SPEC), [(1, 4, T), (1, 4, T)]),
    "QMul-broadcast": lambda: OneLayer(QMul(SPEC), [(1, 1, 4, T), (1, 2, 4, T)]),
    "InputSplitter": lambda: OneLayer(InputSplitter(SPEC), [(1, 1, T)], raw_input=True),
    "ResidualOutput": _residual_case,
}
LEVELS = {"opt-off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "opt-all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


@pytest.mark.parametrize("level", list(LEVELS.values()), ids=list(LEVELS))
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_layer_matches_simulation_within_1_lsb(case, level):
    torch.manual_seed(0)
    model = _calibrated(CASES[case]())
    xs = _inputs(model.shapes, seed=7)
    with torch.no_grad():
        y = model(*xs)
    proto, out = _export(model, tuple(getattr(y, "value", y).shape))
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    got = _run_ort(proto, {f"x{i}": x.numpy() for i, x in enumerate(xs)}, level)
    if out.qparams is None:  # ResidualOutput: the float 16-bit PCM output
        diff = np.abs(got.astype(np.float64) - y.numpy()) * 32768
    else:
        diff = np.abs(got.astype(np.int64) - y.int_repr().numpy())
    assert diff.max() <= 1, f"{case}: {out.name} off by up to {diff.max()} LSB ({(diff > 0).mean():.2%} of values)"


@pytest.mark.parametrize("alpha", [0.1, -0.3, 1.4])
def test_int8_prelu_is_relu_plus_negative_side_with_the_checkpoint_slope(alpha):
    """relu(x) + Q_neg(alpha x): x requantized to zero point -128, Mul by the int8 slope constant, Add; the two
    sides' parameters derived from the input's quantization (checked by the verifier from the graph: a Q with other
    parameters is refused)."""
    model = _calibrated(OneLayer(QPReLU(init=alpha, spec=SPEC), [(1, 4, T)]))
    proto, _ = _export(model, (1, 4, T))
    ops = [n.op_type for n in proto.graph.node]
    assert "LeakyRelu" not in ops and ops.count("Mul") == 1 and ops.count("Add") == 1
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    a = inits["layer.alpha"].astype(np.float32) * inits["layer.alpha.scale"]
    assert abs(float(a[0]) - np.float32(alpha)) <= 1e-6
    expected = expected_from_model(model)
    assert check_qdq_graph(proto, expected) == []
    x_scale, x_zp = model.inputs[0].out_quant.export_qparams()
    for tensor, scale in (("layer.negative_side", leaky_parts(x_scale, x_zp, float(np.float32(alpha))).scale),
                          ("layer.positive_side", x_scale)):
        q = next(n for n in proto.graph.node if n.op_type == "QuantizeLinear" and n.output[0] == tensor)
        init = next(i for i in proto.graph.initializer if i.name == q.input[1])
        assert numpy_helper.to_array(init) == np.float32(scale)
        init.CopyFrom(numpy_helper.from_array(np.array(np.float32(scale) * 1.001, np.float32), q.input[1]))
        assert [i.tensor for i in check_qdq_graph(proto, expected)] == [tensor]  # not derived from x: refused
        init.CopyFrom(numpy_helper.from_array(np.array(np.float32(scale), np.float32), q.input[1]))


def test_float_prelu_is_leaky_relu_with_float32_slope():
    model = OneLayer(QPReLU(init=0.1, spec=QuantSpec(enabled=False)), [(1, 4, T)])
    b = GraphBuilder(False, module_names={id(m): n for n, m in model.named_modules()})
    emit(b, model.layer, "layer", TensorRef("x0"))
    (node,) = [n for n in b.nodes if n.op_type == "LeakyRelu"]
    assert node.attribute[0].f == np.float32(0.1)


def test_every_quantized_layer_has_an_emitter():
    """Every layer class ``fqss_edge.quant.layers`` exports is a leaf of the traced graph: it needs an emitter."""
    from fqss_edge.export.onnx.registry import supported
    from fqss_edge.quant import layers

    classes = [getattr(layers, n) for n in layers.__all__]
    modules = [c.__name__ for c in classes if isinstance(c, type) and issubclass(c, nn.Module)]
    assert "QConv1d" in modules and "ResidualOutput" in modules
    assert [c for c in modules if c not in supported()] == []


def test_unknown_module_fails_loudly_with_its_name():
    from fqss_edge.errors import FqssError

    b = GraphBuilder(True)
    with pytest.raises(FqssError, match=r"no emitter for Linear \(masker.oops\)"):
        emit(b, nn.Linear(2, 2), "masker.oops", TensorRef("x"))
