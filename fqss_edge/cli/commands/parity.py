"""``fqss-edge parity``: the PyTorch simulation vs exported models, in output LSBs, SQNR and ΔSI-SDR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge parity runs/fqss/best.safetensors exported/fqss/model.onnx --data data/test
  fqss-edge parity runs/fqss/best.safetensors exported/fqss/model.onnx exported/fqss/model.tflite --data data/test
  fqss-edge parity runs/fqss/best.safetensors exported/fqss/model.onnx --data data/test --per-layer --max-utts 5
  fqss-edge parity runs/fqss/best.safetensors exported/fqss/model.onnx --data data/test --json > parity.json
  fqss-edge parity runs/music/best.safetensors exported/music/model.tflite --data MUSDB18HQ --metric museval \\
      --metric-jobs 4

""" + (
    "Each .onnx model runs in onnxruntime with graph optimisation off and all (integer kernels). Differences are "
    "in output LSBs (1/32768 for the FQSS 16-bit output, the output quantizer's step otherwise). --per-layer "
    "compares every quantized tensor and names the first layer where a runtime is off by more than 1 LSB (onnxruntime, "
    "and LiteRT's reference and builtin kernels; XNNPACK keeps its tensors inside the delegate).\n"
)


def register(app: typer.Typer) -> None:
    @app.command("parity", epilog=EXAMPLES)
    def parity(
        checkpoint: Annotated[Path, typer.Argument(help="The checkpoint the models were exported from.")],
        models: Annotated[list[Path], typer.Argument(help="Exported models (.onnx, .tflite).")],
        data: Annotated[Path, typer.Option(help="Data folder: mix/ s1/ s2/ (or LibriMix metadata).")],
        max_utts: Annotated[int | None, typer.Option(help="Compare at most this many utterances.")] = None,
        per_layer: Annotated[bool, typer.Option("--per-layer", help="Also compare every quantized tensor.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
        threads: Annotated[int, typer.Option(help="Threads per runtime.")] = 1,
        metric: Annotated[str, typer.Option(help="Score: si_sdr (mean over utterances) or museval (BSSEval v4 "
                                                 "SDR, median over 1 s windows then over tracks; music stems).")]
        = "si_sdr",
        metric_jobs: Annotated[int, typer.Option(min=1, help="Worker processes scoring the metric (museval: "
                                                             "seconds to minutes per track).")] = 1,
    ) -> None:
        """Run the same mixtures through the PyTorch simulation and each model's runtimes; report the differences."""
        from fqss_edge.cli.commands.export import run_config
        from fqss_edge.parity import run_parity

        report = run_parity(checkpoint, list(models), data, max_utts, per_layer, run_config(config), threads,
                            metric=metric, metric_jobs=metric_jobs)
        typer.echo(report.to_json() if as_json else report.to_markdown())
