"""A Conv-TasNet state dict in asteroid/FQSS-reference naming loads into the fqss-edge model, weights intact."""

import torch
import yaml

from fqss_edge.models import build_model
from fqss_edge.models.asteroid_keys import from_asteroid
from fqss_edge.models.io import load_model
from tests.conftest import TINY_MODEL
from tests.models.asteroid_states import convtasnet_to_asteroid


def test_asteroid_state_dict_loads_with_config(tmp_path):
    torch.manual_seed(0)
    ours = build_model(TINY_MODEL).eval()
    state = convtasnet_to_asteroid(ours)
    assert set(from_asteroid(state)) <= set(ours.state_dict())
    assert all(torch.equal(v, ours.state_dict()[k].reshape(v.shape)) for k, v in from_asteroid(state).items())
    pth = tmp_path / "convtasnet_asteroid.pth"
    torch.save({"state_dict": state, "model_name": "ConvTasNet"}, pth)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"model": TINY_MODEL, "quant": {"enabled": False}}))
    from fqss_edge.config import load_config

    loaded = load_model(pth, load_config(cfg))
    x = torch.rand(1, 800) - 0.5
    with torch.no_grad():
        assert torch.equal(loaded.model(x), ours(x))
