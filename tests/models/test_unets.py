"""The time-domain U-Nets (Wave-U-Net, the lightweight Wave-U-Net, ResUNet): recipe sizes, the length rule, the
source-major output of ``n_src * audio_channels`` waveforms, and the blocks' data movement (exact in the
simulation). Export and parity are covered for every architecture by ``test_architectures``."""

from __future__ import annotations

import pytest
import torch

from fqss_edge.config import load_config, shipped_config
from fqss_edge.models import build_model
from fqss_edge.models.unet_blocks import Decimate, Upsample, depth_to_space, space_to_depth
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.tools import count_parameters

UNETS = ["waveunet_lite", "waveunet", "resunet"]
# parameters of the recipe (configs/<arch>.yaml) in its published stereo 4-source form (audio_channels 2):
# the lightweight Wave-U-Net's paper reports ~0.85 M, Wave-U-Net's 10.2 M; ResUNet's count is this project's own
# (32 channels x1.5 over 6 stages), checked so that a change to the recipe is seen
RECIPE_PARAMETERS = {"waveunet_lite": (0.85e6, 0.02), "waveunet": (10.2e6, 0.01), "resunet": (4_594_391, 0.0)}


@pytest.mark.parametrize("arch", UNETS)
def test_recipe_parameter_count_in_stereo(arch):
    cfg = load_config(shipped_config(arch)).model.model_dump()
    assert (cfg["n_src"], cfg["audio_channels"]) == (4, 2)
    n = count_parameters(build_model(cfg))
    want, rel = RECIPE_PARAMETERS[arch]
    assert abs(n - want) <= rel * want, n


@pytest.mark.parametrize("arch", UNETS)
def test_length_rule_and_source_major_outputs(arch):
    """``n_src * audio_channels`` outputs; any length is padded to a multiple of 2 ** levels and cropped back."""
    cfg = load_config(shipped_config(f"{arch}_tiny")).model.model_dump()
    model = build_model(cfg).eval()
    levels = len(cfg["channels"]) - 1 if arch == "waveunet_lite" else cfg.get("n_levels", cfg.get("n_stages"))
    assert model.length_multiple == 2**levels
    assert model.valid_length(2**levels + 1) == 2 ** (levels + 1)
    with torch.no_grad():
        y = model(torch.rand(2, cfg["audio_channels"], 1000) - 0.5)
    assert y.shape == (2, cfg["n_src"] * cfg["audio_channels"], 1000)


def _q(x: torch.Tensor) -> QTensor:
    return QTensor(x, torch.tensor(0.1), torch.tensor(0), 8)


def test_space_to_depth_is_depth_to_space_inverted_and_moves_samples_to_channels():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    folded = space_to_depth(_q(x), 4)
    assert folded.value.shape == (2, 12, 2)
    assert torch.equal(folded.value[:, 4 * 1 + 3, 1], x[:, 1, 1 * 4 + 3])  # channel c * r + j, time t: t * r + j
    assert torch.equal(depth_to_space(folded, 4).value, x)


def test_decimate_and_upsample_are_exact_copies():
    x = torch.randn(1, 3, 10)
    assert torch.equal(Decimate()(_q(x)).value, x[..., ::2])
    assert torch.equal(Upsample()(_q(x)).value, x.repeat_interleave(2, dim=-1))
