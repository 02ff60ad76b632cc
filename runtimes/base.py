"""The common runtime interface: every backend loads a model file and maps a waveform [T] to sources [S, T].

Stereo (``IoContract.audio_channels`` 2): the waveform is [C, T] and the sources [S * C, T], source-major (source
0 channel 0, source 0 channel 1, source 1 channel 0, ...), as the model's own output; ``sources_by_channel``
reshapes them to [S, C, T]. A mono model keeps [T] -> [S, T]; files exported before stereo carry no
``audio_channels`` and are mono.

``IoContract`` is the model's I/O description (written into the ONNX metadata as ``fqss.io_contract`` by the
exporter). Backends take any length: they zero-pad to the contract (``T % stride == 0``, ``T >= kernel_size``)
and crop the output back to ``T``. A model exported at one input length (``fixed_length``, ``export --length``:
DPRNN / DPTNet .tflite files) runs longer inputs in consecutive windows of that length (``run_in_windows``), each
a separate segment: nothing carries over from one window to the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fqss_edge.errors import FqssError

INPUT_NAME = "mixture"
OUTPUT_NAME = "sources"
# a model exported with --with-audio-decoder (export/onnx/audio_decoder.py, runtimes/audio_file.py): its metadata
# key, and the custom-operator domain of onnxruntime-extensions (its AudioDecoder)
AUDIO_DECODER_KEY = "fqss.audio_decoder"
EXTENSIONS_DOMAIN = "ai.onnx.contrib"


@dataclass(frozen=True)
class IoContract:
    sample_rate: int
    n_src: int
    stride: int
    kernel_size: int
    source_names: tuple[str, ...] = ()
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    output_lsb: float = 1.0 / 32768.0  # one step of the output: 1/32768 for FQSS, the output scale otherwise
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    fixed_length: int | None = None  # the one input length of a fixed-length export (None: resizable)
    audio_channels: int = 1  # 1 mono, 2 stereo: input [1, C, T], output [1, n_src * C, T] source-major

    def __post_init__(self) -> None:
        if not self.source_names:
            object.__setattr__(self, "source_names", tuple(f"s{k + 1}" for k in range(self.n_src)))

    def valid_length(self, n: int) -> int:
        """The shortest length >= n the model accepts (a fixed-length model: in whole windows)."""
        if self.fixed_length:
            return max(-(-n // self.fixed_length), 1) * self.fixed_length
        n = max(n, self.kernel_size)
        return -(-n // self.stride) * self.stride

    @property
    def output_channels(self) -> int:
        """Rows of the output: ``n_src * audio_channels`` (source-major)."""
        return self.n_src * self.audio_channels

    def call_length(self, n: int) -> int:
        """The input length of one model call for ``n`` samples: ``valid_length(n)``, or the fixed length."""
        return self.fixed_length or self.valid_length(n)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["source_names"] = list(self.source_names)
        d.pop("extra")
        fixed = d.pop("fixed_length")
        t = fixed or "T"
        d.update(
            input={"name": self.input_name, "dtype": "float32", "shape": [1, self.audio_channels, t], "layout": "NCT",
                   "range": "[-1, 1)"},
            output={"name": self.output_name, "dtype": "float32", "shape": [1, self.output_channels, t],
                    "layout": "NCT", "order": "source-major (s0 ch0, s0 ch1, s1 ch0, ...)"},
            length={"multiple_of": self.stride, "min": self.kernel_size,
                    "constraint": "T % stride == 0 and T >= kernel_size"},
        )
        if fixed:
            d["length"] = {"fixed": fixed, "constraint": f"T == {fixed}; longer inputs run in windows of {fixed}"}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "io contract") -> "IoContract":
        """A contract from metadata, validated (``FqssError`` naming ``source`` and the key)."""
        from fqss_edge.runtimes.metadata_schema import ContractFields, validated

        v = validated(ContractFields, d, source)
        keys = ("sample_rate", "n_src", "stride", "kernel_size", "input_name", "output_name", "output_lsb",
                "audio_channels")
        return cls(**{k: getattr(v, k) for k in keys}, source_names=tuple(v.source_names))

    @classmethod
    def from_json(cls, text: str, source: str = "io contract") -> "IoContract":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise FqssError(f"{source}: not valid JSON") from None
        return cls.from_dict(data, source)


def file_metadata(backend: Any, key: str) -> Any:
    """``key`` of a loaded export's metadata: the ONNX ``metadata_props`` (``backend.proto``) or the .tflite's
    ``onnx_metadata`` (``backend.meta``); None when absent or for a backend without a file (PyTorch)."""
    proto = getattr(backend, "proto", None)
    if proto is not None:
        value = {p.key: p.value for p in proto.metadata_props}.get(key)
        if value is not None:
            return value
    meta = getattr(backend, "meta", None)
    return (meta.get("onnx_metadata") or {}).get(key) if isinstance(meta, dict) else None


def as_waveform(waveform: np.ndarray, channels: int = 1) -> np.ndarray:
    """Validate a waveform: float in [-1, 1) (values outside are clipped as 16-bit PCM would be), 1-D [T] for a
    mono model, [channels, T] for a multi-channel one."""
    w = np.asarray(waveform, dtype=np.float32)
    if channels == 1 and (w.ndim != 1 or w.size == 0):
        raise FqssError(f"waveform must be a non-empty 1-D array [T], got shape {w.shape}")
    if channels > 1 and (w.ndim != 2 or w.shape[0] != channels or w.size == 0):
        raise FqssError(f"waveform must be a non-empty [{channels}, T] array ({channels} channels), got shape "
                        f"{w.shape}")
    if not np.isfinite(w).all():
        raise FqssError("waveform contains NaN or Inf samples")
    return np.clip(w, -1.0, 1.0 - 2.0**-15)


def pad_to_contract(waveform: np.ndarray, contract: IoContract) -> np.ndarray:
    """[T] (or [C, T]) -> zero-padded [1, C, T'] with T' the valid length."""
    w = as_waveform(waveform, contract.audio_channels).reshape(contract.audio_channels, -1)
    out = np.zeros((1, contract.audio_channels, contract.valid_length(w.shape[-1])), dtype=np.float32)
    out[0, :, : w.shape[-1]] = w
    return out


def sources_by_channel(sources: np.ndarray, contract: IoContract) -> np.ndarray:
    """A runtime's output [S * C, T] (source-major) -> [S, C, T]."""
    return sources.reshape(contract.n_src, contract.audio_channels, sources.shape[-1])


def run_in_windows(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, window: int) -> np.ndarray:
    """``run`` ([window] or [C, window] -> [S, window]) over ``x`` [T] (or [C, T]) in consecutive windows (the
    last zero-padded), the outputs concatenated and cropped to [S, T]."""
    n = max(-(-x.shape[-1] // window), 1)
    padded = np.zeros(x.shape[:-1] + (n * window,), dtype=x.dtype)
    padded[..., :x.shape[-1]] = x
    y = np.concatenate([run(padded[..., i * window:(i + 1) * window]) for i in range(n)], axis=-1)
    return np.ascontiguousarray(y[..., :x.shape[-1]])


@runtime_checkable
class Backend(Protocol):
    """A runtime for exported (or simulated) separation models."""

    name: str

    @property
    def io_contract(self) -> IoContract: ...

    def load(self, path: str | Path) -> "Backend": ...

    def run(self, waveform: np.ndarray) -> np.ndarray:
        """float32 [T] (stereo: [C, T]) in [-1, 1) -> float32 [S, T] (stereo: [S * C, T], source-major); any T:
        padded to the contract, cropped back."""
        ...


@runtime_checkable
class SupportsIntermediates(Protocol):
    """Optional: integer codes of the quantized tensors, keyed by the PyTorch quantizer's module path
    (``masker.blocks.0.in_conv.out_quant``), for parity ``--per-layer``."""

    def intermediates(self, waveform: np.ndarray) -> dict[str, np.ndarray]: ...
