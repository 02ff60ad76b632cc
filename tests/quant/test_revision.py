"""Checkpoints record the revision of the quantized semantics they were written under; loading a quantized one
written before a change that touches its layers warns (one line from the CLI), and nothing else does."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from fqss_edge.checkpoint import CHECKPOINT_FORMAT, _read_safetensors, _serialise, load_checkpoint
from fqss_edge.cli.main import main
from fqss_edge.errors import FqssError, FqssWarning
from fqss_edge.models.io import load_model
from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, save_random_checkpoint, smoke_model
from fqss_edge.quant.revision import METADATA_KEY, QUANT_REVISION


def _with_revision(src: Path, dst: Path, revision: str | None) -> Path:
    """``src`` with its recorded revision set (None: removed, as checkpoints written before revisions); digest
    recomputed."""
    tensors, metadata = _read_safetensors(src, CHECKPOINT_FORMAT)
    metadata = {k: v for k, v in metadata.items() if k not in ("fqss_edge.sha256", METADATA_KEY)}
    if revision is not None:
        metadata[METADATA_KEY] = revision
    dst.write_bytes(_serialise(tensors, metadata))
    return dst


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[tuple[str, bool], Path]:
    root = tmp_path_factory.mktemp("revision")
    out = {}
    for arch in ("sepformer", "dptnet", "convtasnet"):
        for quantized in (True, False):
            out[arch, quantized] = save_random_checkpoint(root / f"{arch}_{quantized}.safetensors",
                                                          smoke_model(arch), FQSS_QUANT_NORM8 if quantized else None)
    return out


def test_written_and_read_back(checkpoints):
    assert load_checkpoint(checkpoints["convtasnet", True]).meta["quant_revision"] == QUANT_REVISION


def test_missing_means_revision_1_and_garbage_is_refused(checkpoints, tmp_path):
    old = _with_revision(checkpoints["convtasnet", True], tmp_path / "old.safetensors", None)
    assert load_checkpoint(old).meta["quant_revision"] == 1
    bad = _with_revision(checkpoints["convtasnet", True], tmp_path / "bad.safetensors", "two")
    with pytest.raises(FqssError, match=f"bad.safetensors: corrupt checkpoint metadata \\({METADATA_KEY}"):
        load_checkpoint(bad)


# (architecture, quantized, revision) -> warns?  The attention's K / V quantizers changed in revision 2.
CASES = [("sepformer", True, None, True), ("dptnet", True, "1", True), ("sepformer", True, str(QUANT_REVISION), False),
         ("sepformer", False, None, False), ("convtasnet", True, None, False)]


@pytest.mark.parametrize("arch,quantized,revision,warns", CASES)
def test_load_model_warns_for_changed_layers_only(checkpoints, tmp_path, arch, quantized, revision, warns):
    path = _with_revision(checkpoints[arch, quantized], tmp_path / "ck.safetensors", revision)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_model(path)
    ours = [w for w in caught if issubclass(w.category, FqssWarning)]
    assert len(ours) == int(warns)
    if warns:
        text = str(ours[0].message)
        assert text.startswith(f"{path}: written by an older fqss-edge") and "K and V" in text


def test_cli_prints_one_warning_line_and_goes_on(checkpoints, tmp_path, capsys):
    path = _with_revision(checkpoints["sepformer", True], tmp_path / "old.safetensors", None)
    assert main(["export", str(path), "-o", str(tmp_path / "out"), "--format", "onnx"]) == 0
    assert (tmp_path / "out" / "model.onnx").is_file()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {path}: written by an older fqss-edge")
