"""`fqss-edge demo --from-scratch`: from nothing to a trained, evaluated FQSS model in a few minutes on 2 CPU cores.

Synthesizes speakers offline (espeak-ng, flite), builds speaker-disjoint 2-speaker mixtures, trains the tiny
Conv-TasNet in float, fine-tunes it with FQSS 8-bit QAT, and evaluates both on the held-out speakers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fqss_edge.config import load_config, shipped_config
from fqss_edge.data.synthetic_set import build_synthetic_set
from fqss_edge.evaluation_report import run_evaluation
from fqss_edge.train.loop import train


@dataclass
class FromScratchResult:
    out_dir: Path
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "scores": self.scores, "checkpoints": self.checkpoints,
                "seconds": self.seconds}


def run_from_scratch(out_dir: Path, float_epochs: int = 4, qat_epochs: int = 1, progress: bool = True,
             log=print) -> FromScratchResult:
    out_dir = Path(out_dir)
    result = FromScratchResult(out_dir)
    t0 = time.time()
    log("1/4 synthesizing speakers and mixing 2-speaker mixtures (speaker-disjoint test set)")
    data = build_synthetic_set(out_dir / "synthetic", 12, 14, {"train": 240, "valid": 8, "test": 12}, seed=0)
    result.seconds["data"] = round(time.time() - t0, 1)
    cfg = load_config(shipped_config("convtasnet_tiny")).with_data_root(data)
    teacher = None
    for step, (method, epochs) in enumerate([("float", float_epochs), ("fqss", qat_epochs)], start=2):
        log(f"{step}/4 training {method} ({epochs} epoch{'s' * (epochs != 1)})")
        t = time.time()
        run = cfg.updated(train={"epochs": epochs})
        res = train(run, method, out_dir / "runs" / method, teacher, progress=progress)
        result.checkpoints[method] = str(res.best_checkpoint)
        result.seconds[method] = round(time.time() - t, 1)
        teacher = res.best_checkpoint
    log("4/4 evaluating on held-out speakers")
    for method, ckpt in result.checkpoints.items():
        result.scores[method] = run_evaluation(Path(ckpt), data / "test", progress=False).as_dict()["mean"]
    result.seconds["total"] = round(time.time() - t0, 1)
    (out_dir / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result
