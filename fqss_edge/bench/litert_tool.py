"""Cross-check with LiteRT's own benchmark tool (``python -m ai_edge_litert.tools.benchmark_litert_model``).

The tool runs LiteRT's CompiledModel API on the model's stored input shape and fills inputs by dtype, which it
does not know for int16: give it a fixed-length export with float32 I/O
(``export(onnx, tflite, io="float32", length=N)``). It reports init, first/mean warm-up, avg/min/max/median/std/
p5/p95 and "Fully accelerated" (every operator on XNNPACK).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fqss_edge.errors import FqssError


def run_litert_tool(model: str | Path, threads: int = 1, warmup: int = 5, runs: int = 50,
                    timeout: float = 1800.0) -> dict[str, Any]:
    """The tool's ``--result_json`` (``latency`` in ms, ``fully_accelerated``, ``num_threads``, ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", "--model", str(model),
               "--num_threads", str(threads), "--warmup_runs", str(warmup), "--num_runs", str(runs),
               "--result_json", str(out_json)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0 or not out_json.is_file():
            lines = [ln for ln in (out.stderr + out.stdout).strip().splitlines() if ln.strip()]
            raise FqssError(f"{model}: benchmark_litert_model failed ({lines[-1] if lines else out.returncode})")
        return json.loads(out_json.read_text())
