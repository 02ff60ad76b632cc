"""``fqss-edge import``: asteroid model files (from asteroid 0.7.0's own models: the golden files of
``scripts/asteroid_golden.py``) and bare state dicts become our float checkpoints, which reproduce asteroid's output
and go through ``export`` (float, and int8 after ``train --method fqss --teacher``) and ``eval``. Bad input is one
line naming the file, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.cli.main import main
from fqss_edge.models import build_model
from fqss_edge.models.io import load_model
from tests.conftest import TINY_MODEL
from tests.models.asteroid_states import asteroid_model_file, convtasnet_to_asteroid

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "asteroid"
ASTEROID_NAME = {"convtasnet": "ConvTasNet", "dprnn": "DPRNNTasNet", "dptnet": "DPTNet"}


def golden_model_file(arch: str, path: Path) -> tuple[Path, dict, torch.Tensor, torch.Tensor]:
    """The golden asteroid model written as ``torch.save(model.serialize())`` does (``infos`` holds torch's
    ``TorchVersion``, which plain ``weights_only`` loading refuses); its model_args, input and asteroid's output."""
    src = ASSETS / f"{arch}.safetensors"
    with safe_open(str(src), "pt") as f:
        model_args = json.loads(f.metadata()["model_args"])
    t = load_file(str(src))
    state = {k.removeprefix("state."): v for k, v in t.items() if k.startswith("state.")}
    torch.save({"model_name": ASTEROID_NAME[arch], "state_dict": state, "model_args": model_args,
                "infos": {"software_versions": {"torch_version": torch.__version__, "asteroid_version": "0.7.0"}}},
               path)
    return path, model_args, t["input"], t["output"]


def run(args: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("arch", ["convtasnet", "dprnn", "dptnet"])
def test_asteroid_model_file_imports_and_reproduces_asteroid(arch, tmp_path, capsys):
    pth, model_args, x, want = golden_model_file(arch, tmp_path / f"{arch}.pth")
    out = tmp_path / f"{arch}.safetensors"
    code, stdout, err = run(["import", pth, "-o", out, "--arch", arch], capsys)
    assert code == 0, err
    assert f"({arch}, " in stdout and f"tensors: asteroid {ASTEROID_NAME[arch]}, config: model_args" in stdout
    ck = load_checkpoint(out)
    assert ck.meta["method"] == "float" and ck.config["quant"]["enabled"] is False
    loaded = load_model(out)
    for key in ("n_filters", "kernel_size", "stride", "n_repeats", "mask_act"):
        assert getattr(loaded.config.model, key) == model_args[key]
    with torch.no_grad():
        y = loaded.model(x)
    assert want.abs().max() > 1e-2
    assert (y - want).abs().max() <= 1e-4  # asteroid's own forward (asteroid 0.7.0, scripts/asteroid_golden.py)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The golden asteroid ConvTasNet imported from its model file."""
    d = tmp_path_factory.mktemp("imported")
    pth, *_ = golden_model_file("convtasnet", d / "convtasnet.pth")
    assert main(["import", str(pth), "-o", str(d / "ckpt.safetensors")]) == 0
    return d / "ckpt.safetensors"


def test_imported_checkpoint_exports_evaluates_and_teaches_fqss(imported, tiny_data, tmp_path, capsys):
    code, out, err = run(["export", imported, "--float", "-o", tmp_path / "float"], capsys)
    assert code == 0, err
    assert (tmp_path / "float" / "model.onnx").is_file() and (tmp_path / "float" / "model.tflite").is_file()
    code, out, err = run(["eval", imported, "--data", tiny_data / "test", "--json", "--no-sdr"], capsys)
    assert code == 0, err
    assert len(json.loads(out)["utterances"]) == 2
    model = load_checkpoint(imported).config["model"]
    cfg = tmp_path / "fqss.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": model, "quant": {"calib_batches": 2},
        "train": {"epochs": 1, "batch_size": 2, "segment_seconds": 0.25, "max_steps_per_epoch": 2, "seed": 0},
        "data": {k: str(tiny_data / k) for k in ("train", "valid")}}))
    code, out, err = run(["train", "-c", cfg, "--method", "fqss", "--teacher", imported, "-o", tmp_path / "qat"],
                         capsys)
    assert code == 0, err
    student = tmp_path / "qat" / "best.safetensors"
    assert load_checkpoint(student).meta["method"] == "fqss"
    code, out, err = run(["export", student, "--int8", "-o", tmp_path / "int8"], capsys)
    assert code == 0, err
    assert "I/O int16" in out
    code, out, err = run(["eval", student, "--data", tiny_data / "test", "--json", "--no-sdr"], capsys)
    assert code == 0, err
    assert len(json.loads(out)["utterances"]) == 2


def _tiny_float(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(TINY_MODEL).eval()
    with torch.no_grad():  # every tensor away from its initial value
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def _config(tmp_path: Path, **model) -> Path:
    path = tmp_path / f"cfg{'_'.join(f'{k}{v}' for k, v in model.items())}.yaml"
    path.write_text(yaml.safe_dump({"model": {**TINY_MODEL, **model}}))
    return path


@pytest.mark.parametrize("layout", ["asteroid", "fqss-edge"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_bare_state_dict_imports_with_a_config(layout, suffix, tmp_path, capsys):
    model = _tiny_float()
    state = convtasnet_to_asteroid(model) if layout == "asteroid" else dict(model.state_dict())
    src = tmp_path / f"state{suffix}"
    if suffix == ".pth":  # as asteroid's Lightning System saves it: under "state_dict", keys prefixed "model."
        torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}}, src)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(src))
    out = tmp_path / "ckpt.safetensors"
    code, stdout, err = run(["import", src, "-o", out, "--config", _config(tmp_path)], capsys)
    assert code == 0, err
    assert "config: --config" in stdout
    x = torch.rand(1, 800) - 0.5
    with torch.no_grad():
        assert torch.equal(load_model(out).model(x), model(x))


def _bad_sources(tmp_path: Path) -> dict[str, tuple[list, str]]:
    """name -> (import arguments after SOURCE, the expected message after 'SOURCE: ')."""
    model = _tiny_float()
    asteroid = asteroid_model_file(model, TINY_MODEL)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "unknown.pth")
    torch.save({"state_dict": asteroid["state_dict"], "model": Path("x")}, tmp_path / "code.pth")
    torch.save(asteroid["state_dict"], tmp_path / "bare.pth")
    torch.save({**asteroid, "model_args": {**asteroid["model_args"], "causal": True}}, tmp_path / "causal.pth")
    torch.save(asteroid, tmp_path / "asteroid.pth")
    return {
        "text.pth": ([], "not a checkpoint"),
        "unknown.pth": ([], "unknown layout (first tensor 'encoder.weight')"),
        "code.pth": ([], "refusing to load pickled code"),
        "bare.pth": ([], "carries no model_args (a bare state dict); pass --config"),
        "causal.pth": ([], "model_args causal=True is not supported by fqss-edge's convtasnet"),
        "asteroid.pth": (["--config", _config(tmp_path, n_filters=32)],
                         "model_args give n_filters=16, --config has model.n_filters=32"),
        "bare.pth-misfit": (["--config", _config(tmp_path, bn_chan=16)],
                            "tensor masker.bottleneck.1.weight has shape (8, 16, 1), the model needs (16, 16, 1)"),
        "asteroid.pth-arch": (["--arch", "dprnn"], "the architecture is ambiguous"),
    }


@pytest.mark.parametrize("case", ["text.pth", "unknown.pth", "code.pth", "bare.pth", "causal.pth", "asteroid.pth",
                                  "bare.pth-misfit", "asteroid.pth-arch"])
def test_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    extra, message = _bad_sources(tmp_path)[case]
    src = tmp_path / case.split("-")[0]
    out = tmp_path / "out.safetensors"
    code, stdout, err = run(["import", src, "-o", out, *extra], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err and not stdout
    assert lines[0].startswith(f"error: {src}: ") and message in lines[0], lines[0]
    assert not out.exists() and not list(tmp_path.glob("out*"))
