"""``fqss-edge convert``: an ONNX model (QDQ from any quantizer, or float) to a .tflite."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge convert model_qdq.onnx -o model_int8.tflite            # onnxruntime quantize_static output -> int8
  fqss-edge convert model_qdq.onnx -o model_int8.tflite --io quantized --length 16000
  fqss-edge convert model_float.onnx -o model_float.tflite        # a float ONNX -> float32 .tflite
  fqss-edge convert exported/fqss_contract/model.onnx -o fqss.tflite  # export --target tflite: int16 PCM I/O

""" + (
    "A QDQ graph keeps its own scales and zero points (QInt8 or QUInt8 activations, per-channel int8 weights). A "
    "graph with nodes that have no converter is refused in one line naming them, and nothing is written. A model "
    "fqss-edge did not export keeps its own input / output names and shapes (plain tensors).\n"
)


class ConvertIo(str, Enum):
    int16 = "int16"
    float32 = "float32"
    quantized = "quantized"


def register(app: typer.Typer) -> None:
    @app.command("convert", epilog=EXAMPLES)
    def convert(
        model: Annotated[Path, typer.Argument(help="ONNX model: QDQ (int8 / uint8) or float.")],
        out: Annotated[Path, typer.Option("-o", "--out", help="The .tflite file to write.")],
        io: Annotated[ConvertIo | None, typer.Option(
            help="TFLite I/O of an int8 model. fqss-edge exports: int16 PCM (default) or float32. Other models: "
                 "float32 (default; QUANTIZE / DEQUANTIZE inside) or quantized (the int8 tensors themselves). A "
                 "float model has float32 I/O.", show_default=False)] = None,
        length: Annotated[int | None, typer.Option(
            min=1, help="Fix the length-dependent input dimension (default: resizable; a symbolic batch is 1).",
            show_default=False)] = None,
        min_runtime: Annotated[str | None, typer.Option(
            help="Oldest TF Lite / LiteRT runtime the .tflite must load on (e.g. 2.14).", show_default=False)] = None,
    ) -> None:
        """Convert an ONNX model (QDQ from onnxruntime, Brevitas, ... or float) to an integer or float32 .tflite."""
        from fqss_edge.export.convert import convert_onnx

        meta = convert_onnx(model, out, io.value if io else None, length, min_runtime)
        tensors = meta.get("inputs", [meta["input"]]), meta.get("outputs", [meta["output"]])
        desc = ["; ".join(f"{t['name']} {t['dtype']} {t.get('shape')}" for t in side) for side in tensors]
        typer.echo(f"wrote {out} ({out.stat().st_size} bytes, {meta['precision']}, I/O {meta['io']}): "
                   f"in {desc[0]} -> out {desc[1]}")
