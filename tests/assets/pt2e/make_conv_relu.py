"""Regenerates ``conv_relu.onnx``: a small model quantized with PyTorch's PT2E flow and exported to ONNX (the
golden input of ``tests/export/test_convert.py``; torchao is not a dependency of fqss-edge).

torch 2.13 no longer has ``torch.ao.quantization.quantize_pt2e``; torchao 0.18 has the flow
(``torchao.quantization.pt2e``) and a copy of the XNNPACK quantizer for testing (the real one moved to
executorch). In a scratch folder:

    pip install --target tsite --no-deps torchao==0.18.0
    PYTHONPATH=tsite .venv/bin/python tests/assets/pt2e/make_conv_relu.py

Conv1d(1->8, k16, s8) -> ReLU -> Conv1d(8->8, k3): per-channel symmetric int8 weights, int8 activations, float
biases (the quantizer leaves them float), calibrated on four seeded inputs, exported with the dynamo exporter
(opset 18) and saved as one file.
"""

from pathlib import Path

import onnx
import torch
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

HERE = Path(__file__).parent


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(1, 8, 16, stride=8)
        self.c2 = torch.nn.Conv1d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.c2(torch.relu(self.c1(x)))


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 400) * 0.3
    graph = torch.export.export(Model().eval(), (x,)).module()
    prepared = prepare_pt2e(graph, XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    for _ in range(4):
        prepared(torch.randn(1, 1, 400) * 0.3)
    path = HERE / "conv_relu.onnx"
    torch.onnx.export(convert_pt2e(prepared), (x,), str(path), input_names=["mixture"], output_names=["sources"],
                      dynamo=True, opset_version=18)
    model = onnx.load(str(path))  # the exporter writes the weights beside it: one file instead
    Path(str(path) + ".data").unlink(missing_ok=True)
    onnx.save(model, str(path))


if __name__ == "__main__":
    main()
