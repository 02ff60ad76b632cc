"""gLN statistics in int16 (``norm_bits: 16``, the default) vs all-int8 (``norm_bits: 8``): speed and accuracy, ONE run.

1. Speed: the full-size Conv-TasNet (``configs/convtasnet_2spks_8k.yaml``), random weights with gLN gamma/beta
   nudged off their 1/0 initial values (as ``benchmarks/bench_suite.py`` does, so XNNPACK accepts the ADDs),
   calibrated on two random batches, exported with ``export_bundle(io="int16")``; LiteRT int8 (XNNPACK) at
   1 thread, 4 s chunks, both models round-robin in one ``run_bench``; XNNPACK operator / partition counts and the
   operators left to TFLite's kernels; optionally (``--profile``) per-operator profiles of both graphs. A third
   file, the norm_bits=8 graph with its scalar int8 RSQRTs rewritten post hoc as DEQUANTIZE -> float32 RSQRT ->
   QUANTIZE (analysis only; the exporter is unchanged), shows what the XNNPACK partition cuts cost.
2. Accuracy: PTQ of the trained tiny float checkpoint (``fqss_edge/assets/convtasnet_tiny_float.safetensors``,
   ``configs/convtasnet_tiny.yaml``) with norm_bits 16 vs 8 (and ``--act16``: act_bits 16), calibrated on the
   qat_methods train mixtures, test SI-SDRi (PyTorch simulation) vs the float model.

Writes ``benchmarks/results/gln_int8.{json,md}``:

    .venv/bin/python benchmarks/gln_int8.py --profile --act16   # the recorded run (~2 min on 2 cores)
    .venv/bin/python benchmarks/gln_int8.py                     # speed + norm_bits 16/8 PTQ only
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "configs" / "convtasnet_2spks_8k.yaml"
TINY = ROOT / "configs" / "convtasnet_tiny.yaml"
FLOAT_CKPT = ROOT / "fqss_edge" / "assets" / "convtasnet_tiny_float.safetensors"
DATA = ROOT / "benchmarks" / "work" / "qat_methods" / "data"


# -- 1. speed ---------------------------------------------------------------------------------------------------

def build_full(norm_bits: int, work: Path, seed: int = 0) -> Path:
    """Random full-size checkpoint (gamma/beta nudged, calibrated) -> int8 .tflite (int16 PCM I/O)."""
    from fqss_edge.export.bundle import export_bundle
    from fqss_edge.checkpoint import save_checkpoint
    from fqss_edge.config import load_config
    from fqss_edge.models import build_model
    from fqss_edge.parity.synthetic import calibrate

    cfg = load_config(FULL).updated(quant={"norm_bits": norm_bits})
    out = work / f"full_nb{norm_bits}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    torch.manual_seed(seed)
    model = build_model(cfg.model, cfg.quant)
    with torch.no_grad():  # same nudge as bench_suite: beta = 0 quantizes with a ~1e-12 scale XNNPACK refuses
        for name, p in model.named_parameters():
            if name.endswith((".gamma", ".beta")):
                p.add_(torch.randn_like(p) * (0.1 if name.endswith(".gamma") else 0.05))
    calibrate(model, batches=2, length=8000, seed=seed)
    ckpt = save_checkpoint(out / "model.safetensors", model.state_dict(), cfg, {"method": "random"})
    res = export_bundle(ckpt, out, io="int16")
    return res.tflite if getattr(res, "tflite", None) else out / "model.tflite"


def rsqrt_via_float(src: Path, dst: Path) -> int:
    """Analysis only (the exporter is not changed): rewrite every int8 RSQRT (one scalar per gLN) as
    DEQUANTIZE -> float32 RSQRT -> QUANTIZE, which XNNPACK delegates, so the graph is not cut at each gLN."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fu

    B = schema.BuiltinOperator
    m = fu.read_model(str(src))
    sg = m.subgraphs[0]

    def opcode(code: int, version: int) -> int:
        for i, oc in enumerate(m.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and oc.version == version:
                return i
        oc = schema.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), version
        m.operatorCodes.append(oc)
        return len(m.operatorCodes) - 1

    deq, rs, qu = opcode(B.DEQUANTIZE, 2), opcode(B.RSQRT, 1), opcode(B.QUANTIZE, 2)
    ops, n = [], 0
    for op in sg.operators:
        if fu.opcode_to_name(m, op.opcodeIndex) != "RSQRT":
            ops.append(op)
            continue
        n += 1
        tin = sg.tensors[op.inputs[0]]
        fl = []
        for nm in ("deq", "rsqrt"):
            t = schema.TensorT()
            t.name = f"rsqrt{n}_f32_{nm}"
            t.shape, t.type = list(tin.shape), schema.TensorType.FLOAT32
            m.buffers.append(schema.BufferT())
            t.buffer = len(m.buffers) - 1
            sg.tensors.append(t)
            fl.append(len(sg.tensors) - 1)
        for code, i, o in ((deq, op.inputs[0], fl[0]), (rs, fl[0], fl[1]), (qu, fl[1], op.outputs[0])):
            o2 = schema.OperatorT()
            o2.opcodeIndex, o2.inputs, o2.outputs = code, [i], [o]
            ops.append(o2)
    sg.operators = ops
    fu.write_model(m, str(dst))
    return n


def _run(path: Path, n: int, seed: int = 0) -> Any:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], list(d["shape"][:-1]) + [n], strict=False)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(seed).standard_normal(d["shape"]) * 3000
    it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).astype(np.int64)


def speed(work: Path, runs: int, warmup: int, chunk: float, profile: bool) -> dict[str, Any]:
    from fqss_edge.bench import BenchRequest, run_bench
    from fqss_edge.runtimes.litert_backend import LiteRtBackend, xnnpack_delegation

    paths, export_s = {}, {}
    for nb in (16, 8):
        t0 = time.time()
        paths[nb] = build_full(nb, work)
        export_s[nb] = round(time.time() - t0, 1)
        print(f"full-size norm_bits={nb}: exported in {export_s[nb]} s", flush=True)
    # "8f": the norm_bits=8 graph with its scalar RSQRTs evaluated in float32 (post-hoc rewrite, analysis only)
    paths["8f"] = paths[8].parent / "model_rsqrt_f32.tflite"
    export_s["8f"] = None
    n_rsqrt = rsqrt_via_float(paths[8], paths["8f"])
    report = run_bench(BenchRequest(models=[paths[16], paths[8], paths["8f"]], threads=1, chunk_seconds=chunk,
                                    runs=runs, warmup=warmup, memory=False)).to_dict()
    by_path = {Path(r["path"]).resolve(): r for r in report["results"]}
    rows = {}
    for nb, p in paths.items():
        r = by_path[p.resolve()]
        contract = LiteRtBackend(kernels="builtin").load(paths[8]).io_contract
        n = contract.valid_length(round(chunk * contract.sample_rate))
        deleg = xnnpack_delegation(p, length=n, threads=1)
        lat = r["latency_ms"]
        label = f"{nb}" if nb != "8f" else "8, RSQRT in float32 (rewritten)"
        rows[nb] = {"norm_bits": label, "tflite": str(p.relative_to(ROOT)), "file_bytes": p.stat().st_size,
                    "rtf": r["rtf"], "mean_ms": lat["mean"], "median_ms": lat.get("median", lat.get("p50")),
                    "p90_ms": lat["p90"], "runs": runs, "samples": n, "xnnpack": deleg,
                    "export_seconds": export_s[nb]}
        print(f"  norm_bits={label}: RTF {r['rtf']:.4f}  XNNPACK {deleg['delegated']}/{deleg['operators']} ops, "
              f"{deleg['partitions']} partitions, not delegated {deleg['not_delegated']}", flush=True)
    a, b = _run(paths[8], n), _run(paths["8f"], n)
    out: dict[str, Any] = {"chunk_seconds": chunk, "threads": 1, "rows": [rows[16], rows[8], rows["8f"]],
                           "speedup_nb8_vs_nb16": rows[16]["rtf"] / rows[8]["rtf"],
                           "rsqrt_f32_rewrite": {"rsqrt_ops": n_rsqrt, "max_abs_output_diff_vs_nb8": int(abs(a - b).max()),
                                                 "rtf_ratio_vs_nb8": rows["8f"]["rtf"] / rows[8]["rtf"]}}
    if profile:
        out["op_profile_nb8"] = op_profile(paths[8], chunk)
        out["op_profile_nb16"] = op_profile(paths[16], chunk)
    return out


def op_profile(path: Path, chunk: float, runs: int = 3) -> dict[str, Any]:
    """Every operator timed alone, grouped by (op, output dtype, taken by XNNPACK)."""
    from fqss_edge.bench.profile import tflite_op_profile
    from fqss_edge.bench.runner import make_target

    t0 = time.time()
    rows = tflite_op_profile(make_target(path, 1, True, False), chunk, runs=runs)
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault((r["op"], r["output_dtype"], r["xnnpack"]),
                              {"op": r["op"], "dtype": r["output_dtype"], "xnnpack": r["xnnpack"], "count": 0,
                               "median_ms": 0.0, "shapes": set()})
        g["count"] += 1
        g["median_ms"] += r["median_ms"]
        g["shapes"].add(r["output_shape"])
    total = sum(g["median_ms"] for g in groups.values()) or 1.0
    for g in groups.values():
        g["percent"] = 100 * g["median_ms"] / total
        g["shapes"] = sorted(g["shapes"])[:4]
    print(f"  op profile {path.parent.name}: {len(rows)} ops in {time.time() - t0:.0f} s", flush=True)
    return {"total_ms": total, "groups": sorted(groups.values(), key=lambda g: -g["median_ms"])}


# -- 2. accuracy ------------------------------------------------------------------------------------------------

def accuracy(work: Path, variants: list[tuple[int, int]]) -> dict[str, Any]:
    from fqss_edge.config import load_config
    from fqss_edge.evaluation_report import run_evaluation
    from fqss_edge.train.loop import train

    test = DATA / "test" if (DATA / "test" / "mix").is_dir() else ROOT / "fqss_edge" / "assets" / "test_set"
    calib = DATA / "train" if (DATA / "train" / "mix").is_dir() else test
    valid = DATA / "valid" if (DATA / "valid" / "mix").is_dir() else test
    notes = [] if calib != test else ["PTQ calibrated on the TEST mixtures (no train set found)"]
    n_test = len(list((test / "mix").glob("*.wav")))

    def si_sdri(ckpt: Path) -> float:
        return float(run_evaluation(ckpt, test, with_sdr=False, progress=False).as_dict()["mean"]["si_sdri"])

    rows = [{"model": "float", "act_bits": None, "norm_bits": None, "si_sdri": si_sdri(FLOAT_CKPT)}]
    print(f"float: test SI-SDRi {rows[0]['si_sdri']:.3f} dB ({n_test} mixtures)", flush=True)
    for ab, nb in variants:
        cfg = load_config(TINY).updated(quant={"act_bits": ab, "norm_bits": nb},
                                        data={"train": str(calib), "valid": str(valid), "test": str(test)})
        out = work / f"ptq_a{ab}_n{nb}"
        if out.exists():
            shutil.rmtree(out)
        torch.manual_seed(0)
        train(cfg, "ptq", out, FLOAT_CKPT, progress=False)
        s = si_sdri(out / "best.safetensors")
        rows.append({"model": f"PTQ int8 w, act {ab}, norm {nb}", "act_bits": ab, "norm_bits": nb, "si_sdri": s,
                     "delta_vs_float": s - rows[0]["si_sdri"]})
        print(f"PTQ act_bits={ab} norm_bits={nb}: test SI-SDRi {s:.3f} dB ({s - rows[0]['si_sdri']:+.3f})", flush=True)
    return {"float_checkpoint": str(FLOAT_CKPT.relative_to(ROOT)), "config": str(TINY.relative_to(ROOT)),
            "test": str(test.relative_to(ROOT)), "n_test": n_test, "calibration": str(calib.relative_to(ROOT)),
            "calib_batches": load_config(TINY).quant.calib_batches, "notes": notes, "rows": rows}


# -- report -----------------------------------------------------------------------------------------------------

def to_markdown(rec: dict[str, Any]) -> str:
    L = ["# gLN statistics: int16 island (norm_bits=16) vs all-int8 (norm_bits=8)", "",
         f"`{rec['command']}` — {rec['duration_s']:.0f} s, {rec['started']}, {rec['machine']}", ""]
    s = rec.get("speed")
    if s:
        L += [f"## Speed: full-size Conv-TasNet, LiteRT int8 (XNNPACK), {s['threads']} thread, "
              f"{s['chunk_seconds']:g} s chunk, random calibrated weights", "",
              "| norm_bits | RTF | mean (ms) | p90 (ms) | XNNPACK ops | partitions | not delegated | file (MB) |",
              "|---|---:|---:|---:|---:|---:|---|---:|"]
        for r in s["rows"]:
            d = r["xnnpack"]
            nd = ", ".join(f"{k} x{v}" for k, v in d["not_delegated"].items()) or "-"
            L.append(f"| {r['norm_bits']} | {r['rtf']:.4f} | {r['mean_ms']:.1f} | {r['p90_ms']:.1f} | "
                     f"{d['delegated']}/{d['operators']} | {d['partitions']} | {nd} | {r['file_bytes'] / 2**20:.2f} |")
        rw = s["rsqrt_f32_rewrite"]
        L += ["", f"Speed-up norm_bits 8 vs 16: **{s['speedup_nb8_vs_nb16']:.2f}x** (RTF ratio). "
              f"Target RTF <= 0.025.", "",
              f"Last row (analysis, not an exporter change): the norm_bits=8 file with its {rw['rsqrt_ops']} int8 "
              f"RSQRTs rewritten as DEQUANTIZE -> float32 RSQRT -> QUANTIZE: max |output diff| vs norm_bits=8 "
              f"{rw['max_abs_output_diff_vs_nb8']} LSB, RTF ratio {rw['rtf_ratio_vs_nb8']:.3f}.", ""]
        for key in ("op_profile_nb8", "op_profile_nb16"):
            if key in s:
                p = s[key]
                L += [f"### Per-operator profile, {key[-4:]} (each op timed alone, sum {p['total_ms']:.1f} ms)", "",
                      "| op | out dtype | XNNPACK | count | sum of medians (ms) | % |", "|---|---|---|---:|---:|---:|"]
                for g in p["groups"][:15]:
                    L.append(f"| {g['op']} | {g['dtype']} | {'yes' if g['xnnpack'] else 'no'} | {g['count']} | "
                             f"{g['median_ms']:.2f} | {g['percent']:.1f} |")
                L.append("")
    a = rec.get("accuracy")
    if a:
        L += [f"## Accuracy: PTQ of `{a['float_checkpoint']}` ({a['config']}), PyTorch simulation", "",
              f"Test: `{a['test']}` ({a['n_test']} mixtures); calibration: `{a['calibration']}` "
              f"({a['calib_batches']} batches).", "", "| model | test SI-SDRi (dB) | delta vs float (dB) |",
              "|---|---:|---:|"]
        for r in a["rows"]:
            d = r.get("delta_vs_float")
            L.append(f"| {r['model']} | {r['si_sdri']:.3f} | {'' if d is None else f'{d:+.3f}'} |")
        L += [""] + [f"- {n}" for n in a["notes"]]
    return "\n".join(L).rstrip() + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "gln_int8")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--chunk", type=float, default=4.0)
    ap.add_argument("--profile", action="store_true", help="per-op profile of both full-size graphs")
    ap.add_argument("--act16", action="store_true", help="also PTQ with act_bits=16 (norm 16)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gln_int8")
    args = ap.parse_args()
    torch.set_num_threads(1)
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.time()
    rec: dict[str, Any] = {"command": ("python benchmarks/gln_int8.py " + " ".join(map(shlex.quote, sys.argv[1:]))).strip(),
                           "started": started, "machine": f"{platform.processor() or platform.machine()}, "
                                                          f"{torch.get_num_threads()} torch thread"}
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.skip_speed:
        rec["speed"] = speed(args.work, args.runs, args.warmup, args.chunk, args.profile)
    if not args.skip_accuracy:
        variants = [(8, 16), (8, 8)] + ([(16, 16)] if args.act16 else [])
        rec["accuracy"] = accuracy(args.work, variants)
    rec["duration_s"] = time.time() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rec, indent=2, default=str) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(rec))
    print(to_markdown(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
