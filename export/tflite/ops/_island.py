"""Run a declared I/O island of the ONNX graph on its own (onnxruntime) to prove what it computes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.onnx_graph import OnnxGraph


def island_boundary(g: OnnxGraph, nodes: list[onnx.NodeProto]) -> tuple[list[str], list[str]]:
    """(tensors the island reads from outside, tensors it produces that are read outside or are graph outputs)."""
    produced = {o for n in nodes for o in n.output if o}
    names = {id(n) for n in nodes}
    ins = []
    for n in nodes:
        for i in n.input:
            if i and i not in produced and i not in g.initializers and i not in ins:
                ins.append(i)
    outs = []
    graph_outs = {o.name for o in g.outputs}
    for o in produced:
        if o in graph_outs or any(id(c) not in names for c in g.consumers.get(o, [])):
            outs.append(o)
    return ins, sorted(outs)


def run_island(g: OnnxGraph, nodes: list[onnx.NodeProto], feeds: dict[str, np.ndarray], outputs: list[str]
               ) -> list[np.ndarray]:
    import onnxruntime as ort

    used = {i for n in nodes for i in n.input if i}
    inits = [numpy_helper.from_array(v, k) for k, v in g.initializers.items() if k in used
             and not any(n.op_type == "Constant" and k in n.output for n in nodes)]
    elem = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.int8): onnx.TensorProto.INT8,
            np.dtype(np.int16): onnx.TensorProto.INT16, np.dtype(np.uint8): onnx.TensorProto.UINT8}
    inputs = [helper.make_tensor_value_info(k, elem[v.dtype], list(v.shape)) for k, v in feeds.items()]
    outs = [helper.make_empty_tensor_value_info(o) for o in outputs]
    graph = helper.make_graph(list(nodes), "island", inputs, outs, inits)
    model = helper.make_model(graph, opset_imports=list(g.model.opset_import))
    model.ir_version = g.model.ir_version
    try:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return sess.run(outputs, feeds)
    except Exception as e:
        raise FqssError(f"TFLite export: the I/O island ({', '.join(n.name for n in nodes[:2])}, ...) does not run on "
                        f"its own in onnxruntime ({str(e).splitlines()[0]})") from None
