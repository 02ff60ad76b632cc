"""fqss_edge.cli.commands.demo: the demo's console tables read whole in an 80-column terminal (issue 21: model
names were cut to "onnxruntime…")."""

from __future__ import annotations

import pytest
from rich.console import Console

from fqss_edge.cli.commands.demo import _table

# The rows run_demo prints, with its longest labels (tests/test_demo.py runs the demo itself).
QUALITY = [{"model": "float (PyTorch)", "SI-SDR (dB)": 5.03, "SI-SDRi (dB)": 5.02, "SDR (dB)": 5.68, "STOI": 0.778,
            "PESQ": 1.39},
           {"model": "int8 (simulation)", "SI-SDR (dB)": 5.16, "SI-SDRi (dB)": 5.15, "SDR (dB)": 5.81, "STOI": 0.772,
            "PESQ": 1.35}]
PARITY = [{"model": f"{rt} ({ext})", "ΔSI-SDR (dB)": -0.006, "max |diff| (LSB)": 15_400, "≤ 1 LSB (%)": 100.0,
           "SQNR (dB)": 134.6}
          for rt, ext in (("onnxruntime[opt=off]", ".onnx"), ("onnxruntime[opt=all]", ".onnx"),
                          ("litert-ref", ".tflite"), ("litert-builtin", ".tflite"), ("litert-xnnpack", ".tflite"))]
LATENCY = [{"model": m, "file (KB)": 1425.4, "mean (ms)": 1129.24, "p90 (ms)": 1131.09, "RTF": 0.2823,
            "peak RSS (MB)": 148.6}
           for m in ("float/model.onnx", "int8/model.onnx", "float/model.tflite", "int8/model.tflite")]


@pytest.mark.parametrize("rows", [QUALITY, PARITY, LATENCY], ids=["quality", "parity", "latency"])
def test_tables_fit_80_columns_uncut(rows):
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    console.print(_table("title", rows))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    for r in rows:  # every label and figure on one line, whole
        line = next((ln for ln in lines if f" {r['model']} " in ln), None)
        assert line is not None, f"{r['model']!r} not shown whole in\n{text}"
        for k, v in r.items():
            assert str(v) in line, f"{k} = {v} of {r['model']} cut in\n{text}"
