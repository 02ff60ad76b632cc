"""Full-size music models (stereo, 4 stems, random weights), LiteRT int8 vs float32 side by side, 1 thread, one run
per model and chunk: latency, real-time factor, file size, XNNPACK delegation, per-operator profile, peak RSS.

Per model (``configs/<name>.yaml``, at its own sample rate): ``benchmarks/random_checkpoints.py`` (calibrated random
FQSS weights and float weights), ``fqss-edge export --int8`` and ``--float``, then for each chunk length
``fqss-edge bench INT8 FLOAT --threads 1 --chunk C --warmup 0 --runs 1 --json --op-profile ...``, each in its own
process. The 1- and 5-minute load averages are recorded before and after every bench: on a shared machine only
the ratios inside one bench (int8 vs float32, same moment) mean much.

    .venv/bin/python benchmarks/bench_music_full.py                       # all four models, 1 s and 4 s
    .venv/bin/python benchmarks/bench_music_full.py --models waveunet_lite --chunks 1

Work files in ``benchmarks/work/music_full/<model>/``; results (merged over invocations) in
``benchmarks/results/bench_music_full.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from fqss_edge.bench.pages import write_page

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("convtasnet_music", "waveunet_lite", "waveunet", "resunet")
FQSS_EDGE = [sys.executable, "-m", "fqss_edge.cli.main"]


def _run(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` (stdout+stderr to ``log``); wall seconds. Exits with the log's tail if it fails."""
    t0 = time.perf_counter()
    with log.open("w") as f:
        code = subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({code}):\n{log.read_text()[-3000:]}")
    return time.perf_counter() - t0


def prepare(name: str, work: Path) -> dict:
    """Random checkpoints and both exports (skipped when already there); the commands."""
    cmds = {
        "checkpoints": [sys.executable, "benchmarks/random_checkpoints.py", f"configs/{name}.yaml", str(work)],
        "export_int8": [*FQSS_EDGE, "export", str(work / "random_fqss.safetensors"), "--int8", "-o", str(work / "int8")],
        "export_float": [*FQSS_EDGE, "export", str(work / "random_float.safetensors"), "--float", "-o",
                         str(work / "float")],
    }
    done = {"checkpoints": work / "random_float.safetensors", "export_int8": work / "int8" / "model.tflite",
            "export_float": work / "float" / "model.tflite"}
    work.mkdir(parents=True, exist_ok=True)
    for step, cmd in cmds.items():
        if not done[step].is_file():
            _run(cmd, work / f"{step}.log")
    return {step: shlex.join(cmd) for step, cmd in cmds.items()}


def op_summary(csv_path: Path) -> dict[str, dict]:
    """Per operator type: count, summed mean ms (each operator timed alone), share of the summed total."""
    by_op: dict[str, list[float]] = defaultdict(list)
    inputs = set()
    with csv_path.open() as f:
        for row in csv.DictReader(f):
            by_op[row["op"]].append(float(row["mean_ms"]))
            inputs.add(row.get("inputs") or "captured")  # (profiles written before the column: captured)
    total = sum(sum(v) for v in by_op.values())
    ops = {op: {"count": len(v), "ms": sum(v), "share": sum(v) / total}
           for op, v in sorted(by_op.items(), key=lambda kv: -sum(kv[1]))}
    return {"inputs": "/".join(sorted(inputs)), "ops": ops}


def bench(name: str, work: Path, chunk: float, op_profile: bool = True) -> dict:
    ops = work / f"ops_{chunk:g}s.csv"
    cmd = [*FQSS_EDGE, "bench", str(work / "int8" / "model.tflite"), str(work / "float" / "model.tflite"),
           "--threads", "1", "--chunk", f"{chunk:g}", "--warmup", "0", "--runs", "1", "--json",
           *(["--op-profile", str(ops)] if op_profile else [])]
    load_before = os.getloadavg()
    log = work / f"bench_{chunk:g}s.log"
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log.write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout)
    runs = {}
    for r, kind in zip(report["results"], ("int8", "float32")):
        profile = (report["environment"].get("op_profiles") or {}).get(r["label"])
        runs[kind] = {
            "file_mb": r["file_bytes"] / 1e6, "sample_rate": r["sample_rate"], "samples": r["samples"],
            "latency_ms": r["latency_ms"]["mean"], "rtf": r["rtf"], "init_ms": r["init_ms"],
            "first_ms": r["first_ms"], "peak_rss_mb": (r["memory"] or {}).get("peak_mb"),
            "delegation": r["delegation"], **(op_summary(Path(profile)) if profile else {"inputs": None, "ops": None}),
            "op_profile_csv": str(Path(profile).relative_to(ROOT)) if profile else None}
    return {"command": "fqss-edge " + shlex.join(cmd[len(FQSS_EDGE):]), "chunk_seconds": chunk,
            "load_before": [round(x, 2) for x in load_before[:2]],
            "load_after": [round(x, 2) for x in os.getloadavg()[:2]], "wall_seconds": wall,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "environment": report["environment"], "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--chunks", nargs="+", type=float, default=[1.0, 4.0])
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "music_full")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "bench_music_full")
    ap.add_argument("--md-only", action="store_true", help="only rewrite the .md from the recorded .json")
    ap.add_argument("--no-op-profile", action="store_true", help="skip the per-operator profile (its ~10 calls of "
                    "every operator alone take long on the full-size Conv-TasNet)")
    args = ap.parse_args()
    path = args.results.with_suffix(".json")
    results = json.loads(path.read_text()) if path.is_file() else {"models": {}}
    if args.md_only:
        args.models, args.chunks = [], []
    for chunk in args.chunks:
        for name in args.models:
            work = args.work / name
            entry = results["models"].setdefault(name, {"benches": {}})
            entry["prepare"] = prepare(name, work)
            print(f"{name}, {chunk:g} s ...", flush=True)
            b = bench(name, work, chunk, not args.no_op_profile)
            entry["benches"][f"{chunk:g}"] = b
            print(f"  int8 {b['runs']['int8']['latency_ms']:.1f} ms, float32 {b['runs']['float32']['latency_ms']:.1f} "
                  f"ms (load {b['load_before'][0]} -> {b['load_after'][0]}, {b['wall_seconds']:.0f} s)", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2))
    write_page(args.results.with_suffix(".md"), to_markdown(results))
    print(f"wrote {path} and .md")
    return 0


def _rel(command: str) -> str:
    """A recorded command as one would type it in the repository."""
    return command.replace(f"{sys.executable} -m fqss_edge.cli.main", "fqss-edge").replace(
        sys.executable, ".venv/bin/python").replace(f"{ROOT}/", "")


def _cell(run: dict, key: str, fmt: str) -> str:
    return format(run[key], fmt) if run.get(key) is not None else "n/a"


def _delegation(d: dict) -> str:
    return f"{d['delegated']}/{d['operators']} ops, {d['partitions']} partition{'s' * (d['partitions'] != 1)}"


def _model_section(name: str, entry: dict) -> list[str]:
    benches = [entry["benches"][k] for k in sorted(entry["benches"], key=float)]
    heads = [f"{kind}, {b['chunk_seconds']:g} s" for b in benches for kind in ("int8", "float32")]
    runs = [b["runs"][kind] for b in benches for kind in ("int8", "float32")]
    rate = runs[0]["sample_rate"]
    lines = [f"## {name} (configs/{name}.yaml, {rate / 1000:g} kHz, stereo, 4 stems)", "",
             "    " + "\n    ".join(_rel(c) for c in entry["prepare"].values()), ""]
    lines += ["| | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    rows = [("file size (MB)", lambda r: _cell(r, "file_mb", ".2f")),
            ("XNNPACK", lambda r: _delegation(r["delegation"])),
            ("latency (ms, one run)", lambda r: _cell(r, "latency_ms", ".1f")),
            ("real-time factor", lambda r: _cell(r, "rtf", ".3f")),
            ("first inference (ms)", lambda r: _cell(r, "first_ms", ".1f")),
            ("peak RSS (MB, child process)", lambda r: _cell(r, "peak_rss_mb", ".1f"))]
    lines += [f"| {label} | " + " | ".join(f(r) for r in runs) + " |" for label, f in rows]
    lines.append("| load average 1/5 min before -> after | " + " | ".join(
        f"{b['load_before'][0]}/{b['load_before'][1]} -> {b['load_after'][0]}/{b['load_after'][1]}"
        for b in benches for _ in (0, 1)) + " |")
    lines.append("")
    for b in benches:
        i8, f32 = b["runs"]["int8"], b["runs"]["float32"]
        nd = i8["delegation"]["not_delegated"]
        lines.append(f"{b['chunk_seconds']:g} s: int8 takes {i8['latency_ms'] / f32['latency_ms']:.2f}x the float32 "
                     f"time ({b['date']}; `{_rel(b['command'])}`). int8 operators left to the builtin kernels: "
                     + (", ".join(f"{op} {n}" for op, n in nd.items()) or "none") + ".")
    profiled = [b for b in benches if b["runs"]["int8"]["ops"]]
    if not profiled:
        return lines + ["", "No operator profile recorded.", ""]
    last = profiled[-1]
    lines += ["", f"Operator profile, {last['chunk_seconds']:g} s chunk (each operator timed alone, mean of 10 calls, "
              f"summed per type; top 8 of the int8 model; inputs {last['runs']['int8']['inputs']} / "
              f"{last['runs']['float32']['inputs']}):", "",
              "| op | int8: count, ms, share | float32: count, ms, share |", "|---|---|---|"]
    i8, f32 = last["runs"]["int8"]["ops"], last["runs"]["float32"]["ops"]
    for op in list(i8)[:8]:
        cells = [f"{o[op]['count']}, {o[op]['ms']:.1f}, {100 * o[op]['share']:.0f}%" if op in o else "none"
                 for o in (i8, f32)]
        lines.append(f"| {op} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def to_markdown(results: dict) -> str:
    lines = ["# Full-size music models, LiteRT int8 vs float32, 1 thread, one run", "",
             "Generated by `benchmarks/bench_music_full.py` from `bench_music_full.json`. Random weights "
             "(`benchmarks/random_checkpoints.py`: He-initialised, quantizers calibrated on two random batches), "
             "stereo in and out, 4 sources (drums, bass, other, vocals), each model at its own rate, int16 PCM I/O "
             "for int8. One timed run per model and chunk, no warm-up beyond the first inference, on a 2-core "
             "x86-64 (AVX2, no VNNI), possibly shared with other jobs: the load averages are in each table. "
             "Absolute times are indicative only; the int8 / float32 ratio inside one bench (same moment) is "
             "the figure that counts.", ""]
    lines += ["| model | chunk | int8 ms | float32 ms | int8 / float32 | int8 RTF | int8 XNNPACK | peak RSS int8 / "
              "float32 (MB) | file int8 / float32 (MB) |", "|---|---|---:|---:|---:|---:|---|---|---|"]
    for name in MODELS:
        for key, b in sorted(results["models"].get(name, {}).get("benches", {}).items(), key=lambda kv: float(kv[0])):
            i8, f32 = b["runs"]["int8"], b["runs"]["float32"]
            lines.append(f"| {name} | {key} s | {i8['latency_ms']:.0f} | {f32['latency_ms']:.0f} | "
                         f"{i8['latency_ms'] / f32['latency_ms']:.2f} | {i8['rtf']:.3f} | {_delegation(i8['delegation'])} "
                         f"| {_cell(i8, 'peak_rss_mb', '.0f')} / {_cell(f32, 'peak_rss_mb', '.0f')} | "
                         f"{i8['file_mb']:.2f} / {f32['file_mb']:.2f} |")
    lines += ["", "Notes:", "",
              "- int8 XNNPACK: the operators left to the builtin kernels are listed per bench below; in the U-Nets only "
              "the int16 PCM I/O islands (FQSS input splitter and output reconstruction), outside one partition.",
              "- Operator profiles of models whose activations exceed 1 GiB at the chunk length "
              "(`fqss_edge.bench.profile.CAPTURE_BUDGET_BYTES`) ran on synthesized inputs of the same shapes and "
              "types (`inputs synthetic`); the others on the inputs captured from a run of the whole model."]
    for name in MODELS:
        for key, b in sorted(results["models"].get(name, {}).get("benches", {}).items(), key=lambda kv: float(kv[0])):
            if not b["runs"]["int8"]["ops"]:
                prof = [o for o in results["models"][name]["benches"].values() if o["runs"]["int8"]["ops"]]
                lines.append(f"- {name}, {key} s: run without `--op-profile` (`--no-op-profile`)" + (
                    f"; the profiled {prof[0]['chunk_seconds']:g} s bench took {prof[0]['wall_seconds']:.0f} s of wall "
                    f"time at load {prof[0]['load_before'][0]}-{prof[0]['load_after'][0]}, most of it the profile "
                    f"(every operator run 11 times alone)." if prof else "."))
    lines += ["- Supersedes `bench_unets_full.md` (mono, recorded before the stereo contract, lightweight Wave-U-Net "
              "and ResUNet only; in the git history).", ""]
    for name in MODELS:
        if name in results["models"]:
            lines += _model_section(name, results["models"][name])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
