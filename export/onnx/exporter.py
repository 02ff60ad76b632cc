"""Build the ONNX graph of a model from its own forward (traced, then lowered through the per-layer emitters),
check it, verify it and write it atomically."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper
from torch import nn

import fqss_edge.export.onnx.emitters  # noqa: F401  (registers the emitters)
from fqss_edge.errors import FqssError
from fqss_edge.fileio import atomic_write
from fqss_edge.export.onnx.expected import expected_from_model
from fqss_edge.export.onnx.graph import GraphBuilder
from fqss_edge.export.onnx.lower import lower
from fqss_edge.export.onnx.metadata import metadata_props
from fqss_edge.fingerprint import FINGERPRINT_KEY, ONNX_WEIGHTS_KEY, onnx_weights_sha256
from fqss_edge.export.onnx.trace import trace
from fqss_edge.export.onnx.verify import verify_qdq_graph
from fqss_edge.runtimes.base import INPUT_NAME, OUTPUT_NAME

OPSET = 21
IR_VERSION = 10  # opset 21; read by onnx 1.23 and onnxruntime 1.31


@dataclass
class OnnxExport:
    path: Path
    quantized: bool
    op_counts: dict[str, int] = field(default_factory=dict)
    flavour: str = "tflite"  # int8: the contract graph ("tflite") or onnxruntime's (export/onnx/flavour.py)

    def summary(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.op_counts.items(), key=lambda kv: -kv[1]))
        kind = f"int8 QDQ, {self.flavour} flavour" if self.quantized else "float"
        return f"{self.path} ({kind}, {sum(self.op_counts.values())} nodes: {ops})"


def is_quantized(model: nn.Module) -> bool:
    """Whether the model has (enabled) quantizers: ``SeparationModel.quantized``."""
    return bool(getattr(model, "quantized", False))


def build_onnx(model: nn.Module, quantized: bool | None = None, config: Any = None
               ) -> onnx.ModelProto:
    """The ONNX graph of ``model`` (eval mode): int8 QDQ (``quantized``) or the plain float network."""
    quantized = is_quantized(model) if quantized is None else quantized
    if quantized and not is_quantized(model):
        raise FqssError("the model is a float model: export it with --float (it has no quantizers)")
    b, n_out = write_graph(model, quantized)
    return make_model(b, *graph_io(n_out, int(getattr(model, "audio_channels", 1))),
                      metadata_props(model, config or {}, b))


def write_graph(model: nn.Module, quantized: bool) -> tuple[GraphBuilder, int]:
    """Trace ``model.forward_core`` (eval mode) and lower it: the graph's nodes and initializers, and the output's
    rows (n_src * audio channels)."""
    model.eval()
    traced = trace(model)
    b = GraphBuilder(quantized, module_names={id(m): n for n, m in model.named_modules()})
    lower(b, traced)
    return b, traced.output_shape[1]


def graph_io(n_out: int, channels: int = 1) -> tuple[list[onnx.ValueInfoProto], list[onnx.ValueInfoProto]]:
    """``mixture`` float32 [1, C, T] -> ``sources`` float32 [1, n_src * C, T] (T dynamic; source-major)."""
    return ([helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, channels, "T"])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, n_out, "T"])])


def make_model(b: GraphBuilder, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
               props: dict[str, str]) -> onnx.ModelProto:
    """The opset-21 model of what ``b`` holds (also used to export single layers in tests)."""
    graph = helper.make_graph(b.nodes, "fqss_edge", inputs, outputs, initializer=list(b.initializers.values()))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fqss-edge",
                              ir_version=IR_VERSION)
    helper.set_model_props(proto, props)
    return proto


def check_onnx(proto: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """``onnx.checker`` (full check) and strict shape inference; returns the model with inferred shapes."""
    try:
        onnx.checker.check_model(proto, full_check=True)
        return onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise FqssError(f"{label}: exported graph fails the ONNX checker ({str(e).splitlines()[0]})") from None


def save_atomic(proto: onnx.ModelProto, path: str | Path) -> Path:
    """Write ``proto`` to ``path`` atomically (``fqss_edge.fileio``)."""
    with atomic_write(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return Path(path)


def export_onnx(model: nn.Module, path: str | Path, quantized: bool | None = None,
                config: Any = None, fingerprint: str | None = None) -> OnnxExport:
    """Export, check, verify (int8: the QDQ contract against the model's own quantizers) and write ``path``.
    ``fingerprint``: of the checkpoint the model was loaded from (recorded for ``parity``)."""
    quantized = is_quantized(model) if quantized is None else quantized
    proto = build_onnx(model, quantized, config)
    if fingerprint:
        proto.metadata_props.add(key=FINGERPRINT_KEY, value=fingerprint)
    proto.metadata_props.add(key=ONNX_WEIGHTS_KEY, value=onnx_weights_sha256(proto))
    check_onnx(proto, str(path))
    if quantized:
        verify_qdq_graph(proto, expected_from_model(model), label=str(path))
    save_atomic(proto, path)
    return OnnxExport(Path(path), quantized, dict(Counter(n.op_type for n in proto.graph.node)))


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, quantized: bool | None = None,
                      config: Any = None, filename: str = "model.onnx",
                      split_reduce_mean: bool = False) -> OnnxExport:
    """``fqss-edge export CKPT --format onnx``: load a checkpoint and write ``out_dir/model.onnx``."""
    from fqss_edge.models.io import load_model

    loaded = load_model(checkpoint, config)
    if quantized and not loaded.quantized:
        raise FqssError(f"{checkpoint}: a float checkpoint cannot be exported --int8 (use --float, or quantize "
                        f"it first with PTQ/QAT)")
    return export_onnx(loaded.model, Path(out_dir) / filename, quantized, loaded.config, loaded.fingerprint)


def apply_flavour(result: OnnxExport, target: str) -> OnnxExport:
    """Rewrite an int8 export's file in place as the ``target`` flavour (``onnxruntime``; ``tflite`` leaves the
    contract graph as it is). A float export has one graph for every runtime."""
    from fqss_edge.export.onnx.flavour import TARGETS, onnxruntime_flavour

    if target not in TARGETS:
        raise FqssError(f"export target {target!r}: choose one of {', '.join(TARGETS)}")
    if not result.quantized or target == "tflite":
        return result
    proto = onnxruntime_flavour(onnx.load(str(result.path)))
    check_onnx(proto, str(result.path))
    save_atomic(proto, result.path)
    return OnnxExport(result.path, True, dict(Counter(n.op_type for n in proto.graph.node)), target)
