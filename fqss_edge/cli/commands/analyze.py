"""``fqss-edge analyze``: per-tensor SQNR, per-layer sensitivity (three ways), the SDR ceiling, an HTML report; with
``--plan``, a mixed-precision plan within a size budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge analyze fqss_edge/assets/convtasnet_tiny_fqss.safetensors --data fqss_edge/assets/test_set -o analysis
  fqss-edge analyze runs/fqss/best.safetensors --data data/test -o analysis --plan --budget 1.1x
  fqss-edge analyze runs/fqss/best.safetensors --data data/test -o analysis --max-utterances 4 --json
"""


def register(app: typer.Typer) -> None:
    @app.command("analyze", epilog=EXAMPLES)
    def analyze(
        checkpoint: Annotated[Path, typer.Argument(help="Quantized checkpoint (.safetensors).")],
        data: Annotated[Path, typer.Option(help="Data folder (mix/ s1/ s2/ or LibriMix metadata): its test split.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Report folder (index.html, report.json).")],
        max_utterances: Annotated[int | None, typer.Option(min=1, help="Use at most this many utterances.")] = None,
        hessian_samples: Annotated[int, typer.Option(min=1, help="Rademacher vectors per utterance.")] = 8,
        hessian_seconds: Annotated[float, typer.Option(min=0.1, help="Seconds of each utterance for the "
                                                                     "Hessian.")] = 1.0,
        plan: Annotated[bool, typer.Option("--plan", help="Also write plan.yaml: int4/int8 weights, int8/int16 "
                                                          "outputs per layer within --budget.")] = False,
        budget: Annotated[str, typer.Option(help="Plan cost relative to uniform int8, e.g. 1.1x.")] = "1.1x",
        threads: Annotated[int, typer.Option(min=1, help="torch threads (small tensors: 1 is usually "
                                                         "fastest).")] = 1,
        as_json: Annotated[bool, typer.Option("--json", help="Also print report.json to stdout.")] = False,
    ) -> None:
        """Where the bits matter: SQNR along the network, per-layer sensitivity, the SDR ceiling (+ a plan)."""
        from fqss_edge.analysis.page import report_json, write_report
        from fqss_edge.analysis.plan import parse_budget
        from fqss_edge.analysis.run import AnalysisOptions, run_analysis
        from fqss_edge.fileio import check_output_folder

        check_output_folder(output)
        opts = AnalysisOptions(max_utterances, hessian_samples, hessian_seconds, parse_budget(budget) if plan else None,
                               threads=threads)
        report = run_analysis(checkpoint, data, opts, progress=not as_json)
        index = write_report(report, output)
        if as_json:
            typer.echo(report_json(report))
        else:
            typer.echo(f"report: {index}")
