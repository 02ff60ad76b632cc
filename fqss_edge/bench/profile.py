"""Per-operator profiles (``fqss-edge bench --op-profile out.csv``).

- ``.onnx``: onnxruntime's own profiler (``SessionOptions.enable_profiling``): the time of every node of the
  optimised graph (QLinearConv, ...), summed over the timed runs.
- ``.tflite``: LiteRT's Python API has no profiler and ``benchmark_litert_model`` no ``--enable_op_profiling``.
  Each operator is timed ALONE, as a one-operator model fed with the real input it receives in the full model
  (captured with ``experimental_preserve_all_tensors``), with the run's kernels: this shows which operators cost
  the most and whether XNNPACK takes each of them, but misses XNNPACK's fusion and cache effects inside a
  partition, so the sum is not the full model's latency. The whole model's XNNPACK partitions come from
  ``runtimes.litert_backend.xnnpack_delegation``. When the model's activations at the chunk length would take more
  than ``CAPTURE_BUDGET_BYTES`` (e.g. the full-size music Conv-TasNet: over 8 GB at 1 s of 44.1 kHz), the
  operators are fed synthesized inputs of the same shapes and types instead (column ``inputs``: captured or
  synthetic): the kernels' times hardly depend on the values. Besides the wall time, each operator's process CPU
  time (``median_cpu_ms``): with one thread it is the operator's own time even on a machine loaded by other jobs.
  ``group_tflite_profile`` sums the operators by (operator, output type, taken by XNNPACK).
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.bench.device_runner import speech_like_input
from fqss_edge.bench.runner import Target, chunk_waveform
from fqss_edge.runtimes.base import pad_to_contract

ONNX_FIELDS = ("node", "op_type", "provider", "calls", "total_ms", "mean_ms", "percent")
TFLITE_FIELDS = ("index", "op", "xnnpack", "output_shape", "output_dtype", "calls", "mean_ms", "median_ms",
                 "median_cpu_ms", "percent", "inputs")
CAPTURE_BUDGET_BYTES = 1 << 30  # the activations of one run held at once (all preserved tensors)


def write_csv(rows: list[dict[str, Any]], path: str | Path, fields: tuple[str, ...]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return p


# -- onnxruntime ------------------------------------------------------------------------------------------------


def onnx_node_profile(target: Target, chunk_seconds: float, runs: int = 10, seed: int = 0) -> list[dict[str, Any]]:
    """Per-node times from onnxruntime's profiler, most expensive first (the first, unprofiled run excluded)."""
    import onnxruntime as ort

    from fqss_edge.runtimes.onnxruntime_backend import OPT_LEVELS, contract_of, read_onnx

    proto = read_onnx(target.path)
    contract = contract_of(proto, target.path)
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = OPT_LEVELS[target.options.get("optimization", "all")]
        so.intra_op_num_threads = int(target.options.get("threads", 1))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.add_session_config_entry("session.qdqisint8allowed", "1")
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "ort")
        sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
        x = chunk_waveform(contract.sample_rate, chunk_seconds, seed, contract.audio_channels)
        feed = {contract.input_name: pad_to_contract(x, contract)}
        for _ in range(runs + 1):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    return aggregate_ort_events(events, skip_first_run=True)



def aggregate_ort_events(events: list[dict[str, Any]], skip_first_run: bool = True) -> list[dict[str, Any]]:
    """Sum onnxruntime's ``*_kernel_time`` node events by node (optionally without the first model_run)."""
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    start = runs[1] if skip_first_run and len(runs) > 1 else -1
    rows: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time") or e["ts"] < start:
            continue
        name = e["name"][: -len("_kernel_time")]
        args = e.get("args", {})
        r = rows.setdefault(name, {"node": name, "op_type": args.get("op_name", ""),
                                   "provider": args.get("provider", ""), "calls": 0, "total_ms": 0.0})
        r["calls"] += 1
        r["total_ms"] += e.get("dur", 0) / 1000.0
    total = sum(r["total_ms"] for r in rows.values()) or 1.0
    for r in rows.values():
        r["mean_ms"] = r["total_ms"] / r["calls"]
        r["percent"] = 100.0 * r["total_ms"] / total
    return sorted(rows.values(), key=lambda r: -r["total_ms"])


# -- LiteRT -----------------------------------------------------------------------------------------------------


def tflite_delegation(target: Target, chunk_seconds: float) -> dict[str, Any]:
    """Operators taken by XNNPACK vs left to TFLite's kernels, and the number of XNNPACK partitions."""
    from fqss_edge.runtimes.litert_backend import LiteRtBackend, xnnpack_delegation

    contract = LiteRtBackend(kernels="builtin").load(target.path).io_contract
    n = contract.call_length(round(chunk_seconds * contract.sample_rate))
    d = xnnpack_delegation(target.path, length=n, threads=int(target.options.get("threads", 1)))
    d["fully_delegated"] = d["delegated"] == d["operators"]
    return d


def tflite_op_profile(target: Target, chunk_seconds: float, runs: int = 10, seed: int = 0,
                      capture_budget: int | None = None) -> list[dict[str, Any]]:
    """Time every operator of a .tflite alone (see the module docstring), in graph order; inputs captured from a
    run of the whole model unless its tensors exceed ``capture_budget`` bytes (``CAPTURE_BUDGET_BYTES``)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert.tools import flatbuffer_utils as fu

    from fqss_edge.runtimes.litert_backend import LiteRtBackend

    kernels = target.options.get("kernels", "xnnpack")
    threads = int(target.options.get("threads", 1))
    be = LiteRtBackend(kernels="builtin").load(target.path)
    n = be.io_contract.call_length(round(chunk_seconds * be.io_contract.sample_rate))
    values = all_tensor_values(target.path, n, seed, capture_budget)
    model = fu.read_model(str(target.path))
    resolver = {"xnnpack": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                "ref": OpResolverType.BUILTIN_REF}[kernels]
    rows = []
    for i, op in enumerate(model.subgraphs[0].operators):
        buf, feeds = single_op_model(model, op, values)
        it = Interpreter(model_content=buf, num_threads=threads, experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        ins = it.get_input_details()
        times, cpu = [], []
        for _ in range(runs + 1):
            for d, v in zip(ins, feeds):
                it.set_tensor(d["index"], v)
            t0, c0 = time.perf_counter_ns(), time.process_time_ns()
            it.invoke()
            times.append((time.perf_counter_ns() - t0) / 1e6)
            cpu.append((time.process_time_ns() - c0) / 1e6)
        out = it.get_output_details()[0]
        delegated = taken_by_delegate(it)
        rows.append({"index": i, "op": fu.opcode_to_name(model, op.opcodeIndex), "xnnpack": delegated,
                     "output_shape": "x".join(str(s) for s in out["shape"]),
                     "output_dtype": np.dtype(out["dtype"]).name,
                     "calls": runs, "mean_ms": float(np.mean(times[1:])), "median_ms": float(np.median(times[1:])),
                     "median_cpu_ms": float(np.median(cpu[1:])),
                     "inputs": "synthetic" if isinstance(values, SyntheticValues) else "captured"})
    total = sum(r["median_ms"] for r in rows) or 1.0
    for r in rows:
        r["percent"] = 100.0 * r["median_ms"] / total
    return rows


def group_tflite_profile(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tflite_op_profile`` rows summed by (operator, output type, taken by XNNPACK), most expensive first:
    count, ``median_ms`` and ``median_cpu_ms`` (sums of the operators' medians), ``percent`` (of the wall sum)."""
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault((r["op"], r["output_dtype"], r["xnnpack"]),
                              {"op": r["op"], "dtype": r["output_dtype"], "xnnpack": r["xnnpack"], "count": 0,
                               "median_ms": 0.0, "median_cpu_ms": 0.0})
        g["count"] += 1
        g["median_ms"] += r["median_ms"]
        g["median_cpu_ms"] += r["median_cpu_ms"]
    total = sum(g["median_ms"] for g in groups.values()) or 1.0
    for g in groups.values():
        g["percent"] = 100 * g["median_ms"] / total
    return sorted(groups.values(), key=lambda g: -g["median_ms"])


class SyntheticValues(Mapping):
    """Tensor values made on demand from the tensors' shapes and types (seeded per tensor), positive so that every
    operator's domain holds them (RSQRT, LOG, DIV): uniform over 1..max of an 8/16-bit integer type, over
    [0.1, 1) for floats, zeros for int32 / bool (indices, shapes, flags)."""

    def __init__(self, details: list[dict[str, Any]], seed: int):
        self._meta = {t["index"]: (tuple(int(v) for v in t["shape"]), np.dtype(t["dtype"])) for t in details}
        self._seed = seed

    def __getitem__(self, index: int) -> np.ndarray:
        shape, dtype = self._meta[index]
        rng = np.random.default_rng([self._seed, index])
        if np.issubdtype(dtype, np.integer) and dtype.itemsize <= 2:
            return rng.integers(1, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
        if np.issubdtype(dtype, np.floating):
            return rng.uniform(0.1, 1.0, size=shape).astype(dtype)
        return np.zeros(shape, dtype)

    def __iter__(self) -> Iterator[int]:
        return iter(self._meta)

    def __len__(self) -> int:
        return len(self._meta)


def taken_by_delegate(it: Any) -> bool:
    """Whether a delegate (XNNPACK) took an operator of this interpreter's model."""
    return any(o["op_name"] == "DELEGATE" for o in it._get_ops_details())


def activation_bytes(details: list[dict[str, Any]]) -> int:
    """Bytes of all tensors at their allocated shapes (what ``experimental_preserve_all_tensors`` keeps)."""
    return sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in details)


def all_tensor_values(path: Path, length: int, seed: int, budget: int | None = None,
                      x: np.ndarray | None = None) -> Mapping[int, np.ndarray]:
    """Every tensor's value after one run of the whole model (builtin kernels, all tensors preserved) on ``x`` (the
    model's input, ``length`` samples; default: a speech-like signal), or ``SyntheticValues`` when they would take
    more than ``budget`` bytes (default ``CAPTURE_BUDGET_BYTES``)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kernels = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    probe = Interpreter(model_path=str(path), experimental_op_resolver_type=kernels)
    d = probe.get_input_details()[0]
    shape = [int(v) for v in d["shape"][:-1]] + [length]  # [1, T] or [1, C, T]
    probe.resize_tensor_input(d["index"], shape, strict=False)
    probe.allocate_tensors()  # shapes only: nothing is run
    details = probe.get_tensor_details()
    if activation_bytes(details) > (CAPTURE_BUDGET_BYTES if budget is None else budget):
        return SyntheticValues(details, seed)
    del probe
    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=kernels)
    it.resize_tensor_input(d["index"], shape, strict=False)
    it.allocate_tensors()
    it.set_tensor(d["index"], speech_like_input(shape, d["dtype"], seed) if x is None else x.reshape(shape))
    it.invoke()
    values = {}
    for t in it.get_tensor_details():
        try:
            values[t["index"]] = np.array(it.get_tensor(t["index"]))
        except ValueError:  # tensors without data (none expected with preserve_all_tensors)
            pass
    return values


def single_op_model(model: Any, op: Any, values: Mapping[int, np.ndarray]) -> tuple[bytes, list[np.ndarray]]:
    """A one-operator model (its constants kept, its other inputs made graph inputs with their real shapes)."""
    import copy

    from ai_edge_litert.tools import flatbuffer_utils as fu

    sg = model.subgraphs[0]
    is_const = lambda t: sg.tensors[t].buffer > 0 and model.buffers[sg.tensors[t].buffer].data is not None  # noqa
    inter = list(op.intermediates) if op.intermediates is not None else []  # (the integer LSTM's gate scales)
    used = [t for t in list(op.inputs) + list(op.outputs) + inter if t >= 0]
    remap = {t: k for k, t in enumerate(dict.fromkeys(used))}
    new = fu.schema_fb.ModelT()
    new.version = model.version
    new.operatorCodes = model.operatorCodes
    new.buffers = [fu.schema_fb.BufferT()]
    new_sg = fu.schema_fb.SubGraphT()
    new_sg.tensors = []
    for t in remap:
        tt = copy.copy(sg.tensors[t])
        if is_const(t):
            new.buffers.append(model.buffers[tt.buffer])
            tt.buffer = len(new.buffers) - 1
        else:
            new.buffers.append(fu.schema_fb.BufferT())
            tt.buffer = len(new.buffers) - 1
            tt.shape = list(values[t].shape) if t in values else tt.shape
            tt.shapeSignature = None
        new_sg.tensors.append(tt)
    new_op = copy.copy(op)
    new_op.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
    new_op.outputs = [remap[t] for t in op.outputs]
    if inter:
        new_op.intermediates = [remap[t] for t in inter]
    new_sg.operators = [new_op]
    graph_inputs = [t for t in dict.fromkeys(t for t in op.inputs if t >= 0)
                    if not is_const(t) and not sg.tensors[t].isVariable]  # variables: the LSTM's state
    new_sg.inputs = [remap[t] for t in graph_inputs]
    new_sg.outputs = [remap[t] for t in op.outputs]
    new.subgraphs = [new_sg]
    return bytes(fu.convert_object_to_bytearray(new)), [values[t] for t in graph_inputs]
