"""``fqss-edge bench``: latency, real-time factor and peak memory of models side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge bench exported/fqss/model.tflite exported/fqss/model.onnx --chunk 4 --threads 1
  fqss-edge bench exported/fqss/model.tflite exported/fqss/model.tflite --no-xnnpack --md
  fqss-edge bench runs/fqss/best.safetensors exported/fqss/model.onnx --torch-float --json > bench.json
  fqss-edge bench exported/fqss/model.onnx --op-profile ort_nodes.csv
  fqss-edge bench exported/fqss/model.tflite --device rpi4 --host pi@10.0.0.7 --remote-python /home/pi/env/bin/python
  fqss-edge bench exported/fqss/model.tflite --emulate --runs 3

""" + (
    "Conventions of TFLite's benchmark_model and onnxruntime_perf_test: init time, first inference, warm-up mean, "
    "then mean/std/min/p50/p90/p99/max over the timed runs, which alternate between the models (round-robin); "
    "ratios are against the first model. Real-time factor = latency / chunk duration. Peak RSS is measured in a "
    "separate child process (VmHWM after loading and running, minus its VmHWM before loading). --host copies the "
    ".tflite models and a standalone runner (numpy + ai-edge-litert on the device) with scp and runs it over ssh. "
    "--emulate runs the aarch64 LiteRT under qemu-user: an ARM parity check whose times are NOT representative "
    "(prepare it once: python -m fqss_edge.bench.emulate prepare).\n"
)


def register(app: typer.Typer) -> None:
    @app.command("bench", epilog=EXAMPLES)
    def bench(
        models: Annotated[list[Path], typer.Argument(help="Models: .tflite, .onnx, or a checkpoint (.safetensors).")],
        device: Annotated[str, typer.Option(help="Device profile (cpu, rpi4, rpi5, aarch64) or a device .yaml.")]
        = "cpu",
        threads: Annotated[int | None, typer.Option(help="Threads per runtime (default: the device profile's).",
                                                    show_default=False)] = None,
        chunk: Annotated[float, typer.Option(help="Audio per inference, in seconds.")] = 1.0,
        warmup: Annotated[int, typer.Option(help="Warm-up runs per model (after the first inference).")] = 5,
        runs: Annotated[int, typer.Option(help="Timed runs per model.")] = 50,
        min_secs: Annotated[float | None, typer.Option(help="Instead of --runs: time every model for at least this "
                                                            "many seconds.", show_default=False)] = None,
        xnnpack: Annotated[bool, typer.Option("--xnnpack/--no-xnnpack",
                                              help=".tflite: LiteRT's XNNPACK delegate, or builtin kernels only.")]
        = True,
        torch_float: Annotated[bool, typer.Option("--torch-float", help="Checkpoints: run the float network "
                                                  "(quantizers off) instead of the int8 simulation.")] = False,
        memory: Annotated[bool, typer.Option("--memory/--no-memory", help="Measure peak RSS in a child process.")]
        = True,
        op_profile: Annotated[Path | None, typer.Option(help="Write a per-operator profile CSV (.onnx: onnxruntime "
                                                        "profiler; .tflite: each operator timed alone). Several "
                                                        "models: OUT.<model>.csv.", show_default=False)] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        as_md: Annotated[bool, typer.Option("--md", help="Print the report as a Markdown table.")] = False,
        host: Annotated[str | None, typer.Option(help="Run on this device over SSH (user@addr).",
                                                 show_default=False)] = None,
        ssh_port: Annotated[int | None, typer.Option(help="SSH port (default: the profile's, 22).",
                                                     show_default=False)] = None,
        ssh_key: Annotated[str | None, typer.Option(help="SSH private key file.", show_default=False)] = None,
        ssh_option: Annotated[list[str] | None, typer.Option(help="Extra ssh/scp -o KEY=VALUE option (repeatable).",
                                                             show_default=False)] = None,
        remote_python: Annotated[str | None, typer.Option(help="Python on the device (default: the profile's).",
                                                          show_default=False)] = None,
        emulate: Annotated[bool, typer.Option("--emulate", help="Run the aarch64 LiteRT under qemu-user (ARM "
                                              "parity; times not representative).")] = False,
        emulate_root: Annotated[Path | None, typer.Option(help="Emulation root (default: ~/.cache/fqss-edge/"
                                                          "aarch64).", show_default=False)] = None,
    ) -> None:
        """Benchmark models side by side: latency statistics, real-time factor, peak memory, file size."""
        import sys

        from fqss_edge.bench import BenchRequest, run_bench
        from fqss_edge.errors import FqssError

        if as_json and as_md:
            raise FqssError("--json and --md exclude each other")
        quiet = as_json or as_md
        req = BenchRequest(models=list(models), device=device, threads=threads, chunk_seconds=chunk, warmup=warmup,
                           runs=runs, min_secs=min_secs, xnnpack=xnnpack, torch_float=torch_float, memory=memory,
                           op_profile=op_profile, host=host, ssh_port=ssh_port, ssh_key=ssh_key,
                           ssh_options=list(ssh_option or []), remote_python=remote_python, emulate=emulate,
                           emulate_root=emulate_root)
        report = run_bench(req, log=(lambda s: None) if quiet else (lambda s: print(f"... {s}", file=sys.stderr)))
        if as_json:
            typer.echo(report.to_json())
        elif as_md:
            typer.echo(report.to_markdown())
        else:
            report.print_table()
            for label, path in report.environment.get("op_profiles", {}).items():
                typer.echo(f"per-operator profile of {label}: {path}")
