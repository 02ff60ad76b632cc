"""The common runtime interface: every backend loads a model file and maps a waveform [T] to sources [S, T].

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

    def __post_init__(self) -> None:
        if not self.source_names:
            object.__setattr__(self, "source_names", tuple(f"s{k + 1}" for k in range(self.n_src)))

    def valid_length(self, n: int) -> int:
        """The shortest length >= n the model accepts (a fixed-length model: in whole windows)."""
        if self.fixed_length:
            return max(-(-n // self.fixed_length), 1) * self.fixed_length
        n = max(n, self.kernel_size)
        return -(-n // self.stride) * self.stride

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
            input={"name": self.input_name, "dtype": "float32", "shape": [1, 1, t], "layout": "NCT",
                   "range": "[-1, 1)"},
            output={"name": self.output_name, "dtype": "float32", "shape": [1, self.n_src, t], "layout": "NCT"},
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
        keys = ("sample_rate", "n_src", "stride", "kernel_size", "input_name", "output_name", "output_lsb")
        return cls(**{k: getattr(v, k) for k in keys}, source_names=tuple(v.source_names))

    @classmethod
    def from_json(cls, text: str, source: str = "io contract") -> "IoContract":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise FqssError(f"{source}: not valid JSON") from None
        return cls.from_dict(data, source)


def as_waveform(waveform: np.ndarray) -> np.ndarray:
    """Validate a mono waveform: 1-D float in [-1, 1) (values outside are clipped as 16-bit PCM would be)."""
    w = np.asarray(waveform, dtype=np.float32)
    if w.ndim != 1 or w.size == 0:
        raise FqssError(f"waveform must be a non-empty 1-D array [T], got shape {w.shape}")
    if not np.isfinite(w).all():
        raise FqssError("waveform contains NaN or Inf samples")
    return np.clip(w, -1.0, 1.0 - 2.0**-15)


def pad_to_contract(waveform: np.ndarray, contract: IoContract) -> np.ndarray:
    """[T] -> zero-padded [1, 1, T'] with T' the valid length."""
    w = as_waveform(waveform)
    out = np.zeros((1, 1, contract.valid_length(w.shape[0])), dtype=np.float32)
    out[0, 0, : w.shape[0]] = w
    return out


def run_in_windows(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, window: int) -> np.ndarray:
    """``run`` ([window] -> [S, window]) over ``x`` [T] in consecutive windows (the last zero-padded), the
    outputs concatenated and cropped to [S, T]."""
    n = max(-(-x.shape[-1] // window), 1)
    padded = np.zeros(n * window, dtype=x.dtype)
    padded[:x.shape[-1]] = x
    y = np.concatenate([run(padded[i * window:(i + 1) * window]) for i in range(n)], axis=-1)
    return np.ascontiguousarray(y[..., :x.shape[-1]])


@runtime_checkable
class Backend(Protocol):
    """A runtime for exported (or simulated) separation models."""

    name: str

    @property
    def io_contract(self) -> IoContract: ...

    def load(self, path: str | Path) -> "Backend": ...

    def run(self, waveform: np.ndarray) -> np.ndarray:
        """float32 [T] in [-1, 1) -> float32 [S, T] (any T: padded to the contract, cropped back)."""
        ...


@runtime_checkable
class SupportsIntermediates(Protocol):
    """Optional: integer codes of the quantized tensors, keyed by the PyTorch quantizer's module path
    (``masker.blocks.0.in_conv.out_quant``), for parity ``--per-layer``."""

    def intermediates(self, waveform: np.ndarray) -> dict[str, np.ndarray]: ...
