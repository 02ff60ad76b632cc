"""``fqss-edge separate``: separate audio files with an exported model (.tflite, .onnx) or a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge separate meeting.wav --model exported/fqss/model.tflite -o separated/
  fqss-edge separate a.flac b.wav --model exported/fqss/model.onnx -o separated/ --chunk 8 --overlap 1
  fqss-edge separate song_44k_stereo.wav --model runs/fqss/best.safetensors -o separated/ --subtype FLOAT
  fqss-edge separate song.flac --model exported/music/model.tflite -o stems/ --format flac
  fqss-edge separate song.wav --model exported/music/model.tflite -o stems/ --two-stems vocals --segment 8
  fqss-edge separate song.wav -m exported/music/model.tflite -o separated -n waveunet_lite \\
      --filename "{track}/{stem}.{ext}" --int24        # demucs' layout: separated/waveunet_lite/song/vocals.wav

""" + (
    "Writes DIR/<mixname>_<source>.wav per source (a music model: drums, bass, other, vocals; -n NAME and "
    "--filename TEMPLATE as in demucs: DIR/NAME/<template>), with the input's "
    "sample rate, channels and length (a mono model separates each channel on its own, a stereo model both "
    "together; at the model's rate, resampled back with soxr). Files of any length are "
    "processed in constant memory: chunks of --chunk seconds with --overlap seconds cross-faded, the source order "
    "kept consistent across chunks, each chunk scaled to the level the model was trained at (peak 0.9) and its "
    "outputs scaled back, so quiet recordings separate as well as loud ones. A chunk whose estimated memory exceeds "
    "half the RAM (FQSS_MAX_MEMORY_MB overrides) is refused with the estimate. Outputs appear only when complete, "
    "all files' together.\n"
)


def _backend_options(model: Path, threads: int, config: Path | None) -> dict:
    if config is None:
        return {"threads": threads}
    from fqss_edge.cli.commands.export import run_config
    from fqss_edge.errors import FqssError

    if model.suffix.lower() not in (".pth", ".pt", ".safetensors"):
        raise FqssError(f"--config is for PyTorch checkpoints, not {model.suffix or 'suffix-less'} files")
    return {"threads": threads, "config": run_config(config)}


def register(app: typer.Typer) -> None:
    @app.command("separate", epilog=EXAMPLES)
    def separate(
        mixtures: Annotated[list[Path], typer.Argument(help="Audio files (wav, flac, ogg, ...).")],
        model: Annotated[Path, typer.Option("--model", "-m", help="Model: .tflite, .onnx, .safetensors, .pth.")],
        out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
        chunk: Annotated[float, typer.Option("--chunk", "--segment",
                                             help="Seconds of new audio per model call.")] = 4.0,
        overlap: Annotated[float, typer.Option(help="Seconds shared with the previous chunk (cross-faded).")]
        = 0.5,
        subtype: Annotated[str | None, typer.Option(help="Output sample format: PCM_16, PCM_24, PCM_32, FLOAT "
                                                         "(flac: PCM_16, PCM_24; default: like the input).")]
        = None,
        align: Annotated[bool, typer.Option("--align/--no-align",
                                            help="Keep the source order consistent across chunks.")] = True,
        normalize: Annotated[bool, typer.Option(
            "--normalize/--no-normalize",
            help="Scale each chunk to the training level (peak 0.9) and the outputs back.")] = True,
        two_stems: Annotated[str | None, typer.Option(
            "--two-stems", help="Only this source and no_<source> (the sum of the others), e.g. vocals.")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output files: wav, flac or mp3.")] = "wav",
        flac: Annotated[bool, typer.Option("--flac", help="Same as --format flac (demucs).")] = False,
        mp3: Annotated[bool, typer.Option("--mp3", help="Same as --format mp3 (demucs).")] = False,
        int24: Annotated[bool, typer.Option("--int24", help="Same as --subtype PCM_24 (demucs).")] = False,
        float32: Annotated[bool, typer.Option("--float32", help="Same as --subtype FLOAT (demucs).")] = False,
        name: Annotated[str | None, typer.Option(
            "-n", "--name", help="Write into DIR/NAME/ (demucs: the model's name; the model itself is --model).")]
        = None,
        filename: Annotated[str, typer.Option(
            help="Output file names below DIR (or DIR/NAME): {track}, {trackext}, {stem}, {ext}; demucs' is "
                 "'{track}/{stem}.{ext}'.")] = "{track}_{stem}.{ext}",
        threads: Annotated[int, typer.Option(help="Runtime threads.")] = 1,
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Separate each mixture into one wav per source (chunked streaming, constant memory, atomic outputs)."""
        from fqss_edge.runtimes import open_backend
        from fqss_edge.separate import SeparateOptions, separate_files, total_frames
        from fqss_edge.separate.writer import pick_format, pick_subtype

        options = SeparateOptions(chunk_seconds=chunk, overlap_seconds=overlap,
                                  subtype=pick_subtype(subtype, int24, float32), align_sources=align,
                                  normalize=normalize, two_stems=two_stems, format=pick_format(fmt, flac, mp3),
                                  filename=filename, name=name)
        total = total_frames(mixtures)  # also checks every file before any work
        backend = open_backend(model, **_backend_options(model, threads, config))
        if quiet:
            results = separate_files(mixtures, backend, out, options)
        else:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("separating"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                          TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("separate", total=total)
                results = separate_files(mixtures, backend, out, options, lambda n: bar.advance(task, n))
        for mixture, paths in results.items():
            typer.echo(f"{mixture} -> {', '.join(str(p) for p in paths.values())}")
