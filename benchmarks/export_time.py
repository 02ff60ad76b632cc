"""How long `fqss-edge export --int8` takes for the full-size Conv-TasNet (paper recipe, ~5.05 M parameters).

Random weights, quantizers calibrated on two random batches; times the checkpoint -> model.onnx (build, check,
verify, write) and model.onnx -> model.tflite steps separately, best and median of --repeats runs, and records
them in benchmarks/results/export_time.{json,md}.

    .venv/bin/python benchmarks/export_time.py
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from fqss_edge.config import load_config
from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.parity.synthetic import save_random_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "convtasnet_2spks_8k.yaml")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = load_config(args.config)
    model_cfg = cfg.model.model_dump()
    quant = cfg.updated(quant={"calib_batches": 2}).quant.model_dump()
    onnx_s, tflite_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_random_checkpoint(Path(tmp) / "full.safetensors", model_cfg, quant)
        for i in range(args.repeats):
            out = Path(tmp) / f"run{i}"
            t0 = time.perf_counter()
            result = export_checkpoint(ckpt, out)
            t1 = time.perf_counter()
            export_tflite(result.path, out / "model.tflite")
            t2 = time.perf_counter()
            onnx_s.append(t1 - t0)
            tflite_s.append(t2 - t1)
            sizes = {"onnx_bytes": result.path.stat().st_size, "tflite_bytes": (out / "model.tflite").stat().st_size}
            print(f"run {i + 1}: onnx {t1 - t0:.2f} s, tflite {t2 - t1:.2f} s", flush=True)
    total = [a + b for a, b in zip(onnx_s, tflite_s)]
    record = {
        "command": "python benchmarks/export_time.py " + " ".join(sys.argv[1:]),
        "config": str(args.config.relative_to(ROOT)), "repeats": args.repeats,
        "onnx_seconds": onnx_s, "tflite_seconds": tflite_s, "total_seconds": total,
        "total_best": min(total), "total_median": statistics.median(total), **sizes,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads", "target_seconds": 10,
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "export_time.json").write_text(json.dumps(record, indent=2))
    (out_dir / "export_time.md").write_text(
        "# Export time, full-size Conv-TasNet (convtasnet_2spks_8k), int8\n\n"
        f"Command: `{record['command'].strip()}`\n\n"
        "| step | best (s) | median (s) |\n|---|---:|---:|\n"
        f"| checkpoint -> model.onnx (build, check, verify, write) | {min(onnx_s):.2f} | {statistics.median(onnx_s):.2f} |\n"
        f"| model.onnx -> model.tflite | {min(tflite_s):.2f} | {statistics.median(tflite_s):.2f} |\n"
        f"| total | {min(total):.2f} | {statistics.median(total):.2f} |\n\n"
        f"Files: model.onnx {sizes['onnx_bytes']} bytes, model.tflite {sizes['tflite_bytes']} bytes. Target: < 10 s.\n")
    print(f"total best {min(total):.2f} s, median {statistics.median(total):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
