"""DPRNN: typed config, asteroid's parameter count computed from DPRNNTasNet's module layout, the length rule.
(Export, parity, CLI and streaming: tests/models/test_architectures.py; asteroid's forward:
tests/models/test_asteroid_dprnn.py; asteroid's chunking: tests/models/test_transformer.py.)"""

from __future__ import annotations

import pytest
import torch

from fqss_edge.config import load_config, shipped_config
from fqss_edge.errors import FqssError
from fqss_edge.models import DPRNN, build_model
from fqss_edge.parity.synthetic import smoke_model
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


def test_length_rule_is_the_chunk_grid_and_other_lengths_are_padded():
    model = build_model(smoke_model("dprnn")).eval()
    step = model.config.stride * model.config.chunk_size
    assert model.length_multiple == step and model.valid_length(step + 1) == 2 * step
    with torch.no_grad():
        y = model(torch.rand(1, 3 * step - 5) * 1.8 - 0.9)
    assert y.shape == (1, 2, 3 * step - 5)


@pytest.mark.parametrize("text, message", [
    ("chunk_size: 7", "model.chunk_size: must be even"),
    ("stride: 7", "model.stride: must be <= kernel_size (16) with kernel_size - stride even"),
    ("rnn_type: GRU", "model.rnn_type"),
    ("n_heads: 4", "unknown key 'model.n_heads'"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  name: dprnn\n  {text}\n")
    with pytest.raises(FqssError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)
