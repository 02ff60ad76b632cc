"""Latency, real-time factor, peak memory and file size of every runtime, on this CPU, in ONE run.

Models: the full-size ConvTasNet (``configs/convtasnet_2spks_8k.yaml``) and the tiny one
(``configs/convtasnet_tiny.yaml``), random weights (gLN gamma/beta perturbed from their 1/0 initial values, as
training leaves them), activation ranges calibrated on two random batches (``fqss_edge.quant.tools.observation``),
exported with the project's exporters. Runtimes, side by side and
alternating run by run (``fqss-edge bench``'s round-robin): PyTorch float, onnxruntime float, onnxruntime int8 (the
QDQ graph ``fqss-edge export`` writes for it, ``--target onnxruntime``),
LiteRT float and LiteRT int8 (XNNPACK), at 1 and 2 threads, with 1 s and 4 s chunks. LiteRT's own
``benchmark_litert_model`` is run on a fixed-length copy of the int8 model as a cross-check.

LiteRT float is the float ONNX graph converted by ``fqss_edge.export.tflite``'s float32 path (same NHWC layout and
operators as the int8 file, float32 I/O, XNNPACK in one partition; no TensorFlow): the targets "3x faster than
LiteRT float" and "int8 file <= 0.27x float" are measured against it.

``--full-config`` / ``--tiny-config`` time other variants of the two models (e.g. the ReLU-block recipe,
``configs/convtasnet_2spks_8k_gln_bn_relu.yaml``), with ``--name`` naming the page.

Writes ``benchmarks/results/<name>.{json,md,png}`` (``bench_suite``). Run the recorded suite on a QUIET machine:

    .venv/bin/python benchmarks/bench_suite.py              # the recorded run (~15 min)
    .venv/bin/python benchmarks/bench_suite.py --quick      # tiny model, 1 thread, 1 s, a few runs (not recorded)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = {"pytorch_float.safetensors": "PyTorch float", "ort_float.onnx": "onnxruntime float",
            "ort_int8.onnx": "onnxruntime int8", "litert_float.tflite": "LiteRT float",
            "litert_int8.tflite": "LiteRT int8"}
LITERT_FLOAT = ("LiteRT float: the float ONNX graph (export_onnx(..., quantized=False)) converted to a float32 .tflite "
                "by fqss_edge.export.tflite (float32 path: same NHWC layout and operators as the int8 file, float32 "
                "waveform in and sources out, no TensorFlow), run by LiteRT with XNNPACK like the int8 file.")
TARGETS = "full-size, 1 thread, 4 s chunk"


def build_models(config: Path, work: Path, chunks: list[float], seed: int = 0) -> dict[str, Any]:
    """Random calibrated checkpoint -> float / int8 ONNX -> float32 and int8 .tflite (+ fixed-length float-I/O
    copies of the int8 one)."""
    from fqss_edge.checkpoint import save_checkpoint
    from fqss_edge.config import load_config
    from fqss_edge.export.onnx import apply_flavour, export_onnx
    from fqss_edge.export.tflite import export as export_tflite
    from fqss_edge.parity.synthetic import calibrated_random_model

    cfg = load_config(config)
    work.mkdir(parents=True, exist_ok=True)
    # trained-looking gamma / beta (an all-zero beta is an ADD XNNPACK refuses) and BatchNorm statistics
    model = calibrated_random_model(cfg.model.model_dump(), cfg.quant.model_dump(), seed, length=8000,
                                    norm_affines=True)
    paths = {"pytorch_float.safetensors": save_checkpoint(work / "pytorch_float.safetensors", model.state_dict(),
                                                          cfg, {"method": "random"})}
    paths["ort_float.onnx"] = export_onnx(model, work / "ort_float.onnx", False, cfg).path
    contract = export_onnx(model, work / "int8_contract.onnx", True, cfg)  # what the .tflite files are written from
    export_tflite(paths["ort_float.onnx"], work / "litert_float.tflite", precision="float32")
    paths["litert_float.tflite"] = work / "litert_float.tflite"
    export_tflite(contract.path, work / "litert_int8.tflite", precision="int8")
    paths["litert_int8.tflite"] = work / "litert_int8.tflite"
    sr = cfg.model.sample_rate
    fixed = {}
    for c in chunks:
        fixed[c] = work / f"litert_int8_f32io_{c:g}s.tflite"
        export_tflite(contract.path, fixed[c], io="float32", length=model.valid_length(round(c * sr)))
    # onnxruntime times the graph `fqss-edge export` writes for it (the default --target onnxruntime flavour),
    # apply_flavour on a copy of the contract graph (export_bundle rewrites its own in place; the .tflite files read it)
    shutil.copyfile(contract.path, work / "ort_int8.onnx")
    paths["ort_int8.onnx"] = apply_flavour(replace(contract, path=work / "ort_int8.onnx"), "onnxruntime").path
    return {"paths": paths, "fixed": fixed, "config": cfg}


def run_config(models: dict[str, Any], threads: int, chunk: float, runs: int, warmup: int) -> dict[str, Any]:
    from fqss_edge.bench import BenchRequest, run_bench
    from fqss_edge.bench.litert_tool import run_litert_tool

    report = run_bench(BenchRequest(models=list(models["paths"].values()), threads=threads, chunk_seconds=chunk,
                                    warmup=warmup, runs=runs, torch_float=True))
    d = report.to_dict()
    for r in d["results"]:
        r.pop("raw_latencies_ms")
    try:
        tool = run_litert_tool(models["fixed"][chunk], threads=threads, warmup=warmup, runs=runs)
    except Exception as e:  # the cross-check must not sink the suite
        tool = {"error": str(e)}
    return {"threads": threads, "chunk_seconds": chunk, "report": d, "litert_tool": tool}


def op_breakdown(models: dict[str, Any], chunk: float, runs: int = 3) -> list[dict[str, Any]]:
    """Where LiteRT int8's time goes: every operator timed alone (``fqss-edge bench --op-profile``), summed by
    (operator, output type, taken by XNNPACK)."""
    from fqss_edge.bench.profile import group_tflite_profile, tflite_op_profile
    from fqss_edge.bench.runner import make_target

    return group_tflite_profile(tflite_op_profile(make_target(models["paths"]["litert_int8.tflite"]), chunk, runs=runs))


def summarise(size: str, entry: dict[str, Any]) -> dict[str, Any]:
    by = {RUNTIMES[Path(r["path"]).name]: r for r in entry["report"]["results"]}
    row: dict[str, Any] = {"model": size, "threads": entry["threads"], "chunk_seconds": entry["chunk_seconds"]}
    for name in RUNTIMES.values():
        r = by.get(name)
        row[name] = None if r is None else {
            "rtf": r["rtf"], "mean_ms": r["latency_ms"]["mean"], "p90_ms": r["latency_ms"]["p90"],
            "file_mb": r["file_bytes"] / 2**20, "peak_rss_mb": (r["memory"] or {}).get("peak_mb"),
            "delegation": r.get("delegation")}
    i8, fo, fl = by.get("LiteRT int8"), by.get("onnxruntime float"), by.get("LiteRT float")
    oi8 = by.get("onnxruntime int8")
    row["ratios"] = {
        "litert_int8_vs_litert_float_rtf": _ratio(i8, fl, "rtf"),
        "litert_int8_vs_onnxruntime_float_rtf": _ratio(i8, fo, "rtf"),
        "onnxruntime_int8_vs_float_rtf": _ratio(oi8, fo, "rtf"),
        "int8_vs_float_file_size": _ratio(i8, fo, "file_bytes"),
        "int8_vs_litert_float_file_size": _ratio(i8, fl, "file_bytes"),
        "litert_int8_vs_onnxruntime_float_peak_rss": _ratio(i8, fo, "peak"),
    }
    tool = entry["litert_tool"]
    row["litert_tool"] = None if "error" in tool else {"avg_ms": tool["latency"]["avg_ms"],
                                                       "median_ms": tool["latency"]["median_ms"],
                                                       "fully_accelerated": tool["fully_accelerated"]}
    return row


def _ratio(a: dict | None, b: dict | None, key: str) -> float | None:
    if not a or not b:
        return None
    if key == "peak":
        va, vb = (a["memory"] or {}).get("peak_mb"), (b["memory"] or {}).get("peak_mb")
    else:
        va, vb = a[key], b[key]
    return va / vb if va is not None and vb else None


PCM_IO_OPS = {"CAST", "RESHAPE", "RIGHT_SHIFT", "BITWISE_XOR", "ADD"}  # int16 PCM split / merge (ops/io.py)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets (reported, not asserted) for the full-size model, 1 thread, 4 s chunk."""
    row = next((r for r in rows if r["model"] == "full" and r["threads"] == 1 and r["chunk_seconds"] == 4.0), None)
    if row is None or row["LiteRT int8"] is None:
        return []
    i8, fl, ratios = row["LiteRT int8"], row["LiteRT float"], row["ratios"]
    d = i8["delegation"] or {}
    vs_litert = ratios["litert_int8_vs_litert_float_rtf"]
    litert_speedup = 1 / vs_litert if vs_litert else None  # LiteRT float RTF / LiteRT int8 RTF
    vs_float = ratios["litert_int8_vs_onnxruntime_float_rtf"]
    speedup = 1 / vs_float if vs_float else None
    size = ratios["int8_vs_litert_float_file_size"]
    rss = (i8["peak_rss_mb"] / fl["peak_rss_mb"]) if fl and i8["peak_rss_mb"] and fl["peak_rss_mb"] else None
    return [
        _target("LiteRT int8 RTF <= 0.025", i8["rtf"], i8["rtf"] <= 0.025, f"{i8['rtf']:.4f}"),
        _target(">= 3x faster than LiteRT float (LiteRT float RTF / LiteRT int8 RTF)", litert_speedup,
                None if litert_speedup is None else litert_speedup >= 3,
                f"{litert_speedup:.2f}x ({fl['rtf']:.4f} / {i8['rtf']:.4f})" if litert_speedup else "n/a"),
        _target("  also: >= 3x faster than onnxruntime float", speedup, speedup is not None and speedup >= 3,
                f"{speedup:.2f}x" if speedup else "n/a"),
        _target("XNNPACK one partition (the int16 PCM I/O may stay outside, at the graph's edges)", d.get("partitions"),
                d.get("partitions") == 1 and set(d.get("not_delegated") or {}) <= PCM_IO_OPS,
                f"{d.get('delegated')}/{d.get('operators')} ops, {d.get('partitions')} partitions, not delegated: "
                f"{d.get('not_delegated')}"),
        _target("int8 file <= 0.27x float (float = the float32 .tflite)", size, None if size is None else size <= 0.27,
                f"{size:.3f}x ({i8['file_mb']:.2f} MB / {fl['file_mb']:.2f} MB)" if size else "n/a"),
        _target("  also: int8 .tflite vs the float ONNX", ratios["int8_vs_float_file_size"],
                (ratios["int8_vs_float_file_size"] or 9) <= 0.27, f"{ratios['int8_vs_float_file_size']:.3f}x"),
        _target("peak RSS int8 <= float (LiteRT int8 vs LiteRT float)", rss,
                None if rss is None else rss <= 1.0,
                f"{i8['peak_rss_mb']:.1f} MB vs {fl['peak_rss_mb']:.1f} MB" if rss else "n/a"),
        _target("  also: LiteRT int8 vs onnxruntime float", ratios["litert_int8_vs_onnxruntime_float_peak_rss"],
                (ratios["litert_int8_vs_onnxruntime_float_peak_rss"] or 9) <= 1.0,
                f"{i8['peak_rss_mb']:.1f} MB vs {row['onnxruntime float']['peak_rss_mb']:.1f} MB"),
    ]


def _target(name: str, value: Any, met: bool | None, shown: str) -> dict[str, Any]:
    return {"target": name, "value": value, "met": met, "shown": shown}


def _shown(path: Path) -> str:
    """A config's path relative to the repository when it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def to_markdown(record: dict[str, Any]) -> str:
    lines = [f"# bench suite ({record['machine'].get('cpu')}, {record['machine'].get('cpu_count')} cores)", "",
             f"`{record['command']}` — {record['duration_s']:.0f} s, {record['started']}", ""]
    if record.get("model_configs"):
        lines += ["Models: " + ", ".join(f"{size} `{c}`" for size, c in record["model_configs"].items()) + ".", ""]
    if "cpu_simd" in record["machine"]:  # int8 vs float speed depends on them (VNNI / dot-product instructions)
        lines += [f"CPU SIMD flags: {', '.join(record['machine']['cpu_simd']) or 'none found'}.", ""]
    if record.get("load_average"):  # the 1-minute load average of this (shared) machine at start and end
        a, b = record["load_average"]
        lines += [f"Load average (1 min) at start {a:.1f}, at end {b:.1f}, on {record['machine'].get('cpu_count')} "
                  "cores: latencies are inflated by the other jobs; ratios between runtimes of one row are measured "
                  "side by side (round-robin).", ""]
    head = ["model", "threads", "chunk"] + [f"{n} RTF" for n in RUNTIMES.values()] + [
        "LiteRT float / int8 RTF", "LiteRT int8 / ORT float RTF", "ORT int8 / float RTF",
        "int8 / float .tflite size", "LiteRT int8 peak RSS (MB)", "ORT float peak RSS (MB)",
        "XNNPACK int8 (ops, partitions)", "XNNPACK float (ops, partitions)", "benchmark_litert_model avg (ms)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in record["summary"]:
        i8 = r["LiteRT int8"] or {}
        cells = [r["model"], str(r["threads"]), f"{r['chunk_seconds']:g} s"]
        cells += ["" if r[n] is None else f"{r[n]['rtf']:.4f}" for n in RUNTIMES.values()]
        q = r["ratios"]
        vs = q["litert_int8_vs_litert_float_rtf"]
        cells += [_fmt(1 / vs if vs else None, "x"), _fmt(q["litert_int8_vs_onnxruntime_float_rtf"], "x"),
                  _fmt(q["onnxruntime_int8_vs_float_rtf"], "x"), _fmt(q.get("int8_vs_litert_float_file_size"), "x"),
                  _fmt(i8.get("peak_rss_mb")), _fmt((r["onnxruntime float"] or {}).get("peak_rss_mb")),
                  _delegation(i8), _delegation(r["LiteRT float"] or {}), _fmt((r["litert_tool"] or {}).get("avg_ms"))]
        lines.append("| " + " | ".join(cells) + " |")
    if record["targets"]:
        lines += ["", f"## Targets ({TARGETS}; reported, not asserted)", "", "| target | value | met |",
                  "|---|---|---|"]
        lines += [f"| {t['target']} | {t['shown']} | {'' if t['met'] is None else ('yes' if t['met'] else 'NO')} |"
                  for t in record["targets"]]
    if record.get("litert_int8_ops"):
        b = record["litert_int8_ops"]
        lines += ["", f"## LiteRT int8 by operator ({b['model']}, 1 thread, {b['chunk_seconds']:g} s; each operator "
                  "timed alone)", "", "| operator | output | XNNPACK | count | sum of medians (ms) | share |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {g['op']} | {g['dtype']} | {'yes' if g['xnnpack'] else 'no'} | {g['count']} | "
                  f"{g['median_ms']:.2f} | {g['percent']:.1f} % |" for g in b["groups"]]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in record["notes"]]
    return "\n".join(lines) + "\n"


def _delegation(r: dict[str, Any]) -> str:
    d = r.get("delegation") or {}
    return f"{d.get('delegated')}/{d.get('operators')}, {d.get('partitions')}" if d else ""


def _fmt(v: float | None, unit: str = "") -> str:
    return "" if v is None else f"{v:.3f}{unit}" if unit else f"{v:.1f}"


def plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["model"] for r in record["summary"]})
    fig, axes = plt.subplots(1, len(sizes), figsize=(7 * len(sizes), 4.5), squeeze=False)
    names = list(RUNTIMES.values())
    for ax, size in zip(axes[0], sizes):
        rows = [r for r in record["summary"] if r["model"] == size]
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            xs = [i + k * width for i in range(len(rows))]
            ys = [r[name]["rtf"] if r[name] else 0.0 for r in rows]
            bars = ax.bar(xs, ys, width, label=name)
            ax.bar_label(bars, [f"{y:.3f}" if y else "n/a" for y in ys], fontsize=6, rotation=90, padding=2)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))],
                      [f"{r['threads']} thr, {r['chunk_seconds']:g} s" for r in rows])
        ax.set_ylabel("real-time factor (lower is faster)")
        ax.set_title(f"{size} ConvTasNet")
        ax.margins(y=0.15)
        if size == "full":
            ax.axhline(0.025, color="k", linestyle="--", linewidth=0.8, label="target 0.025")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    from fqss_edge.bench.memory import CAVEAT
    from fqss_edge.bench.report import host_environment

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "bench_suite")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--chunks", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--quick", action="store_true", help="tiny model, 1 thread, 1 s, 3 runs; written to --work")
    ap.add_argument("--full-config", type=Path, default=ROOT / "configs" / "convtasnet_2spks_8k.yaml")
    ap.add_argument("--tiny-config", type=Path, default=ROOT / "configs" / "convtasnet_tiny.yaml")
    ap.add_argument("--name", default="bench_suite", help="the page's name: <out>/<name>.{json,md,png}")
    args = ap.parse_args()
    sizes = {"full": args.full_config, "tiny": args.tiny_config}
    missing = [p for p in sizes.values() if not p.is_file()]
    if missing:
        sys.exit(f"{missing[0]}: no such config")
    if args.quick:
        sizes.pop("full")
        args.threads, args.chunks, args.runs, args.warmup = [1], [1.0], 3, 1
        args.work = args.work.with_name(args.work.name + "_quick")
        args.out = args.work
    started, t0, load0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.time(), os.getloadavg()[0]
    entries, rows, breakdown = {}, [], None
    for size, config in sizes.items():
        print(f"[{size}] building and exporting {config.name}", flush=True)
        models = build_models(config, args.work / size, args.chunks)
        if breakdown is None:  # the first (largest) model at the longest chunk
            print(f"[{size}] LiteRT int8, operator by operator", flush=True)
            chunk = max(args.chunks)
            breakdown = {"model": size, "chunk_seconds": chunk, "groups": op_breakdown(models, chunk)}
        entries[size] = []
        for threads in args.threads:
            for chunk in args.chunks:
                print(f"[{size}] {threads} thread(s), {chunk:g} s chunks", flush=True)
                entry = run_config(models, threads, chunk, args.runs, args.warmup)
                entries[size].append(entry)
                rows.append(summarise(size, entry))
    record = {"command": "python benchmarks/bench_suite.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "started": started, "duration_s": time.time() - t0, "machine": host_environment(),
              "load_average": [load0, os.getloadavg()[0]],
              "settings": {"runs": args.runs, "warmup": args.warmup, "threads": args.threads, "chunks": args.chunks},
              "notes": [LITERT_FLOAT, CAVEAT.format(runs=3),
                        "RTF = mean latency / chunk duration; runtimes alternate run by run (round-robin).",
                        "Random weights: latency and memory do not depend on them, accuracy is not measured here.",
                        "benchmark_litert_model runs a fixed-length float-I/O copy of the int8 model (it cannot "
                        "fill int16 inputs) and times only the invoke; fqss-edge bench times backend.run on a "
                        "waveform (int16 conversion, padding and cropping included)."],
              "summary": rows, "targets": targets(rows), "litert_int8_ops": breakdown, "configs": entries,
              "model_configs": {size: _shown(config) for size, config in sizes.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / args.name
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    out.with_suffix(".md").write_text(to_markdown(record))
    plot(record, out.with_suffix(".png"))
    print(to_markdown(record))
    print(f"wrote {out.with_suffix('.json')}, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
