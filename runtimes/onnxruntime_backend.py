"""onnxruntime backend (CPU) with a choice of graph optimisation level and thread count.

With optimisation ``extended``/``all``, onnxruntime fuses ``DQ -> Conv -> Q`` into integer kernels
(QLinearConv, QLinearAdd, QLinearMul). On x86 it converts int8 QDQ pairs to uint8 first, which
it cannot do for a tensor read by several operators (the TCN residual/skip branches), and those convolutions
would stay float. ``int8_kernels=True`` (default) sets ``session.qdqisint8allowed`` so that every convolution
runs as an int8 kernel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError

from fqss_edge.errors import FqssError
from fqss_edge.fingerprint import ONNX_WEIGHTS_KEY, check_digest, onnx_weights_sha256
from fqss_edge.runtimes.base import AUDIO_DECODER_KEY, EXTENSIONS_DOMAIN, IoContract, pad_to_contract

OPT_LEVELS = {
    "off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def read_onnx(path: str | Path) -> onnx.ModelProto:
    """Load an ONNX file or raise a one-line ``FqssError`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise FqssError(f"{p}: no such file")
    try:
        return onnx.load(str(p))
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise FqssError(f"{p}: not a readable ONNX model ({_one_line(e)})") from None


def contract_of(proto: onnx.ModelProto, path: str | Path) -> IoContract:
    meta = {p.key: p.value for p in proto.metadata_props}
    if AUDIO_DECODER_KEY in meta:
        raise FqssError(f"{path}: takes the bytes of an audio file (exported with --with-audio-decoder), not a "
                        "waveform: run it with fqss_edge.runtimes.audio_file.AudioFileSession")
    if "fqss.io_contract" not in meta:
        raise FqssError(f"{path}: not an fqss-edge export (no fqss.io_contract metadata); "
                        f"write it with `fqss-edge export`")
    contract = IoContract.from_json(meta["fqss.io_contract"], f"{path}: fqss.io_contract")
    _check_graph(proto, contract, path)
    check_digest(meta.get(ONNX_WEIGHTS_KEY), onnx_weights_sha256(proto), str(path))
    return contract


def _check_graph(proto: onnx.ModelProto, contract: IoContract, path: str | Path) -> None:
    """The graph is the one the metadata describes (metadata copied onto another model is refused): its one
    input and output carry the contract's names, the output has ``n_src`` sources where its shape says."""
    inits = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in inits]
    outputs = list(proto.graph.output)
    if [i.name for i in inputs] != [contract.input_name] or [o.name for o in outputs] != [contract.output_name]:
        raise FqssError(f"{path}: the graph's inputs {[i.name for i in inputs]} / outputs {[o.name for o in outputs]} "
                        f"are not the ones its metadata describes ({contract.input_name!r} -> "
                        f"{contract.output_name!r}); metadata copied from another model?")
    dims = outputs[0].type.tensor_type.shape.dim
    if len(dims) >= 2 and dims[1].HasField("dim_value") and dims[1].dim_value != contract.output_channels:
        stereo = f" x {contract.audio_channels} channels" if contract.audio_channels > 1 else ""
        raise FqssError(f"{path}: the graph outputs {dims[1].dim_value} sources, its metadata says n_src "
                        f"{contract.n_src}{stereo}; metadata copied from another model?")


def uses_extensions(proto: onnx.ModelProto) -> bool:
    """Whether the graph has onnxruntime-extensions operators (e.g. ``AudioDecoder``: ``--with-audio-decoder``)."""
    return any(o.domain == EXTENSIONS_DOMAIN for o in proto.opset_import)


def session_options(optimization: str = "all", threads: int = 1, int8_kernels: bool = True,
                    optimized_model_path: str | Path | None = None, extensions: bool = False) -> ort.SessionOptions:
    """``extensions``: register onnxruntime-extensions' operators, and log only fatal errors (a file its
    AudioDecoder cannot read is an exception the caller turns into one line, not also a log line)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVELS[optimization]
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 4 if extensions else 3
    if int8_kernels:
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    if optimized_model_path is not None:
        so.optimized_model_filepath = str(optimized_model_path)
    if extensions:
        so.register_custom_ops_library(extensions_library())
    return so


def extensions_library() -> str:
    """The onnxruntime-extensions custom-operator library (a declared dependency)."""
    try:
        import onnxruntime_extensions
    except ImportError as e:
        raise FqssError(f"onnxruntime-extensions is not installed ({e}); pip install onnxruntime-extensions") from None
    return onnxruntime_extensions.get_library_path()


def make_session(model_bytes: bytes, path: str | Path | None, optimization: str = "all", threads: int = 1,
                 int8_kernels: bool = True, optimized_model_path: str | Path | None = None,
                 extensions: bool | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session; the extensions library is registered when the model needs it
    (``extensions=None``: decided from the model). ``FqssError`` naming ``path`` if onnxruntime refuses it."""
    if extensions is None:
        proto = onnx.load_model_from_string(model_bytes)
        extensions = uses_extensions(proto)
    options = session_options(optimization, threads, int8_kernels, optimized_model_path, extensions)
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        raise FqssError(f"{path}: onnxruntime cannot load it ({_one_line(e)})") from None


def is_qdq(proto: onnx.ModelProto) -> bool:
    return any(n.op_type == "QuantizeLinear" for n in proto.graph.node)


def with_quantized_outputs(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy whose graph also outputs every QuantizeLinear result (the quantized tensors, by name)."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    inits = {i.name: i for i in m.graph.initializer}
    existing = {o.name for o in m.graph.output}
    names = []
    for n in m.graph.node:
        if n.op_type != "QuantizeLinear" or n.output[0] in existing:
            continue
        zp = inits.get(n.input[2]) if len(n.input) > 2 else None
        elem = zp.data_type if zp is not None else onnx.TensorProto.UINT8
        m.graph.output.append(onnx.helper.make_tensor_value_info(n.output[0], elem, None))
        names.append(n.output[0])
    return m, names


class OnnxRuntimeBackend:
    def __init__(self, optimization: str = "all", threads: int = 1, int8_kernels: bool = True,
                 optimized_model_path: str | Path | None = None, require_qdq: bool = False):
        if optimization not in OPT_LEVELS:
            raise FqssError(f"onnxruntime optimisation {optimization!r}: choose one of {', '.join(OPT_LEVELS)}")
        self.optimization = optimization
        self.threads = threads
        self.int8_kernels = int8_kernels
        self.optimized_model_path = optimized_model_path
        self.require_qdq = require_qdq
        self.path: Path | None = None
        self.proto: onnx.ModelProto | None = None
        self.session: ort.InferenceSession | None = None
        self._contract: IoContract | None = None
        self._debug: tuple[ort.InferenceSession, list[str]] | None = None

    @property
    def name(self) -> str:
        return f"onnxruntime[opt={self.optimization}]"

    @property
    def io_contract(self) -> IoContract:
        if self._contract is None:
            raise FqssError("backend not loaded: call load(path) first")
        return self._contract

    @property
    def quantized(self) -> bool:
        return self.proto is not None and is_qdq(self.proto)

    def load(self, path: str | Path) -> "OnnxRuntimeBackend":
        proto = read_onnx(path)
        contract = contract_of(proto, path)
        if self.require_qdq and not is_qdq(proto):
            raise FqssError(f"{path}: not a QDQ model (no QuantizeLinear nodes): export it with "
                            f"`fqss-edge export CKPT --int8`")
        self.path, self.proto, self._contract = Path(path), proto, contract
        self.session = self._session(proto.SerializeToString(), self.optimized_model_path)
        self._debug = None
        return self

    def _session(self, model_bytes: bytes, optimized_model_path: str | Path | None = None) -> ort.InferenceSession:
        return make_session(model_bytes, self.path, self.optimization, self.threads, self.int8_kernels,
                            optimized_model_path, extensions=self.proto is not None and uses_extensions(self.proto))

    def _feed(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        return {self.io_contract.input_name: pad_to_contract(waveform, self.io_contract)}

    def run(self, waveform: np.ndarray) -> np.ndarray:
        if self.session is None:
            raise FqssError("backend not loaded: call load(path) first")
        y = self.session.run([self.io_contract.output_name], self._feed(waveform))[0]
        return np.ascontiguousarray(y[0, :, : np.asarray(waveform).shape[-1]], dtype=np.float32)

    def intermediates(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """Integer codes of every QuantizeLinear output (named after the PyTorch quantizers), graph order; those
        of the onnxruntime flavour's uint8 tensors as the int8 codes of the contract graph and the simulation."""
        from fqss_edge.export.onnx.flavour import codes_as_int8

        if self.proto is None:
            raise FqssError("backend not loaded: call load(path) first")
        if self._debug is None:
            debug, names = with_quantized_outputs(self.proto)
            self._debug = (self._session(debug.SerializeToString()), names)
        session, names = self._debug
        values = session.run(names, self._feed(waveform))
        codes = codes_as_int8(self.proto, dict(zip(names, values)))
        return {n: v.astype(np.int64) for n, v in codes.items()}


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(e).__name__)


__all__ = ["OPT_LEVELS", "OnnxRuntimeBackend", "contract_of", "extensions_library", "is_qdq", "make_session",
           "read_onnx", "session_options", "uses_extensions", "with_quantized_outputs"]
