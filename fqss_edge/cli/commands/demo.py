"""``fqss-edge demo``: the built-in default job (the README's main command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge demo                       # shipped tiny FQSS model: export, parity, bench, separate, summary page
  fqss-edge demo -o /tmp/demo
  fqss-edge demo --from-scratch        # synthesize speakers, train float + FQSS, evaluate (needs espeak-ng, flite)
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXAMPLES)
    def demo(
        out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("demo_out"),
        from_scratch: Annotated[bool, typer.Option(help="Train the tiny model from synthesized speakers instead.")]
        = False,
        float_epochs: Annotated[int, typer.Option(help="--from-scratch: float pre-training epochs.")] = 4,
        qat_epochs: Annotated[int, typer.Option(help="--from-scratch: FQSS QAT epochs.")] = 1,
        bench_runs: Annotated[int, typer.Option(help="Timed runs per model in the bench step.")] = 20,
    ) -> None:
        """Run the built-in default: checkpoint -> int8 ONNX/TFLite -> parity -> bench -> separate -> summary page."""
        from rich.console import Console

        console = Console()
        log = lambda m: console.print(f"[bold]{m}[/bold]")  # noqa: E731
        if from_scratch:
            from fqss_edge.train_from_scratch import run_from_scratch

            result = run_from_scratch(out, float_epochs, qat_epochs, log=log)
            for method, s in result.scores.items():
                console.print(f"{method}: test SI-SDRi {s['si_sdri']:.2f} dB")
            console.print(f"checkpoints: {result.checkpoints} ({result.seconds['total']} s in all)")
            return
        from fqss_edge.demo import run_demo

        result = run_demo(out, log=log, bench_runs=bench_runs)
        quality = [r for r in result.metrics if "SI-SDRi (dB)" in r]
        parity = [r for r in result.metrics if "SI-SDRi (dB)" not in r]
        for title, rows in (("Quality on unseen real voices", quality), ("Parity vs the PyTorch simulation", parity),
                            ("Latency, 4 s chunk, 1 thread (this CPU)", result.latency)):
            console.print(_table(title, rows))
        if result.speed_note:
            console.print(result.speed_note)
        console.print(f"summary page: [bold]{result.page}[/bold]  ({result.seconds['total']} s in all: "
                      + ", ".join(f"{k} {v} s" for k, v in result.seconds.items() if k != "total") + ")")


def _table(title: str, rows: list[dict]):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    for c in cols:
        # the model column never wraps (at 80 columns the numbers' headers wrap instead)
        table.add_column(escape(c), justify="left" if c == "model" else "right", no_wrap=c == "model")
    for r in rows:
        table.add_row(*(escape(str(r.get(c, ""))) for c in cols))  # labels like "onnxruntime[opt=off]"
    return table
