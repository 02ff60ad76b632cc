"""Speed of Conv-TasNet with gLN, with gLN's gamma / beta folded into the next convolutions (``norm: gLN_folded``),
with BatchNorm folded into the 1x1 convolutions (``norm: BN``), with those blocks behind one gLN (``norm:
gLN_BN``) and that with ReLU blocks (``gLN_BN_relu``: ``block_act: relu``), in ONE run.

For each size (tiny: ``configs/convtasnet_tiny{,_gln_folded,_bn,_gln_bn,_gln_bn_relu}.yaml``; full:
``configs/convtasnet_2spks_8k{,_gln_folded,_bn,_gln_bn,_gln_bn_relu}.yaml``; ``--norms``: some of them) the models
are built with random weights and calibrated activation ranges exactly as ``bench_suite.py`` builds its models
(``build_models``: gLN gamma / beta perturbed, BatchNorms given random statistics, two calibration batches), and
exported to LiteRT int8 / float32 and onnxruntime int8 (its flavour) / float. All files of a size are then timed
side by side, alternating run by run (``fqss-edge bench``'s round-robin), at 1 thread and the given chunk. The
LiteRT files (int8 and float) are also timed operator by operator (``--op-profile``).

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bn_fold_speed.py --sizes tiny full

Writes ``benchmarks/results/bn_fold_speed.{json,md}`` (notes under the page's notes marker are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_suite import RUNTIMES, build_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NORMS = ("gLN", "gLN_folded", "BN", "gLN_BN", "gLN_BN_relu")
CONFIGS = {"tiny": ("convtasnet_tiny", "convtasnet_tiny_gln_folded", "convtasnet_tiny_bn", "convtasnet_tiny_gln_bn",
                    "convtasnet_tiny_gln_bn_relu"),
           "full": ("convtasnet_2spks_8k", "convtasnet_2spks_8k_gln_folded", "convtasnet_2spks_8k_bn",
                    "convtasnet_2spks_8k_gln_bn", "convtasnet_2spks_8k_gln_bn_relu")}
TIMED = [k for k in RUNTIMES if k != "pytorch_float.safetensors"]


def run(size: str, work: Path, chunk: float, threads: int, runs: int, warmup: int,
        norms: tuple[str, ...] = NORMS) -> dict[str, Any]:
    from fqss_edge.bench import BenchRequest, run_bench

    built = {norm: build_models(ROOT / "configs" / f"{name}.yaml", work / size / norm, [chunk])
             for norm, name in zip(NORMS, CONFIGS[size]) if norm in norms}
    paths = [built[norm]["paths"][k] for norm in built for k in TIMED]
    report = run_bench(BenchRequest(models=paths, threads=threads, chunk_seconds=chunk, warmup=warmup, runs=runs,
                                    memory=False)).to_dict()
    rows = []
    for r in report["results"]:
        p = Path(r["path"])
        rows.append({"norm": p.parent.name, "runtime": RUNTIMES[p.name], "rtf": r["rtf"],
                     "mean_ms": r["latency_ms"]["mean"], "p90_ms": r["latency_ms"]["p90"],
                     "file_mb": r["file_bytes"] / 2**20, "delegation": r.get("delegation")})
    ops = {f"{norm} {kind}": op_groups(built[norm]["paths"][f"litert_{kind}.tflite"], chunk)
           for norm in built for kind in ("int8", "float")}
    return {"size": size, "norms": list(built), "rows": rows, "litert_ops": ops}


def op_groups(path: Path, chunk: float, runs: int = 3) -> list[dict[str, Any]]:
    """Every operator of the .tflite timed alone (``fqss-edge bench --op-profile``), summed by (operator, output
    type, taken by XNNPACK)."""
    from fqss_edge.bench.profile import group_tflite_profile, tflite_op_profile
    from fqss_edge.bench.runner import make_target

    return group_tflite_profile(tflite_op_profile(make_target(path), chunk, runs=runs))


def _row(rows: list[dict], norm: str, runtime: str) -> dict | None:
    return next((r for r in rows if r["norm"] == norm and r["runtime"] == runtime), None)


def ratios(rows: list[dict], norm: str) -> dict[str, float | None]:
    def ratio(a: str, b: str, key: str) -> float | None:
        ra, rb = _row(rows, norm, a), _row(rows, norm, b)
        return None if ra is None or rb is None else rb[key] / ra[key]

    return {"LiteRT float / int8 (speed-up)": ratio("LiteRT int8", "LiteRT float", "rtf"),
            "onnxruntime float / int8 (speed-up)": ratio("onnxruntime int8", "onnxruntime float", "rtf"),
            "int8 / float .tflite size": (lambda v: None if v is None else 1 / v)(
                ratio("LiteRT int8", "LiteRT float", "file_mb"))}


def _delegation(d: dict | None) -> str:
    if not d:
        return ""
    return f"{d.get('delegated')}/{d.get('operators')} ops, {d.get('partitions')} partition(s)"


def to_markdown(record: dict[str, Any]) -> str:
    s = record["settings"]
    lines = [f"# gLN vs gLN_folded vs folded BatchNorm (`norm: BN`, `gLN_BN`, ReLU blocks): speed, {s['threads']} "
             f"thread, {s['chunk']:g} s chunk", "",
             f"Command: `{record['command']}` ({record['started']}, {record['duration_s'] / 60:.1f} min; load average "
             f"{record['load_average'][0]:.2f} -> {record['load_average'][1]:.2f} on {record['cpu_count']} cores, "
             "shared with other jobs: compare within a table, where the files alternate run by run).", "",
             "Random weights, calibrated ranges (`bench_suite.build_models`). RTF = mean latency / chunk duration.",
             ""]
    for res in record["results"]:
        lines += [f"## {res['size']}", "", "| norm | runtime | RTF | mean ms | p90 ms | file MB | XNNPACK |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["rows"]:
            lines.append(f"| {r['norm']} | {r['runtime']} | {r['rtf']:.4f} | {r['mean_ms']:.2f} | {r['p90_ms']:.2f} "
                         f"| {r['file_mb']:.3f} | {_delegation(r['delegation'])} |")
        lines += ["", "| norm | " + " | ".join(ratios(res["rows"], "gLN")) + " |", "|---" * 4 + "|"]
        for norm in res.get("norms", NORMS):
            lines.append(f"| {norm} | " + " | ".join("" if v is None else f"{v:.3f}" if "size" in k else f"{v:.2f}"
                                                     for k, v in ratios(res["rows"], norm).items()) + " |")
        lines += ["", "LiteRT, operator by operator (each timed alone; top groups by time):", ""]
        for norm, groups in res["litert_ops"].items():
            total = sum(g["median_ms"] for g in groups)
            lines.append(f"- {norm} (sum {total:.2f} ms): " + "; ".join(
                f"{g['op']} {g['dtype']}{'' if g['xnnpack'] else ' (not XNNPACK)'} x{g['count']} "
                f"{g['median_ms']:.2f} ms ({g['percent']:.0f} %)" for g in groups[:8]))
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    from fqss_edge.bench.pages import write_page

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", choices=list(CONFIGS), default=["tiny"])
    ap.add_argument("--norms", nargs="+", choices=NORMS, default=list(NORMS))
    ap.add_argument("--chunk", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "bn_fold_speed")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    started, t0, load0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.time(), os.getloadavg()[0]
    results = []
    for size in args.sizes:
        print(f"[{size}] building, exporting, timing", flush=True)
        results.append(run(size, args.work, args.chunk, args.threads, args.runs, args.warmup, tuple(args.norms)))
    record = {"command": "python benchmarks/bn_fold_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "started": started, "duration_s": time.time() - t0, "load_average": [load0, os.getloadavg()[0]],
              "cpu_count": os.cpu_count(),
              "settings": {"chunk": args.chunk, "threads": args.threads, "runs": args.runs, "warmup": args.warmup},
              "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bn_fold_speed.json").write_text(json.dumps(record, indent=2, default=str))
    write_page(args.out / "bn_fold_speed.md", to_markdown(record))
    print(to_markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
