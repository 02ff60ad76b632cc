"""LiteRT (TFLite) backend for the ``.tflite`` files of ``fqss_edge.export.tflite``: integer-only models
(int16 PCM or float32 I/O) and float32 models (``export --float``, float32 I/O).

Kernels: ``"xnnpack"`` (LiteRT's default: XNNPACK delegate, builtin kernels for what it does not take),
``"builtin"`` (optimised builtin kernels, no delegate) and ``"ref"`` (reference kernels: bit-exact with
``fqss_edge.export.tflite.reference``). Uses ``ai_edge_litert`` and falls back to ``tflite_runtime`` where it
does not import.

    be = LiteRtBackend(kernels="xnnpack", threads=2).load("model.tflite")
    sources = be.run(waveform)        # float32 [T] in [-1, 1) -> float32 [S, T]
    pcm_out = be.run_int16(pcm)       # int16 [T] -> int16 [S, T]

An integer model reads the waveform as 16-bit PCM (``floor(32768 x)``, as its input splitter does); a float32
model (metadata ``precision: float32``) takes the waveform as it is and returns its float outputs unrounded.
The input length is padded with zeros to the model's contract (``T % stride == 0``, ``T >= kernel_size``), the
interpreter's input is resized to it, and the outputs are cropped back to ``T``. A file exported at one length
(``export --length N``: static input shape [1, N]; DPRNN / DPTNet, whose LSTM state has a fixed batch) runs any
input in consecutive windows of N samples, the last zero-padded, each a separate segment (``fixed_length``).

``intermediates(waveform)`` (parity ``--per-layer``) returns the integer codes of every quantized activation,
named as in the ONNX graph and the PyTorch simulation, in the ONNX layout. It runs a second interpreter that keeps
every tensor; only the reference and builtin kernels have them: XNNPACK computes its partitions inside the
delegate (``intermediates_available`` is False).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.layout import activation_to_onnx_layout
from fqss_edge.export.tflite.metadata import read_tflite_metadata, stored_weights_sha256
from fqss_edge.fingerprint import TFLITE_WEIGHTS_KEY, check_digest
import dataclasses

from fqss_edge.runtimes.base import IoContract, as_waveform, run_in_windows
from fqss_edge.runtimes.metadata_schema import TfliteMetadata, validated

KERNELS = ("xnnpack", "builtin", "ref")


def _interpreter_api() -> tuple[Any, Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType  # type: ignore[import-not-found]

        return Interpreter, OpResolverType, "tflite_runtime"
    except ImportError:
        raise FqssError("no TFLite interpreter: install ai-edge-litert (or tflite-runtime)") from None


def contract_from_metadata(meta: dict[str, Any], source: str = "fqss_edge metadata") -> IoContract:
    """The I/O contract of a .tflite from its (validated) ``fqss_edge`` metadata entry."""
    m = validated(TfliteMetadata, meta, source)
    if meta.get("contract") == "plain":
        raise FqssError(f"{source}: a converted model with plain tensor I/O (fqss-edge convert of a model fqss-edge "
                        "did not export): it has no waveform -> sources contract; run it with LiteRT directly")
    base = m.onnx_metadata.get("fqss.io_contract")
    d: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    d.update(sample_rate=m.sample_rate or d.get("sample_rate") or 8000, n_src=m.n_src or d.get("n_src") or 1,
             stride=m.length.multiple_of or d.get("stride") or 1, kernel_size=m.length.min or d.get("kernel_size") or 1,
             source_names=m.source_names or d.get("source_names") or [],
             input_name=m.input.name, output_name=m.output.name)
    c = IoContract.from_dict(d, source)
    c.extra.update(tflite=meta)
    return dataclasses.replace(c, fixed_length=m.length.fixed) if m.length.fixed else c


class LiteRtBackend:
    def __init__(self, kernels: str = "xnnpack", threads: int = 1):
        if kernels not in KERNELS:
            raise FqssError(f"LiteRT kernels {kernels!r}: choose one of {', '.join(KERNELS)}")
        if threads < 1:
            raise FqssError(f"LiteRT threads must be >= 1, not {threads}")
        self.kernels = kernels
        self.threads = threads
        self.name = f"litert-{kernels}"
        self.path: Path | None = None
        self.meta: dict[str, Any] = {}
        self._contract: IoContract | None = None
        self._it = None
        self._length = -1
        self._debug_it = None  # the interpreter that keeps every tensor (intermediates), made on first use
        self._debug_length = -1
        self._fused: set[str] = set()  # outputs of operators with a fused activation
        self._resolver = None
        self.api = ""
        self.precision = "int8"

    # -- loading --------------------------------------------------------------------------------------------
    def load(self, path: str | Path) -> "LiteRtBackend":
        p = Path(path)
        if not p.is_file():
            raise FqssError(f"{p}: no such file")
        self.meta = read_tflite_metadata(p)  # FqssError for non-TFLite / corrupt / foreign files
        if self.meta.get("io") not in ("int16", "float32"):
            raise FqssError(f"{p}: I/O mode {self.meta.get('io')!r}; the backend runs int16 or float32 exports")
        Interpreter, OpResolverType, api = _interpreter_api()
        resolver = {"xnnpack": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                    "ref": OpResolverType.BUILTIN_REF}[self.kernels]
        try:
            self._it = Interpreter(model_path=str(p), num_threads=self.threads,
                                   experimental_op_resolver_type=resolver)
        except (ValueError, RuntimeError) as e:
            raise FqssError(f"{p}: LiteRT cannot load the model ({_one_line(e)})") from None
        self._resolver = resolver
        self._debug_it = None
        self.api = api
        self.path = p
        self.precision = self.meta.get("precision", "int8")  # files written before float32 models: int8
        self._contract = contract_from_metadata(self.meta, f"{p}: fqss_edge metadata")
        self._check_tensors(p)
        d = self._it.get_input_details()[0]
        signature = list(d.get("shape_signature", d["shape"]))
        if signature and signature[-1] > 0:  # a static length: exported with --length
            self._contract = dataclasses.replace(self._contract, fixed_length=int(signature[-1]))
        check_digest(self.meta.get(TFLITE_WEIGHTS_KEY), stored_weights_sha256(p), str(p))
        self._length = -1
        return self

    def _check_tensors(self, p: Path) -> None:
        """The model is the one its metadata describes (metadata copied onto another model is refused): one
        input [1, T] (stereo: [1, C, T]) and one output [n_src * C, T] (or [1, n_src * C, T]) with the metadata's
        names and I/O type."""
        ins, outs = self._it.get_input_details(), self._it.get_output_details()
        c = self.io_contract
        want = {"int16": np.int16, "float32": np.float32}[self.meta["io"]]
        problem = None
        if [d["name"] for d in ins] != [c.input_name] or [d["name"] for d in outs] != [c.output_name]:
            problem = (f"tensors {[d['name'] for d in ins]} -> {[d['name'] for d in outs]}, not "
                       f"{c.input_name!r} -> {c.output_name!r}")
        elif ins[0]["dtype"] != want or outs[0]["dtype"] != want:
            problem = f"I/O type {np.dtype(ins[0]['dtype']).name}, the metadata says {self.meta['io']}"
        elif (list(ins[0]["shape"][:-1]) != self._input_shape(1)[:-1] or len(outs[0]["shape"]) not in (2, 3)
              or outs[0]["shape"][-2] != c.output_channels):
            problem = (f"shapes {list(ins[0]['shape'])} -> {list(outs[0]['shape'])}, expected "
                       f"{self._input_shape('T')} -> [{c.output_channels}, T]")
        if problem:
            raise FqssError(f"{p}: {problem}; metadata copied from another model?")

    @property
    def io_contract(self) -> IoContract:
        if self._contract is None:
            raise FqssError("LiteRT backend: no model loaded (call load(path) first)")
        return self._contract

    # -- running --------------------------------------------------------------------------------------------
    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if self._it is None:
            raise FqssError("LiteRT backend: no model loaded (call load(path) first)")
        self._length = self._invoke_on(self._it, x, self._length)
        return self._it.get_tensor(self._it.get_output_details()[0]["index"])

    def _invoke_on(self, it: Any, x: np.ndarray, length: int) -> int:
        """Run interpreter ``it`` on ``x`` [1, T] (resized when T differs from ``length``); returns T."""
        d = it.get_input_details()[0]
        if x.shape[-1] != length:
            it.resize_tensor_input(d["index"], list(x.shape), strict=False)
            try:
                it.allocate_tensors()
            except RuntimeError as e:
                raise FqssError(f"{self.path}: LiteRT cannot run length {x.shape[-1]} ({_one_line(e)})") from None
        it.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
        it.reset_all_variables()  # LSTM states persist between invocations: every call is a new segment
        try:
            it.invoke()
        except RuntimeError as e:
            raise FqssError(f"{self.path}: LiteRT failed ({_one_line(e)})") from None
        return x.shape[-1]

    def _input_shape(self, t: Any) -> list[Any]:
        """The input tensor's shape for length ``t``: [1, t] (mono) or [1, C, t]."""
        c = self.io_contract.audio_channels
        return [1, t] if c == 1 else [1, c, t]

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """[T] (or [C, T]) -> [1, T'] (or [1, C, T']) zero-padded to the contract's valid length."""
        padded = np.zeros(self._input_shape(self.io_contract.valid_length(x.shape[-1])), dtype=x.dtype)
        padded[..., :x.shape[-1]] = x
        return padded

    def _invoke_padded(self, x: np.ndarray) -> np.ndarray:
        """[T] (or [C, T]) -> the model's output [S, T] (or [S * C, T]): zero-padded to the contract's valid
        length, run, cropped back (a fixed-length model: in windows of its length)."""
        fixed = self.io_contract.fixed_length
        if fixed and x.shape[-1] > fixed:
            return run_in_windows(self._invoke_padded, x, fixed)
        y = self._invoke(self._padded(x))
        return np.ascontiguousarray(y.reshape(self.io_contract.output_channels, -1)[:, :x.shape[-1]])

    def run_int16(self, pcm: np.ndarray) -> np.ndarray:
        """int16 PCM [T] (or [1, T]; stereo [C, T]) -> int16 PCM [S, T] (stereo [S * C, T], source-major)."""
        p = np.asarray(pcm)
        c = self.io_contract.audio_channels
        if c == 1 and p.ndim == 2 and p.shape[0] == 1:
            p = p[0]
        want = (c,) if c > 1 else ()
        if p.ndim != len(want) + 1 or p.shape[:-1] != want or p.size == 0 or p.dtype != np.int16:
            raise FqssError(f"run_int16 needs int16 PCM [{', '.join(map(str, want + ('T',)))}], got {p.dtype} "
                            f"{p.shape}")
        if self.meta.get("io") == "float32":  # (no model loaded: _invoke_padded says so)
            y = self._invoke_padded(p.astype(np.float32) / np.float32(32768.0))
            return np.clip(np.floor(y.astype(np.float64) * 32768.0 + 0.5), -32768, 32767).astype(np.int16)
        return self._invoke_padded(p)

    def run(self, waveform: np.ndarray) -> np.ndarray:
        """float32 [T] (stereo [C, T]) in [-1, 1) -> float32 [S, T] (stereo [S * C, T]). An integer model takes
        the waveform as 16-bit PCM (floor(32768 x), as the model's input splitter reads it); a float32 model takes it
        as it is."""
        w = as_waveform(waveform, self.io_contract.audio_channels)
        if self.precision == "float32":
            return self._invoke_padded(w.astype(np.float32)).astype(np.float32, copy=False)
        pcm = _to_pcm16(w)
        return self.run_int16(pcm).astype(np.float32) / np.float32(32768.0)

    # -- per-layer codes (parity --per-layer) ---------------------------------------------------------------
    @property
    def intermediates_available(self) -> bool:
        return self.kernels != "xnnpack" and self.precision != "float32"

    def intermediates(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """Integer codes (int64) of every int8/int16 activation, named after the ONNX tensors (the PyTorch
        quantizers), in the ONNX layout; the input padded as ``run`` pads it."""
        if self._it is None:
            raise FqssError("LiteRT backend: no model loaded (call load(path) first)")
        if not self.intermediates_available:
            raise FqssError(f"{self.path}: no per-layer codes with {self.name}"
                            + (" (a float32 model)" if self.precision == "float32" else
                               " (XNNPACK keeps its tensors inside the delegate; use kernels 'ref' or 'builtin')"))
        if self._debug_it is None:
            Interpreter, _, _ = _interpreter_api()
            self._debug_it = Interpreter(model_path=str(self.path), num_threads=self.threads,
                                         experimental_op_resolver_type=self._resolver,
                                         experimental_preserve_all_tensors=True)
            self._debug_length = -1
            self._fused = _fused_activation_outputs(self.path)
        it = self._debug_it
        fixed = self.io_contract.fixed_length
        if fixed and np.asarray(waveform).shape[-1] > fixed:
            raise FqssError(f"{self.path}: per-layer codes of a model exported at length {fixed} need an input of "
                            f"at most {fixed} samples (got {np.asarray(waveform).shape[-1]})")
        pcm = _to_pcm16(as_waveform(waveform, self.io_contract.audio_channels))
        x = pcm if self.meta.get("io") != "float32" else pcm.astype(np.float32) / np.float32(32768.0)
        self._debug_length = self._invoke_on(it, self._padded(x), self._debug_length)
        out: dict[str, np.ndarray] = {}
        for d in it.get_tensor_details():
            name = d["name"]
            if "/" in name or name in self._fused or d["dtype"] not in (np.int8, np.int16):  # '/': converter's own
                continue
            try:
                a = it.get_tensor(d["index"])
            except ValueError:  # no data (e.g. an unused optional tensor)
                continue
            out[name] = activation_to_onnx_layout(a).astype(np.int64)
        return out


def _to_pcm16(w: np.ndarray) -> np.ndarray:
    """float waveform in [-1, 1) -> int16 PCM, floor(32768 x), as the model's input splitter reads it."""
    return np.clip(np.floor(w.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def _fused_activation_outputs(path: Path) -> set[str]:
    """Outputs of operators with a fused activation: the tensor named after the ONNX conv output then holds the
    activation's values (a CONV_2D with fused RELU), so it is not the ONNX tensor of that name."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    g = model.subgraphs[0]
    return {g.tensors[op.outputs[0]].name.decode() for op in g.operators
            if getattr(op.builtinOptions, "fusedActivationFunction", 0)}


def _one_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def xnnpack_delegation(path: str | Path, length: int | None = None, threads: int = 1) -> dict[str, Any]:
    """Which operators LiteRT's default XNNPACK delegate takes: ``{"operators", "delegated", "partitions",
    "not_delegated": {op: count}}`` (an int8 PRELU or an int16 op stays on TFLite's own kernels)."""
    Interpreter, OpResolverType, _ = _interpreter_api()
    it = Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=OpResolverType.AUTO)
    d = it.get_input_details()[0]
    if length is not None:
        shape = list(d["shape"])
        shape[-1] = length
        it.resize_tensor_input(d["index"], shape, strict=False)
    it.allocate_tensors()
    ops = it._get_ops_details()  # original nodes, then one DELEGATE node per partition
    original = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {int(t): o["index"] for o in original for t in o["outputs"]}
    delegated: set[int] = set()
    partitions = 0
    for dn in (o for o in ops if o["op_name"] == "DELEGATE"):
        partitions += 1
        stop = {int(t) for t in dn["inputs"]}
        todo = [int(t) for t in dn["outputs"]]
        while todo:
            t = todo.pop()
            if t in stop or t not in producer or producer[t] in delegated:
                continue
            delegated.add(producer[t])
            todo.extend(int(i) for i in ops[producer[t]]["inputs"] if i >= 0)
    rest: dict[str, int] = {}
    for o in original:
        if o["index"] not in delegated:
            rest[o["op_name"]] = rest.get(o["op_name"], 0) + 1
    return {"operators": len(original), "delegated": len(delegated), "partitions": partitions,
            "not_delegated": dict(sorted(rest.items(), key=lambda kv: -kv[1]))}
