"""The training loop: float pre-training, PTQ calibration, vanilla QAT and FQSS QAT.

Run folder: ``last.safetensors`` (+ ``last.optim.safetensors`` for resuming), ``best.safetensors``,
``metrics.jsonl`` (one line per epoch), ``config.yaml`` (the effective run config).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from fqss_edge import __version__
from fqss_edge.checkpoint import load_checkpoint, load_optimizer_state, save_checkpoint, save_optimizer_state
from fqss_edge.data import open_dataset
from fqss_edge.errors import FqssError
from fqss_edge.evaluate import evaluate, model_separator, summarize
from fqss_edge.config import RunConfig, parse_config
from fqss_edge.models.factory import network_state
from fqss_edge.models.io import checkpoint_config
from fqss_edge.quant.tools import calibrating, observation, sync_ranges, uncalibrated
from fqss_edge.train import distributed as ddp
from fqss_edge.train.losses import PERMUTATION_FREE, distillation_loss, separation_loss
from fqss_edge.train.methods import build_models, effective_quant, init_matching
from fqss_edge.train.progress import TrainProgress


@dataclass
class TrainResult:
    out_dir: Path
    best_checkpoint: Path
    best_si_sdri: float
    epochs_run: int
    out_of_time: bool = False  # stopped by train.max_minutes


def _loader(cfg: RunConfig, split: str, info: ddp.DistInfo, train: bool) -> DataLoader:
    t, m = cfg.train, cfg.model
    path = getattr(cfg.data, split)
    if not path:
        raise FqssError(f"config: data.{split} is not set")
    ds = open_dataset(path, split, m.sample_rate, m.n_src, t.segment_seconds if train else None, t.seed)
    if train:
        sampler = DistributedSampler(ds, info.world_size, info.rank, shuffle=True, seed=t.seed) if info.enabled else None
        gen = torch.Generator().manual_seed(t.seed)
        return DataLoader(ds, batch_size=t.batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
                          num_workers=t.num_workers, generator=gen)
    return DataLoader(ds, batch_size=None, shuffle=False, num_workers=0)


def _float_state(path: Path, architecture: str) -> dict[str, torch.Tensor]:
    ck = load_checkpoint(path)
    if not ck.config:
        return ck.state_dict
    cfg = checkpoint_config(ck, path)
    if cfg.model.name != architecture:
        raise FqssError(f"{path}: --teacher is a {cfg.model.name} checkpoint, the run config trains {architecture}")
    if cfg.quant.enabled:
        raise FqssError(f"{path}: --teacher must be a float checkpoint (this one was trained with "
                        f"--method {ck.meta.get('method', '?')})")
    return network_state(ck.state_dict, cfg)


def _valid_items(loader: DataLoader, limit: int | None):
    for i, item in enumerate(loader):
        if limit is not None and i >= limit:
            return
        yield item


def validate(model: nn.Module, loader: DataLoader, limit: int | None, pit: bool = True) -> dict[str, float]:
    was_training = model.training
    scores = evaluate(model_separator(model), _valid_items(loader, limit), with_sdr=False, pit=pit)
    model.train(was_training)
    return summarize(scores)


class Trainer:
    def __init__(self, cfg: RunConfig, method: str, out_dir: Path, teacher: Path | None, resume: bool,
                 progress: bool = True, init: Path | None = None):
        self.method, self.out_dir = method, Path(out_dir)
        if init is not None and (method != "float" or teacher is not None):
            raise FqssError("--init starts a float run from another float checkpoint; quantized methods start from "
                            "--teacher")
        self.info = ddp.init_distributed()
        t = cfg.train
        torch.manual_seed(t.seed)
        float_state = _float_state(teacher, cfg.model.name) if teacher is not None else None
        self.cfg = cfg.updated(quant=effective_quant(cfg.quant, method).model_dump())
        self.student, self.teacher = build_models(cfg.model, cfg.quant, method, float_state)
        self.init: dict[str, Any] | None = None
        if init is not None and not resume:
            copied, total = init_matching(self.student, _float_state(init, cfg.model.name), str(init))
            self.init = {"checkpoint": str(init), "tensors_copied": copied, "tensors": total}
        self.train_loader = _loader(cfg, "train", self.info, True)
        self.valid_loader = _loader(cfg, "valid", self.info, False)
        self.opt = torch.optim.Adam(self.student.parameters(), lr=t.lr)
        self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(self.opt, mode="max", factor=0.5,
                                                                patience=t.plateau_patience)
        self.epoch, self.best, self.bad_epochs = 0, -math.inf, 0
        self.progress = TrainProgress(enabled=progress and self.info.is_main)
        if resume:
            self._resume()
        # quantizer ranges get no gradient while calibrating (and a clamped bound never does)
        self.model = (DistributedDataParallel(self.student, find_unused_parameters=True) if self.info.enabled
                      else self.student)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def _meta(self, metrics: dict[str, float]) -> dict[str, Any]:
        meta = {"method": self.method, "epoch": self.epoch, "best_si_sdri": self.best, "bad_epochs": self.bad_epochs,
                "metrics": metrics, "fqss_edge_version": __version__}
        return meta if self.init is None else dict(meta, init=self.init)

    def _save(self, name: str, metrics: dict[str, float], with_optimizer: bool) -> Path:
        path = self.out_dir / name
        save_checkpoint(path, self.student.state_dict(), self.cfg, self._meta(metrics))
        if with_optimizer:
            state = {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict()}
            save_optimizer_state(path.with_suffix(".optim.safetensors"), state)
        return path

    def _resume(self) -> None:
        last = self.out_dir / "last.safetensors"
        if not last.exists():
            raise FqssError(f"{last}: nothing to resume from")
        ck = load_checkpoint(last)
        if ck.meta.get("method") != self.method:
            raise FqssError(f"{last}: was trained with --method {ck.meta.get('method')}, not {self.method}")
        self.student.load_state_dict(ck.state_dict)
        self.init = ck.meta.get("init")  # the run's --init, kept in the checkpoints it writes on
        state = load_optimizer_state(last.with_suffix(".optim.safetensors"))
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.epoch, self.best, self.bad_epochs = int(ck.meta["epoch"]), float(ck.meta["best_si_sdri"]), int(ck.meta["bad_epochs"])

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- steps ----------------------------------------------------------------------------------------------
    def _loss(self, mix: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        est = self.model(mix)
        if self.teacher is not None:
            with torch.no_grad():
                teacher_est = self.teacher(mix)
            return distillation_loss(self.cfg.train.loss)(est, teacher_est, ref, self.cfg.train.kd_lambda)
        return separation_loss(self.cfg.train.loss)(est, ref)

    def _train_epoch(self) -> tuple[float, int]:
        t = self.cfg.train
        self.student.train()
        if self.info.enabled and isinstance(self.train_loader.sampler, DistributedSampler):
            self.train_loader.sampler.set_epoch(self.epoch)
        self.train_loader.dataset.set_epoch(self.epoch)  # deterministic crops per (seed, epoch, index)
        n = len(self.train_loader) if t.max_steps_per_epoch is None else min(len(self.train_loader), t.max_steps_per_epoch)
        total, count = 0.0, 0
        task = self.progress.start_epoch(self.epoch + 1, t.epochs, n)
        for step, (mix, ref, _) in enumerate(self.train_loader):
            if step >= n or (step > 0 and self._out_of_time()):  # at least one step per epoch
                break
            was_calibrating = calibrating(self.student)
            loss = self._loss(mix, ref)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.student.parameters(), t.grad_clip)
            self.opt.step()
            sync_ranges(self.student, tracking_only=not was_calibrating)  # tracking ranges move every step
            total += float(loss.detach())
            count += 1
            self.progress.step(task, total / count)
        return total / max(count, 1), count

    def _out_of_time(self) -> bool:
        """``train.max_minutes`` used up (rank 0's clock decides, so data-parallel ranks stop at the same step)."""
        budget = self.cfg.train.max_minutes
        if budget is None:
            return False
        self.timed_out = ddp.broadcast_flag(self.info, time.monotonic() - self.started >= 60 * budget)
        return self.timed_out

    def run(self) -> TrainResult:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.started, self.timed_out = time.monotonic(), False
        if self.method == "ptq":
            return self._run_ptq()
        t = self.cfg.train
        with self.progress:  # at least one epoch per run, then as long as the time budget lasts
            while self.epoch < t.epochs and not self.timed_out:
                started = time.time()
                loss, steps = self._train_epoch()
                self.epoch += 1
                if not self.timed_out and self.epoch < t.epochs:  # used up at the epoch's last step: say so here
                    self._out_of_time()
                record: dict[str, Any] = {"epoch": self.epoch, "train_loss": loss, "steps": steps,
                                          "lr": self.opt.param_groups[0]["lr"], "world_size": self.info.world_size}
                if self.timed_out:
                    record["stopped"] = f"time budget: train.max_minutes {t.max_minutes:g}"
                stop = False
                if self.info.is_main:
                    stop = self._end_epoch(record, started)
                stop = ddp.broadcast_flag(self.info, stop) or self.timed_out
                ddp.barrier(self.info)
                if stop:
                    break
        ddp.shutdown(self.info)
        return TrainResult(self.out_dir, self.out_dir / "best.safetensors", self.best, self.epoch, self.timed_out)

    def _end_epoch(self, record: dict[str, Any], started: float) -> bool:
        t = self.cfg.train
        if uncalibrated(self.student) or calibrating(self.student):
            record["valid"] = None  # still in the EMA calibration phase: nothing quantized to validate yet
        else:
            metrics = validate(self.student, self.valid_loader, t.valid_max_utts, t.loss not in PERMUTATION_FREE)
            record["valid"] = metrics
            score = metrics["si_sdri"]
            self.sched.step(score)
            if score > self.best:
                self.best, self.bad_epochs = score, 0
                self._save("best.safetensors", metrics, with_optimizer=False)
            else:
                self.bad_epochs += 1
        record["seconds"] = round(time.time() - started, 2)
        self._log(record)
        self.progress.epoch_done(record, self.best)
        self._save("last.safetensors", record.get("valid") or {}, with_optimizer=True)
        return self.bad_epochs >= t.early_stop_patience

    @torch.no_grad()
    def _run_ptq(self) -> TrainResult:
        """Calibrate activation ranges on training batches (EMA of min/max), then freeze: no training."""
        n = self.cfg.quant.calib_batches
        self.student.eval()
        with self.progress, observation(self.student):
            task = self.progress.start_epoch(1, 1, n, label="calibrating")
            for step, (mix, _, _) in enumerate(self.train_loader):
                if step >= n:
                    break
                self.student(mix)
                self.progress.step(task, float("nan"))
        sync_ranges(self.student)
        self.epoch = 1
        if self.info.is_main:
            metrics = validate(self.student, self.valid_loader, self.cfg.train.valid_max_utts,
                               self.cfg.train.loss not in PERMUTATION_FREE)
            self.best = metrics["si_sdri"]
            self._log({"epoch": 1, "valid": metrics})
            self._save("best.safetensors", metrics, with_optimizer=False)
            self._save("last.safetensors", metrics, with_optimizer=False)
        ddp.shutdown(self.info)
        return TrainResult(self.out_dir, self.out_dir / "best.safetensors", self.best, 1)


def train(cfg: RunConfig | dict[str, Any], method: str, out_dir: Path, teacher: Path | None = None,
          resume: bool = False, progress: bool = True, init: Path | None = None) -> TrainResult:
    """``cfg``: a run config (a mapping is validated first); ``init``: a float checkpoint whose matching network
    tensors start a float run (``methods.init_matching``)."""
    if not isinstance(cfg, RunConfig):
        cfg = parse_config(cfg, "run config")
    return Trainer(cfg, method, out_dir, teacher, resume, progress, init).run()
