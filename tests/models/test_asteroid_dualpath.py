"""asteroid's DPRNNTasNet and DPTNet state dicts load into DPRNN / DPTNet by key mapping, and our float models
reproduce asteroid's forward (max abs error <= 1e-4): on the golden files of ``scripts/asteroid_golden.py`` always,
and against asteroid itself where it imports (CI has no asteroid)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from fqss_edge.config import parse_config
from fqss_edge.errors import FqssError
from fqss_edge.models import build_model
from fqss_edge.models.asteroid_dualpath import from_asteroid_dualpath
from fqss_edge.models.io import load_model

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "asteroid"
ARCHS = ["dprnn", "dptnet"]
ASTEROID_NAME = {"dprnn": "DPRNNTasNet", "dptnet": "DPTNet"}


def golden(arch: str) -> tuple[dict, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    path = ASSETS / f"{arch}.safetensors"
    with safe_open(str(path), "pt") as f:
        hparams = json.loads(f.metadata()["hparams"])
    t = load_file(str(path))
    state = {k[len("state."):]: v for k, v in t.items() if k.startswith("state.")}
    return hparams, state, t["input"], t["output"]


def our_model(arch: str, hparams: dict, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = build_model({"name": arch, **hparams}).eval()
    from_asteroid_dualpath(model, state)
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_float_model_reproduces_asteroids_golden_output(arch):
    hparams, state, x, want = golden(arch)
    with torch.no_grad():
        y = our_model(arch, hparams, state)(x)
    assert y.shape == want.shape == (2, hparams["n_src"], x.shape[-1])
    assert want.abs().max() > 1e-2  # the golden output is not (near) silence
    assert (y - want).abs().max() <= 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_asteroid_checkpoint_loads_with_a_config(arch, tmp_path):
    """An asteroid checkpoint (``torch.save`` of ``{"state_dict": ..., "model_name": ...}``) through ``load_model``,
    the path of every command; a config of another architecture is a one-line error naming the file."""
    hparams, state, x, want = golden(arch)
    pth = tmp_path / f"{arch}_asteroid.pth"
    torch.save({"state_dict": state, "model_name": ASTEROID_NAME[arch]}, pth)
    loaded = load_model(pth, parse_config({"model": {"name": arch, **hparams}, "quant": {"enabled": False}}))
    with torch.no_grad():
        assert (loaded.model(x) - want).abs().max() <= 1e-4
    other = parse_config({"model": {"name": "convtasnet"}, "quant": {"enabled": False}})
    with pytest.raises(FqssError, match=rf"{arch}_asteroid\.pth: an asteroid {ASTEROID_NAME[arch]} state dict, but "
                                        r"the model config builds convtasnet$"):
        load_model(pth, other)


def _golden_script():
    spec = importlib.util.spec_from_file_location("asteroid_golden", ASSETS.parents[2] / "scripts" / "asteroid_golden.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "unidirectional"])
@pytest.mark.parametrize("arch", ARCHS)
def test_float_model_reproduces_asteroid_live(arch, bidirectional):
    pytest.importorskip("asteroid.models", reason="asteroid not installed (the golden test covers CI)")
    script = _golden_script()
    hparams = {**script.HPARAMS[arch], "bidirectional": bidirectional}
    torch.manual_seed(1)
    reference = script.asteroid_model(arch, **hparams)
    x = 0.3 * torch.randn(1, 2 * script.LENGTH)
    want = script.asteroid_output(reference, x, hparams["kernel_size"], hparams["stride"])
    with torch.no_grad():
        y = our_model(arch, hparams, reference.state_dict())(x)
    assert want.abs().max() > 1e-3 and (y - want).abs().max() <= 1e-4


@pytest.mark.parametrize("arch, misshapen", [("dprnn", "masker.net.0.intra_RNN.rnn.weight_ih_l0"),
                                             ("dptnet", "masker.layers.0.0.recurrent.weight_ih_l0")])
def test_unexpected_missing_and_misshapen_tensors_are_one_line_errors(arch, misshapen):
    hparams, state, _, _ = golden(arch)
    model = build_model({"name": arch, **hparams})
    with pytest.raises(FqssError, match=r"^ckpt\.pth: unexpected tensor masker\.extra "):
        from_asteroid_dualpath(model, {**state, "masker.extra": torch.zeros(1)}, "ckpt.pth")
    partial = {k: v for k, v in state.items() if k != "masker.net_gate.0.bias"}
    with pytest.raises(FqssError, match=r"^ckpt\.pth: missing tensors masker\.net_gate\.conv\.bias "):
        from_asteroid_dualpath(model, partial, "ckpt.pth")
    bad = {**state, misshapen: state[misshapen].T}
    with pytest.raises(FqssError, match=rf"^ckpt\.pth: tensor {misshapen.replace('.', '[.]')} has shape"):
        from_asteroid_dualpath(model, bad, "ckpt.pth")
