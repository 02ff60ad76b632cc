"""FlatConv: typed config, shapes and size, the FQSS pieces the base model adds, and the MSE losses it trains with.
(Export, parity, CLI and streaming: tests/models/test_architectures.py, for every architecture.)"""

from __future__ import annotations

import numpy as np
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
    # the distillation term weighs each source by how much better the teacher is: exp((SDR_f - SDR_q) / 10), plain SDR
    teacher = swapped + 0.01 * torch.randn(3, 2, 400, generator=g)
    student = teacher + 0.3 * torch.randn(3, 2, 400, generator=g)
    q, f = student.flip(1).numpy().astype(np.float64), teacher.flip(1).numpy().astype(np.float64)  # paired with ref
    s_ = ref.numpy().astype(np.float64)
    sdr = lambda e: 10 * np.log10((s_ ** 2).sum(-1) / ((s_ - e) ** 2).sum(-1))  # noqa: E731
    w = np.exp((sdr(f) - sdr(q)) / 10)
    assert (w > 2).all()  # the student is much worse here: its distance to the teacher counts more
    want = (w * ((q - f) ** 2).mean(-1)).mean()
    assert float(sakd_mse_loss(student, teacher, ref, lam=1.0)) == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("name, samples", [("flatconv", 155), ("flatconv_tiny", 99)])
def test_receptive_field_is_as_documented(name, samples):
    """(n_layers + 1) * (kernel_size - 1) + 1 samples, measured by the gradient of one output sample."""
    model = build_model(load_config(shipped_config(name)).model)
    x = torch.zeros(1, 1, 1001, requires_grad=True)
    model.forward_core(x)[0, 0, 500].backward()
    assert int((x.grad != 0).sum()) == samples
