"""``fqss-edge import``: a pretrained checkpoint (asteroid ConvTasNet / DPRNNTasNet / DPTNet, a SpeechBrain
Sepformer state dict, or a plain state dict) -> our self-describing float checkpoint, which ``train --method fqss
--teacher``, ``export`` and ``eval`` take."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from fqss_edge.cli.commands.export import run_config

EXAMPLES = """
[bold]Examples[/bold]

  fqss-edge import ConvTasNet_Libri2Mix_sepclean_8k.pth -o convtasnet.safetensors     # asteroid model file
  fqss-edge import dprnn_state_dict.pth --config configs/dprnn.yaml -o dprnn.safetensors
  fqss-edge import speechbrain_sepformer.pth --config sepformer_speechbrain.yaml -o sepformer.safetensors
  fqss-edge train -c configs/convtasnet_2spks_8k.yaml --method fqss --teacher convtasnet.safetensors -o runs/fqss

""" + (
    "asteroid's model files (torch.save of model.serialize()) carry their model_args: the model config comes from "
    "them, and --config (if given) must agree. A bare state dict (asteroid's, SpeechBrain Sepformer's or "
    "fqss-edge's key names; .pth / .pt / .bin / .ckpt / .safetensors) needs --config. SpeechBrain Sepformer: "
    "encoder.* / masknet.* / decoder.* (a pretrained model's three .ckpt files merged under those prefixes), "
    "reproduced by a config with layout: speechbrain and positional_encoding: both. Files are read with "
    "torch.load(weights_only=True): pickled code is refused.\n"
)


class Arch(str, Enum):
    convtasnet = "convtasnet"
    dprnn = "dprnn"
    dptnet = "dptnet"
    sepformer = "sepformer"


def register(app: typer.Typer) -> None:
    @app.command("import", epilog=EXAMPLES)
    def import_(
        source: Annotated[Path, typer.Argument(help="Pretrained checkpoint: an asteroid model file or a state dict.")],
        out: Annotated[Path, typer.Option("-o", "--out", help="The checkpoint to write (.safetensors).")],
        config: Annotated[Path | None, typer.Option(
            help="Run config YAML: the model config of a bare state dict; stored in the checkpoint (train / data "
                 "sections) for later runs.", show_default=False)] = None,
        arch: Annotated[Arch | None, typer.Option(
            help="The architecture the source must be (checked against its tensors, model_name and --config).",
            show_default=False)] = None,
    ) -> None:
        """Import a pretrained checkpoint as a fqss-edge float checkpoint (teacher / initial weights for QAT)."""
        from fqss_edge.models.pretrained import import_checkpoint

        r = import_checkpoint(source, out, run_config(config), arch.value if arch else None)
        typer.echo(f"wrote {r.path} ({r.architecture}, {r.parameters:,} parameters; tensors: {r.layout}, "
                   f"config: {r.config_from})")
