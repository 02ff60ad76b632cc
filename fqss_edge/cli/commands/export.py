"""``fqss-edge export``: a checkpoint to an int8 QDQ ONNX graph + fully integer .tflite, or to its float ONNX
graph + float32 .tflite (for float-vs-int8 benchmarks)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge export runs/fqss/best.safetensors --int8 -o exported/fqss          # model.onnx + model.tflite
  fqss-edge export runs/fqss/best.safetensors --int8 --format onnx -o exported/fqss
  fqss-edge export runs/fqss/best.safetensors --int8 --target tflite -o exported/fqss_contract  # int8 QDQ .onnx
  fqss-edge export runs/float/best.safetensors --float -o exported/float       # model.onnx + model.tflite (float32)
  fqss-edge export runs/fqss/best.safetensors --float --format tflite -o exported/fqss_float
  fqss-edge export fqss_model.pth --config configs/convtasnet_2spks_8k.yaml --int8 -o exported/fqss
  fqss-edge export runs/dprnn/best.safetensors --int8 --length 32000 -o exported/dprnn  # 4 s, fixed length
  fqss-edge export runs/fqss/best.safetensors --int8 --with-audio-decoder -o exported/fqss  # + model_audio_decoder.onnx

""" + (
    "The int8 graph is checked with onnx.checker (full check) and the QDQ verifier: every tensor between "
    "operations is quantized with the checkpoint's own scales and zero points, except in the declared float "
    "islands. The float graph (--float) becomes a float32 .tflite with the same layout and operators (float32 "
    "waveform in, float32 sources out), for float-vs-int8 benchmarks.\n"
)


class ExportFormat(str, Enum):
    both = "both"
    onnx = "onnx"
    tflite = "tflite"


class Target(str, Enum):
    onnxruntime = "onnxruntime"
    tflite = "tflite"


class IoKind(str, Enum):
    int16 = "int16"
    float32 = "float32"


def run_config(config: Path | None):  # -> RunConfig | None (imported lazily: the CLI starts fast)
    if config is None:
        return None
    from fqss_edge.config import load_config

    return load_config(config)


def register(app: typer.Typer) -> None:
    @app.command("export", epilog=EXAMPLES)
    def export(
        checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, or .pth with --config).")],
        out: Annotated[Path, typer.Option("-o", "--out", help="Output folder (model.onnx is written there).")],
        int8: Annotated[bool | None, typer.Option("--int8/--float",
                                                  help="int8 QDQ graph (quantized checkpoints) or the plain float "
                                                       "graph of the same network. Default: what the checkpoint is.",
                                                  show_default=False)] = None,
        fmt: Annotated[ExportFormat | None, typer.Option(
            "--format", help="both (model.onnx + model.tflite; the default), onnx, or tflite (converted from the "
                             "ONNX graph: fully integer for --int8, float32 for --float).", show_default=False)] = None,
        io: Annotated[IoKind | None, typer.Option(
            help="TFLite I/O of an int8 export: int16 PCM (default) or float32 in [-1, 1). A float export has "
                 "float32 I/O.", show_default=False)] = None,
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
        min_runtime: Annotated[str | None, typer.Option(
            help="Oldest TF Lite / LiteRT runtime the .tflite must load on (e.g. 2.14, tflite-runtime's last "
                 "release): an export needing a newer one is refused, naming the operators. `fqss-edge info` shows "
                 "what a file needs.", show_default=False)] = None,
        length: Annotated[int | None, typer.Option(
            min=1, help="Fix the .tflite's input length (samples; default: resizable). DPRNN and DPTNet need it: "
                        "TFLite's LSTM state has a fixed batch, and their intra-chunk LSTM's batch follows the "
                        "length.", show_default=False)] = None,
        target: Annotated[Target, typer.Option(
            help="Runtime the int8 model.onnx is written for: onnxruntime (uint8 activations, which its x86 CPU "
                 "kernels run as QLinearConv/QLinearAdd/QLinearMul; the same quantized values) or tflite (the int8 "
                 "contract graph the .tflite is written from). The .tflite is the same either way.")
        ] = Target.onnxruntime,
        with_audio_decoder: Annotated[bool, typer.Option(
            "--with-audio-decoder", help="Also write model_audio_decoder.onnx: onnxruntime-extensions' AudioDecoder "
                                         "in front of the ONNX graph (the bytes of a wav / flac / mp3 file in, the "
                                         "sources at the model's rate out; downsamples, never upsamples; mono or "
                                         "stereo, averaged; at most 480000 samples). The session registers "
                                         "onnxruntime_extensions.get_library_path().")] = False,
    ) -> None:
        """Export a checkpoint: int8 QDQ ONNX + fully-int8 TFLite, or (--float) float ONNX + float32 TFLite."""
        from fqss_edge.export.bundle import export_bundle

        formats = None if fmt is None else {"both": ("onnx", "tflite"), "onnx": ("onnx",), "tflite": ("tflite",)}[fmt.value]
        result = export_bundle(checkpoint, out, int8, run_config(config), formats, io.value if io else None,
                               min_runtime, length, target.value, with_audio_decoder)
        for stale in result.removed:
            typer.echo(f"removed {stale} (from an earlier export)")
        if result.onnx_written:
            typer.echo(f"wrote {result.onnx.summary()}")
        if result.tflite is not None:
            meta = result.tflite_meta or {}
            typer.echo(f"wrote {result.tflite} ({result.tflite.stat().st_size} bytes, {meta.get('precision')}, "
                       f"I/O {meta.get('io')})")
        if result.audio_decoder is not None:
            typer.echo(f"wrote {result.audio_decoder} (audio file bytes in: onnxruntime + onnxruntime-extensions)")
