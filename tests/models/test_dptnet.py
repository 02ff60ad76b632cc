"""DPTNet: typed config, asteroid's parameter count computed from its DPTNet module layout, the length rule.
(Export, parity, CLI and streaming: tests/models/test_architectures.py; asteroid's forward:
tests/models/test_asteroid_dualpath.py.)"""

from __future__ import annotations

import pytest

from fqss_edge.config import load_config, shipped_config
from fqss_edge.models import DPTNet, build_model
from fqss_edge.quant.tools import count_parameters


def asteroid_dptnet_parameters(n: int = 64, kernel: int = 16, ff_hid: int = 256, repeats: int = 6,
                               n_src: int = 2, bidirectional: bool = True) -> int:
    """Parameters of asteroid's DPTNet (free filterbanks, DPTransformer of ImprovedTransformedLayers), summed from
    its module layout (asteroid/models/dptnet.py, asteroid/masknn/attention.py); n a multiple of n_heads."""

    def layer(directions: int) -> int:
        mha = 3 * n * n + 3 * n + n * n + n  # nn.MultiheadAttention: in_proj, out_proj
        lstm = directions * (4 * ff_hid * n + 4 * ff_hid * ff_hid + 2 * 4 * ff_hid)
        linear = directions * ff_hid * n + n
        return mha + lstm + linear + 2 * 2 * n  # norm_mha, norm_ff (gLN)

    masker = (2 * n  # in_norm
              + repeats * (layer(2) + layer(2 if bidirectional else 1))
              + 1 + n * n * n_src + n * n_src  # first_out: PReLU, Conv2d(N, n_src * N, 1)
              + 2 * (n * n + n))  # net_out, net_gate
    return n * kernel + masker + n * kernel


def test_defaults_have_asteroids_parameter_count():
    assert asteroid_dptnet_parameters() == 8_529_025  # asteroid's DPTNet(2) counted with asteroid 0.7.0
    assert count_parameters(build_model({"name": "dptnet"})) == asteroid_dptnet_parameters()


@pytest.mark.parametrize("config", ["dptnet_2spks_8k", "dptnet_tiny"])
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "unidirectional"])
def test_shipped_configs_follow_the_same_layout(config, bidirectional):
    c = load_config(shipped_config(config)).model.model_copy(update={"bidirectional": bidirectional})
    model = build_model(c)
    assert isinstance(model, DPTNet) and count_parameters(model) == asteroid_dptnet_parameters(
        c.n_filters, c.kernel_size, c.ff_hid, c.n_repeats, c.n_src, c.bidirectional)
