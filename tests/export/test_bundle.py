"""``fqss-edge export CKPT --int8`` / ``--float``: model.onnx and model.tflite together, or nothing."""

import pytest

from fqss_edge.cli.main import main
from fqss_edge.errors import FqssError
from fqss_edge.export.bundle import export_bundle
from fqss_edge.export.tflite.metadata import read_tflite_metadata
from fqss_edge.parity.synthetic import FQSS_QUANT, save_random_checkpoint


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpts")
    return {"int8": save_random_checkpoint(d / "int8.safetensors", quant_cfg=FQSS_QUANT),
            "float": save_random_checkpoint(d / "float.safetensors", quant_cfg={"enabled": False})}


def test_int8_default_writes_both(ckpts, tmp_path, capsys):
    assert main(["export", str(ckpts["int8"]), "--int8", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.tflite"]
    meta = read_tflite_metadata(tmp_path / "model.tflite")
    assert meta["input"]["dtype"] == "int16" and meta["sample_rate"] == 8000
    assert "model.tflite" in capsys.readouterr().out


@pytest.mark.parametrize("ckpt", ["float", "int8"])
def test_float_default_writes_both_with_a_float32_tflite(ckpts, tmp_path, capsys, ckpt):
    """``--float`` (a float checkpoint, or a quantized one as its float network): float ONNX + float32 .tflite."""
    assert main(["export", str(ckpts[ckpt]), "--float", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.tflite"]
    meta = read_tflite_metadata(tmp_path / "model.tflite")
    assert meta["precision"] == "float32" and meta["io"] == "float32" and meta["input"]["dtype"] == "float32"
    assert "float32, I/O float32" in capsys.readouterr().out


def test_float_tflite_only(ckpts, tmp_path):
    result = export_bundle(ckpts["float"], tmp_path, formats=("tflite",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]
    assert result.tflite_meta["precision"] == "float32"


def test_float_onnx_only(ckpts, tmp_path):
    result = export_bundle(ckpts["float"], tmp_path, formats=("onnx",))
    assert result.tflite is None and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_int16_io_for_a_float_export_is_refused_and_writes_nothing(ckpts, tmp_path, capsys):
    assert main(["export", str(ckpts["float"]), "--float", "--io", "int16", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "float32 I/O" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_failing_tflite_step_leaves_no_onnx_behind(ckpts, tmp_path, monkeypatch):
    import fqss_edge.export.tflite as tfl

    def boom(*a, **k):
        raise FqssError("simulated converter failure")

    monkeypatch.setattr(tfl, "export", boom)
    for ckpt in ("int8", "float"):
        with pytest.raises(FqssError, match="simulated"):
            export_bundle(ckpts[ckpt], tmp_path)
        assert list(tmp_path.iterdir()) == []


def test_a_later_onnx_only_export_removes_the_stale_tflite(ckpts, tmp_path, capsys):
    assert main(["export", str(ckpts["int8"]), "-o", str(tmp_path)]) == 0
    assert main(["export", str(ckpts["float"]), "--format", "onnx", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert f"removed {tmp_path / 'model.tflite'} (from an earlier export)" in capsys.readouterr().out


def test_a_failed_export_leaves_no_folder(ckpts, tmp_path, capsys):
    out = tmp_path / "new" / "deeper"
    assert main(["export", str(ckpts["float"]), "--io", "int16", "-o", str(out)]) == 2
    assert "is for --int8 exports" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where, expected", [
    ("file", "exists and is not a folder"),
    ("under a file", "cannot be created, {file} is a file"),
    ("read-only", "cannot write there"),
    ("/proc", "a system folder"),
])
def test_bad_output_folders_are_one_line(ckpts, tmp_path, capsys, where, expected):
    import os

    file = tmp_path / "a_file"
    file.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    out = {"file": file, "under a file": file / "sub", "read-only": ro / "sub", "/proc": "/proc/self/fqss"}[where]
    if where == "read-only" and os.access(ro, os.W_OK):
        pytest.skip("running as a user who can write a read-only folder (root)")
    assert main(["export", str(ckpts["int8"]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected.format(file=file) in err, err
    assert file.read_text() == "x" and list(ro.iterdir()) == []
