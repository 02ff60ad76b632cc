"""``fqss-edge bench MODEL --device cpu`` where tflite-runtime 2.14 is the only TFLite package (``.venv-tflite214``:
fqss-edge without ai-edge-litert): the LiteRT backend falls back to ``tflite_runtime`` and the report names it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def test_local_bench_reports_tflite_runtime_when_it_is_the_only_interpreter(tflite214_python, tiny_norm8):
    python = Path(tflite214_python)
    absent = subprocess.run([str(python), "-c", "import ai_edge_litert"], capture_output=True, text=True)
    assert absent.returncode != 0 and "No module named 'ai_edge_litert'" in absent.stderr
    done = subprocess.run([str(python), "-m", "fqss_edge.cli.main", "bench", str(tiny_norm8), "--device", "cpu",
                           "--runs", "3", "--warmup", "1", "--chunk", "0.5", "--no-memory", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    assert d["where"] == "local" and d["emulated"] is False
    assert (d["environment"]["litert_module"], d["environment"]["litert_version"]) == ("tflite_runtime", "2.14.0")
    (r,) = d["results"]
    assert r["latency_ms"]["n"] == 3 and r["rtf"] > 0 and r["backend"].endswith("xnnpack")
