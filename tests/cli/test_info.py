"""``fqss-edge info``: the contract embedded in both exports, and clear errors for files that are not models."""

import json

import pytest

from fqss_edge.cli.main import main
from fqss_edge.export.bundle import export_bundle
from fqss_edge.parity.synthetic import FQSS_QUANT, save_random_checkpoint


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("info")
    return export_bundle(save_random_checkpoint(d / "m.safetensors", quant_cfg=FQSS_QUANT), d / "out")


def test_tflite_contract(exported, capsys):
    assert main(["info", str(exported.tflite), "--json"]) == 0
    md = json.loads(capsys.readouterr().out)["metadata"]
    assert md["input"]["dtype"] == "int16" and md["output"]["dtype"] == "int16"
    assert md["sample_rate"] == 8000 and md["n_src"] == 2 and md["length"]["multiple_of"] == 8
    assert md["input_splitter"] and md["residual_output"]


def test_tflite_minimum_runtime(exported, capsys):
    assert main(["info", str(exported.tflite), "--json"]) == 0
    rt = json.loads(capsys.readouterr().out)["min_runtime"]
    # FQSS_QUANT normalises in int16: RSQRT int16 is version 3, first in TF Lite 2.15 (runtime_version.cc; the
    # tflite-runtime 2.14 interpreter refuses it), and an int8 -> int16 requantization of a tensor with zero point != 0
    assert rt["version"] == "2.15.0" and "RSQRT v3" in rt["needed_by"]
    assert main(["info", str(exported.tflite)]) == 0
    assert "min runtime : TF Lite / LiteRT 2.15.0 (needed by " in capsys.readouterr().out


def test_onnx_metadata(exported, capsys):
    assert main(["info", str(exported.onnx.path)]) == 0
    out = capsys.readouterr().out
    assert "sample_rate : 8000" in out and "QuantizeLinear" in out


@pytest.mark.parametrize("content", [b"", b"not a model at all" * 10], ids=["empty", "garbage"])
@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_bad_files(tmp_path, capsys, content, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and len(err.splitlines()) == 1
