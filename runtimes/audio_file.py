"""Run a model exported with ``--with-audio-decoder`` (``export/onnx/audio_decoder.py``): the bytes of a wav /
flac / mp3 file in, the sources at the model's rate out, in one onnxruntime session with the onnxruntime-extensions
library registered.

An app needs only this (``session.qdqisint8allowed`` for a QDQ graph on x86, see the README)::

    so = onnxruntime.SessionOptions()
    so.register_custom_ops_library(onnxruntime_extensions.get_library_path())
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = onnxruntime.InferenceSession("model_audio_decoder.onnx", so)
    sources = sess.run(None, {"audio": np.frombuffer(data, np.uint8)[None]})[0]   # [1, n_src, L]

``AudioFileSession`` does that and refuses up front, where ``soundfile`` can read the header, what the decoder
would get wrong without an error: more than two channels, or more than ``max_samples`` at the model's rate.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from fqss_edge.runtimes.base import AUDIO_DECODER_KEY
from fqss_edge.runtimes.onnxruntime_backend import _one_line, make_session, read_onnx

from fqss_edge.errors import FqssError


@dataclass(frozen=True)
class AudioDecoderInfo:
    """``fqss.audio_decoder`` of the model's metadata."""

    input_name: str
    output_name: str
    sample_rate: int
    n_src: int
    source_names: tuple[str, ...]
    max_samples: int

    @classmethod
    def of(cls, proto: onnx.ModelProto, path: str | Path) -> AudioDecoderInfo:
        meta = {p.key: p.value for p in proto.metadata_props}
        if AUDIO_DECODER_KEY not in meta:
            raise FqssError(f"{path}: not a model with an audio decoder (export it with --with-audio-decoder)")
        try:
            d = json.loads(meta[AUDIO_DECODER_KEY])
            return cls(d["input"], d["output"], int(d["sample_rate"]), int(d["n_src"]), tuple(d["source_names"]),
                       int(d["max_samples"]))
        except (ValueError, KeyError, TypeError) as e:
            raise FqssError(f"{path}: corrupt {AUDIO_DECODER_KEY} metadata ({_one_line(e)})") from None


class AudioFileSession:
    def __init__(self, path: str | Path, optimization: str = "all", threads: int = 1, int8_kernels: bool = True):
        proto = read_onnx(path)
        self.path = Path(path)
        self.info = AudioDecoderInfo.of(proto, path)
        self.session = make_session(proto.SerializeToString(), path, optimization, threads, int8_kernels,
                                    extensions=True)

    def run(self, audio: bytes | str | Path) -> np.ndarray:
        """Sources ``[n_src, L]`` (float32, the model's rate) of a file, or of its bytes."""
        name = str(audio) if isinstance(audio, (str, Path)) else "audio bytes"
        data = Path(audio).read_bytes() if isinstance(audio, (str, Path)) else bytes(audio)
        self._check_header(data, name)
        try:
            y = self.session.run([self.info.output_name],
                                 {self.info.input_name: np.frombuffer(data, np.uint8)[None]})[0]
        except Exception as e:  # onnxruntime's own exception types
            raise FqssError(f"{name}: the model's audio decoder failed ({_one_line(e)})") from None
        return np.ascontiguousarray(y[0], dtype=np.float32)

    def _check_header(self, data: bytes, name: str) -> None:
        import soundfile as sf

        try:
            header = sf.info(io.BytesIO(data))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            return  # a header soundfile cannot parse: the decoder decides
        if header.channels > 2:
            raise FqssError(f"{name}: {header.channels} channels; the model's audio decoder mixes mono or stereo "
                            "only (use fqss-edge separate)")
        at_model_rate = header.frames * min(self.info.sample_rate, header.samplerate) / header.samplerate
        if at_model_rate > self.info.max_samples:
            raise FqssError(f"{name}: {header.frames / header.samplerate:.1f} s; the model's audio decoder returns "
                            f"at most {self.info.max_samples} samples "
                            f"({self.info.max_samples / self.info.sample_rate:.0f} s) and would cut it (use "
                            "fqss-edge separate)")


__all__ = ["AudioDecoderInfo", "AudioFileSession"]
