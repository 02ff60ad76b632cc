#!/usr/bin/env python3
"""Self-contained LiteRT benchmark runner, copied to a device (or run under qemu) by ``fqss-edge bench``.

Needs only the standard library, numpy and ``ai_edge_litert`` (or ``tflite_runtime``): no fqss_edge import, so it
runs on a bare Raspberry Pi. Prints one JSON object per line on stdout:

    {"event": "env", ...}                       python, machine, LiteRT module and version
    {"event": "result", "index": i, ...}        init_ms, first_ms, warmup_ms [...], latencies_ms [...], memory
    {"event": "error", "message": "..."}        then exit status 1

Commands:
    bench        --model M --length N [--model M2 --length N2 ...] --threads T --kernels xnnpack|builtin|ref
                 --warmup W (--runs R | --min-secs S) [--memory]   (models alternate, round-robin)
    infer        --model M --kernels K --input x.npy --output y.npy [--model M2 --input ... --output ...]
                 (one run of each model on a given input, for parity)
    memory-child (internal) VmHWM of a fresh process before and after loading and running one model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

KERNELS = ("xnnpack", "builtin", "ref")


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps(dict(event=event, **fields)) + "\n")
    sys.stdout.flush()


def interpreter_api():
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "ai_edge_litert", getattr(ai_edge_litert, "__version__", "?")
    except ImportError:
        pass
    try:
        import tflite_runtime
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "tflite_runtime", getattr(tflite_runtime, "__version__", "?")
    except ImportError:
        pass
    raise SystemExit(fail("no TFLite interpreter on the device: pip install ai-edge-litert (or tflite-runtime)"))


def fail(message: str) -> int:
    emit("error", message=message)
    return 1


def read_hwm_kb() -> int:
    """Peak resident set size of this process so far, in KiB (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss


class Model:
    """One interpreter with its input prepared for ``length`` samples."""

    def __init__(self, path: str, length: int, threads: int, kernels: str, seed: int = 0):
        Interpreter, OpResolverType, _, _ = interpreter_api()
        resolver = {"xnnpack": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                    "ref": OpResolverType.BUILTIN_REF}[kernels]
        self.it = Interpreter(model_path=path, num_threads=threads, experimental_op_resolver_type=resolver)
        self.inp = self.it.get_input_details()[0]
        self.out = self.it.get_output_details()[0]
        shape = [int(d) for d in self.inp["shape"][:-1]] + [length]  # [1, T], or [1, C, T] for a stereo model
        self.it.resize_tensor_input(self.inp["index"], shape, strict=False)
        self.it.allocate_tensors()
        self.x = speech_like_input(shape, self.inp["dtype"], seed)

    def run(self, x: np.ndarray | None = None) -> np.ndarray:
        self.it.set_tensor(self.inp["index"], self.x if x is None else np.ascontiguousarray(x, self.inp["dtype"]))
        self.it.invoke()
        return self.it.get_tensor(self.out["index"])


def speech_like_input(shape: list[int], dtype, seed: int) -> np.ndarray:
    """A speech-like test signal (a few tones plus noise, about -12 dBFS) as 16-bit PCM or float in [-1, 1); one
    such signal per row of a multi-channel shape ([1, 2, T]: two different channels)."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    t = np.arange(n) / 8000.0
    rows = [sum(0.1 * np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 1500, 3)) + 0.05 * rng.standard_normal(n)
            for _ in range(int(np.prod(shape[:-1], dtype=np.int64)))]
    pcm = np.clip(np.floor(np.stack(rows) * 32768.0), -32768, 32767)
    x = pcm.astype(np.int16) if np.dtype(dtype) == np.int16 else (pcm / 32768.0).astype(dtype)
    return x.reshape(shape)


def timed_ms(fn) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def cmd_bench(a: argparse.Namespace) -> int:
    if len(a.model) != len(a.length):
        return fail("give one --length per --model")
    _, _, module, version = interpreter_api()
    emit("env", python=platform.python_version(), machine=platform.machine(), system=platform.system(),
         cpu_count=os.cpu_count(), litert_module=module, litert_version=version)
    models, results = [], []
    for path, length in zip(a.model, a.length):
        t0 = time.perf_counter_ns()
        try:
            m = Model(path, length, a.threads, a.kernels, a.seed)
        except (ValueError, RuntimeError) as e:
            return fail(f"{os.path.basename(path)}: LiteRT cannot load the model ({str(e).strip().splitlines()[0]})")
        init_ms = (time.perf_counter_ns() - t0) / 1e6
        models.append(m)
        results.append(dict(init_ms=init_ms, first_ms=timed_ms(m.run), warmup_ms=[], latencies_ms=[]))
    for _ in range(a.warmup):
        for m, r in zip(models, results):
            r["warmup_ms"].append(timed_ms(m.run))
    rounds = 0
    while True:  # round-robin: every model runs once per round
        for m, r in zip(models, results):
            r["latencies_ms"].append(timed_ms(m.run))
        rounds += 1
        if a.min_secs is None and rounds >= a.runs:
            break
        if a.min_secs is not None and rounds >= 2 and all(sum(r["latencies_ms"]) >= 1000 * a.min_secs
                                                          for r in results):
            break
    del models
    for i, (path, length) in enumerate(zip(a.model, a.length)):
        r = results[i]
        if a.memory:
            r["memory"] = memory_of(path, length, a)
        emit("result", index=i, model=path, **r)
    emit("done")
    return 0


def memory_of(path: str, length: int, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "memory-child", "--model", path, "--length", str(length),
           "--threads", str(a.threads), "--kernels", a.kernels, "--runs", "3"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    for line in out.stdout.splitlines()[::-1]:
        d = json.loads(line)
        if d.get("event") == "memory":
            d.pop("event")
            return d
    return {"error": (out.stderr.strip().splitlines() or ["memory child failed"])[-1]}


def cmd_memory_child(a: argparse.Namespace) -> int:
    interpreter_api()
    base = read_hwm_kb()
    m = Model(a.model[0], a.length[0], a.threads, a.kernels)
    for _ in range(a.runs):
        m.run()
    hwm = read_hwm_kb()
    emit("memory", baseline_kb=base, hwm_kb=hwm, peak_kb=hwm - base, runs=a.runs)
    return 0


def cmd_infer(a: argparse.Namespace) -> int:
    inputs, outputs = a.input or [], a.output or []
    if not (len(a.model) == len(inputs) == len(outputs)):
        return fail("infer: give one --input and one --output per --model")
    _, _, module, version = interpreter_api()
    emit("env", litert_module=module, litert_version=version)
    for path, inp, out in zip(a.model, inputs, outputs):
        x = np.load(inp)
        try:
            m = Model(path, x.shape[-1], a.threads, a.kernels)
        except (ValueError, RuntimeError) as e:
            return fail(f"{os.path.basename(path)}: LiteRT cannot load the model ({str(e).strip().splitlines()[0]})")
        np.save(out, m.run(x.reshape(m.x.shape)))
    emit("done", output=outputs[-1] if outputs else None)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("bench", "infer", "memory-child"))
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--length", action="append", type=int, default=[])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--kernels", choices=KERNELS, default="xnnpack")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-secs", type=float, default=None)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input", action="append")
    p.add_argument("--output", action="append")
    a = p.parse_args(argv)
    return {"bench": cmd_bench, "infer": cmd_infer, "memory-child": cmd_memory_child}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
