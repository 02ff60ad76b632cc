"""Regenerates ``qcdq_conv.onnx``: a small Brevitas model exported with ``export_onnx_qcdq`` (the golden input of
``tests/export/test_convert.py``; Brevitas is not a dependency of fqss-edge).

Brevitas 0.13.4 with torch 2.13 needs ``onnxoptimizer`` and the TorchScript exporter (``dynamo=False``: its dynamo
path refuses quantized biases). In a scratch folder:

    pip install --target bsite --no-deps brevitas==0.13.4 dependencies==2.0.1 unfoldNd onnxoptimizer
    PYTHONPATH=bsite .venv/bin/python tests/assets/brevitas/make_qcdq_conv.py

QuantIdentity (int8) -> QuantConv1d(1->8, k16, s8, int8 per-channel weights, int32 bias, int8 output) ->
QuantReLU -> QuantConv1d(8->8, k3), calibrated on four seeded inputs. Brevitas writes each weight as
Clip(int8 codes, -127, 127) -> DequantizeLinear.
"""

from pathlib import Path

import brevitas.nn as qnn
import torch
from brevitas.export import export_onnx_qcdq
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Int32Bias

HERE = Path(__file__).parent


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        act = {"return_quant_tensor": True}
        conv = {"weight_quant": Int8WeightPerChannelFloat, "bias": True, "bias_quant": Int32Bias,
                "output_quant": Int8ActPerTensorFloat}
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, **act)
        self.c1 = qnn.QuantConv1d(1, 8, 16, stride=8, **conv, **act)
        self.relu = qnn.QuantReLU(act_quant=Int8ActPerTensorFloat, **act)
        self.c2 = qnn.QuantConv1d(8, 8, 3, padding=1, **conv, return_quant_tensor=False)

    def forward(self, x):
        return self.c2(self.relu(self.c1(self.inp(x))))


def main() -> None:
    torch.manual_seed(0)
    model = Model().train()
    for _ in range(4):
        model(torch.randn(1, 1, 400) * 0.3)
    model.eval()
    export_onnx_qcdq(model, args=torch.randn(1, 1, 400) * 0.3, export_path=str(HERE / "qcdq_conv.onnx"),
                     input_names=["mixture"], output_names=["sources"],
                     dynamic_axes={"mixture": {2: "T"}, "sources": {2: "T"}}, opset_version=17, dynamo=False)


if __name__ == "__main__":
    main()
