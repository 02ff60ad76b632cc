"""``fqss-edge convert``: ONNX models from other quantizers -> .tflite, checked against onnxruntime.

Small torch models (Conv1d, PReLU with one slope and per channel, ConvTranspose1d, cat, softmax) are exported to
float ONNX and quantized with onnxruntime's ``quantize_static`` (QDQ, per-channel int8 weights, QInt8 and QUInt8
activations), converted, and run: the integer reference == LiteRT BUILTIN_REF on every tensor, and LiteRT REF vs
onnxruntime as whole-model SNR and max LSB (printed; ``-s`` shows them). The float ONNX converts to a float32
.tflite that matches onnxruntime to float rounding. Unsupported graphs: one line naming every such node, exit 2,
nothing written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fqss_edge.cli.main import main
from fqss_edge.errors import FqssError
from fqss_edge.export.convert import convert_onnx
from fqss_edge.export.tflite.reference import ReferenceModel

T = 400  # samples of the test input (stride-8 models)
ASSETS = Path(__file__).parents[1] / "assets"
BREVITAS = ASSETS / "brevitas" / "qcdq_conv.onnx"  # Brevitas export_onnx_qcdq (make_qcdq_conv.py beside it)
PT2E = ASSETS / "pt2e" / "conv_relu.onnx"  # PyTorch PT2E (torchao) -> ONNX (make_conv_relu.py beside it)


class ConvPrelu(torch.nn.Module):
    """encoder conv -> PReLU (one slope) -> conv -> PReLU (per channel) -> transposed-conv decoder."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 8, 16, stride=8, bias=False)
        self.p1 = torch.nn.PReLU()
        self.c2 = torch.nn.Conv1d(8, 8, 3, padding=1)
        self.p2 = torch.nn.PReLU(8)
        self.dec = torch.nn.ConvTranspose1d(8, 1, 16, stride=8)
        with torch.no_grad():
            self.p2.weight.copy_(torch.linspace(-0.2, 0.5, 8))

    def forward(self, x):
        return self.dec(self.p2(self.c2(self.p1(self.enc(x)))))


class ConcatSoftmax(torch.nn.Module):
    """two conv branches concatenated (differing scales: requantized) -> channel softmax -> conv -> decoder."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 6, 16, stride=8)
        self.a = torch.nn.Conv1d(6, 4, 1)
        self.b = torch.nn.Conv1d(6, 4, 3, padding=1)
        self.mix = torch.nn.Conv1d(8, 6, 1)
        self.p = torch.nn.PReLU(6)
        self.dec = torch.nn.ConvTranspose1d(6, 2, 16, stride=8)
        with torch.no_grad():
            self.b.weight.mul_(3)  # a wider range than branch a: Concat requantizes one input

    def forward(self, x):
        e = torch.relu(self.enc(x))
        m = torch.softmax(torch.cat([self.a(e), self.b(e)], dim=1), dim=1)
        return self.dec(self.p(self.mix(m)))


class PreluLinear(torch.nn.Module):
    """encoder -> PReLU -> Linear over channels ([B, T, C]: transposes around it; quantize_static leaves the
    PReLU's output float up to the Transpose and quantizes after it) -> softmax gate -> decoder."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 8, 16, stride=8)
        self.p = torch.nn.PReLU(8)
        self.lin = torch.nn.Linear(8, 8)
        self.dec = torch.nn.ConvTranspose1d(8, 2, 16, stride=8)

    def forward(self, x):
        h = self.p(self.enc(x))
        h = self.lin(h.transpose(1, 2)).transpose(1, 2)
        return self.dec(torch.softmax(h, 1) * h)


class GemmGate(torch.nn.Module):
    """encoder -> PReLU -> a channel gate from the time mean (Linear on [B, C]: a Gemm) -> decoder."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 8, 16, stride=8)
        self.p = torch.nn.PReLU()
        self.gate = torch.nn.Linear(8, 8)
        self.dec = torch.nn.ConvTranspose1d(8, 2, 16, stride=8)

    def forward(self, x):
        h = self.p(self.enc(x))
        g = torch.sigmoid(self.gate(h.mean(dim=2, keepdim=True).squeeze(2)))
        return self.dec(h * g.unsqueeze(2))


class ScalarGain(torch.nn.Module):
    """encoder -> ReLU -> 3 * x (quantize_static quantizes the scalar with a QuantizeLinear on a Constant: folded
    by the converter) -> decoder."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 4, 16, stride=8)
        self.dec = torch.nn.ConvTranspose1d(4, 1, 16, stride=8)

    def forward(self, x):
        return self.dec(3 * torch.relu(self.enc(x)))


MODELS = {"conv_prelu": ConvPrelu, "concat_softmax": ConcatSoftmax, "prelu_linear": PreluLinear,
          "gemm_gate": GemmGate, "scalar_gain": ScalarGain}


def _inputs(n: int, seed: int) -> list[np.ndarray]:
    g = np.random.default_rng(seed)
    return [(g.standard_normal((1, 1, T)) * 0.3).astype(np.float32) for _ in range(n)]


def float_onnx(arch: str, path) -> None:
    torch.manual_seed(0)
    model = MODELS[arch]().eval()
    torch.onnx.export(model, (torch.from_numpy(_inputs(1, 0)[0]),), str(path), input_names=["mixture"],
                      output_names=["sources"], dynamic_axes={"mixture": {2: "T"}, "sources": {2: "T"}},
                      opset_version=17, dynamo=False)


def quantize(src, dst, activations: str, weights: str = "QInt8") -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"mixture": x} for x in _inputs(4, 1))

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=getattr(QuantType, activations), weight_type=getattr(QuantType, weights))


def run_ort(path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the QDQ graph's own semantics
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"mixture": x})[0]


def run_litert(path, x: np.ndarray, kernels=OpResolverType.BUILTIN_REF, keep: bool = False):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=kernels, num_threads=1,
                     experimental_preserve_all_tensors=keep)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], list(x.shape), strict=False)
    it.allocate_tensors()
    it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]), it


def output_scale(path) -> float:
    """The scale of the QDQ model's output (the last DequantizeLinear)."""
    m = onnx.load(str(path))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] not in inits][-1]
    return float(inits[dq.input[1]])


def snr_db(want: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(want.astype(np.float64) ** 2) / max(np.sum((want - got) ** 2.0), 1e-30)))


@pytest.mark.parametrize("activations", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("arch", list(MODELS))
def test_quantize_static_model_converts_and_matches_onnxruntime(tmp_path, arch, activations):
    float_onnx(arch, tmp_path / "f.onnx")
    quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", activations)
    meta = convert_onnx(tmp_path / "q.onnx", tmp_path / "q.tflite")
    assert meta["precision"] == "int8" and meta["contract"] == "plain" and meta["io"] == "float32"
    assert [t["name"] for t in meta["inputs"]] == ["mixture"] and [t["name"] for t in meta["outputs"]] == ["sources"]
    snr, lsb, compared = compare_with_onnxruntime(tmp_path / "q.onnx", tmp_path / "q.tflite")
    print(f"\n{arch} {activations}: LiteRT REF vs onnxruntime: SNR {snr:.1f} dB, max {lsb} LSB ({compared} tensors "
          "reference == REF)")
    assert snr > 30 and lsb <= 4, f"{arch} {activations}: SNR {snr:.1f} dB, {lsb} LSB"


@pytest.mark.parametrize("path", [BREVITAS, PT2E], ids=["brevitas_qcdq", "pt2e"])
def test_other_quantizers_exports_convert_and_match_onnxruntime(tmp_path, path):
    """Brevitas' ``export_onnx_qcdq`` (weights as Clip(int8 codes) -> DQ, folded by the converter) and PT2E (float
    biases, quantized by the converter; Conv -> Relu -> Q, fused)."""
    meta = convert_onnx(path, tmp_path / "m.tflite")
    assert meta["precision"] == "int8" and meta["outputs"][0]["shape"][:2] == [1, 8]
    snr, lsb, compared = compare_with_onnxruntime(path, tmp_path / "m.tflite")
    print(f"\n{path.parent.name}: LiteRT REF vs onnxruntime: SNR {snr:.1f} dB, max {lsb} LSB ({compared} tensors)")
    assert lsb <= 1, f"SNR {snr:.1f} dB, {lsb} LSB"


def compare_with_onnxruntime(onnx_path, tflite_path) -> tuple[float, int, int]:
    """(SNR dB, max output LSB) of LiteRT REF against onnxruntime on a seeded input, and how many tensors the
    integer reference matched LiteRT REF on exactly (asserted: every tensor they share)."""
    x = _inputs(1, 7)[0]
    want = run_ort(onnx_path, x)
    got, it = run_litert(tflite_path, x, keep=True)
    assert got.shape == want.shape
    _, ours = ReferenceModel.from_file(tflite_path).run(x, keep=True)
    compared = 0
    for t in it.get_tensor_details():
        if t["name"] in ours:
            assert np.array_equal(np.asarray(ours[t["name"]]), it.get_tensor(t["index"])), t["name"]
            compared += 1
    assert compared >= 8
    return snr_db(want, got), int(np.abs(np.round((got - want) / output_scale(onnx_path))).max()), compared


@pytest.mark.parametrize("arch", list(MODELS))
def test_float_onnx_converts_to_float32_tflite(tmp_path, arch):
    float_onnx(arch, tmp_path / "f.onnx")
    meta = convert_onnx(tmp_path / "f.onnx", tmp_path / "f.tflite")
    assert meta["precision"] == "float32" and meta["contract"] == "plain"
    x = _inputs(1, 3)[0]
    want = run_ort(tmp_path / "f.onnx", x)
    got, _ = run_litert(tmp_path / "f.tflite", x, OpResolverType.AUTO)
    assert got.shape == want.shape
    assert snr_db(want, got) > 100, snr_db(want, got)


def test_quantized_io_exposes_the_int8_tensors_with_their_own_names(tmp_path):
    float_onnx("conv_prelu", tmp_path / "f.onnx")
    quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", "QUInt8")
    meta = convert_onnx(tmp_path / "q.onnx", tmp_path / "q.tflite", io="quantized", length=T)
    assert meta["inputs"][0]["dtype"] == "int8" and meta["inputs"][0]["shape"] == [1, 1, T]
    m = onnx.load(str(tmp_path / "q.onnx"))
    zp_u8 = {i.name: int(onnx.numpy_helper.to_array(i)) for i in m.graph.initializer if i.name == "mixture_zero_point"}
    assert meta["inputs"][0]["zero_point"] == zp_u8["mixture_zero_point"] - 128  # the uint8 grid as int8


def test_symmetric_uint8_weights_are_the_int8_grid(tmp_path):
    """quantize_static's QUInt8 weights are symmetric around 128 by default: exactly int8 codes, converted."""
    float_onnx("conv_prelu", tmp_path / "f.onnx")
    quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", "QUInt8", weights="QUInt8")
    convert_onnx(tmp_path / "q.onnx", tmp_path / "q.tflite")
    x = _inputs(1, 5)[0]
    want, (got, _) = run_ort(tmp_path / "q.onnx", x), run_litert(tmp_path / "q.tflite", x)
    assert snr_db(want, got) > 30


def test_asymmetric_uint8_weights_are_refused_in_one_line(tmp_path, capsys):
    """uint8 weights with zero points other than 128 (an asymmetric quantizer's; quantize_static's per-channel
    QUInt8 weights are symmetric even with WeightSymmetric=False, so the zero points are edited here)."""
    float_onnx("conv_prelu", tmp_path / "f.onnx")
    quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", "QUInt8", weights="QUInt8")
    m = onnx.load(str(tmp_path / "q.onnx"))
    zp = next(i for i in m.graph.initializer if i.name == "c2.weight_zero_point")
    zp.CopyFrom(onnx.numpy_helper.from_array(np.full(8, 131, np.uint8), zp.name))
    onnx.save(m, str(tmp_path / "q.onnx"))
    rc = main(["convert", str(tmp_path / "q.onnx"), "-o", str(tmp_path / "q.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "uint8 weights with a zero point other than 128" in err, err
    assert not (tmp_path / "q.tflite").exists()


def _unsupported_model(path) -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16])
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="odd/erf"), helper.make_node("Relu", ["a"], ["b"], name="ok"),
             helper.make_node("HardSwish", ["b"], ["y"], name="odd/hswish")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, str(path))


def test_unsupported_nodes_are_named_in_one_line_and_nothing_is_written(tmp_path, capsys):
    _unsupported_model(tmp_path / "u.onnx")
    rc = main(["convert", str(tmp_path / "u.onnx"), "-o", str(tmp_path / "u.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "'odd/erf' (Erf)" in err and "'odd/hswish' (HardSwish)" in err and "'ok'" not in err
    assert not (tmp_path / "u.tflite").exists() and list(tmp_path.iterdir()) == [tmp_path / "u.onnx"]


def test_cli_convert_and_info_show_the_plain_contract(tmp_path, capsys):
    float_onnx("conv_prelu", tmp_path / "f.onnx")
    quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", "QInt8")
    assert main(["convert", str(tmp_path / "q.onnx"), "-o", str(tmp_path / "q.tflite")]) == 0
    assert "int8, I/O float32" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "q.tflite")]) == 0
    out = capsys.readouterr().out
    assert "plain tensors" in out and "mixture float32 [1, 1, -1]" in out and "sources float32 [1, 1, -1]" in out
    assert main(["convert", str(tmp_path / "q.onnx"), "-o", str(tmp_path / "p.tflite"), "--io", "int16"]) == 2
    assert not (tmp_path / "p.tflite").exists()


@pytest.mark.parametrize("kind", ["int8", "float"])
def test_an_fqss_export_converts_to_the_same_tflite_as_export(tmp_path, kind):
    """Our own graphs keep their contract (int16 PCM for int8, the float32 waveform for float): convert writes
    the bytes ``export`` writes."""
    from fqss_edge.export.bundle import export_bundle
    from fqss_edge.parity.synthetic import FQSS_QUANT, save_random_checkpoint

    quant = FQSS_QUANT if kind == "int8" else {"enabled": False}
    ckpt = save_random_checkpoint(tmp_path / "c.safetensors", quant_cfg=quant)
    export_bundle(ckpt, tmp_path / "exp", target="tflite")  # the contract graph the .tflite is written from
    meta = convert_onnx(tmp_path / "exp" / "model.onnx", tmp_path / "c.tflite")
    io = "int16" if kind == "int8" else "float32"
    assert "contract" not in meta and meta["io"] == io and meta["input"]["dtype"] == io
    assert (tmp_path / "c.tflite").read_bytes() == (tmp_path / "exp" / "model.tflite").read_bytes()
    if kind == "int8":  # the default .onnx is onnxruntime's flavour: refused in one line, nothing written
        export_bundle(ckpt, tmp_path / "ort", formats=("onnx",))
        with pytest.raises(FqssError, match="onnxruntime flavour of an fqss-edge export"):
            convert_onnx(tmp_path / "ort" / "model.onnx", tmp_path / "ort.tflite")
        assert not (tmp_path / "ort.tflite").exists()


def test_two_inputs_and_two_outputs_keep_their_names(tmp_path):
    """Plain I/O: every graph input and output, by its own name and shape (onnx.helper QDQ graph; a symbolic
    batch is 1, --length fixes T)."""
    from onnx import TensorProto, helper

    def c(name, v, dt):
        return onnx.numpy_helper.from_array(np.array(v, dtype=dt), name)

    inits = [c("s", 0.05, np.float32), c("z", 0, np.int8), c("so", 0.1, np.float32), c("zo", -3, np.int8)]
    nodes = [helper.make_node("QuantizeLinear", [i, "s", "z"], [f"{i}_q"], name=f"q_{i}") for i in ("left", "right")]
    nodes += [helper.make_node("DequantizeLinear", [f"{i}_q", "s", "z"], [f"{i}_dq"], name=f"dq_{i}")
              for i in ("left", "right")]
    nodes += [helper.make_node("Add", ["left_dq", "right_dq"], ["sum"], name="add"),
              helper.make_node("QuantizeLinear", ["sum", "so", "zo"], ["sum_q"], name="q_sum"),
              helper.make_node("DequantizeLinear", ["sum_q", "so", "zo"], ["total"], name="dq_sum"),
              helper.make_node("Relu", ["left_dq"], ["r"], name="relu"),
              helper.make_node("QuantizeLinear", ["r", "s", "z"], ["r_q"], name="q_r"),
              helper.make_node("DequantizeLinear", ["r_q", "s", "z"], ["positive"], name="dq_r")]
    ins = [helper.make_tensor_value_info(i, TensorProto.FLOAT, ["N", 3, "T"]) for i in ("left", "right")]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("total", "positive")]
    m = helper.make_model(helper.make_graph(nodes, "two", ins, outs, inits),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    onnx.save(m, str(tmp_path / "two.onnx"))
    meta = convert_onnx(tmp_path / "two.onnx", tmp_path / "two.tflite", length=20)
    assert [(t["name"], t["shape"]) for t in meta["inputs"]] == [("left", [1, 3, 20]), ("right", [1, 3, 20])]
    assert [(t["name"], t["shape"]) for t in meta["outputs"]] == [("total", [1, 3, 20]), ("positive", [1, 3, 20])]

    import onnxruntime as ort

    g = np.random.default_rng(0)
    feed = {k: (g.standard_normal((1, 3, 20)) * 2).astype(np.float32) for k in ("left", "right")}
    want = dict(zip(("total", "positive"), ort.InferenceSession(str(tmp_path / "two.onnx")).run(None, feed)))
    it = Interpreter(model_path=str(tmp_path / "two.tflite"), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feed[d["name"]])
    it.invoke()
    for d in it.get_output_details():
        lsb = np.abs(it.get_tensor(d["index"]) - want[d["name"]]).max() / (0.1 if d["name"] == "total" else 0.05)
        assert lsb <= 1.0001, (d["name"], lsb)
