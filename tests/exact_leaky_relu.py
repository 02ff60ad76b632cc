"""The contract graph with the onnxruntime flavour's LeakyRelu tables (``exact_leaky_relus``): onnxruntime's float
LeakyRelu rounds once, a code above TFLite's (and the simulation's) on a few % of the codes, which a whole model
carries to its output; with the tables, the rest of the contract graph is compared with the simulation as before.
``from tests.exact_leaky_relu import with_exact_leaky_relus``."""

from __future__ import annotations

from pathlib import Path

import onnx

from fqss_edge.export.onnx.flavour import exact_leaky_relus
from fqss_edge.fingerprint import ONNX_WEIGHTS_KEY, onnx_weights_sha256


def with_exact_leaky_relus(contract: Path, out: Path) -> Path:
    """``contract`` with TFLite's LeakyRelu codes, written to ``out`` (its initializer hash rewritten)."""
    proto = onnx.load(str(contract))
    exact_leaky_relus(proto.graph)
    props = {p.key: p.value for p in proto.metadata_props} | {ONNX_WEIGHTS_KEY: onnx_weights_sha256(proto)}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(out))
    return out
