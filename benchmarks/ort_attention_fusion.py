"""Which attention operators onnxruntime's CPU kernels run in integer (QLinearMatMul, QLinearSoftmax, ...) and
which stay float between DequantizeLinear and QuantizeLinear, on the exported QDQ Sepformer.

Exports the configured Sepformer (random weights, quantizers calibrated on two random batches), lets onnxruntime
optimise it (ORT_ENABLE_ALL, ``session.qdqisint8allowed=1`` as ``runtimes/onnxruntime_backend.py`` sets it, and
without it) and writes the optimised graph (``optimized_model_filepath``); counts its operators, and for every
MatMul / Softmax / LayerNorm piece of the QDQ graph says what it became. Records
``benchmarks/results/ort_attention_fusion.{json,md}``.

    .venv/bin/python benchmarks/ort_attention_fusion.py [--config configs/sepformer_tiny.yaml]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import onnx
import onnxruntime as ort

from fqss_edge.config import load_config
from fqss_edge.export.onnx import export_onnx
from fqss_edge.parity.synthetic import calibrated_random_model

ROOT = Path(__file__).resolve().parents[1]
WATCH = ("MatMul", "Softmax", "Transpose", "ReduceMean", "Sqrt", "Reciprocal", "Tanh", "Sigmoid", "Add", "Mul", "Sub",
         "Conv", "Pad", "Slice", "Concat")


def optimized_ops(path: Path, int8_allowed: bool, out: Path) -> Counter:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(out)
    if int8_allowed:
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return Counter(n.op_type for n in onnx.load(str(out)).graph.node)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "sepformer_tiny.yaml")
    args = ap.parse_args()
    cfg = load_config(args.config)
    model = calibrated_random_model(cfg.model.model_dump(), cfg.updated(quant={"calib_batches": 2}).quant.model_dump())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, path)
        qdq = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
        runs = {name: optimized_ops(path, flag, Path(tmp) / f"opt_{name}.onnx")
                for name, flag in (("qdqisint8allowed=1", True), ("default", False))}
    record = {"command": "python benchmarks/ort_attention_fusion.py " + " ".join(sys.argv[1:]),
              "config": str(args.config.resolve().relative_to(ROOT)), "onnxruntime": ort.__version__,
              "qdq_graph": dict(qdq), "optimized": {k: dict(v) for k, v in runs.items()}}
    out_dir = ROOT / "benchmarks" / "results"
    (out_dir / "ort_attention_fusion.json").write_text(json.dumps(record, indent=2))
    ops = sorted(set(qdq) | {k for v in runs.values() for k in v})
    lines = [f"# onnxruntime {ort.__version__} CPU: what the QDQ Sepformer's operators become "
             f"({record['config']})", "", f"Command: `{record['command'].strip()}`", "",
             "Operator counts in the exported QDQ graph and in onnxruntime's optimised graph (ORT_ENABLE_ALL). "
             "QLinear* / QGemm / MatMulInteger run integer kernels; a plain MatMul / Softmax / ReduceMean left in "
             "the optimised graph runs in float32 between DequantizeLinear and QuantizeLinear.", "",
             "| op | QDQ graph | optimised, qdqisint8allowed=1 | optimised, default |", "|---|---:|---:|---:|"]
    for op in ops:
        lines.append(f"| {op} | {qdq.get(op, 0)} | {runs['qdqisint8allowed=1'].get(op, 0)} | "
                     f"{runs['default'].get(op, 0)} |")
    (out_dir / "ort_attention_fusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
