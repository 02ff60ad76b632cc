"""An onnxruntime model that takes audio file bytes: onnxruntime-extensions' ``AudioDecoder`` in front of an
exported (float or QDQ) graph, so that an app hands a wav / flac / mp3 file to one session.

Graph (nodes named ``audio_decoder/...``; the exported graph inside is unchanged)::

    audio  uint8 [1, N] (the file's bytes)
      -> AudioDecoder(downsampling_rate=<model rate>, stereo_to_mono=1)   float PCM [1, L] at the model's rate
      -> level: x * g, g = 0.9 / max|x| (1 for a near-silent file): ``fqss_edge.audio.peak_gain``
      -> zero padding to the model's length rule, [1, 1, T]  -> the exported graph (``mixture`` -> ``sources``)
      -> the first L samples, / g                              -> sources  float32 [1, n_src, L]

This is what ``fqss-edge separate`` does with a file shorter than its chunk (one window, the whole file, with the
same level normalisation), except for the decoding and resampling, which are the extension's own. What the
extension's ``AudioDecoder`` (onnxruntime-extensions 0.15.2) does, read in its source and measured here
(``tests/export/onnx/test_audio_decoder.py``):

* formats: WAV (RIFF), FLAC and MP3 (dr_wav / dr_flac / dr_mp3, detected from the first bytes); anything else
  (ogg, ...) fails in the session with "Cannot detect audio stream format";
* it only downsamples (a Butterworth low-pass at the target Nyquist, then Kaiser-window interpolation): a file
  below the model's rate fails with "only down-sampling supported";
* ``stereo_to_mono`` averages interleaved pairs: right for stereo, wrong for 3 or more channels (the output is
  then not the mix, and has the wrong length); ``fqss-edge separate`` separates each channel instead;
* it returns at most 480,000 samples (60 s at 8 kHz) and cuts longer files without an error (its ``max_samples``
  is not an attribute of the ONNX op);
* the whole file is one window: memory grows with its length (``separate`` streams in constant memory).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from fqss_edge.runtimes.base import AUDIO_DECODER_KEY, EXTENSIONS_DOMAIN, IoContract
from onnx import TensorProto, helper, numpy_helper

from fqss_edge.audio import MIN_PEAK, PEAK, PEAK_TARGET
from fqss_edge.errors import FqssError
from fqss_edge.fingerprint import ONNX_WEIGHTS_KEY, onnx_weights_sha256

AUDIO_INPUT, SOURCES_OUTPUT = "audio", "sources"
MAX_SAMPLES = 480_000  # onnxruntime-extensions' AudioDecoder output limit (not settable through the ONNX op)
FORMATS = ("wav", "flac", "mp3")
_P = "audio_decoder/"


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), _P + name)


def _level_nodes(pcm: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes computing ``peak_gain`` of ``pcm`` ([1, 1] float32): the gain tensor's name."""
    n = helper.make_node
    nodes = [n("Abs", [pcm], [_P + "abs"], name=_P + "abs"),
             n("ReduceMax", [_P + "abs"], [_P + "peak"], name=_P + "peak", keepdims=1)]
    if PEAK_TARGET is None:  # scale down only above full scale
        target, threshold, compare = PEAK, PEAK, "Greater"
    else:
        target, threshold, compare = min(PEAK_TARGET, PEAK), MIN_PEAK, "GreaterOrEqual"
    inits = [_const("target", np.float32(target)), _const("threshold", np.float32(threshold)),
             _const("one", np.float32(1.0))]
    nodes += [n("Max", [_P + "peak", _P + "threshold"], [_P + "peak_safe"], name=_P + "peak_safe"),
              n("Div", [_P + "target", _P + "peak_safe"], [_P + "scale"], name=_P + "scale"),
              n(compare, [_P + "peak", _P + "threshold"], [_P + "scaled"], name=_P + "scaled"),
              n("Where", [_P + "scaled", _P + "scale", _P + "one"], [_P + "gain"], name=_P + "gain")]
    return nodes, inits, _P + "gain"


def _length_nodes(pcm: str, contract: IoContract) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str, str]:
    """Nodes computing the decoded length L ([1], int64) and the end padding to the model's valid length."""
    n = helper.make_node
    k, s = contract.kernel_size, contract.stride
    inits = [_const("min_length", np.array([k], np.int64)), _const("stride_m1", np.array([s - 1], np.int64)),
             _const("stride", np.array([s], np.int64)), _const("zeros3", np.zeros(3, np.int64))]
    nodes = [n("Shape", [pcm], [_P + "length"], name=_P + "length", start=1, end=2),
             n("Max", [_P + "length", _P + "min_length"], [_P + "at_least"], name=_P + "at_least"),
             n("Add", [_P + "at_least", _P + "stride_m1"], [_P + "rounded_up"], name=_P + "rounded_up"),
             n("Div", [_P + "rounded_up", _P + "stride"], [_P + "frames"], name=_P + "frames"),
             n("Mul", [_P + "frames", _P + "stride"], [_P + "valid"], name=_P + "valid"),
             n("Sub", [_P + "valid", _P + "length"], [_P + "pad_end"], name=_P + "pad_end"),
             n("Concat", [_P + "zeros3", _P + "pad_end"], [_P + "pads"], name=_P + "pads", axis=0)]
    return nodes, inits, _P + "length", _P + "pads"


def with_audio_decoder(model: onnx.ModelProto, contract: IoContract) -> onnx.ModelProto:
    """A copy of the exported ``model`` (``mixture`` [1, 1, T] -> ``sources`` [1, n_src, T]) that takes the bytes
    of an audio file (``audio``, uint8 [1, N]) and returns ``sources`` [1, n_src, L] at ``contract.sample_rate``,
    L the decoded length. Its metadata: the exported model's, and ``fqss.audio_decoder`` (JSON). A stereo model is
    refused: onnxruntime-extensions' decoder averages the channels to mono."""
    if contract.audio_channels != 1:
        raise FqssError(f"--with-audio-decoder: the model is {contract.audio_channels}-channel; "
                        "onnxruntime-extensions' AudioDecoder averages stereo to mono (separate the file with "
                        "`fqss-edge separate`)")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inner_in, inner_out = _P + "mixture", _P + "sources_padded"
    for node in g.node:
        node.input[:] = [inner_in if i == contract.input_name else i for i in node.input]
        node.output[:] = [inner_out if o == contract.output_name else o for o in node.output]
    n = helper.make_node
    pcm = _P + "pcm"
    decode = n("AudioDecoder", [AUDIO_INPUT], [pcm], name=_P + "decode", domain=EXTENSIONS_DOMAIN,
               downsampling_rate=contract.sample_rate, stereo_to_mono=1)
    level, level_inits, gain = _level_nodes(pcm)
    length, length_inits, n_samples, pads = _length_nodes(pcm, contract)
    front = [decode, *level, *length,
             n("Mul", [pcm, gain], [_P + "scaled_pcm"], name=_P + "scaled_pcm"),
             n("Pad", [_P + "scaled_pcm", pads], [_P + "padded"], name=_P + "padded", mode="constant"),
             n("Unsqueeze", [_P + "padded", _P + "axis1"], [inner_in], name=_P + "mixture")]
    back = [n("Slice", [inner_out, _P + "zero", n_samples, _P + "axis2"], [_P + "cropped"], name=_P + "crop"),
            n("Div", [_P + "cropped", gain], [SOURCES_OUTPUT], name=_P + "level_back")]
    inits = level_inits + length_inits + [_const("axis1", np.array([1], np.int64)),
                                          _const("axis2", np.array([2], np.int64)),
                                          _const("zero", np.array([0], np.int64))]
    nodes = front + list(g.node) + back
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(inits)
    del g.input[:]
    g.input.append(helper.make_tensor_value_info(AUDIO_INPUT, TensorProto.UINT8, [1, "N"]))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(SOURCES_OUTPUT, TensorProto.FLOAT, [1, contract.n_src, "L"]))
    del g.value_info[:]  # shapes inside follow the decoded length now; onnxruntime infers them again
    m.opset_import.append(helper.make_opsetid(EXTENSIONS_DOMAIN, 1))
    meta = {"input": AUDIO_INPUT, "output": SOURCES_OUTPUT, "sample_rate": contract.sample_rate,
            "n_src": contract.n_src, "source_names": list(contract.source_names), "formats": list(FORMATS),
            "max_samples": MAX_SAMPLES, "channels": "mono or stereo (averaged)", "upsampling": False}
    props = {p.key: p.value for p in m.metadata_props}
    props[AUDIO_DECODER_KEY] = json.dumps(meta)
    if ONNX_WEIGHTS_KEY in props:  # the digest covers the front's constants too
        props[ONNX_WEIGHTS_KEY] = onnx_weights_sha256(m)
    helper.set_model_props(m, props)
    return m
