"""``fqss-edge bench``: latency, real-time factor and peak memory of models side by side, on this CPU, on an ARM
device over SSH, or under qemu (ARM parity, times not representative).

Modules: ``stats`` (latency statistics), ``runner`` (round-robin timing), ``memory`` (peak RSS in a child process),
``profile`` (per-operator profiles, XNNPACK delegation), ``devices`` (device profiles), ``remote`` (SSH),
``emulate`` (qemu-user aarch64 root), ``device_runner`` (the standalone script run on devices), ``report``
(table / JSON / Markdown) and ``session`` (one run, end to end).
"""

from fqss_edge.bench.session import BenchRequest, run_bench

__all__ = ["BenchRequest", "run_bench"]
