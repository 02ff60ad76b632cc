"""Exports carry the fingerprint of their checkpoint and an integrity hash of their weights: info and loading
check the hash, parity refuses a model exported from another checkpoint; exports without the fields still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from fqss_edge.cli.main import main
from fqss_edge.fingerprint import FINGERPRINT_KEY, ONNX_WEIGHTS_KEY, TFLITE_WEIGHTS_KEY
from fqss_edge.model_info import model_info
from fqss_edge.models.io import load_model
from fqss_edge.runtimes import open_backend
from tests.app_models import export_tiny_models
from tests.conftest import make_split
from tests.tampering import edited_onnx, edited_onnx_weights, edited_tflite, edited_tflite_weights


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Two checkpoints (different weights), each exported by the command; a small data folder."""
    root = tmp_path_factory.mktemp("fingerprints")
    paths = {}
    for name, seed in (("a", 0), ("b", 1)):
        ckpt = export_tiny_models(root / f"ckpt_{name}", seed=seed)["checkpoint"]
        assert main(["export", str(ckpt), "-o", str(root / name)]) == 0
        paths[f"{name}_ckpt"] = ckpt
        paths[f"{name}_onnx"], paths[f"{name}_tflite"] = root / name / "model.onnx", root / name / "model.tflite"
    paths["data"] = make_split(root / "data", 1, 0.3, 0)
    return paths


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_exports_carry_the_fingerprint_and_a_verified_hash(exports, fmt):
    info = model_info(exports[f"a_{fmt}"])
    assert info["integrity"] == "verified"
    assert info["fingerprint"] == load_model(exports["a_ckpt"]).fingerprint != load_model(exports["b_ckpt"]).fingerprint


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_edited_weights_are_caught_by_info_and_on_load(exports, tmp_path, capsys, fmt):
    edit = edited_onnx_weights if fmt == "onnx" else edited_tflite_weights
    model = edit(exports[f"a_{fmt}"], tmp_path / f"edited.{fmt}")
    assert main(["info", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{model}: the weights do not match the integrity hash" in err
    with pytest.raises(Exception, match="do not match the integrity hash"):
        open_backend(model)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_parity_refuses_a_model_of_another_checkpoint(exports, capsys, fmt):
    args = ["parity", str(exports["a_ckpt"]), str(exports[f"b_{fmt}"]), "--data", str(exports["data"])]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{exports[f'b_{fmt}']}: exported from another checkpoint than" in err


def _without_fields(fmt: str):
    if fmt == "onnx":
        return lambda props: [props.pop(k) for k in (FINGERPRINT_KEY, ONNX_WEIGHTS_KEY)]
    return lambda meta: [meta.pop(TFLITE_WEIGHTS_KEY), meta["onnx_metadata"].pop(FINGERPRINT_KEY)]


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_an_export_without_the_fields_still_loads_and_says_so(exports, tmp_path, capsys, fmt):
    edit = edited_onnx if fmt == "onnx" else edited_tflite
    old = edit(exports[f"a_{fmt}"], tmp_path / f"old.{fmt}", _without_fields(fmt))
    info = model_info(old)
    assert (info["integrity"], info["fingerprint"]) == ("no integrity hash", "no fingerprint")
    assert main(["parity", str(exports["a_ckpt"]), str(old), "--data", str(exports["data"])]) == 0
    assert "no fingerprint (exported before fingerprints): not checked" in capsys.readouterr().out
    assert main(["parity", str(exports["a_ckpt"]), str(exports[f"a_{fmt}"]), "--data", str(exports["data"])]) == 0
    assert "exported from this checkpoint (fingerprint matches)" in capsys.readouterr().out
