"""``fqss-edge eval``: SI-SDR, SI-SDRi (PIT), SDR, STOI and PESQ of a checkpoint on a data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge eval runs/fqss/best.safetensors --data data/test
  fqss-edge eval runs/fqss/best.safetensors --data data/test --json > scores.json
"""


def register(app: typer.Typer) -> None:
    @app.command("eval", epilog=EXAMPLES)
    def eval_(
        checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, or .pth with --config).")],
        data: Annotated[Path, typer.Option(help="Data folder (mix/ s1/ s2/ or LibriMix metadata).")],
        config: Annotated[Path | None, typer.Option(help="Config YAML for a bare .pth state dict.")] = None,
        max_utts: Annotated[int | None, typer.Option(min=1, help="Evaluate at most this many utterances.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (per utterance and mean).")] = False,
        sdr: Annotated[bool, typer.Option(help="Also compute BSS-eval SDR (slower).")] = True,
        stoi_pesq: Annotated[bool, typer.Option(help="Also compute STOI and PESQ (packages pystoi, pesq).")] = True,
    ) -> None:
        """Evaluate a checkpoint: per-utterance and mean SI-SDR, SI-SDRi, SDR, STOI and PESQ."""
        from fqss_edge import perceptual
        from fqss_edge.evaluation_report import run_evaluation

        if stoi_pesq and (missing := perceptual.missing()):
            typer.echo(f"fqss-edge eval: {' and '.join(missing)} not installed: no "
                       f"{'STOI' if 'pystoi' in missing else ''}{' / ' if len(missing) == 2 else ''}"
                       f"{'PESQ' if 'pesq' in missing else ''} (pip install 'fqss-edge[perceptual]')", err=True)
        report = run_evaluation(checkpoint, data, config, max_utts, sdr, progress=not as_json, perceptual=stoi_pesq)
        typer.echo(report.to_json() if as_json else report.table())
