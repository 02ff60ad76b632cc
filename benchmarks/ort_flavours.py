"""onnxruntime: float vs int8 (the contract graph, ``export --target tflite``) vs int8 (the onnxruntime flavour,
``export --target onnxruntime``, the default), side by side in one ``fqss-edge bench`` run, full-size Conv-TasNet
(random weights, quantizers calibrated on two random batches: speed only) and the shipped tiny models; plus what
onnxruntime's optimiser makes of each int8 graph (QLinearConv / QLinearAdd / QLinearMul vs DQ -> float op -> Q),
its per-operator profile, and a check that the two int8 flavours give bit-identical outputs without
optimisation. Records ``benchmarks/results/ort_flavours.{json,md}`` and the per-node CSVs.

    .venv/bin/python benchmarks/ort_flavours.py [--runs 20] [--threads 1] [--chunk 4]

The same measurement by hand:

    .venv/bin/python benchmarks/random_checkpoints.py configs/convtasnet_2spks_8k.yaml WORK
    fqss-edge export WORK/random_float.safetensors --float --format onnx -o WORK/float
    fqss-edge export WORK/random_fqss.safetensors --int8 --format onnx --target tflite -o WORK/int8_contract
    fqss-edge export WORK/random_fqss.safetensors --int8 --format onnx -o WORK/int8_ort
    fqss-edge bench WORK/float/model.onnx WORK/int8_contract/model.onnx WORK/int8_ort/model.onnx \\
        --threads 1 --chunk 4 --op-profile WORK/ort.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from fqss_edge.bench.profile import ONNX_FIELDS, onnx_node_profile, write_csv
from fqss_edge.bench.runner import make_target
from fqss_edge.bench.session import BenchRequest, run_bench
from fqss_edge.config import load_config
from fqss_edge.export.bundle import export_bundle
from fqss_edge.parity.synthetic import random_audio, save_random_checkpoint
from fqss_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "fqss_edge" / "assets"
VARIANTS = (("float", None), ("int8_contract", "tflite"), ("int8_ort", "onnxruntime"))
FUSED = ("QLinearConv", "QLinearAdd", "QLinearMul", "QLinearLeakyRelu", "MatMulIntegerToFloat", "MatMul", "Conv",
         "ConvTranspose", "Add", "Mul", "Sub", "ReduceMean", "DequantizeLinear", "QuantizeLinear", "Transpose", "Neg")


def checkpoints(config: Path, work: Path) -> dict[str, dict[str, Path]]:
    """{size: {"float": ckpt, "int8": ckpt}}: full size (random, written once into ``work``), the shipped tiny."""
    full = work / "full"
    full.mkdir(parents=True, exist_ok=True)
    cfg = load_config(config)
    quant = cfg.updated(quant={"calib_batches": 2}).quant.model_dump()
    for name, q in (("random_fqss", quant), ("random_float", None)):
        if not (full / f"{name}.safetensors").is_file():
            save_random_checkpoint(full / f"{name}.safetensors", cfg.model.model_dump(), q)
    return {"full": {"float": full / "random_float.safetensors", "int8": full / "random_fqss.safetensors"},
            "tiny": {"float": ASSETS / "convtasnet_tiny_float.safetensors",
                     "int8": ASSETS / "convtasnet_tiny_fqss.safetensors"}}


def export_all(ckpts: dict[str, dict[str, Path]], work: Path) -> dict[str, dict[str, Path]]:
    out: dict[str, dict[str, Path]] = {}
    for size, pair in ckpts.items():
        for variant, target in VARIANTS:
            ckpt = pair["float"] if target is None else pair["int8"]
            result = export_bundle(ckpt, work / f"{size}_{variant}", quantized=target is not None,
                                   formats=("onnx",), target=target or "onnxruntime")
            out.setdefault(size, {})[variant] = result.onnx.path
    return out


def optimised_ops(path: Path) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "optimised.onnx"
        OnnxRuntimeBackend("all", optimized_model_path=out).load(path)
        ops = Counter(n.op_type for n in onnx.load(str(out)).graph.node)
    return {k: ops[k] for k in FUSED if ops[k]}


def by_op_type(rows: list[dict]) -> dict[str, dict[str, float]]:
    agg: dict[str, dict[str, float]] = defaultdict(lambda: {"nodes": 0, "ms": 0.0})
    for r in rows:
        agg[r["op_type"]]["nodes"] += 1
        agg[r["op_type"]]["ms"] += r["mean_ms"]
    total = sum(v["ms"] for v in agg.values()) or 1.0
    return {k: {**v, "percent": 100 * v["ms"] / total} for k, v in sorted(agg.items(), key=lambda kv: -kv[1]["ms"])}


def flavours_agree(a: Path, b: Path, seconds: float = 1.0) -> bool:
    """The two int8 flavours without optimisation: bit-identical outputs on a random 8 kHz input."""
    x = random_audio(1, int(8000 * seconds), seed=11)[0].numpy()
    return bool(np.array_equal(OnnxRuntimeBackend("off").load(a).run(x), OnnxRuntimeBackend("off").load(b).run(x)))


def markdown(rec: dict) -> str:
    lines = ["# onnxruntime: float vs int8 contract graph vs int8 onnxruntime flavour", "",
             f"Command: `{rec['command']}` (onnxruntime {rec['onnxruntime']}, {rec['threads']} thread(s), "
             f"{rec['chunk_seconds']} s chunks, {rec['runs']} timed runs per model, round-robin in one run; "
             f"`ORT_ENABLE_ALL` with `session.qdqisint8allowed=1` as the product sets it). Host: {rec['host']}.", "",
             "The machine is shared (2 cores, other jobs running): compare the models of one table, not across "
             "records.", ""]
    for size, res in rec["sizes"].items():
        lines += [f"## {size}", "", "| model | median ms | p90 ms | RTF (median) | speed vs float | file bytes |",
                  "|---|---|---|---|---|---|"]
        f = res["bench"]["float"]["median_ms"]
        for v, b in res["bench"].items():
            lines.append(f"| {v} | {b['median_ms']:.1f} | {b['p90_ms']:.1f} | {b['rtf']:.4f} | "
                         f"{f / b['median_ms']:.2f}x | {b['file_bytes']} |")
        lines += ["", f"int8 flavours bit-identical without optimisation: {res['flavours_agree_opt_off']}", "",
                  "Operators of the optimised graph (`optimized_model_filepath`):", ""]
        for v, ops in res["optimised_ops"].items():
            lines.append(f"- {v}: " + ", ".join(f"{k} {n}" for k, n in ops.items()))
        lines += ["", "Profile by operator type (onnxruntime profiler, mean ms per run, summed over nodes):", "",
                  "| model | " + " | ".join(["op", "nodes", "ms", "%"]) + " |", "|---|---|---|---|---|"]
        for v, prof in res["profile"].items():
            for op, p in list(prof.items())[:8]:
                lines.append(f"| {v} | {op} | {p['nodes']} | {p['ms']:.1f} | {p['percent']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "convtasnet_2spks_8k.yaml")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "ort_flavours")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--chunk", type=float, default=4.0)
    args = ap.parse_args()
    models = export_all(checkpoints(args.config, args.work), args.work)
    out_dir = ROOT / "benchmarks" / "results"
    rec: dict = {"command": "python benchmarks/ort_flavours.py " + " ".join(sys.argv[1:]),
                 "onnxruntime": ort.__version__, "threads": args.threads, "chunk_seconds": args.chunk,
                 "runs": args.runs, "sizes": {}}
    for size, paths in models.items():
        report = run_bench(BenchRequest(models=list(paths.values()), threads=args.threads, chunk_seconds=args.chunk,
                                        runs=args.runs, warmup=3, memory=False), log=print)
        rec["host"] = report.environment.get("cpu", report.environment.get("processor", "?"))
        bench = {}
        for v, r in zip(paths, report.results):
            lat = np.asarray(r.latencies_ms)
            bench[v] = {"median_ms": float(np.median(lat)), "p90_ms": float(np.percentile(lat, 90)),
                        "rtf": float(np.median(lat)) / 1000 / (r.samples / r.sample_rate), "file_bytes": r.file_bytes}
        profile = {}
        for v, p in paths.items():
            rows = onnx_node_profile(make_target(p, args.threads), args.chunk, runs=5)
            write_csv(rows, out_dir / f"ort_flavours_{size}_{v}_nodes.csv", ONNX_FIELDS)
            profile[v] = by_op_type(rows)
        rec["sizes"][size] = {
            "bench": bench, "profile": profile,
            "optimised_ops": {v: optimised_ops(p) for v, p in paths.items() if v != "float"},
            "flavours_agree_opt_off": flavours_agree(paths["int8_contract"], paths["int8_ort"])}
        print(json.dumps(bench, indent=1))
    (out_dir / "ort_flavours.json").write_text(json.dumps(rec, indent=2))
    (out_dir / "ort_flavours.md").write_text(markdown(rec))
    print(markdown(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
