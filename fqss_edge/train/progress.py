"""rich progress for training (silent on non-main processes and when disabled)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, disable=not enabled, transient=False,
        )

    def __enter__(self) -> "TrainProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, epochs: int, steps: int, label: str = "epoch") -> int:
        return self._progress.add_task(f"{label} {epoch}/{epochs}", total=steps, loss="-")

    def step(self, task: int, loss: float) -> None:
        self._progress.update(task, advance=1, loss="-" if math.isnan(loss) else f"{loss:.3f}")

    def epoch_done(self, record: dict[str, Any], best: float) -> None:
        if not self.enabled:
            return
        valid = record.get("valid")
        msg = "calibrating ranges" if valid is None else f"valid SI-SDRi {valid['si_sdri']:.2f} dB (best {best:.2f})"
        self._progress.console.print(f"epoch {record['epoch']}: train loss {record['train_loss']:.3f}, {msg}, "
                                     f"lr {record['lr']:.2e}, {record['seconds']} s")
