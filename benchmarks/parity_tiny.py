"""Parity of the trained tiny FQSS model across runtimes on 20 synthesized-speech mixtures (held-out speakers).

Exports the checkpoint (model.onnx + model.tflite), then runs the PyTorch simulation, onnxruntime (optimisation
off and all) and LiteRT (reference kernels, default kernels, XNNPACK) on the same mixtures and records the
table in benchmarks/results/parity_tiny_fqss.{md,json}.

    .venv/bin/python benchmarks/parity_tiny.py [--checkpoint CKPT] [--data DIR] [--utts 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from fqss_edge.export.bundle import export_bundle
from fqss_edge.parity import run_parity
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "benchmarks/work/qat_methods/runs/fqss/best.safetensors")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks/work/qat_methods/data/test")
    ap.add_argument("--utts", type=int, default=20)
    ap.add_argument("--name", default="parity_tiny_fqss")
    ap.add_argument("--onnx-only", action="store_true", help="export and compare model.onnx only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        formats = ("onnx",) if args.onnx_only else ("onnx", "tflite")
        bundle = export_bundle(args.checkpoint, Path(tmp), formats=formats)
        deleg = xnnpack_delegation(bundle.tflite, length=32000) if bundle.tflite else None
        report = run_parity(args.checkpoint, bundle.files, args.data, max_utts=args.utts)
    command = "python benchmarks/parity_tiny.py " + " ".join(sys.argv[1:])
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(report.to_json())
    md = (f"# Parity, tiny FQSS Conv-TasNet, {report.n_utts} synthesized-speech mixtures (held-out speakers)\n\n"
          f"Command: `{command.strip()}`  \nCheckpoint: `{args.checkpoint.relative_to(ROOT)}`\n\n"
          + (f"XNNPACK delegation of model.tflite (4 s input): {deleg['delegated']}/{deleg['operators']} operators, "
             f"{deleg['partitions']} partitions; left to TFLite kernels: {deleg['not_delegated']}\n\n" if deleg else "")
          + report.to_markdown())
    (out / f"{args.name}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
