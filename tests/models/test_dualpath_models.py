"""What DPRNN and DPTNet share: the length rule of the chunk grid (other lengths padded, cropped back) and typed
configs whose bad keys and values name the key. (Sizes: tests/models/test_dprnn.py, test_dptnet.py.)"""

from __future__ import annotations

import pytest
import torch

from fqss_edge.config import load_config
from fqss_edge.errors import FqssError
from fqss_edge.models import build_model
from fqss_edge.parity.synthetic import smoke_model


@pytest.mark.parametrize("arch", ["dprnn", "dptnet"])
def test_length_rule_is_the_chunk_grid_and_other_lengths_are_padded(arch):
    model = build_model(smoke_model(arch)).eval()
    step = model.config.stride * model.config.chunk_size
    assert model.length_multiple == step and model.valid_length(step + 1) == 2 * step
    with torch.no_grad():
        y = model(torch.rand(1, 3 * step - 5) * 1.8 - 0.9)
    assert y.shape == (1, 2, 3 * step - 5)


@pytest.mark.parametrize("arch, text, message", [
    ("dprnn", "chunk_size: 7", "model.chunk_size: must be even"),
    ("dprnn", "stride: 7", "model.stride: must be <= kernel_size (16) with kernel_size - stride even"),
    ("dprnn", "rnn_type: GRU", "model.rnn_type"),
    ("dprnn", "n_heads: 4", "unknown key 'model.n_heads'"),
    ("dptnet", "chunk_size: 7", "model.chunk_size: must be even"),
    ("dptnet", "n_heads: 3", "model.n_heads: must divide n_filters (64)"),
    ("dptnet", "stride: 7", "model.stride: must be <= kernel_size (16) with kernel_size - stride even"),
    ("dptnet", "bn_chan: 4", "unknown key 'model.bn_chan'"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, arch, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  name: {arch}\n  {text}\n")
    with pytest.raises(FqssError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)
