"""Per-layer comparison of the quantized tensors (integer codes, keyed by PyTorch quantizer path)."""

from __future__ import annotations

import numpy as np

from fqss_edge.parity.metrics import DiffAccumulator
from fqss_edge.parity.report import LayerStats


class LayerDiffs:
    """|runtime - reference| in LSBs of each layer's own quantizer, accumulated over utterances."""

    def __init__(self) -> None:
        self.accs: dict[str, DiffAccumulator] = {}
        self.mismatched: set[str] = set()

    def add(self, reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> None:
        for name, ref in reference.items():  # reference order = execution order
            if name not in other:
                continue
            acc = self.accs.setdefault(name, DiffAccumulator(1.0))
            y = other[name]
            if y.shape != ref.shape:
                self.mismatched.add(name)
                continue
            acc.add(y.astype(np.float64), ref.astype(np.float64))

    def stats(self) -> tuple[list[LayerStats], str | None, str | None]:
        """(layers in execution order, first layer off by > 1 LSB, first layer off at all)."""
        layers = [LayerStats(n, a.max_lsb, a.mean_lsb, a.pct_exact, n in self.mismatched) for n, a in self.accs.items()]
        first = next((s.layer for s in layers if s.max_lsb > 1.0 or s.shape_mismatch), None)
        first_any = next((s.layer for s in layers if s.max_lsb > 0.0 or s.shape_mismatch), None)
        return layers, first, first_any
