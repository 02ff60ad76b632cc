"""The built-in default job (the README's main command): the shipped tiny FQSS Conv-TasNet (trained on real
recorded speech) from checkpoint to app in one run, with a summary page a person can open.

export (model.onnx + model.tflite) -> parity (PyTorch vs onnxruntime vs LiteRT) -> evaluation (float vs int8 on
real voices never trained on) -> bench (latency / real-time factor, float vs int8 side by side) -> separate the
example mixture with the float model and the int8 .tflite -> ``summary/index.html``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.assets import asset


@dataclass
class DemoResult:
    out_dir: Path
    page: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    parity_markdown: str = ""
    speed_note: str | None = None  # int8 not faster than float32 on a CPU without int8 dot products


def _step(result: DemoResult, name: str, log: Callable[[str], None], msg: str):
    log(msg)
    t = time.time()

    def done() -> None:
        result.seconds[name] = round(time.time() - t, 1)

    return done


def _metrics(float_ckpt: Path, int8_ckpt: Path, parity: Any, data: Path) -> tuple[list[dict], list[dict]]:
    """The mean quality of the float model and the int8 simulation (and each runtime's difference from the
    simulation), and the per-utterance rows."""
    from fqss_edge.evaluation_report import run_evaluation

    rows: list[dict[str, Any]] = []
    per_utt: dict[str, dict[str, Any]] = {}
    for label, short, ckpt in (("float (PyTorch)", "float", float_ckpt), ("int8 (simulation)", "int8", int8_ckpt)):
        report = run_evaluation(ckpt, data, with_sdr=True, progress=False, perceptual=True).as_dict()
        rows.append({"model": label, **_quality(report["mean"])})
        for u in report["utterances"]:
            row = per_utt.setdefault(u["utt_id"], {"utterance": u["utt_id"]})
            row.update({f"{short} {k}": v for k, v in _quality(u).items() if k != "SDR (dB)"})
    for rt in parity.runtimes:
        o = rt.overall
        rows.append({"model": f"{rt.runtime} ({Path(rt.model).suffix})",
                     "ΔSI-SDR (dB)": round(o.delta_si_sdr_db, 3), "max |diff| (LSB)": int(o.max_lsb),
                     "≤ 1 LSB (%)": round(o.pct_within_1lsb, 2), "SQNR (dB)": round(o.sqnr_db, 1)})
    return rows, list(per_utt.values())


def _quality(m: dict[str, Any]) -> dict[str, Any]:
    """SI-SDR, SI-SDRi, SDR (dB), STOI and PESQ, rounded; a metric that was not computed is left out."""
    out = {}
    for key, label, digits in (("si_sdr", "SI-SDR (dB)", 2), ("si_sdri", "SI-SDRi (dB)", 2), ("sdr", "SDR (dB)", 2),
                               ("stoi", "STOI", 3), ("pesq", "PESQ", 2)):
        v = m.get(key)
        if v is not None and v == v:  # not NaN
            out[label] = round(v, digits)
    return out


def _paired(outputs: dict[str, list[Path]], references: list[Path], mixture: Path) -> dict[str, list[str]]:
    """Reorder each model's estimates to the references' order (PIT on SI-SDR); return a note per source with
    its SI-SDRi."""
    import torch

    from fqss_edge.audio import read_wav
    from fqss_edge.metrics import pit_si_sdr, si_sdri

    ref = torch.from_numpy(np.stack([read_wav(p)[0][0] for p in references])).double()
    mix = torch.from_numpy(read_wav(mixture)[0][0]).double()
    notes = {}
    for label, paths in outputs.items():
        est = torch.from_numpy(np.stack([read_wav(p)[0][0] for p in paths])).double()
        n = min(est.shape[-1], ref.shape[-1])
        _, perm = pit_si_sdr(est[None, :, :n], ref[None, :, :n])
        order = [int(i) for i in perm[0]]
        outputs[label] = [paths[i] for i in order]
        gains = si_sdri(est[order, :n], ref[:, :n], mix[:n])
        notes[label] = [f"SI-SDRi {float(g):.1f} dB" for g in gains]
    return notes


def _latency(models: list[Path], chunk: float, runs: int) -> tuple[list[dict[str, Any]], str, str | None]:
    """Bench rows, the report's markdown, and the int8 speed note of the float32 and the int8 .tflite
    (``int8_speed_caveat``: also one of the report's caveats, so in its markdown)."""
    from fqss_edge.bench.report import int8_speed_caveat
    from fqss_edge.bench.session import BenchRequest, run_bench

    report = run_bench(BenchRequest(models=models, chunk_seconds=chunk, runs=runs, warmup=3, threads=1))
    note = int8_speed_caveat(report.results, report.environment.get("cpu_simd", []))
    rows = []
    for r in report.results:
        lat = r.latency
        rows.append({"model": r.label, "file (KB)": round(r.file_bytes / 1024, 1), "mean (ms)": round(lat.mean, 2),
                     "p90 (ms)": round(lat.p90, 2), "RTF": round(r.rtf, 4),
                     "peak RSS (MB)": round(r.memory.peak_mb, 1) if r.memory else "-"})
    return rows, report.to_markdown(), note


def run_demo(out_dir: Path, log: Callable[[str], None] = print, bench_runs: int = 20) -> DemoResult:
    from fqss_edge.export.bundle import export_bundle
    from fqss_edge.parity import run_parity
    from fqss_edge.report.summary_page import build_summary_page
    from fqss_edge.runtimes import open_backend
    from fqss_edge.separate.pipeline import separate_file

    out = Path(out_dir)
    result = DemoResult(out)
    t0 = time.time()
    float_ckpt, int8_ckpt = asset("convtasnet_tiny_float.safetensors"), asset("convtasnet_tiny_fqss.safetensors")
    test_set = asset("test_set")
    example = sorted((test_set / "mix").glob("*.wav"))[0]  # example_mixture.wav; its sources are in s1/ s2/

    done = _step(result, "export", log,
                 "1/5 export: FQSS checkpoint -> model.onnx + model.tflite (int8), float -> the same (float32)")
    int8 = export_bundle(int8_ckpt, out / "export" / "int8")
    flt = export_bundle(float_ckpt, out / "export" / "float")
    done()

    done = _step(result, "parity", log,
                 "2/5 parity and quality on real voices never trained on: PyTorch vs onnxruntime vs LiteRT")
    parity = run_parity(int8_ckpt, [int8.onnx.path, int8.tflite], test_set)
    result.parity_markdown = parity.to_markdown()
    (out / "parity.md").write_text(result.parity_markdown)
    result.metrics, result.utterances = _metrics(float_ckpt, int8_ckpt, parity, test_set)
    done()

    done = _step(result, "bench", log, "3/5 bench: float vs int8, 4 s chunks, 1 thread, on this CPU")
    # like for like: each runtime with the float and the int8 file
    models = [flt.onnx.path, int8.onnx.path, flt.tflite, int8.tflite]
    result.latency, bench_md, result.speed_note = _latency(models, 4.0, bench_runs)
    (out / "bench.md").write_text(bench_md)
    done()

    done = _step(result, "separate", log, "4/5 separate the example mixture with the float model and the int8 .tflite")
    outputs = {}
    for label, model in (("float (PyTorch)", float_ckpt), ("int8 TFLite (LiteRT, XNNPACK)", int8.tflite)):
        sub = out / "separated" / ("float" if "float" in label else "int8_tflite")
        paths = separate_file(example, open_backend(model), sub)
        outputs[label] = list(paths.values())
    references = [test_set / f"s{j + 1}" / example.name for j in range(len(next(iter(outputs.values()))))]
    notes = _paired(outputs, references, example) if all(p.is_file() for p in references) else None
    done()

    done = _step(result, "page", log, "5/5 summary page")
    result.page = build_summary_page(out / "summary", example, outputs, result.metrics, result.latency,
                                     title="fqss-edge: tiny FQSS Conv-TasNet on real speech, float vs int8",
                                     references=references if notes else (), notes=notes,
                                     utterance_table=result.utterances, latency_note=result.speed_note)
    done()
    result.seconds["total"] = round(time.time() - t0, 1)
    (out / "summary.json").write_text(json.dumps({"seconds": result.seconds, "metrics": result.metrics,
                                                  "utterances": result.utterances, "latency": result.latency,
                                                  "latency_note": result.speed_note,
                                                  "page": str(result.page)}, indent=2))
    return result
