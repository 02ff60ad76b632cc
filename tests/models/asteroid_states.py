"""Our float Conv-TasNet's weights under asteroid's names and shapes (the inverse of
``fqss_edge.models.asteroid_keys.from_asteroid``), and the ``model_args`` asteroid's ``serialize()`` stores for it:
what an asteroid ConvTasNet model file of the same network holds."""

from __future__ import annotations

import re
from typing import Any

import torch

from fqss_edge.models.base import SeparationModel
from fqss_edge.quant.tools import is_quantizer_key, quantizer_prefixes

_PARTS = ["in_conv.conv", "act1", "norm1", "dw_conv.conv", "act2", "norm2"]
_INVERSE = [
    (r"^encoder\.conv\.weight$", "encoder.filterbank._filters"),
    (r"^decoder\.conv\.weight$", "decoder.filterbank._filters"),
    (r"^masker\.norm\.(gamma|beta)$", r"masker.bottleneck.0.\1"),
    (r"^masker\.bottleneck\.conv\.(weight|bias)$", r"masker.bottleneck.1.\1"),
    (r"^masker\.blocks\.(\d+)\.(res_conv|skip_conv)\.conv\.(weight|bias)$", r"masker.TCN.\1.\2.\3"),
    (r"^masker\.out_act\.weight$", "masker.mask_net.0.weight"),
    (r"^masker\.mask_conv\.conv\.(weight|bias)$", r"masker.mask_net.1.\1"),
] + [(rf"^masker\.blocks\.(\d+)\.{re.escape(part)}\.(\w+)$", rf"masker.TCN.\1.shared_block.{j}.\2")
     for j, part in enumerate(_PARTS)]


def convtasnet_to_asteroid(model: SeparationModel) -> dict[str, torch.Tensor]:
    """asteroid's state dict of our float Conv-TasNet (PReLU slopes as [1], as ``nn.PReLU()`` holds them)."""
    prefixes = quantizer_prefixes(model)
    out = {}
    for key, value in model.state_dict().items():
        if is_quantizer_key(key, prefixes):
            continue
        for pattern, repl in _INVERSE:
            if re.match(pattern, key):
                out[re.sub(pattern, repl, key)] = value.reshape(1) if value.dim() == 0 else value.clone()
                break
        else:
            raise KeyError(f"no asteroid name for {key}")
    return out


def convtasnet_model_args(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """asteroid's ``ConvTasNet.get_model_args()`` for our config (its filterbank config, TDConvNet's config and
    the encoder activation)."""
    c = dict(model_cfg)
    return {"fb_name": "FreeFB", "n_filters": c["n_filters"], "kernel_size": c["kernel_size"], "stride": c["stride"],
            "sample_rate": float(c.get("sample_rate", 8000)), "in_chan": c["n_filters"], "out_chan": c["n_filters"],
            "bn_chan": c["bn_chan"], "hid_chan": c["hid_chan"], "skip_chan": c["skip_chan"],
            "conv_kernel_size": c["conv_kernel_size"], "n_blocks": c["n_blocks"], "n_repeats": c["n_repeats"],
            "n_src": c.get("n_src", 2), "norm_type": "gLN", "mask_act": c.get("mask_act", "relu"), "causal": False,
            "encoder_activation": "relu" if c.get("encoder_act", "relu") == "relu" else None}


def asteroid_model_file(model: SeparationModel, model_cfg: dict[str, Any]) -> dict[str, Any]:
    """What ``torch.save(asteroid_model.serialize(), path)`` writes (``infos`` with torch's ``TorchVersion``)."""
    return {"model_name": "ConvTasNet", "state_dict": convtasnet_to_asteroid(model),
            "model_args": convtasnet_model_args(model_cfg),
            "infos": {"software_versions": {"torch_version": torch.__version__, "asteroid_version": "0.7.0",
                                            "pytorch_lightning_version": "2.0.0"}}}
