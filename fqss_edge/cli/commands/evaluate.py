"""``fqss-edge eval``: SI-SDR, SI-SDRi (PIT), SDR, STOI and PESQ of a checkpoint on a data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge eval runs/fqss/best.safetensors --data data/test
  fqss-edge eval runs/fqss/best.safetensors --data data/test --json > scores.json
  fqss-edge eval runs/music/best.safetensors --data MUSDB18HQ --metric museval -o museval_json/
"""


def register(app: typer.Typer) -> None:
    @app.command("eval", epilog=EXAMPLES)
    def eval_(
        checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, or .pth with --config).")],
        data: Annotated[Path, typer.Option(help="Data folder (mix/ s1/ s2/, LibriMix metadata, MUSDB18-HQ).")],
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
        max_utts: Annotated[int | None, typer.Option(min=1, help="Evaluate at most this many utterances.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (per utterance and mean).")] = False,
        sdr: Annotated[bool, typer.Option(help="Also compute BSS-eval SDR (slower).")] = True,
        stoi_pesq: Annotated[bool, typer.Option(help="Also compute STOI and PESQ (packages pystoi, pesq).")] = True,
        metric: Annotated[str, typer.Option(help="si_sdr (speech: SI-SDR, SI-SDRi, SDR, STOI, PESQ) or museval "
                                                 "(music: BSSEval v4 SDR / SIR / ISR / SAR, median of 1 s windows "
                                                 "then of tracks).")] = "si_sdr",
        out: Annotated[Path | None, typer.Option("-o", "--out", help="museval: write <track>.json per track "
                                                                     "(museval's format) here.")] = None,
    ) -> None:
        """Evaluate a checkpoint: per-utterance and mean SI-SDR, SI-SDRi, SDR, STOI and PESQ; or museval."""
        if metric == "museval":
            from fqss_edge.music_report import run_museval

            museval = run_museval(checkpoint, data, config, max_utts, out)
            typer.echo(museval.to_json() if as_json else museval.table())
            return
        if metric != "si_sdr":
            raise typer.BadParameter(f"{metric!r}: choose si_sdr or museval", param_hint="--metric")
        from fqss_edge import perceptual
        from fqss_edge.evaluation_report import run_evaluation

        if stoi_pesq and (missing := perceptual.missing()):
            typer.echo(f"fqss-edge eval: {' and '.join(missing)} not installed: no "
                       f"{'STOI' if 'pystoi' in missing else ''}{' / ' if len(missing) == 2 else ''}"
                       f"{'PESQ' if 'pesq' in missing else ''} (pip install 'fqss-edge[perceptual]')", err=True)
        report = run_evaluation(checkpoint, data, config, max_utts, sdr, progress=not as_json, perceptual=stoi_pesq)
        typer.echo(report.to_json() if as_json else report.table())
