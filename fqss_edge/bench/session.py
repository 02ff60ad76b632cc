"""One ``fqss-edge bench`` run: pick where it runs (this host, a device over SSH, or qemu), measure, report.

    report = run_bench(BenchRequest(models=[Path("int8.tflite"), Path("float.onnx")], chunk_seconds=4.0))
    print(report.to_markdown())
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fqss_edge.bench.devices import DeviceProfile, host_arch, load_device
from fqss_edge.bench.memory import CAVEAT, MemoryResult, measure_peak_rss
from fqss_edge.bench.report import EMULATED, BenchReport, ModelResult, host_environment, int8_speed_caveat
from fqss_edge.bench.runner import Measurement, Settings, Target, make_target, run_round_robin, unique_labels
from fqss_edge.errors import FqssError

MEMORY_RUNS = 3


@dataclass
class BenchRequest:
    models: list[Path]
    device: str = "cpu"
    threads: int | None = None  # None: the device profile's default_threads
    chunk_seconds: float = 1.0
    warmup: int = 5
    runs: int = 50
    min_secs: float | None = None
    xnnpack: bool = True
    torch_float: bool = False  # checkpoints: the float network (quantizers off) instead of the simulation
    memory: bool = True
    op_profile: Path | None = None
    host: str | None = None
    ssh_port: int | None = None
    ssh_key: str | None = None
    ssh_options: list[str] = field(default_factory=list)
    remote_python: str | None = None
    emulate: bool = False
    emulate_root: Path | None = None
    seed: int = 0


def run_bench(req: BenchRequest, log: Callable[[str], None] = lambda s: None) -> BenchReport:
    if not req.models:
        raise FqssError("bench: give at least one model")
    profile = load_device(req.device)
    host = req.host or profile.ssh.host
    if host and req.emulate:
        raise FqssError("--emulate and --host exclude each other: emulation runs on this machine")
    settings = Settings(threads=req.threads or profile.default_threads, chunk_seconds=req.chunk_seconds,
                        warmup=req.warmup, runs=req.runs, min_secs=req.min_secs, xnnpack=req.xnnpack, seed=req.seed)
    targets = [make_target(p, settings.threads, settings.xnnpack, req.torch_float) for p in req.models]
    unique_labels(targets)
    if host:
        return _run_remote(req, profile, host, settings, targets, log)
    if req.emulate:
        return _run_emulated(req, profile, settings, targets, log)
    profile.check_local()
    return _run_local(req, profile, settings, targets, log)


def _report(profile: DeviceProfile, where: str, settings: Settings, results: list[ModelResult],
            emulated: bool = False, environment: dict[str, Any] | None = None) -> BenchReport:
    caveats = []
    if any(r.memory for r in results):
        caveats.append(CAVEAT.format(runs=MEMORY_RUNS))
    caveats += [f"peak RSS of {r.label} not measured: {r.memory_error}" for r in results if r.memory_error]
    if emulated:
        caveats.append(f"every time above is {EMULATED}: qemu-user translates each aarch64 instruction; use it "
                       f"to check that the model runs and matches, never for speed")
    elif environment and "cpu_simd" in environment:  # only where the CPU's instructions are known (this host)
        note = int8_speed_caveat(results, environment["cpu_simd"])
        caveats += [note] if note else []
    return BenchReport(device=profile.model_dump(), where=where, settings=asdict(settings), results=results,
                       emulated=emulated, environment=environment or {}, caveats=caveats)


def _model_result(t: Target, m: Measurement, settings: Settings, memory: MemoryResult | None = None,
                  memory_error: str | None = None, delegation: dict[str, Any] | None = None) -> ModelResult:
    return ModelResult(label=t.label, path=str(t.path), kind=t.kind, backend=m.backend, file_bytes=_size(t.path),
                       threads=settings.threads, xnnpack=t.xnnpack, sample_rate=m.sample_rate,
                       chunk_seconds=settings.chunk_seconds, samples=m.samples, init_ms=m.init_ms,
                       first_ms=m.first_ms, warmup_ms=m.warmup_ms, latencies_ms=m.latencies_ms, memory=memory,
                       memory_error=memory_error, delegation=delegation)


def _size(path: Path) -> int:
    """File size, with the external-data file of an ONNX model (``model.onnx.data``) counted."""
    extra = path.with_name(path.name + ".data")
    return path.stat().st_size + (extra.stat().st_size if extra.is_file() else 0)


# -- this host --------------------------------------------------------------------------------------------------


def _run_local(req: BenchRequest, profile: DeviceProfile, settings: Settings, targets: list[Target],
               log: Callable[[str], None]) -> BenchReport:
    from fqss_edge.bench.profile import tflite_delegation

    log(f"timing {len(targets)} model(s), round-robin")
    measurements = run_round_robin(targets, settings)
    results = []
    for t, m in zip(targets, measurements):
        memory, error = None, None
        if req.memory:
            log(f"peak memory of {t.label} (child process)")
            try:
                memory = measure_peak_rss(t, settings.chunk_seconds, MEMORY_RUNS, settings.seed)
            except FqssError as e:
                error = str(e)
        delegation = tflite_delegation(t, settings.chunk_seconds) if t.xnnpack else None
        results.append(_model_result(t, m, settings, memory, error, delegation))
    report = _report(profile, "local", settings, results, environment=host_environment())
    if req.op_profile is not None:
        report.environment["op_profiles"] = write_op_profiles(targets, req.op_profile, settings, log)
    return report


def write_op_profiles(targets: list[Target], out: Path, settings: Settings,
                      log: Callable[[str], None]) -> dict[str, str]:
    """One CSV per profiled model: ``out`` itself for a single model, ``out.<label>.csv`` for several."""
    from fqss_edge.bench.profile import (ONNX_FIELDS, TFLITE_FIELDS, onnx_node_profile, tflite_op_profile,
                                         write_csv)

    profiled = [t for t in targets if t.kind in ("onnx", "tflite")]
    if not profiled:
        raise FqssError("--op-profile: no .onnx or .tflite model to profile (PyTorch checkpoints are not profiled)")
    written = {}
    for t in profiled:
        path = out if len(profiled) == 1 else out.with_name(f"{out.stem}.{_slug(t.label)}{out.suffix or '.csv'}")
        log(f"per-operator profile of {t.label} -> {path}")
        if t.kind == "onnx":
            write_csv(onnx_node_profile(t, settings.chunk_seconds, seed=settings.seed), path, ONNX_FIELDS)
        else:
            write_csv(tflite_op_profile(t, settings.chunk_seconds, seed=settings.seed), path, TFLITE_FIELDS)
        written[t.label] = str(path)
    return written


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")


# -- on a device / under qemu: device_runner.py -----------------------------------------------------------------


def _runner_inputs(targets: list[Target], settings: Settings, where: str) -> tuple[list[int], list[int]]:
    """Input length and sample rate of each .tflite (the runner needs no fqss_edge to read metadata)."""
    from fqss_edge.export.tflite.metadata import read_tflite_metadata
    from fqss_edge.runtimes.litert_backend import contract_from_metadata

    lengths, rates = [], []
    for t in targets:
        if t.kind != "tflite":
            raise FqssError(f"{t.path}: {where} runs .tflite models only (LiteRT on the device)")
        c = contract_from_metadata(read_tflite_metadata(t.path), f"{t.path}: fqss_edge metadata")
        lengths.append(c.call_length(max(1, round(settings.chunk_seconds * c.sample_rate))))
        rates.append(c.sample_rate)
    return lengths, rates


def _runner_args(settings: Settings, kernels: str, memory: bool) -> list[str]:
    args = ["--threads", str(settings.threads), "--kernels", kernels, "--warmup", str(settings.warmup),
            "--seed", str(settings.seed)]
    args += ["--min-secs", str(settings.min_secs)] if settings.min_secs is not None else ["--runs", str(settings.runs)]
    return args + (["--memory"] if memory else [])


def _device_results(targets: list[Target], settings: Settings, raw: list[dict], lengths: list[int],
                    rates: list[int], backend: str, delegation: bool) -> list[ModelResult]:
    from fqss_edge.bench.profile import tflite_delegation

    results = []
    for t, r, n, sr in zip(targets, raw, lengths, rates):
        m = Measurement(t.label, sr, n, r["init_ms"], r["first_ms"], r["warmup_ms"], r["latencies_ms"], backend)
        mem = r.get("memory")
        memory = MemoryResult.from_kb(mem) if mem and "peak_kb" in mem else None
        error = mem.get("error") if mem and "error" in mem else None
        deleg = tflite_delegation(t, settings.chunk_seconds) if delegation and t.xnnpack else None
        results.append(_model_result(t, m, settings, memory, error, deleg))
    return results


def _run_remote(req: BenchRequest, profile: DeviceProfile, host: str, settings: Settings, targets: list[Target],
                log: Callable[[str], None]) -> BenchReport:
    from fqss_edge.bench.remote import SshTarget, run_remote

    if req.op_profile is not None:
        raise FqssError("--op-profile runs on this host only (not with --host)")
    ssh = SshTarget(host, port=req.ssh_port or profile.ssh.port, key=req.ssh_key or profile.ssh.key,
                    options=list(req.ssh_options), python=req.remote_python or profile.python,
                    workdir=profile.workdir)
    lengths, rates = _runner_inputs(targets, settings, "--host")
    kernels = "xnnpack" if settings.xnnpack else "builtin"
    log(f"copying {len(targets)} model(s) and the runner to {host}")
    env, raw = run_remote(ssh, [t.path for t in targets], lengths, _runner_args(settings, kernels, req.memory),
                          on_event=lambda ev: log(f"{host}: {ev.get('event')}"))
    backend = f"{env.get('litert_module', 'litert')} {env.get('litert_version', '')}-{kernels}".strip()
    results = _device_results(targets, settings, raw, lengths, rates, backend, delegation=True)
    return _report(profile, ssh.where, settings, results, environment=env)


def _run_emulated(req: BenchRequest, profile: DeviceProfile, settings: Settings, targets: list[Target],
                  log: Callable[[str], None]) -> BenchReport:
    from fqss_edge.bench.emulate import bench_emulated, require_root

    if host_arch() == "aarch64":
        raise FqssError("--emulate: this host is already aarch64; run without --emulate")
    if profile.arch not in ("aarch64", "native"):
        raise FqssError(f"--emulate emulates aarch64, but device {profile.name!r} is {profile.arch}")
    if profile.arch == "native":
        profile = load_device("aarch64")
    if req.op_profile is not None:
        raise FqssError("--op-profile runs on this host only (not with --emulate)")
    lengths, rates = _runner_inputs(targets, settings, "--emulate")
    er = require_root(req.emulate_root)
    kernels = "xnnpack" if settings.xnnpack else ("builtin" if er.xnnpack_ok else "ref")
    log(f"running {len(targets)} model(s) under qemu-aarch64 ({EMULATED})")
    er, env, raw = bench_emulated([t.path for t in targets], lengths, _runner_args(settings, kernels, False),
                                  kernels, req.emulate_root)
    env.update(qemu=str(er.qemu), qemu_version=er.qemu_version, root=str(er.path), host_cpu_count=os.cpu_count())
    backend = f"{env.get('litert_module', 'litert')} {env.get('litert_version', '')} aarch64-{kernels}"
    results = _device_results(targets, settings, raw, lengths, rates, backend, delegation=True)
    return _report(profile, er.label, settings, results, emulated=True, environment=env)
