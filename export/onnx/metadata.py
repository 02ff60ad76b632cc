"""``metadata_props`` of the exported graph (contract: docs/qdq_graph_contract.md, metadata)."""

from __future__ import annotations

import json
from typing import Any

from fqss_edge import __version__
from fqss_edge.export.onnx.graph import GraphBuilder
from fqss_edge.runtimes.base import contract_for_model

ISLAND_KINDS = {"input_splitter": "float", "output_reconstruction": "float"}


def metadata_props(model: Any, config: dict[str, Any], b: GraphBuilder) -> dict[str, str]:
    contract = contract_for_model(model, config, b.quantized)
    return {
        "fqss.version": __version__,
        "fqss.quantized": json.dumps(b.quantized),
        "fqss.sample_rate": str(contract.sample_rate),
        "fqss.n_src": str(contract.n_src),
        "fqss.source_names": json.dumps(list(contract.source_names)),
        "fqss.stride": str(contract.stride),
        "fqss.kernel_size": str(contract.kernel_size),
        "fqss.io_contract": json.dumps(contract.to_dict()),
        "fqss.model_config": json.dumps(config.get("model", model_config_of(model))),
        "fqss.quant_config": json.dumps(config.get("quant")),
        **island_props(b),
    }


def island_props(b: GraphBuilder) -> dict[str, str]:
    """The declared islands: float islands by node name, the int16 tensors by name (read by the verifier)."""
    islands = {k: {"kind": ISLAND_KINDS.get(k, "float"), "nodes": v} for k, v in b.islands.items()}
    return {"fqss.islands": json.dumps(islands), "fqss.int16_tensors": json.dumps(b.int16_tensors)}


def model_config_of(model: Any) -> dict[str, Any]:
    """What an in-memory model says about itself when no run config is given."""
    return {"name": "convtasnet", "n_src": model.n_src, "n_filters": model.n_filters,
            "kernel_size": model.kernel_size, "stride": model.stride}


def read_metadata(model_proto: Any) -> dict[str, str]:
    return {p.key: p.value for p in model_proto.metadata_props}
