"""Helpers for the TFLite exporter tests: one-node QDQ graphs (qdq_builder.QDQ), runtimes, comparisons."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # qdq_builder (tests use --import-mode=importlib)

from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

from fqss_edge.export.tflite.reference import ReferenceModel  # noqa: E402

KERNELS = {"ref": OpResolverType.BUILTIN_REF, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
           "xnnpack": OpResolverType.AUTO}


def _invoke(buf: bytes, x: np.ndarray, kernel: str, keep_all: bool = False) -> Interpreter:
    it = Interpreter(model_content=buf, experimental_op_resolver_type=KERNELS[kernel], num_threads=1,
                     experimental_preserve_all_tensors=keep_all)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], list(x.shape), strict=False)
    it.allocate_tensors()
    it.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    it.invoke()
    return it


def run_litert(buf: bytes, x: np.ndarray, kernel: str = "ref") -> np.ndarray:
    it = _invoke(buf, x, kernel)
    return it.get_tensor(it.get_output_details()[0]["index"])


def assert_reference_matches_litert(buf: bytes, x: np.ndarray) -> int:
    """The integer reference (``export/tflite/reference``) == LiteRT BUILTIN_REF exactly, on every tensor of the
    model; returns how many tensors were compared."""
    out, ours = ReferenceModel(buf).run(x, keep=True)
    it = _invoke(buf, x, "ref", keep_all=True)
    compared = 0
    for t in it.get_tensor_details():
        if t["name"] not in ours:
            continue
        want, got = np.asarray(ours[t["name"]]), it.get_tensor(t["index"])
        assert want.shape == got.shape, f"tensor {t['name']}: reference shape {want.shape}, LiteRT {got.shape}"
        assert np.array_equal(want, got), f"tensor {t['name']}: reference != LiteRT REF ({lsb_diff(want, got)} LSB)"
        compared += 1
    assert np.array_equal(out, it.get_tensor(it.get_output_details()[0]["index"]))
    return compared


def run_ort(model, feed: dict) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the QDQ graph's own semantics
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feed)[0]


def lsb_diff(a: np.ndarray, b: np.ndarray) -> int:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape or a.size == b.size, f"shapes differ: {a.shape} vs {b.shape}"
    return int(np.abs(a.astype(np.int64).reshape(-1) - b.astype(np.int64).reshape(-1)).max())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
