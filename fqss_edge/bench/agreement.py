"""Where XNNPACK and TFLite's own kernels compute an integer ``.tflite`` differently, operator by operator.

Every operator is run alone (a one-operator model, as the per-operator profile does) on the inputs it receives in a
run of the whole model with TFLite's builtin kernels, once with the builtin kernels and once with XNNPACK, and the
two outputs are compared element by element. This separates the runtimes' own disagreement (which the parity
standard reports but does not gate) from the simulation's, and names the kernels it comes from: e.g. TFLite's
LEAKY_RELU rounds twice where XNNPACK rounds once.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.bench.profile import all_tensor_values, single_op_model, taken_by_delegate


def kernel_agreement(path: str | Path, x: np.ndarray) -> list[dict[str, Any]]:
    """One row per operator, in graph order: type, output dtype, whether XNNPACK takes it alone, and of its output
    elements how many there are, how many differ between the two kernels and by how much at most. ``x``: the
    model's input tensor (a length the model takes)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert.tools import flatbuffer_utils as fu

    path = Path(path)
    values = all_tensor_values(path, x.shape[-1], seed=0, budget=1 << 62, x=x)
    model = fu.read_model(str(path))
    rows = []
    for i, op in enumerate(model.subgraphs[0].operators):
        buf, feeds = single_op_model(model, op, values)
        outs, delegated = {}, False
        for kernels, resolver in (("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
                                  ("xnnpack", OpResolverType.AUTO)):
            it = Interpreter(model_content=buf, num_threads=1, experimental_op_resolver_type=resolver)
            it.allocate_tensors()
            for d, v in zip(it.get_input_details(), feeds):
                it.set_tensor(d["index"], v)
            it.invoke()
            outs[kernels] = np.array(it.get_tensor(it.get_output_details()[0]["index"]))
            if kernels == "xnnpack":
                delegated = taken_by_delegate(it)
        a, b = outs["builtin"], outs["xnnpack"]
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        rows.append({"index": i, "op": fu.opcode_to_name(model, op.opcodeIndex), "dtype": a.dtype.name,
                     "xnnpack": delegated, "elements": int(a.size), "differ": int((diff > 0).sum()),
                     "max_diff": float(diff.max()) if diff.size else 0.0})
    return rows


def group_agreement(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``kernel_agreement`` rows summed by (operator, output dtype), over the operators XNNPACK takes; most
    differing elements first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["op"], r["dtype"])].append(r)
    out = []
    for (op, dtype), rs in groups.items():
        taken = [r for r in rs if r["xnnpack"]]
        elements = sum(r["elements"] for r in taken)
        differ = sum(r["differ"] for r in taken)
        out.append({"op": op, "dtype": dtype, "operators": len(rs), "xnnpack": len(taken),
                    "operators_differing": sum(r["differ"] > 0 for r in taken), "elements": elements,
                    "differing": differ, "differing_pct": 100.0 * differ / max(elements, 1),
                    "max_diff": max((r["max_diff"] for r in taken), default=0.0)})
    return sorted(out, key=lambda g: (-g["differing"], g["op"], g["dtype"]))
