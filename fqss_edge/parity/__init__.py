"""Runtime parity: the PyTorch simulation vs onnxruntime (optimisation off / all) and other runtimes.

``run_parity(ckpt, [model.onnx, ...], data_dir) -> ParityReport`` with ``.to_json()`` and ``.to_markdown()``.
"""

from fqss_edge.parity.report import LayerStats, OutputStats, ParityReport, RuntimeStats
from fqss_edge.parity.runner import run_parity, runtimes_for

__all__ = ["LayerStats", "OutputStats", "ParityReport", "RuntimeStats", "run_parity", "runtimes_for"]
