"""SpeechBrain Sepformer state dicts load into ``Sepformer`` by key mapping, and our float model in SpeechBrain's
layout with its positional encoding reproduces SpeechBrain's forward (max abs error <= 1e-4) on the golden file of
``scripts/golden/speechbrain_sepformer.py`` (CI has no SpeechBrain: it needs torchaudio, which has no build for the
project's torch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from fqss_edge.errors import FqssError
from fqss_edge.models import build_model
from fqss_edge.models.import_speechbrain import from_speechbrain

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "speechbrain_sepformer" / "sepformer.safetensors"
SPEECHBRAIN = {"layout": "speechbrain", "positional_encoding": "both"}


def golden() -> tuple[dict, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    with safe_open(str(GOLDEN), "pt") as f:
        hparams = json.loads(f.metadata()["hparams"])
    t = load_file(str(GOLDEN))
    state = {k[len("state."):]: v for k, v in t.items() if k.startswith("state.")}
    return hparams, state, t["input"], t["output"]


def sepformer(hparams: dict, **changes: object) -> torch.nn.Module:
    return build_model({"name": "sepformer", **hparams, **SPEECHBRAIN, **changes}).eval()


@pytest.mark.parametrize("fold", [False, True], ids=["norms", "folded-norms"])
def test_float_model_reproduces_speechbrains_golden_output(fold):
    """``fold_norms``: the gLN's and the LayerNorms' gamma / beta in the 1x1 convs after them, the same function."""
    hparams, state, x, want = golden()
    model = sepformer(hparams, fold_norms=fold)
    from_speechbrain(model, state)
    with torch.no_grad():
        y = model(x)
    assert y.shape == want.shape == (2, hparams["n_src"], x.shape[-1])
    assert want.abs().max() > 1e-2  # the golden output is not (near) silence
    assert (y - want).abs().max() <= 1e-4


@pytest.mark.parametrize("changes", [{"layout": "fqss"}, {"positional_encoding": "intra"}],
                         ids=["fqss-layout", "intra-encoding-only"])
def test_each_speechbrain_difference_matters(changes):
    """The golden output tells the layouts and encodings apart (the test above is not passed by accident)."""
    hparams, state, x, want = golden()
    model = sepformer(hparams, **changes)
    state = {k: v for k, v in state.items() if not ("inter_mdl.pos_enc" in k and "positional_encoding" in changes)}
    from_speechbrain(model, state)
    with torch.no_grad():
        assert (model(x) - want).abs().max() > 1e-3


def test_mods_prefix_is_stripped():
    hparams, state, x, want = golden()
    model = sepformer(hparams)
    from_speechbrain(model, {f"mods.{k}": v for k, v in state.items()})
    with torch.no_grad():
        assert (model(x) - want).abs().max() <= 1e-4


def _renamed(state: dict[str, torch.Tensor], old: str, new: str) -> dict[str, torch.Tensor]:
    return {(new if k == old else k): v for k, v in state.items()}


ATT = "masknet.dual_mdl.0.intra_mdl.mdl.layers.0.self_att.att.in_proj_weight"


@pytest.mark.parametrize("edit, message", [
    (lambda s: _renamed(s, ATT, ATT + "_x"), f"unexpected tensor {ATT}_x "),
    (lambda s: {k: v for k, v in s.items() if k != "masknet.prelu.weight"}, "missing tensors masker.prelu.weight "),
    (lambda s: {**s, "masknet.conv1d.weight": torch.zeros(16, 8, 1)},
     r"tensor masknet.conv1d.weight has shape \(16, 8, 1\), the model needs \(16, 16, 1\)"),
    (lambda s: {**s, "masknet.dual_mdl.0.inter_mdl.pos_enc.pe": torch.zeros(1, 2500, 16)},
     "tensor masknet.dual_mdl.0.inter_mdl.pos_enc.pe of shape .* is not SpeechBrain's sinusoidal"),
    (lambda s: {k: v for k, v in s.items() if k != "masknet.dual_mdl.0.inter_mdl.pos_enc.pe"},
     r"1 positional encodings \(pos_enc.pe\), the model config has 2 "),
], ids=["unexpected", "missing", "shape", "not-a-sinusoid", "encoding-missing"])
def test_a_wrong_or_missing_tensor_is_a_one_line_error_naming_it(edit, message):
    hparams, state, _, _ = golden()
    with pytest.raises(FqssError, match=rf"^golden\.pt: {message}") as info:
        from_speechbrain(sepformer(hparams), edit(state), "golden.pt")
    assert "\n" not in str(info.value)


def test_an_encoding_the_config_lacks_is_named():
    hparams, state, _, _ = golden()
    with pytest.raises(FqssError, match=r"^g: tensor masknet.dual_mdl.0.inter_mdl.pos_enc.pe is a positional "
                                        r"encoding the model config has not \(positional_encoding: none;"):
        from_speechbrain(sepformer(hparams, positional_encoding="none"), state, "g")


def _config(tmp_path: Path, hparams: dict, **changes: str) -> Path:
    import yaml

    path = tmp_path / "speechbrain.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": "sepformer", **hparams, **SPEECHBRAIN, **changes}}))
    return path


def test_fqss_edge_import_writes_a_checkpoint_that_reproduces_speechbrain(tmp_path, capsys):
    """``fqss-edge import`` of the state dict as a ``.pth`` (keys under ``mods.``, as ``SepformerSeparation``
    holds them), then ``load_model`` (the path of every command)."""
    from fqss_edge.cli.main import main
    from fqss_edge.models.io import load_model

    hparams, state, x, want = golden()
    src, out = tmp_path / "sepformer.pth", tmp_path / "sepformer.safetensors"
    torch.save({f"mods.{k}": v for k, v in state.items()}, src)
    assert main(["import", str(src), "--config", str(_config(tmp_path, hparams)), "-o", str(out)]) == 0
    assert "tensors: SpeechBrain Sepformer" in capsys.readouterr().out
    with torch.no_grad():
        assert (load_model(out).model(x) - want).abs().max() <= 1e-4
    bad = tmp_path / "bad.safetensors"
    config = _config(tmp_path, hparams, positional_encoding="intra")
    assert main(["import", str(src), "--config", str(config), "-o", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{src}: tensor masknet.dual_mdl.0.inter_mdl.pos_enc.pe is a positional encoding the model "
                        "config has not (positional_encoding: intra; SpeechBrain's recipe: both)")
    assert "\n" not in err and not bad.exists()
