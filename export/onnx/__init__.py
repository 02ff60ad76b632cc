"""ONNX export: int8 QDQ graphs (docs/qdq_graph_contract.md) or float graphs, traced from the model's own
``forward_core`` and written by per-layer emitters, and the verifier of the QDQ contract."""

from fqss_edge.export.onnx.exporter import OnnxExport, apply_flavour, build_onnx, export_checkpoint, export_onnx, save_atomic
from fqss_edge.export.onnx.expected import Expected, expected_from_model
from fqss_edge.export.onnx.verify import Issue, check_qdq_graph, verify_qdq_graph

__all__ = ["Expected", "Issue", "OnnxExport", "apply_flavour", "build_onnx", "check_qdq_graph", "expected_from_model",
           "export_checkpoint", "export_onnx", "save_atomic", "verify_qdq_graph"]
