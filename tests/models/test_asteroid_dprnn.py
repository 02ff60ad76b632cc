"""asteroid's DPRNNTasNet state dicts load into DPRNN by key mapping, and our float model reproduces asteroid's
forward (max abs error <= 1e-4): on the golden files of ``scripts/asteroid_golden.py`` always, and against asteroid
itself where it imports (CI has no asteroid)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from fqss_edge.errors import FqssError
from fqss_edge.models import build_model
from fqss_edge.models.asteroid_dprnn import dprnn_from_asteroid

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "asteroid" / "dprnn.safetensors"


def golden() -> tuple[dict, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    with safe_open(str(GOLDEN), "pt") as f:
        hparams = json.loads(f.metadata()["hparams"])
    t = load_file(str(GOLDEN))
    state = {k[len("state."):]: v for k, v in t.items() if k.startswith("state.")}
    return hparams, state, t["input"], t["output"]


def our_model(hparams: dict, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = build_model({"name": "dprnn", **hparams}).eval()
    dprnn_from_asteroid(model, state)
    return model


def test_float_model_reproduces_asteroids_golden_output():
    hparams, state, x, want = golden()
    with torch.no_grad():
        y = our_model(hparams, state)(x)
    assert y.shape == want.shape == (2, hparams["n_src"], x.shape[-1])
    assert want.abs().max() > 1e-2  # the golden output is not (near) silence
    assert (y - want).abs().max() <= 1e-4


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "unidirectional"])
def test_float_model_reproduces_asteroid_live(bidirectional):
    models = pytest.importorskip("asteroid.models", reason="asteroid not installed (the golden test covers CI)")
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("asteroid_golden", GOLDEN.parents[3] / "scripts" / "asteroid_golden.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("asteroid_golden", script)
    spec.loader.exec_module(script)
    hparams = {**script.HPARAMS, "bidirectional": bidirectional}
    torch.manual_seed(1)
    reference = models.DPRNNTasNet(**hparams).eval()
    x = 0.3 * torch.randn(1, 2 * script.LENGTH)
    want = script.asteroid_output(reference, x, hparams["kernel_size"], hparams["stride"])
    with torch.no_grad():
        y = our_model(hparams, reference.state_dict())(x)
    assert (y - want).abs().max() <= 1e-4


def test_unexpected_missing_and_misshapen_tensors_are_one_line_errors():
    hparams, state, _, _ = golden()
    model = build_model({"name": "dprnn", **hparams})
    with pytest.raises(FqssError, match=r"^ckpt\.pth: unexpected tensor masker\.extra "):
        dprnn_from_asteroid(model, {**state, "masker.extra": torch.zeros(1)}, "ckpt.pth")
    partial = {k: v for k, v in state.items() if k != "masker.mask_net.weight"}
    with pytest.raises(FqssError, match=r"^ckpt\.pth: missing tensors masker\.mask_net\.conv\.weight "):
        dprnn_from_asteroid(model, partial, "ckpt.pth")
    bad = {**state, "masker.net.0.intra_RNN.rnn.weight_ih_l0": state["masker.net.0.intra_RNN.rnn.weight_ih_l0"].T}
    with pytest.raises(FqssError, match=r"^ckpt\.pth: tensor masker\.net\.0\.intra_RNN\.rnn\.weight_ih_l0 has shape"):
        dprnn_from_asteroid(model, bad, "ckpt.pth")
