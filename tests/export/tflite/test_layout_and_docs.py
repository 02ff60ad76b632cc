"""Layout planning of reshapes (NHWC without needless TRANSPOSEs) and the generated operator table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fqss_edge.export.tflite.docs import render
from fqss_edge.export.tflite.layout import reshape_plan, to_tflite_shape


def test_std_layouts():
    assert to_tflite_shape((1, 64, 100)) == (1, 1, 100, 64)
    assert to_tflite_shape((1, 2, 64, 100)) == (1, 100, 2, 64)


def test_mask_reshape_is_a_plain_reshape():
    assert reshape_plan((1, 2 * 64, 100), (1, 2, 64, 100)) is None  # [1, S*N, F] -> [1, S, N, F]
    assert reshape_plan((1, 64, 100), (1, 1, 64, 100)) is None  # Unsqueeze of the encoder output


def test_decoder_reshape_needs_one_transpose():
    # [1, S, N, F] (TFLite [1, F, S, N]) -> [S, N, F] (TFLite [S, 1, F, N]): move S in front of F
    assert reshape_plan((1, 2, 64, 100), (2, 64, 100)) == (0, 2, 1, 3)


def test_time_split_goes_through_onnx_order():
    assert reshape_plan((1, 1, 16), (1, 4, 4)) == "canonical"


def test_operators_doc_is_up_to_date():
    doc = Path(__file__).resolve().parents[3] / "docs" / "operators.md"
    assert doc.read_text() == render(), "regenerate with: python -m fqss_edge.export.tflite.docs"


def test_docs_generator_runs(tmp_path):
    out = tmp_path / "ops.md"
    r = subprocess.run([sys.executable, "-m", "fqss_edge.export.tflite.docs", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "| `Conv` | CONV_2D / DEPTHWISE_CONV_2D (+PAD) |" in text
    assert "CONV_2D, DEPTHWISE_CONV_2D: `conv.conv_2d`; PAD: `shape.pad`; QUANTIZE: `quantize.quantize`; RESHAPE: " \
           "`shape.reshape` | " \
           "`ops_float/conv.py` |" in text
    float_section = text[text.index("## float32"):]  # the float32 converters, after the integer ones
    assert "| `Conv` | CONV_2D / DEPTHWISE_CONV_2D (+PAD) |" in float_section and "| `Floor` | FLOOR |" in float_section
