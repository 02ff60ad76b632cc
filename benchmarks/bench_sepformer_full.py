"""Full-size Sepformer, LiteRT int8 vs float32 with XNNPACK: whole-model wall and CPU time, XNNPACK partitions,
and where the int8 time goes (every operator timed alone, summed by operator), with SOFTMAX's share.

CPU time (``time.process_time``) of a one-thread invoke is the model's own work even when other jobs load the
machine; the wall time is reported beside it. ``W``: the folder of ``random_checkpoints.py`` with the two exports:

    python benchmarks/random_checkpoints.py configs/sepformer_2spks_8k.yaml W
    fqss-edge export W/random_fqss.safetensors --int8 -o W/int8
    fqss-edge export W/random_float.safetensors --float -o W/float
    python benchmarks/bench_sepformer_full.py W [--chunk 4] [--runs 1] [--profile-runs 3]

Writes ``benchmarks/results/bench_sepformer_full_profile.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.bench.device_runner import speech_like_input
from fqss_edge.bench.profile import group_tflite_profile, tflite_op_profile
from fqss_edge.bench.runner import make_target
from fqss_edge.runtimes.litert_backend import LiteRtBackend, xnnpack_delegation

ROOT = Path(__file__).resolve().parents[1]


def time_model(path: Path, chunk: float, runs: int, seed: int = 0) -> dict[str, Any]:
    """XNNPACK (LiteRT's default kernels), one thread: the first invoke, then ``runs`` timed ones (wall, CPU)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    contract = LiteRtBackend(kernels="builtin").load(path).io_contract
    n = contract.call_length(round(chunk * contract.sample_rate))
    it = Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=OpResolverType.AUTO)
    d = it.get_input_details()[0]
    shape = [int(v) for v in d["shape"][:-1]] + [n]
    it.resize_tensor_input(d["index"], shape, strict=False)
    it.allocate_tensors()
    x = speech_like_input(shape, d["dtype"], seed)
    wall, cpu = [], []
    for _ in range(runs + 1):
        it.set_tensor(d["index"], x)
        t0, c0 = time.perf_counter(), time.process_time()
        it.invoke()
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    return {"samples": n, "first_wall_ms": wall[0], "first_cpu_ms": cpu[0], "wall_ms": float(np.median(wall[1:])),
            "cpu_ms": float(np.median(cpu[1:])), "runs": runs, "xnnpack": xnnpack_delegation(path, length=n)}


def zero_rhs_zero_points(src: Path, dst: Path) -> int:
    """A TIMING-ONLY variant: the right-hand operand of every int8 BATCH_MATMUL (and the RESHAPE / TRANSPOSE chain
    back to the operator that computes it) relabelled with zero point 0, XNNPACK's condition for taking a static
    int8 BATCH_MATMUL. Its outputs are wrong (the codes are not requantized); it shows what delegating the
    BATCH_MATMULs would save. Returns the number of BATCH_MATMULs changed."""
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model = fu.read_model(str(src))
    sg = model.subgraphs[0]
    producer = {t: op for op in sg.operators for t in op.outputs}
    changed = 0
    for op in sg.operators:
        if fu.opcode_to_name(model, op.opcodeIndex) != "BATCH_MATMUL":
            continue
        t = op.inputs[1]
        while True:
            q = sg.tensors[t].quantization
            q.zeroPoint = [0] * len(q.zeroPoint)
            prev = producer.get(t)
            if prev is None or fu.opcode_to_name(model, prev.opcodeIndex) not in ("RESHAPE", "TRANSPOSE"):
                break
            t = prev.inputs[0]
        changed += 1
    fu.write_model(model, str(dst))
    return changed


def markdown(record: dict[str, Any]) -> str:
    i8, f32 = record["int8"], record["float"]
    lines = [f"# Full-size Sepformer, LiteRT int8 vs float32 (XNNPACK, 1 thread, {record['chunk_s']:g} s chunk)", "",
             f"Command: `{record['command']}`", "",
             "| | int8 | float32 |", "|---|---:|---:|"]
    for key, label in (("first_cpu_ms", "first invoke, CPU (ms)"), ("cpu_ms", "invoke, CPU (ms)"),
                       ("first_wall_ms", "first invoke, wall (ms)"), ("wall_ms", "invoke, wall (ms)")):
        lines.append(f"| {label} | {i8[key]:.0f} | {f32[key]:.0f} |")
    deleg = [f"{m['xnnpack']['delegated']}/{m['xnnpack']['operators']} ops, {m['xnnpack']['partitions']} partitions"
             for m in (i8, f32)]
    lines += [f"| XNNPACK | {deleg[0]} | {deleg[1]} |", "",
              f"int8 / float32 CPU time: {i8['cpu_ms'] / f32['cpu_ms']:.2f} (below 1: int8 faster).  ",
              f"Not delegated (int8): {i8['xnnpack']['not_delegated']}", "",
              f"## int8: every operator timed alone (median of {record['profile_runs']} runs), summed by operator", "",
              "| operator | output | XNNPACK | count | CPU (ms) | % of the int8 model's CPU time |",
              "|---|---|---|---:|---:|---:|"]
    for g in record["profile"]:
        lines.append(f"| {g['op']} | {g['dtype']} | {'yes' if g['xnnpack'] else 'no'} | {g['count']} | "
                     f"{g['median_cpu_ms']:.1f} | {100 * g['median_cpu_ms'] / i8['cpu_ms']:.1f} |")
    kept = sum(g["median_cpu_ms"] for g in record["profile"] if not g["xnnpack"])
    lines += ["", f"Operators alone, sum: {sum(g['median_cpu_ms'] for g in record['profile']):.0f} ms CPU; of those "
              f"XNNPACK does not take: {kept:.0f} ms ({100 * kept / i8['cpu_ms']:.1f} % of the int8 model's CPU time). "
              f"SOFTMAX: {record['softmax_cpu_ms']:.0f} ms, {record['softmax_share_pct']:.1f} %."]
    if "rhs_zero_point_experiment" in record:
        e = record["rhs_zero_point_experiment"]
        lines += ["", "## Timing experiment: BATCH_MATMUL right-hand zero points set to 0 (outputs not valid)", "",
                  f"The right-hand operands of the {e['batch_matmuls']} int8 BATCH_MATMULs (K and V in the TFLite "
                  "layout) relabelled with zero point 0, the condition under which XNNPACK takes a static int8 "
                  f"BATCH_MATMUL: XNNPACK {e['xnnpack']['delegated']}/{e['xnnpack']['operators']} ops, "
                  f"{e['xnnpack']['partitions']} partitions; invoke CPU {e['cpu_ms']:.0f} ms (int8 as exported "
                  f"{i8['cpu_ms']:.0f} ms, float32 {f32['cpu_ms']:.0f} ms), wall {e['wall_ms']:.0f} ms. "
                  f"Not delegated: {e['xnnpack']['not_delegated']}"]
    if "profile_float" in record:
        lines += ["", "## float32: the same, for comparison", "",
                  "| operator | XNNPACK | count | CPU (ms) | % of the float32 model's CPU time |", "|---|---|---:|---:|---:|"]
        lines += [f"| {g['op']} | {'yes' if g['xnnpack'] else 'no'} | {g['count']} | {g['median_cpu_ms']:.1f} | "
                  f"{100 * g['median_cpu_ms'] / f32['cpu_ms']:.1f} |" for g in record["profile_float"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--chunk", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile-runs", type=int, default=3)
    ap.add_argument("--profile-float", action="store_true", help="also profile the float32 model, operator by operator")
    ap.add_argument("--rhs-zero-point-experiment", action="store_true",
                    help="also time the int8 model with its BATCH_MATMULs' right-hand zero points set to 0 (timing only)")
    args = ap.parse_args()
    models = {k: args.work / k / "model.tflite" for k in ("int8", "float")}
    missing = [str(p) for p in models.values() if not p.is_file()]
    if missing:
        print(f"{', '.join(missing)}: missing (export the checkpoints first, see --help)", file=sys.stderr)
        return 2
    record: dict[str, Any] = {"command": "python benchmarks/bench_sepformer_full.py " + " ".join(sys.argv[1:]),
                              "chunk_s": args.chunk, "profile_runs": args.profile_runs}
    for k, p in models.items():
        record[k] = time_model(p, args.chunk, args.runs)
        print(k, {m: v for m, v in record[k].items() if m != "xnnpack"}, flush=True)
    if args.rhs_zero_point_experiment:
        variant = args.work / "int8" / "model_rhs_zp0_timing_only.tflite"
        record["rhs_zero_point_experiment"] = {"batch_matmuls": zero_rhs_zero_points(models["int8"], variant),
                                               **time_model(variant, args.chunk, args.runs)}
        print("rhs zp 0", {m: v for m, v in record["rhs_zero_point_experiment"].items() if m != "xnnpack"}, flush=True)
    rows = tflite_op_profile(make_target(models["int8"]), args.chunk, runs=args.profile_runs)
    record["profile"] = group_tflite_profile(rows)
    record["softmax_cpu_ms"] = sum(r["median_cpu_ms"] for r in rows if r["op"] == "SOFTMAX")
    record["softmax_share_pct"] = 100 * record["softmax_cpu_ms"] / record["int8"]["cpu_ms"]
    if args.profile_float:
        record["profile_float"] = group_tflite_profile(tflite_op_profile(make_target(models["float"]), args.chunk,
                                                                         runs=args.profile_runs))
    out = ROOT / "benchmarks" / "results"
    (out / "bench_sepformer_full_profile.json").write_text(json.dumps(record, indent=1))
    md = markdown(record)
    (out / "bench_sepformer_full_profile.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
