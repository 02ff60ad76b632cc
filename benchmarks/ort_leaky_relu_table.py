"""onnxruntime speed of the flavour's exact LeakyRelu (``exact_leaky_relus``: Cast -> Gather of a 256-entry table ->
Q) against the float LeakyRelu it replaces (fused by onnxruntime into QLinearLeakyRelu, one rounding), on one
exported checkpoint: the onnxruntime flavour built both ways, full optimisation, one thread, the median of
``--runs`` timed runs each (interleaved) on a random input of ``--seconds``.

    .venv/bin/python benchmarks/ort_leaky_relu_table.py [--checkpoint CKPT] [--seconds 4] [--runs 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.export.onnx import flavour
from fqss_edge.models.io import load_model
from fqss_edge.runtimes.onnxruntime_backend import make_session

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "fqss_edge/assets/convtasnet_tiny_fqss.safetensors")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    loaded = load_model(args.checkpoint)
    n = loaded.model.valid_length(int(args.seconds * loaded.config.model.sample_rate))
    with tempfile.TemporaryDirectory() as tmp:
        contract = onnx.load(str(export_checkpoint(args.checkpoint, Path(tmp)).path))
    exact = flavour.onnxruntime_flavour(contract, "exact")
    one_rounding = flavour.onnxruntime_flavour(contract, "fused")  # the default
    models = {"float LeakyRelu (QLinearLeakyRelu)": one_rounding, "exact table (Cast -> Gather -> Q)": exact}
    sessions = {k: make_session(m.SerializeToString(), args.checkpoint, "all", 1, True) for k, m in models.items()}
    name = exact.graph.input[0].name
    x = (np.random.default_rng(0).standard_normal((1, 1, n)) * 0.1).astype(np.float32)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(args.runs):
        for k, s in sessions.items():
            s.run(None, {name: x})
            t = time.perf_counter()
            s.run(None, {name: x})
            times[k].append(time.perf_counter() - t)
    leaky = sum(n.op_type == "LeakyRelu" for n in contract.graph.node)
    print(f"{args.checkpoint}: {leaky} LeakyRelu, {n} samples, onnxruntime flavour, opt=all, 1 thread")
    for k, v in times.items():
        print(f"  {k}: median {np.median(v) * 1000:.1f} ms over {len(v)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
