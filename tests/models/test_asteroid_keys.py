"""A Conv-TasNet state dict in asteroid/FQSS-reference naming loads into the fqss-edge model, weights intact."""

import torch
import yaml

from fqss_edge.models import build_model
from fqss_edge.models.asteroid_keys import from_asteroid
from fqss_edge.models.io import load_model
from tests.conftest import TINY_MODEL


def _asteroid_state(model) -> dict[str, torch.Tensor]:
    """Our float model's weights written out under asteroid's names and shapes."""
    sd, out = model.state_dict(), {}
    out["encoder.filterbank._filters"] = sd["encoder.conv.weight"]
    out["decoder.filterbank._filters"] = sd["decoder.conv.weight"]
    out["masker.bottleneck.0.gamma"], out["masker.bottleneck.0.beta"] = sd["masker.norm.gamma"], sd["masker.norm.beta"]
    for p in ("weight", "bias"):
        out[f"masker.bottleneck.1.{p}"] = sd[f"masker.bottleneck.conv.{p}"]
        out[f"masker.mask_net.1.{p}"] = sd[f"masker.mask_conv.conv.{p}"]
    out["masker.mask_net.0.weight"] = sd["masker.out_act.weight"].reshape(1)
    for i in range(len(model.masker.blocks)):
        b = f"masker.blocks.{i}"
        for j, name in enumerate(["in_conv.conv", "act1", "norm1", "dw_conv.conv", "act2", "norm2"]):
            for k, v in sd.items():
                if k.startswith(f"{b}.{name}.") and ".out_quant." not in k and "_quant." not in k and not k.split(".")[-1] in ("lo", "hi", "n_obs"):
                    leaf = k[len(f"{b}.{name}."):]
                    out[f"masker.TCN.{i}.shared_block.{j}.{leaf}"] = v.reshape(1) if name.startswith("act") else v
        for conv in ("res_conv", "skip_conv"):
            for p in ("weight", "bias"):
                out[f"masker.TCN.{i}.{conv}.{p}"] = sd[f"{b}.{conv}.conv.{p}"]
    return out


def test_asteroid_state_dict_loads_with_config(tmp_path):
    torch.manual_seed(0)
    ours = build_model(TINY_MODEL).eval()
    state = _asteroid_state(ours)
    assert set(from_asteroid(state)) <= set(ours.state_dict())
    pth = tmp_path / "convtasnet_asteroid.pth"
    torch.save({"state_dict": state, "model_name": "ConvTasNet"}, pth)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"model": TINY_MODEL, "quant": {"enabled": False}}))
    from fqss_edge.config import load_config

    loaded = load_model(pth, load_config(cfg))
    x = torch.rand(1, 800) - 0.5
    with torch.no_grad():
        assert torch.equal(loaded.model(x), ours(x))
