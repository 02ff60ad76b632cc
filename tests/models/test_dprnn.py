"""DPRNN: typed config, asteroid's parameter count computed from DPRNNTasNet's module layout, the length rule.
(Export, parity, CLI and streaming: tests/models/test_architectures.py; asteroid's forward:
tests/models/test_asteroid_dualpath.py; asteroid's chunking: tests/models/test_transformer.py.)"""

from __future__ import annotations

import pytest

from fqss_edge.config import load_config, shipped_config
from fqss_edge.models import DPRNN, build_model
from fqss_edge.quant.tools import count_parameters


def asteroid_dprnn_parameters(n: int = 64, kernel: int = 16, bn: int = 128, hidden: int = 128, repeats: int = 6,
                              n_src: int = 2, bidirectional: bool = True) -> int:
    """Parameters of asteroid's DPRNNTasNet (free filterbanks, DPRNN masker of DPRNNBlocks with LSTMs), summed from
    its module layout (asteroid/models/dprnn_tasnet.py, asteroid/masknn/recurrent.py)."""

    def lstm(n_in: int, directions: int) -> int:  # nn.LSTM, one layer: W_ih, W_hh, b_ih, b_hh per direction
        return directions * (4 * hidden * n_in + 4 * hidden * hidden + 2 * 4 * hidden)

    inter_dirs = 2 if bidirectional else 1
    block = (lstm(bn, 2) + 2 * hidden * bn + bn  # intra_RNN (always bidirectional) + intra_linear
             + lstm(bn, inter_dirs) + inter_dirs * hidden * bn + bn  # inter_RNN + inter_linear
             + 2 * 2 * bn)  # intra_norm, inter_norm (gLN: gamma, beta)
    masker = (2 * n + n * bn + bn  # bottleneck: gLN, Conv1d(N, bn, 1)
              + repeats * block
              + 1 + bn * bn * n_src + bn * n_src  # first_out: PReLU, Conv2d(bn, n_src * bn, 1)
              + 2 * (bn * bn + bn)  # net_out, net_gate: Conv1d(bn, bn, 1)
              + bn * n)  # mask_net: Conv1d(bn, N, 1, bias=False)
    return n * kernel + masker + n * kernel  # encoder and decoder filterbanks, no bias


def test_defaults_have_asteroids_parameter_count():
    assert asteroid_dprnn_parameters() == 3_652_865  # asteroid's DPRNNTasNet(2) counted with asteroid 0.7.0
    model = build_model(load_config(shipped_config("dprnn_2spks_8k")).model)
    assert isinstance(model, DPRNN) and count_parameters(model) == asteroid_dprnn_parameters()


@pytest.mark.parametrize("changes", [{}, {"bidirectional": False, "n_src": 3}], ids=["tiny", "unidirectional"])
def test_tiny_config_size_follows_the_same_layout(changes):
    c = load_config(shipped_config("dprnn_tiny")).model.model_copy(update=changes)
    assert count_parameters(build_model(c)) == asteroid_dprnn_parameters(
        c.n_filters, c.kernel_size, c.bn_chan, c.hid_size, c.n_repeats, c.n_src, c.bidirectional)
