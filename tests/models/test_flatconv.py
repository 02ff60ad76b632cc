"""FlatConv: typed config, shapes and size, the FQSS pieces the base model adds, and the MSE losses it trains with.
(Export, parity, CLI and streaming: tests/models/test_architectures.py, for every architecture.)"""

from __future__ import annotations

import pytest
import torch

from fqss_edge.config import load_config, shipped_config
from fqss_edge.errors import FqssError
from fqss_edge.models import FlatConv, FlatConvConfig, build_model
from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, smoke_model
from fqss_edge.quant.tools import count_parameters
from fqss_edge.train.losses import pit_mse, sakd_mse_loss


def test_shipped_configs_are_typed_flatconv_with_the_mse_loss():
    for name in ("flatconv", "flatconv_tiny"):
        cfg = load_config(shipped_config(name))
        assert isinstance(cfg.model, FlatConvConfig) and cfg.train.loss == "mse"


@pytest.mark.parametrize("text, message", [
    ("n_layerz: 3", "unknown key 'model.n_layerz' (did you mean 'n_layers'?)"),
    ("n_filters: 3", "unknown key 'model.n_filters'"),  # a Conv-TasNet key is not a FlatConv key
    ("kernel_size: 4", "model.kernel_size: must be odd"),
    ("channels: 0", "model.channels: must be > 0"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  name: flatconv\n  {text}\n")
    with pytest.raises(FqssError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_recipe_is_under_a_million_parameters_and_keeps_the_length():
    model = build_model(load_config(shipped_config("flatconv")).model)
    assert isinstance(model, FlatConv) and 0.5e6 < count_parameters(model) < 1e6
    for n in (1, 17, 1000):
        assert model.valid_length(n) == n
        assert model(torch.zeros(2, n)).shape == (2, 2, n)


def test_fqss_model_takes_two_bytes_and_decodes_twice():
    model = build_model(smoke_model("flatconv"), FQSS_QUANT_NORM8)
    assert model.layers[0].conv.in_channels == 2 and model.residual is not None
    assert model.residual.reencoder.conv.in_channels == 2 and model.residual.reencoder.conv.out_channels == 8
    assert model.decoder.conv.bias is None
    assert model.io_contract().output_lsb == 1 / 32768 and model.io_contract().stride == 1


def test_quantized_student_starts_from_the_float_model():
    f = build_model(smoke_model("flatconv"))
    q = build_model(smoke_model("flatconv"), FQSS_QUANT_NORM8)
    q.init_from_float(f.state_dict())
    assert torch.equal(q.layers[0].conv.weight[:, :1], f.layers[0].conv.weight)
    assert torch.equal(q.layers[0].conv.weight[:, 1:], f.layers[0].conv.weight / 256)
    assert torch.equal(q.decoder.conv.weight, f.decoder.conv.weight)


def test_mse_losses_pair_sources_and_distil():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(3, 2, 400, generator=g)
    swapped = ref.flip(1)
    assert float(pit_mse(swapped, ref)) == 0.0
    noisy = swapped + 0.1 * torch.randn(3, 2, 400, generator=g)
    assert float(sakd_mse_loss(noisy, swapped, ref, lam=0.0)) == pytest.approx(float(pit_mse(noisy, ref)))
    assert float(sakd_mse_loss(noisy, noisy, ref, lam=1.0)) == pytest.approx(0.0, abs=1e-12)
