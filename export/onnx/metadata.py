"""``metadata_props`` of the exported graph (contract: docs/qdq_graph_contract.md, metadata)."""

from __future__ import annotations

import json
from typing import Any

from fqss_edge import __version__
from fqss_edge.export.onnx.graph import GraphBuilder
from fqss_edge.runtimes.footprint import ACTIVATION_KEY, largest_activation_per_sample

ISLAND_KINDS = {"input_splitter": "float", "output_reconstruction": "float"}


def metadata_props(model: Any, config: Any, b: GraphBuilder) -> dict[str, str]:
    """``model``: a ``SeparationModel``; ``config``: its run config (``RunConfig``, its dict, or None: the
    model's own config, no quant section)."""
    contract = model.io_contract(b.quantized)
    model_cfg, quant_cfg = _configs(model, config)
    return {
        "fqss.version": __version__,
        "fqss.quantized": json.dumps(b.quantized),
        "fqss.sample_rate": str(contract.sample_rate),
        "fqss.n_src": str(contract.n_src),
        "fqss.source_names": json.dumps(list(contract.source_names)),
        "fqss.audio_channels": str(contract.audio_channels),
        "fqss.stride": str(contract.stride),
        "fqss.kernel_size": str(contract.kernel_size),
        "fqss.io_contract": json.dumps(contract.to_dict()),
        "fqss.model_config": json.dumps(model_cfg, sort_keys=True),
        "fqss.quant_config": json.dumps(quant_cfg, sort_keys=True),
        ACTIVATION_KEY: repr(largest_activation_per_sample(model.config.model_dump(mode="json"))),
        **island_props(b),
    }


def _configs(model: Any, config: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The model and quant sections to record: from the run config (a ``RunConfig`` or a mapping, whose missing
    quant section stays null), else the model's own config and no quant section."""
    from fqss_edge.config import parse_config

    if config is not None and not hasattr(config, "model"):
        has_quant = config.get("quant") is not None
        config = parse_config(config, "run config") if config else None
        if config is not None and not has_quant:
            return config.model.model_dump(mode="json"), None
    if config is None:
        return model.config.model_dump(mode="json"), None
    return config.model.model_dump(mode="json"), config.quant.model_dump(mode="json")


def island_props(b: GraphBuilder) -> dict[str, str]:
    """The declared islands: float islands by node name, the int16 tensors and the int4 weights (int8
    initializers holding int4 codes) by name (read by the verifier); the
    cell scale of each integer LSTM (ONNX's LSTM has no attribute for it; the TFLite exporter needs it)."""
    islands = {k: {"kind": ISLAND_KINDS.get(k, "float"), "nodes": v} for k, v in b.islands.items()}
    return {"fqss.islands": json.dumps(islands), "fqss.int16_tensors": json.dumps(b.int16_tensors),
            **({"fqss.int4_weights": json.dumps(b.int4_weights)} if b.int4_weights else {}),
            **({"fqss.lstm_cell_log2": json.dumps(b.lstm_cells)} if b.lstm_cells else {})}


def read_metadata(model_proto: Any) -> dict[str, str]:
    return {p.key: p.value for p in model_proto.metadata_props}
