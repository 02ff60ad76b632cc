"""``fqss-edge export``: a checkpoint to an int8 QDQ ONNX graph (or its float graph), verified against the checkpoint."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge export runs/fqss/best.safetensors --int8 --format onnx -o exported/fqss
  fqss-edge export runs/float/best.safetensors --float -o exported/float
  fqss-edge export fqss_model.pth --config configs/convtasnet_2spks_8k.yaml --int8 -o exported/fqss

The int8 graph is checked with onnx.checker (full check) and the QDQ verifier: every tensor between operations
is quantized with the checkpoint's own scales and zero points, except in the declared float islands.
"""


class ExportFormat(str, Enum):
    onnx = "onnx"
    tflite = "tflite"


def _config_dict(config: Path | None) -> dict | None:
    if config is None:
        return None
    from fqss_edge.config import load_config

    return load_config(config).model_dump()


def _tflite_from_onnx(onnx_path: Path, out_dir: Path) -> str:
    """Hook for the TFLite converter (``fqss_edge.export.tflite.export_tflite(onnx_path, out_dir) -> Path``)."""
    from fqss_edge.errors import FqssError

    try:
        from fqss_edge.export.tflite import export_tflite  # type: ignore[attr-defined]
    except ImportError:
        raise FqssError("--format tflite: the TFLite converter is not available in this installation") from None
    return str(export_tflite(onnx_path, out_dir))


def register(app: typer.Typer) -> None:
    @app.command("export", epilog=EXAMPLES)
    def export(
        checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, or .pth with --config).")],
        out: Annotated[Path, typer.Option("-o", "--out", help="Output folder (model.onnx is written there).")],
        int8: Annotated[bool | None, typer.Option("--int8/--float",
                                                  help="int8 QDQ graph (quantized checkpoints) or the plain float "
                                                       "graph of the same network. Default: what the checkpoint is.",
                                                  show_default=False)] = None,
        fmt: Annotated[ExportFormat, typer.Option("--format", help="onnx, or tflite (via the int8 ONNX graph).")]
        = ExportFormat.onnx,
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
    ) -> None:
        """Export a checkpoint to ONNX (opset 21, dynamic time axis; int8: QDQ with the checkpoint's scales)."""
        from fqss_edge.export.onnx import export_checkpoint

        result = export_checkpoint(checkpoint, out, int8, _config_dict(config))
        typer.echo(f"wrote {result.summary()}")
        if fmt is ExportFormat.tflite:
            typer.echo(f"wrote {_tflite_from_onnx(result.path, out)}")
