"""``fqss-edge info``: the I/O contract and metadata embedded in an exported model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge info exported/model.tflite
  fqss-edge info exported/model.onnx --json
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXAMPLES)
    def info(
        model: Annotated[Path, typer.Argument(help="An exported .tflite or .onnx model.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    ) -> None:
        """Show an exported model's I/O contract, sample rate, frame/hop constraints and source names."""
        from fqss_edge.model_info import model_info

        data = model_info(model)
        if as_json:
            typer.echo(json.dumps(data, indent=2))
            return
        md = data["metadata"]
        typer.echo(f"{data['path']} ({data['format']}, {data['bytes']} bytes)")
        typer.echo(f"  weights     : {data['integrity']}")
        typer.echo(f"  checkpoint  : {data['fingerprint'][:16]}")
        if data["format"] == "tflite" and md.get("contract") == "plain":
            _plain_tflite(data)
        elif data["format"] == "tflite":
            kind = "integer-only operators" if md.get("integer_only", True) else "float32 operators"
            typer.echo(f"  precision   : {md.get('precision', 'int8')} ({kind})")
            typer.echo(f"  sample rate : {md.get('sample_rate')} Hz")
            typer.echo(f"  sources     : {md.get('n_src')} {md.get('source_names')}")
            typer.echo(f"  input       : {md['input']['name']} {md['input']['dtype']} {md['input'].get('shape')} "
                       f"({md['input'].get('value', '')})")
            typer.echo(f"  output      : {md['output']['name']} {md['output']['dtype']} {md['output'].get('shape')}")
            length = md.get("length", {})
            if length.get("fixed"):
                typer.echo(f"  length      : fixed {length['fixed']} samples (longer inputs run in windows of it)")
            else:
                typer.echo(f"  length      : T % {length.get('multiple_of')} == 0 and T >= {length.get('min')}")
            typer.echo(f"  FQSS        : splitter={md.get('input_splitter')} residual_output={md.get('residual_output')}")
            rt = data["min_runtime"]
            typer.echo(f"  min runtime : TF Lite / LiteRT {rt['version'] or '?'} (needed by {', '.join(rt['needed_by'])})")
        else:
            for key in ("fqss.model_config", "fqss.sample_rate", "fqss.n_src", "fqss.source_names", "fqss.stride",
                        "fqss.kernel_size", "fqss.islands", "fqss.version", "fqss.audio_decoder"):
                if key in md:
                    typer.echo(f"  {key.removeprefix('fqss.'):12s}: {md[key]}")
            typer.echo(f"  opset       : {data['opset']}")
            typer.echo("  operators   : " + ", ".join(f"{k} x{v}" for k, v in sorted(data["operators"].items())))


def _plain_tflite(data: dict) -> None:
    """A converted model that is not ours (``fqss-edge convert``): its own tensors, no audio contract."""
    md = data["metadata"]
    kind = "integer-only operators" if md.get("integer_only") else "float32 operators"
    typer.echo(f"  precision   : {md.get('precision')} ({kind})")
    typer.echo(f"  contract    : plain tensors (converted by fqss-edge convert; I/O {md.get('io')}); -1: resizable")
    for side in ("inputs", "outputs"):
        for t in md.get(side, []):
            q = f" scale {t['scale']!r} zp {t['zero_point']}" if "scale" in t else ""
            typer.echo(f"  {side[:-1]:12s}: {t['name']} {t['dtype']} {t['shape']}{q}")
    rt = data["min_runtime"]
    typer.echo(f"  min runtime : TF Lite / LiteRT {rt['version'] or '?'} (needed by {', '.join(rt['needed_by'])})")
