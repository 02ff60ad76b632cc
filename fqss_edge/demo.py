"""The built-in default job (the README's main command): the shipped tiny FQSS Conv-TasNet from checkpoint to
app in one run, with a summary page a person can open.

export (model.onnx + model.tflite) -> parity (PyTorch vs onnxruntime vs LiteRT) -> evaluation (float vs int8 on
held-out speakers) -> bench (latency / real-time factor, float vs int8 side by side) -> separate the example
mixture with the float model and the int8 .tflite -> ``summary/index.html``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fqss_edge.assets import asset


@dataclass
class DemoResult:
    out_dir: Path
    page: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    parity_markdown: str = ""


def _step(result: DemoResult, name: str, log: Callable[[str], None], msg: str):
    log(msg)
    t = time.time()

    def done() -> None:
        result.seconds[name] = round(time.time() - t, 1)

    return done


def _metrics(float_ckpt: Path, int8_ckpt: Path, parity: Any, data: Path) -> list[dict[str, Any]]:
    from fqss_edge.evaluation_report import run_evaluation

    rows = []
    for label, ckpt in (("float (PyTorch)", float_ckpt), ("FQSS int8 (PyTorch simulation)", int8_ckpt)):
        m = run_evaluation(ckpt, data, with_sdr=True, progress=False).as_dict()["mean"]
        rows.append({"model": label, "SI-SDR (dB)": round(m["si_sdr"], 2), "SI-SDRi (dB)": round(m["si_sdri"], 2),
                     "SDR (dB)": round(m["sdr"], 2)})
    for rt in parity.runtimes:
        o = rt.overall
        rows.append({"model": f"FQSS int8 ({rt.runtime}, {Path(rt.model).suffix})",
                     "ΔSI-SDR vs simulation (dB)": round(o.delta_si_sdr_db, 3), "max |diff| (LSB)": o.max_lsb,
                     "% within 1 LSB": round(o.pct_within_1lsb, 2), "SQNR vs simulation (dB)": round(o.sqnr_db, 1)})
    return rows


def _latency(models: list[Path], chunk: float, runs: int) -> tuple[list[dict[str, Any]], str]:
    from fqss_edge.bench.session import BenchRequest, run_bench

    report = run_bench(BenchRequest(models=models, chunk_seconds=chunk, runs=runs, warmup=3, threads=1))
    rows = []
    for r in report.results:
        lat = r.latency
        rows.append({"model": r.label, "file (KB)": round(r.file_bytes / 1024, 1), "mean (ms)": round(lat.mean, 2),
                     "p90 (ms)": round(lat.p90, 2), "RTF": round(r.rtf, 4),
                     "peak RSS (MB)": round(r.memory.peak_mb, 1) if r.memory else "-"})
    return rows, report.to_markdown()


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
    example, test_set = asset("example_mixture.wav"), asset("test_set")

    done = _step(result, "export", log, "1/5 export: FQSS checkpoint -> model.onnx + model.tflite (int8), float -> the same (float32)")
    int8 = export_bundle(int8_ckpt, out / "export" / "int8")
    flt = export_bundle(float_ckpt, out / "export" / "float")
    done()

    done = _step(result, "parity", log, "2/5 parity and quality on held-out speakers: PyTorch vs onnxruntime vs LiteRT")
    parity = run_parity(int8_ckpt, [int8.onnx.path, int8.tflite], test_set)
    result.parity_markdown = parity.to_markdown()
    (out / "parity.md").write_text(result.parity_markdown)
    result.metrics = _metrics(float_ckpt, int8_ckpt, parity, test_set)
    done()

    done = _step(result, "bench", log, "3/5 bench: float vs int8, 4 s chunks, 1 thread, on this CPU")
    # like for like: each runtime with the float and the int8 file
    models = [flt.onnx.path, int8.onnx.path, flt.tflite, int8.tflite]
    result.latency, bench_md = _latency(models, 4.0, bench_runs)
    (out / "bench.md").write_text(bench_md)
    done()

    done = _step(result, "separate", log, "4/5 separate the example mixture with the float model and the int8 .tflite")
    outputs = {}
    for label, model in (("float (PyTorch)", float_ckpt), ("int8 TFLite (LiteRT, XNNPACK)", int8.tflite)):
        sub = out / "separated" / ("float" if "float" in label else "int8_tflite")
        paths = separate_file(example, open_backend(model), sub)
        outputs[label] = list(paths.values())
    done()

    done = _step(result, "page", log, "5/5 summary page")
    result.page = build_summary_page(out / "summary", example, outputs, result.metrics, result.latency,
                                     title="fqss-edge: tiny FQSS Conv-TasNet, float vs int8")
    done()
    result.seconds["total"] = round(time.time() - t0, 1)
    (out / "summary.json").write_text(json.dumps({"seconds": result.seconds, "metrics": result.metrics,
                                                  "latency": result.latency, "page": str(result.page)}, indent=2))
    return result
