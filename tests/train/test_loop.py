"""The training loop for each method, resuming, and data-parallel training over 2 CPU processes."""

import json
import os
import subprocess
import sys

import pytest
import torch

from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.config import load_config
from fqss_edge.models.io import load_model
from fqss_edge.quant.tools import uncalibrated
from fqss_edge.train.loop import Trainer, train


def _cfg(path, **train):
    return load_config(path).updated(train=train)


@pytest.fixture()
def float_run(tmp_path, tiny_config):
    result = train(_cfg(tiny_config, epochs=2), "float", tmp_path / "float", progress=False)
    return result


def test_float_training_writes_checkpoints_and_metrics(float_run):
    out = float_run.out_dir
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert all("si_sdri" in r["valid"] for r in lines)
    ck = load_checkpoint(out / "best.safetensors")
    assert ck.meta["method"] == "float" and ck.config["quant"]["enabled"] is False
    assert float_run.best_si_sdri == max(r["valid"]["si_sdri"] for r in lines)


def test_resume_continues_from_last_epoch(float_run, tiny_config):
    before = load_checkpoint(float_run.out_dir / "last.safetensors").meta["epoch"]
    result = train(_cfg(tiny_config, epochs=3), "float", float_run.out_dir, resume=True, progress=False)
    lines = (float_run.out_dir / "metrics.jsonl").read_text().splitlines()
    assert before == 2 and result.epochs_run == 3 and json.loads(lines[-1])["epoch"] == 3


@pytest.mark.parametrize("method", ["ptq", "vanilla", "fqss"])
def test_quantized_methods_start_from_the_float_model(method, float_run, tiny_config, tmp_path):
    teacher = float_run.out_dir / "best.safetensors"
    result = train(_cfg(tiny_config, epochs=2), method, tmp_path / method, teacher, progress=False)
    loaded = load_model(result.best_checkpoint)
    assert loaded.quantized and loaded.meta["method"] == method
    assert uncalibrated(loaded.model) == []
    fqss = method == "fqss"
    assert loaded.config.quant.splitter is fqss and loaded.config.quant.residual_output is fqss
    y = loaded.model(torch.zeros(1, 800) + 0.1)
    assert y.shape == (1, 2, 800) and torch.isfinite(y).all()


@pytest.mark.parametrize("teacher_bits,student_bits", [(16, 8), (8, 16)])
def test_float_model_of_either_norm_layout_seeds_either(teacher_bits, student_bits, tiny_config, tmp_path):
    """A float checkpoint keeps its (disabled) quantizers' tensors, laid out by the norm_bits it was saved with:
    it still loads, and still seeds a student / teacher of the other layout (e.g. the shipped float model, saved
    when the default was 16)."""
    cfg = _cfg(tiny_config, epochs=1)
    cfg = cfg.updated(quant={"norm_bits": teacher_bits})
    teacher = train(cfg, "float", tmp_path / "float", progress=False).best_checkpoint
    assert load_model(teacher).config.quant.norm_bits == teacher_bits
    cfg = cfg.updated(quant={"norm_bits": student_bits})
    result = train(cfg, "fqss", tmp_path / "fqss", teacher, progress=False)
    assert load_model(result.best_checkpoint).config.quant.norm_bits == student_bits


def test_init_starts_a_batchnorm_float_run_from_a_gln_float_model(float_run, tiny_config, tmp_path):
    """``train --init``: the gLN model's convolutions (and everything else that fits by name and shape) seed a
    norm: BN model, whose BatchNorms start fresh; the run's checkpoints record where they started from."""
    from fqss_edge.models.factory import network_state
    from fqss_edge.models.io import checkpoint_config

    src = float_run.out_dir / "best.safetensors"
    ck = load_checkpoint(src)
    source = network_state(ck.state_dict, checkpoint_config(ck, src))  # without the (unused) quantizers' tensors
    cfg = _cfg(tiny_config, epochs=1).updated(model={"norm": "BN"})
    trainer = Trainer(cfg, "float", tmp_path / "bn", None, False, progress=False, init=src)
    own = trainer.student.state_dict()
    fits = [k for k in own if k in source and source[k].shape == own[k].shape]
    assert trainer.init["tensors_copied"] == len(fits) and 0 < len(fits) < len(own) == trainer.init["tensors"]
    assert "masker.blocks.0.in_conv.conv.weight" in fits and all(torch.equal(own[k], source[k]) for k in fits)
    assert torch.equal(own["masker.bottleneck.bn.weight"], torch.ones_like(own["masker.bottleneck.bn.weight"]))
    result = trainer.run()
    meta = load_checkpoint(result.best_checkpoint).meta
    assert meta["init"] == {"checkpoint": str(src), "tensors_copied": len(fits), "tensors": len(own)}
    assert load_model(result.best_checkpoint).config.model.norm == "BN"


@pytest.mark.parametrize("method,teacher", [("fqss", True), ("float", True), ("vanilla", False)])
def test_init_is_for_float_runs_only(method, teacher, float_run, tiny_config, tmp_path):
    from fqss_edge.errors import FqssError

    src = float_run.out_dir / "best.safetensors"
    with pytest.raises(FqssError, match="--init starts a float run"):
        train(_cfg(tiny_config), method, tmp_path / "x", src if teacher else None, progress=False, init=src)
    assert not (tmp_path / "x").exists()


def test_qat_without_teacher_is_a_clear_error(tiny_config, tmp_path):
    from fqss_edge.errors import FqssError

    with pytest.raises(FqssError, match="--teacher"):
        train(_cfg(tiny_config), "fqss", tmp_path / "x", None, progress=False)
    assert not (tmp_path / "x").exists()


def test_torchrun_two_cpu_processes(float_run, tiny_config, tmp_path):
    """Data-parallel FQSS training through torchrun (gloo) with 2 processes."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           "-m", "fqss_edge.cli.main", "train", "-c", str(tiny_config), "--method", "fqss", "--teacher",
           str(float_run.out_dir / "best.safetensors"), "-o", str(out), "--epochs", "2", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]  # written once (rank 0), not once per process
    assert all(r["world_size"] == 2 for r in records)
    assert uncalibrated(load_model(out / "best.safetensors").model) == []


def test_time_budget_cuts_the_epoch_short_validates_and_stops(tiny_config, tmp_path):
    """``train.max_minutes``: a budget used up after the first step ends that epoch there (validated, saved,
    marked in metrics.jsonl) and the run, though more epochs were asked for."""
    result = train(_cfg(tiny_config, epochs=3, max_minutes=1e-6), "float", tmp_path / "budget", progress=False)
    lines = [json.loads(line) for line in (result.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert result.out_of_time and result.epochs_run == 1 and len(lines) == 1 and lines[0]["steps"] == 1
    assert lines[0]["stopped"] == "time budget: train.max_minutes 1e-06" and "si_sdri" in lines[0]["valid"]
    assert load_checkpoint(result.out_dir / "best.safetensors").meta["epoch"] == 1
    assert load_checkpoint(result.out_dir / "last.safetensors").meta["epoch"] == 1


def test_time_budget_used_up_at_an_epochs_last_step_is_recorded(tiny_config, tmp_path):
    """One step per epoch: the budget runs out at the epoch's end, not inside it; metrics.jsonl still says why the
    run stopped."""
    result = train(_cfg(tiny_config, epochs=3, max_minutes=1e-6, max_steps_per_epoch=1), "float", tmp_path / "b",
                   progress=False)
    lines = [json.loads(line) for line in (result.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert result.out_of_time and result.epochs_run == 1 and len(lines) == 1 and lines[0]["steps"] == 1
    assert lines[0]["stopped"] == "time budget: train.max_minutes 1e-06"


def test_without_a_budget_every_epoch_runs(float_run):
    lines = [json.loads(line) for line in (float_run.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert not float_run.out_of_time and all("stopped" not in r and r["steps"] > 1 for r in lines)
