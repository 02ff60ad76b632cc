"""``fqss-edge train``: float pre-training, PTQ calibration, vanilla QAT or FQSS QAT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge train -c configs/convtasnet_tiny.yaml --method float -o runs/float
  fqss-edge train -c configs/convtasnet_tiny.yaml --method fqss --teacher runs/float/best.safetensors -o runs/fqss
  fqss-edge train -c configs/convtasnet_tiny_bn.yaml --method float --init runs/float/best.safetensors -o runs/bn
  fqss-edge train -c configs/convtasnet_tiny.yaml --method fqss --plan plan.yaml --teacher T -o runs/mixed
  fqss-edge train -c configs/convtasnet_tiny.yaml --method ptq --teacher runs/float/best.safetensors -o runs/ptq
  torchrun --nproc-per-node 2 -m fqss_edge.cli.main train -c CONFIG --method fqss --teacher T -o runs/ddp
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXAMPLES)
    def train(
        config: Annotated[Path, typer.Option("-c", "--config", help="Run config YAML (model, quant, train, data).")],
        out: Annotated[Path, typer.Option("-o", "--out", help="Run folder for checkpoints and metrics.jsonl.")],
        method: Annotated[str, typer.Option(help="float | ptq | vanilla | fqss")] = "fqss",
        teacher: Annotated[Path | None, typer.Option(help="Float checkpoint: teacher (fqss) and initial weights.")] = None,
        init: Annotated[Path | None, typer.Option(
            help="Float checkpoint of the same architecture whose network tensors start a float run where name "
                 "and shape match (e.g. a gLN model's weights into a norm: BN model); the rest keep their "
                 "initialisation.", show_default=False)] = None,
        resume: Annotated[bool, typer.Option(help="Resume from OUT/last.safetensors.")] = False,
        epochs: Annotated[int | None, typer.Option(help="Override train.epochs.")] = None,
        max_minutes: Annotated[float | None, typer.Option(
            help="Override train.max_minutes: a wall-clock budget for the training steps; the epoch it runs out "
                 "in is cut short, validated and saved, then the run stops.", show_default=False)] = None,
        data: Annotated[Path | None, typer.Option(help="Override data: a folder with train/ valid/ (test/).")] = None,
        plan: Annotated[Path | None, typer.Option(help="Mixed-precision plan YAML (quant: {plan: ...}) merged into "
                                                        "the config's quant section.")] = None,
        progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    ) -> None:
        """Train a separation model; [bold]fqss[/bold] = QAT with splitter, residual output and SAKD."""
        from fqss_edge.config import load_config, merge_plan_file
        from fqss_edge.train.loop import train as run_train

        cfg = load_config(config)
        if epochs is not None:
            cfg = cfg.updated(train={"epochs": epochs})
        if max_minutes is not None:
            cfg = cfg.updated(train={"max_minutes": max_minutes})
        if data is not None:
            cfg = cfg.with_data_root(data)
        if plan is not None:
            cfg = merge_plan_file(cfg, plan)
        result = run_train(cfg, method, out, teacher, resume, progress, init)
        budget = " (time budget reached)" if result.out_of_time else ""
        typer.echo(f"best valid SI-SDRi {result.best_si_sdri:.2f} dB after {result.epochs_run} epochs{budget}: "
                   f"{result.best_checkpoint}")
