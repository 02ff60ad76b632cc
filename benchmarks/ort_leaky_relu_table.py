"""onnxruntime speed of the flavour's exact LeakyRelu (``exact_leaky_relus``: Cast -> Gather of a 256-entry table ->
Q, ``export --exact-leaky-relu``) against the default fused LeakyRelu (onnxruntime's QLinearLeakyRelu, one
rounding), per exported checkpoint: the onnxruntime flavour built both ways, full optimisation, one thread, the
median of ``--runs`` timed runs each (interleaved) on a random input of ``--seconds``. Records
``benchmarks/results/ort_leaky_relu_table.md``.

    .venv/bin/python benchmarks/ort_leaky_relu_table.py [--checkpoint CKPT [CKPT ...]] [--seconds 4] [--runs 8]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from fqss_edge.bench.pages import write_page
from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.export.onnx import flavour
from fqss_edge.models.io import load_model
from fqss_edge.runtimes.onnxruntime_backend import make_session

ROOT = Path(__file__).resolve().parents[1]


def time_forms(checkpoint: Path, seconds: float, runs: int) -> dict:
    """Median ms of the fused and the exact-table flavour of one checkpoint, run alternately."""
    loaded = load_model(checkpoint)
    n = loaded.model.valid_length(int(seconds * loaded.config.model.sample_rate))
    with tempfile.TemporaryDirectory() as tmp:
        contract = onnx.load(str(export_checkpoint(checkpoint, Path(tmp)).path))
    models = {form: flavour.onnxruntime_flavour(contract, form) for form in flavour.LEAKY_RELU_FORMS}
    sessions = {k: make_session(m.SerializeToString(), checkpoint, "all", 1, True) for k, m in models.items()}
    name = contract.graph.input[0].name
    x = (np.random.default_rng(0).standard_normal((1, 1, n)) * 0.1).astype(np.float32)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(runs):
        for k, s in sessions.items():
            s.run(None, {name: x})
            t = time.perf_counter()
            s.run(None, {name: x})
            times[k].append(time.perf_counter() - t)
    return {"checkpoint": str(checkpoint), "leaky_relus": sum(n.op_type == "LeakyRelu" for n in contract.graph.node),
            "samples": n, **{f"{k}_ms": float(np.median(v) * 1000) for k, v in times.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, nargs="+",
                    default=[ROOT / "fqss_edge/assets/convtasnet_tiny_fqss.safetensors"])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    rows = [time_forms(c, args.seconds, args.runs) for c in args.checkpoint]
    lines = ["# onnxruntime flavour: fused LeakyRelu (default) vs exact tables (`export --exact-leaky-relu`)", "",
             f"Command: `python benchmarks/ort_leaky_relu_table.py {' '.join(sys.argv[1:])}` (host "
             f"{platform.machine()}, onnxruntime opt=all, 1 thread, {args.seconds:g} s input, median of {args.runs} "
             "runs, the two forms alternating)", "",
             "| checkpoint | LeakyRelu | fused (ms) | exact tables (ms) | exact / fused |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['checkpoint']}` | {r['leaky_relus']} | {r['fused_ms']:.1f} | {r['exact_ms']:.1f} | "
                     f"{r['exact_ms'] / r['fused_ms']:.2f}x |")
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results"
    (out / "ort_leaky_relu_table.json").write_text(json.dumps({"command": sys.argv, "rows": rows}, indent=2))
    write_page(out / "ort_leaky_relu_table.md", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
