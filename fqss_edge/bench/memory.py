"""Peak resident memory of one model, measured in a SEPARATE child process.

The child imports the runtime, reads its own VmHWM (the baseline), loads the model, runs a few chunks and reads
VmHWM again; the peak is the difference. The parent (which holds every model of the run) is never measured.

    mem = measure_peak_rss(target, chunk_seconds=4.0)     # MemoryResult(peak_mb=..., baseline_mb=..., ...)

Run as ``python -m fqss_edge.bench.memory SPEC_JSON`` it is that child.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from fqss_edge.bench.device_runner import read_hwm_kb
from fqss_edge.errors import FqssError

CAVEAT = ("peak RSS: VmHWM of a separate child process after loading the model and running {runs} chunks, minus the "
          "same child's VmHWM before loading (runtime already imported). It counts weights, arenas and thread "
          "stacks the model touched; shared libraries mapped at import are in the baseline, and allocator reuse "
          "of memory freed during import can hide a few MB.")


@dataclass(frozen=True)
class MemoryResult:
    peak_mb: float  # hwm - baseline
    baseline_mb: float
    hwm_mb: float
    runs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_kb(cls, d: dict[str, Any]) -> "MemoryResult":
        return cls(peak_mb=d["peak_kb"] / 1024, baseline_mb=d["baseline_kb"] / 1024, hwm_mb=d["hwm_kb"] / 1024,
                   runs=int(d.get("runs", 0)))


def measure_peak_rss(target: Any, chunk_seconds: float, runs: int = 3, seed: int = 0,
                     timeout: float = 900.0) -> MemoryResult:
    """Spawn a child that loads ``target`` (a ``runner.Target``) and runs ``runs`` chunks; its VmHWM increase."""
    spec = json.dumps({"path": str(target.path), "options": target.options, "chunk_seconds": chunk_seconds,
                       "runs": runs, "seed": seed})
    try:
        out = subprocess.run([sys.executable, "-m", "fqss_edge.bench.memory", spec], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FqssError(f"{target.path}: the memory-measurement child did not finish in {timeout:.0f} s") from None
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            d = json.loads(line)
            if "error" in d:
                raise FqssError(d["error"])
            return MemoryResult.from_kb(d)
    last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
    raise FqssError(f"{target.path}: the memory-measurement child failed ({last})")


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from fqss_edge.bench.runner import chunk_waveform
    from fqss_edge.runtimes import backend_class

    cls = backend_class(spec["path"])  # imports the runtime (torch / onnxruntime / LiteRT) before the baseline
    base = read_hwm_kb()
    be = cls(**spec["options"]).load(spec["path"])
    x = chunk_waveform(be.io_contract.sample_rate, spec["chunk_seconds"], spec["seed"], be.io_contract.audio_channels)
    for _ in range(spec["runs"]):
        be.run(x)
    hwm = read_hwm_kb()
    return {"baseline_kb": base, "hwm_kb": hwm, "peak_kb": hwm - base, "runs": spec["runs"]}


def main(argv: list[str]) -> int:
    try:
        result = _child(json.loads(argv[0]))
    except FqssError as e:
        result = {"error": str(e)}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
