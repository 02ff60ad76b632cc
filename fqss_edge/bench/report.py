"""Benchmark results and their three renderings: a rich table (models side by side), JSON and Markdown.

Every ratio is against the FIRST model of the run (``0.25x`` on latency: four times faster than the first).
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from fqss_edge.bench.memory import MemoryResult
from fqss_edge.bench.stats import LatencyStats, mean, real_time_factor

EMULATED = "emulated, not representative"


@dataclass
class ModelResult:
    label: str
    path: str
    kind: str  # tflite | onnx | pytorch | pytorch-float
    backend: str
    file_bytes: int
    threads: int
    xnnpack: bool | None
    sample_rate: int
    chunk_seconds: float
    samples: int
    init_ms: float
    first_ms: float
    warmup_ms: list[float]
    latencies_ms: list[float]
    memory: MemoryResult | None = None
    memory_error: str | None = None
    delegation: dict[str, Any] | None = None

    @property
    def latency(self) -> LatencyStats:
        return LatencyStats.of(self.latencies_ms)

    @property
    def warmup_mean_ms(self) -> float | None:
        return mean(self.warmup_ms) if self.warmup_ms else None

    @property
    def rtf(self) -> float:
        return real_time_factor(self.latency.mean, self.samples / self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("latencies_ms"), d.pop("warmup_ms")
        d.update(warmup_mean_ms=self.warmup_mean_ms, warmup_runs=len(self.warmup_ms), latency_ms=self.latency.to_dict(),
                 rtf=self.rtf, rtf_p90=real_time_factor(self.latency.p90, self.samples / self.sample_rate),
                 memory=self.memory.to_dict() if self.memory else None, raw_latencies_ms=self.latencies_ms)
        return d


@dataclass
class BenchReport:
    device: dict[str, Any]
    where: str  # "local", "ssh user@host", or "emulated (...)"
    settings: dict[str, Any]
    results: list[ModelResult]
    emulated: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)

    def ratios(self, r: ModelResult) -> dict[str, float | None]:
        first = self.results[0]

        def ratio(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        def peak(x: ModelResult) -> float | None:
            return x.memory.peak_mb if x.memory else None

        return {"latency": ratio(r.latency.mean, first.latency.mean), "rtf": ratio(r.rtf, first.rtf),
                "file_size": ratio(r.file_bytes, first.file_bytes), "peak_rss": ratio(peak(r), peak(first))}

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "where": self.where, "emulated": self.emulated,
                "timing_note": EMULATED if self.emulated else None, "settings": self.settings,
                "environment": self.environment, "caveats": self.caveats,
                "results": [dict(r.to_dict(), ratios_vs_first=self.ratios(r)) for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # -- tables ---------------------------------------------------------------------------------------------------
    def title(self) -> str:
        s = self.settings
        t = (f"fqss-edge bench: device {self.device.get('name')} ({self.where}), chunk {s['chunk_seconds']:g} s, "
             f"{s['threads']} thread{'s' if s['threads'] != 1 else ''}")
        return t + (f" -- {EMULATED.upper()}" if self.emulated else "")

    def rows(self) -> list[tuple[str, list[str]]]:
        """(metric, one cell per model): the side-by-side table every renderer prints."""
        tag = f" ({EMULATED})" if self.emulated else ""
        R = self.results

        def cells(fn: Any) -> list[str]:
            return [fn(r) for r in R]

        def with_ratio(value: str, ratio: float | None, r: ModelResult) -> str:
            return value if r is R[0] or ratio is None else f"{value} ({ratio:.2f}x)"

        lat = {id(r): r.latency for r in R}
        rows = [
            ("format / backend", cells(lambda r: f"{r.kind} / {r.backend}")),
            ("file size (MB)", cells(lambda r: with_ratio(f"{r.file_bytes / 2**20:.2f}", self.ratios(r)["file_size"],
                                                          r))),
            ("threads", cells(lambda r: str(r.threads))),
            ("XNNPACK", cells(_xnnpack_cell)),
            (f"init (ms){tag}", cells(lambda r: f"{r.init_ms:.1f}")),
            (f"first inference (ms){tag}", cells(lambda r: f"{r.first_ms:.2f}")),
            (f"warm-up mean (ms){tag}", cells(lambda r: "-" if r.warmup_mean_ms is None
                                              else f"{r.warmup_mean_ms:.2f} ({_plural(len(r.warmup_ms), 'run')})")),
            (f"latency mean ± std (ms){tag}", cells(lambda r: with_ratio(
                f"{lat[id(r)].mean:.2f} ± {lat[id(r)].std:.2f}", self.ratios(r)["latency"], r))),
        ]
        for key in ("min", "p50", "p90", "p99", "max"):
            rows.append((f"latency {key} (ms){tag}", cells(lambda r, k=key: f"{getattr(lat[id(r)], k):.2f}")))
        rows += [
            ("timed runs", cells(lambda r: str(lat[id(r)].n))),
            (f"real-time factor{tag}", cells(lambda r: with_ratio(f"{r.rtf:.4f}", self.ratios(r)["rtf"], r))),
            ("peak RSS (MB, child process)", cells(_memory_cell_with(self))),
        ]
        return rows

    def to_markdown(self) -> str:
        head = ["metric"] + [r.label for r in self.results]
        lines = [f"### {self.title()}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([k] + v) + " |" for k, v in self.rows()]
        lines += [""] + [f"- {c}" for c in self.caveats]
        return "\n".join(lines) + "\n"

    def print_table(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = console or Console()
        table = Table(title=escape(self.title()), title_justify="left")
        table.add_column("metric", style="bold")
        for r in self.results:
            table.add_column(escape(r.label), justify="right")
        for k, v in self.rows():
            table.add_row(escape(k), *(escape(c) for c in v))
        console.print(table)
        for c in self.caveats:
            console.print(f"[dim]note: {escape(c)}[/dim]")


def _xnnpack_cell(r: ModelResult) -> str:
    if r.xnnpack is None:
        return "n/a"
    if not r.xnnpack:
        return "off"
    d = r.delegation
    if not d:
        return "on"
    return f"on: {d['delegated']}/{d['operators']} ops, {_plural(d['partitions'], 'partition')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _memory_cell_with(report: BenchReport) -> Any:
    def cell(r: ModelResult) -> str:
        if r.memory is None:
            return "-" if not r.memory_error else "failed"
        v = f"{r.memory.peak_mb:.1f}"
        ratio = report.ratios(r)["peak_rss"]
        return v if r is report.results[0] or ratio is None else f"{v} ({ratio:.2f}x)"

    return cell


def host_environment() -> dict[str, Any]:
    import os

    cpu = cpu_info()
    env: dict[str, Any] = {"machine": platform.machine(), "system": platform.system(),
                           "python": platform.python_version(), "cpu_count": os.cpu_count(), "cpu": cpu["model"],
                           "cpu_simd": cpu["simd"]}
    for mod in ("numpy", "onnxruntime", "ai_edge_litert", "tflite_runtime", "torch"):
        try:
            from importlib.metadata import version

            env[mod] = version(mod.replace("_", "-"))
        except Exception:  # not installed
            pass
    for mod in ("ai_edge_litert", "tflite_runtime"):  # the interpreter the LiteRT backend takes (same order)
        if mod in env:
            env["litert_module"], env["litert_version"] = mod, env[mod]
            break
    return env


def cpu_info() -> dict[str, Any]:
    """The CPU's model name and its SIMD flags that decide int8 vs float speed (/proc/cpuinfo): x86 AVX / FMA /
    SSE4 and any VNNI (int8 dot products; without them XNNPACK's int8 convolutions run at about float32's speed,
    ``benchmarks/results/conv_int8_vs_float.md``), Arm ASIMD / SVE / i8mm and the dot-product extension."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4", "asimd", "sve", "i8mm")) or "vnni" in f
                  or f in ("asimddp", "dotprod"))
    return {"model": model, "simd": simd}


def has_int8_dot_product(simd: list[str]) -> bool:
    """Whether the CPU has int8 dot-product instructions (x86 VNNI, Arm dot product / i8mm), which XNNPACK's int8
    convolutions need to run faster than float32's."""
    return any("vnni" in f or f in ("asimddp", "dotprod", "i8mm") for f in simd)


def tflite_precision(path: str) -> str | None:
    """``int8`` / ``float32``: the precision an fqss-edge .tflite's metadata records (None: no such metadata)."""
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.metadata import read_tflite_metadata

    try:
        return read_tflite_metadata(path).get("precision")
    except FqssError:
        return None


def int8_speed_caveat(results: list[ModelResult], simd: list[str]) -> str | None:
    """``int8_speed_note`` for the first int8 and the first float32 .tflite of a run (None without both)."""
    first: dict[str | None, ModelResult] = {}
    for r in results:
        if r.kind == "tflite":
            first.setdefault(tflite_precision(r.path), r)
    if "int8" not in first or "float32" not in first:
        return None
    return int8_speed_note(first["int8"].latency.mean, first["float32"].latency.mean, simd)


def int8_speed_note(int8_ms: float, float_ms: float, simd: list[str]) -> str | None:
    """One line explaining an int8 model that is not faster than its float32 twin on a CPU without int8 dot
    products (None otherwise): the user should not conclude that quantization failed."""
    if int8_ms < float_ms or has_int8_dot_product(simd):
        return None
    return (f"The int8 .tflite takes {int8_ms / float_ms:.2f}x the float32 one's time on this CPU: it has no int8 "
            "dot-product instructions (x86 VNNI, Arm dot product), so XNNPACK's int8 convolutions run at about "
            "float32's speed here and the int8 model's extra element-wise operations (normalisation statistics, "
            "requantizations) are not paid back (benchmarks/results/conv_int8_vs_float.md, bn_fold_speed.md). "
            "Time it on the target device: fqss-edge bench --device rpi4 --host user@addr")
