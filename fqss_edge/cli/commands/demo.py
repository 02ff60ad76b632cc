"""``fqss-edge demo``: the built-in default job (the README's main command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge demo                      # synthesize data, train float + FQSS, evaluate (a few minutes)
  fqss-edge demo -o /tmp/demo --float-epochs 8
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXAMPLES)
    def demo(
        out: Annotated[Path, typer.Option("-o", "--out", help="Folder for data, runs and summary.json.")] = Path("demo_out"),
        float_epochs: Annotated[int, typer.Option(help="Float pre-training epochs.")] = 4,
        qat_epochs: Annotated[int, typer.Option(help="FQSS QAT epochs.")] = 1,
        progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    ) -> None:
        """Run the built-in default: synthetic speakers -> float -> FQSS 8-bit -> evaluation."""
        from rich.console import Console
        from rich.table import Table

        from fqss_edge.demo import run_demo

        console = Console()
        result = run_demo(out, float_epochs, qat_epochs, progress, log=lambda m: console.print(f"[bold]{m}[/bold]"))
        table = Table(title="Test set (held-out synthesized speakers)")
        for col in ("model", "SI-SDR dB", "SI-SDRi dB", "SDR dB", "train s"):
            table.add_column(col, justify="right")
        for method, s in result.scores.items():
            table.add_row(method, f"{s['si_sdr']:.2f}", f"{s['si_sdri']:.2f}", f"{s.get('sdr', float('nan')):.2f}",
                          f"{result.seconds[method]}")
        console.print(table)
        console.print(f"checkpoints: {result.checkpoints}\nsummary: {out / 'summary.json'} "
                      f"({result.seconds['total']} s in all)")
