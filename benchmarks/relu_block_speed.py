"""What-if speed measurement for issue 20: Conv-TasNet ``norm: gLN_BN`` with the TCN's PReLUs replaced by ReLUs.

No config selects ReLU blocks yet: this script swaps ``fqss_edge.models.tcn.QPReLU`` for ``QReLU`` while it builds
the second model, to learn what the change would buy before anyone trains such a model. Both models get random
weights and calibrated ranges exactly as ``bench_suite.build_models`` gives them, are exported to LiteRT float32 and
int8, and are timed side by side (round-robin, 1 thread, 4 s chunks). Prints each file's size, operator counts and
XNNPACK delegation, and writes ``benchmarks/results/relu_block_speed_<size>.md``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relu_block_speed.py --size full --runs 10
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_suite import build_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"tiny": "convtasnet_tiny_gln_bn.yaml", "full": "convtasnet_2spks_8k_gln_bn.yaml"}
FILES = ("litert_float.tflite", "litert_int8.tflite")


def build(size: str, work: Path) -> dict[str, dict]:
    import fqss_edge.models.tcn as tcn
    from fqss_edge.quant.layers import QPReLU, QReLU

    config = ROOT / "configs" / CONFIGS[size]
    built = {"prelu": build_models(config, work / "prelu", [4.0])}
    tcn.QPReLU = lambda spec: QReLU(spec)
    try:
        built["relu"] = build_models(config, work / "relu", [4.0])
    finally:
        tcn.QPReLU = QPReLU
    return built


def main(argv: list[str] | None = None) -> int:
    from fqss_edge.bench import BenchRequest, run_bench
    from fqss_edge.export.tflite.reference.model import ReferenceModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=list(CONFIGS), default="tiny")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "relu_block_speed")
    args = ap.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M")
    built = build(args.size, args.work / args.size)
    paths = {(act, f): built[act]["paths"][f] for act in built for f in FILES}
    report = run_bench(BenchRequest(models=list(paths.values()), threads=1, chunk_seconds=4.0, warmup=3,
                                    runs=args.runs, memory=False)).to_dict()
    by_path = {r["path"]: r for r in report["results"]}
    title = f"# PReLU vs ReLU blocks, Conv-TasNet `norm: gLN_BN`, {args.size}: LiteRT speed, 1 thread, 4 s chunk"
    lines = [title, "",
             "Command: `python benchmarks/relu_block_speed.py "
             + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
             + f"` ({started}). Random weights, calibrated ranges; the ReLU model is a what-if (module docstring).",
             "", "| blocks | file | bytes | mean ms | RTF | XNNPACK | operators (top 8) |",
             "|---|---|---:|---:|---:|---|---|"]
    for (act, f), p in paths.items():
        r = by_path[str(p)]
        d = r.get("delegation") or {}
        ops = Counter(ReferenceModel.from_file(p).op_names()).most_common(8)
        lines.append(f"| {act} | {f} | {p.stat().st_size} | {r['latency_ms']['mean']:.2f} | {r['rtf']:.4f} | "
                     f"{d.get('delegated')}/{d.get('operators')} ops, {d.get('partitions')} partition(s); left: "
                     f"{d.get('not_delegated')} | " + ", ".join(f"{k} x{v}" for k, v in ops) + " |")
    lines.append("")
    for act in built:
        fl, q = (by_path[str(paths[(act, f)])] for f in FILES)
        size = paths[(act, FILES[1])].stat().st_size / paths[(act, FILES[0])].stat().st_size
        lines.append(f"- {act}: LiteRT int8 {fl['latency_ms']['mean'] / q['latency_ms']['mean']:.2f}x faster than "
                     f"float, int8 / float file {size:.3f}")
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / f"relu_block_speed_{args.size}.md"
    from fqss_edge.bench.pages import NOTES_MARKER, write_page

    write_page(out, text + "\n" + NOTES_MARKER + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
