"""The integer reference against LiteRT BUILTIN_REF on every tensor (shared by the model tests)."""

from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from fqss_edge.export.tflite.reference import ReferenceModel


def reference_equals_litert_ref(buf: bytes, pcm: np.ndarray) -> tuple[list[str], set[str]]:
    """Runs ``pcm`` through the integer reference and LiteRT BUILTIN_REF and asserts that every tensor both hold
    is equal, and the output; returns (the tensors compared, the builtin operators of the model)."""
    out, tensors = ReferenceModel(buf).run(pcm, keep=True)
    it = Interpreter(model_content=buf, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.resize_tensor_input(0, list(pcm.shape))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], pcm)
    it.invoke()
    compared = []
    for t in it.get_tensor_details():
        want = tensors.get(t["name"])
        if t["name"] and want is not None and np.asarray(want).size == it.get_tensor(t["index"]).size:
            got = it.get_tensor(t["index"])
            assert np.array_equal(np.asarray(want).reshape(-1), got.reshape(-1)), f"tensor {t['name']} differs"
            compared.append(t["name"])
    assert np.array_equal(out, it.get_tensor(it.get_output_details()[0]["index"]))
    return compared, {d["op_name"] for d in it._get_ops_details()}
