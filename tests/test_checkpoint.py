"""Checkpoints: safetensors round trip, optimizer state, and refusing truncated, corrupt or pickled-code files."""

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from fqss_edge import __version__
from fqss_edge.checkpoint import (flatten_state, load_checkpoint, load_optimizer_state, save_checkpoint,
                                  save_optimizer_state, unflatten_state)
from fqss_edge.config import RunConfig, dump_config
from fqss_edge.errors import FqssError
from fqss_edge.quant.revision import QUANT_REVISION

META = {"method": "fqss", "epoch": 3, "best_si_sdri": 11.5, "bad_epochs": 0}


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 64, 16, stride=8), nn.PReLU(), nn.Conv1d(64, 64, 3), nn.BatchNorm1d(64))


@pytest.fixture
def saved(tmp_path) -> tuple[Path, nn.Module]:
    model = small_model()
    path = save_checkpoint(tmp_path / "run" / "best.safetensors", model.state_dict(), dump_config(RunConfig()), META)
    return path, model


def assert_same_tensors(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_round_trip(saved):
    path, model = saved
    ck = load_checkpoint(path)
    assert_same_tensors(ck.state_dict, model.state_dict())
    assert ck.config == dump_config(RunConfig())
    assert ck.meta == {**META, "fqss_edge_version": __version__, "quant_revision": QUANT_REVISION}
    assert [p.name for p in path.parent.iterdir()] == ["best.safetensors"]  # no temporary file left behind


def test_accepts_a_pydantic_config(tmp_path):
    path = save_checkpoint(tmp_path / "a.safetensors", {"w": torch.ones(2)}, RunConfig(), {})
    assert load_checkpoint(path).config["model"]["n_filters"] == 512


def test_overwrite_is_atomic_replace(saved):
    path, model = saved
    save_checkpoint(path, {"w": torch.zeros(3)}, {}, {"epoch": 4})
    assert list(load_checkpoint(path).state_dict) == ["w"]


def test_missing_file(tmp_path):
    for name in ("nope.safetensors", "nope.pth"):
        with pytest.raises(FqssError, match="no such file"):
            load_checkpoint(tmp_path / name)


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    blob = path.read_bytes()
    half = tmp_path / "half.safetensors"
    half.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(FqssError, match=r"half\.safetensors: truncated or corrupt checkpoint"):
        load_checkpoint(half)


@pytest.mark.parametrize("key", ["fqss_edge.sha256", "fqss_edge.format"])
def test_a_renamed_digest_or_format_key_is_refused(saved, tmp_path, key):
    """One flipped byte in a metadata key's name: the digest no longer found, or the header no longer matching it."""
    path, _ = saved
    blob = bytearray(path.read_bytes())
    at = blob.index(key.encode()) + len(key) - 1
    blob[at] ^= 0x5A
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(blob))
    with pytest.raises(FqssError, match=r"bad\.safetensors: corrupt checkpoint"):
        load_checkpoint(bad)


@pytest.mark.parametrize("where", ["header", "tensor-data"])
def test_corrupt_bytes(saved, tmp_path, where):
    path, _ = saved
    blob = bytearray(path.read_bytes())
    header_len = int.from_bytes(blob[:8], "little")
    at = 8 + header_len // 2 if where == "header" else len(blob) - 7
    blob[at] ^= 0x5A
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(blob))
    with pytest.raises(FqssError, match=r"bad\.safetensors: .*corrupt"):
        load_checkpoint(bad)


@pytest.mark.parametrize("content, name", [(b"", "empty.safetensors"), (b"hello, this is text" * 4, "t.safetensors"),
                                           (b"x", "model.onnx")], ids=["empty", "text", "suffix"])
def test_not_a_checkpoint(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FqssError, match=f"{name}: not a checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_plain_pth_state_dict_accepted(tmp_path, legacy):
    model = small_model()
    path = tmp_path / "fqss.pth"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    ck = load_checkpoint(path)
    assert_same_tensors(ck.state_dict, model.state_dict())
    assert ck.config == {} and ck.meta == {}


def test_wrapped_ddp_pth_state_dict_accepted(tmp_path):
    model = small_model()
    path = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 7}, path)
    assert_same_tensors(load_checkpoint(path).state_dict, model.state_dict())


def test_pth_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(FqssError, match="not a checkpoint"):
        load_checkpoint(path)


class _MakesDirectory:
    """Unpickling this calls os.mkdir(target): code execution, which loading must never do."""

    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_pickled_code_refused(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "payload": _MakesDirectory(marker)}, path,
               _use_new_zipfile_serialization=not legacy)
    with pytest.raises(FqssError, match=r"evil\.pth: refusing to load pickled code"):
        load_checkpoint(path)
    assert not marker.exists()

    # the payload is real: an unsafe load would have run it
    control = tmp_path / "control"
    torch.save({"payload": _MakesDirectory(control)}, tmp_path / "control.pth")
    torch.load(tmp_path / "control.pth", weights_only=False)
    assert control.is_dir()


def test_truncated_pth(tmp_path):
    path = tmp_path / "half.pth"
    torch.save(small_model().state_dict(), path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(FqssError, match=r"half\.pth: truncated or corrupt checkpoint"):
        load_checkpoint(path)


def _trained_optimizer():
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(2, 1, 64)).square().mean().backward()
        opt.step()
    sched.step(1.0)
    return model, opt, sched


def test_optimizer_state_round_trip(saved):
    path, _ = saved
    model, opt, sched = _trained_optimizer()
    optim_path = path.with_suffix(".optim.safetensors")
    save_optimizer_state(optim_path, {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()})
    back = load_optimizer_state(optim_path)

    opt2 = torch.optim.Adam(model.parameters(), lr=1.0)
    sched2 = torch.optim.lr_scheduler.ReduceLROnPlateau(opt2, mode="max")
    opt2.load_state_dict(back["optimizer"])
    sched2.load_state_dict(back["scheduler"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for i, st in opt.state_dict()["state"].items():
        assert_same_tensors(opt2.state_dict()["state"][i], st)
    assert sched2.state_dict() == sched.state_dict()


def test_optimizer_and_checkpoint_files_are_not_interchangeable(saved):
    path, _ = saved
    _, opt, _ = _trained_optimizer()
    optim_path = save_optimizer_state(path.with_suffix(".optim.safetensors"), {"optimizer": opt.state_dict()})
    with pytest.raises(FqssError, match="not a 'checkpoint/1' file"):
        load_checkpoint(optim_path)
    with pytest.raises(FqssError, match="not a 'optimizer/1' file"):
        load_optimizer_state(path)


def test_flatten_keeps_key_and_container_types():
    state = {"state": {0: {"step": torch.tensor(3.0)}}, "groups": [{"betas": (0.9, 0.999), "p": [0, 1]}],
             "best": float("-inf"), "mode": "max", "none": None}
    tensors, skeleton = flatten_state(state)
    back = unflatten_state(tensors, skeleton)
    assert list(back["state"]) == [0] and back["groups"][0]["betas"] == (0.9, 0.999)
    assert back["best"] == float("-inf") and back["none"] is None
    assert torch.equal(back["state"][0]["step"], torch.tensor(3.0))
