"""The I/O layers: FQSS input splitter (float island ``input_splitter``), plain input quantizer, and the FQSS
residual output block around the shared decoder (ending in the float island ``output_reconstruction``)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.emitters.conv import conv_linear
from fqss_edge.export.onnx.graph import GraphBuilder, QParams, TensorRef
from fqss_edge.export.onnx.registry import child, emit, register
from fqss_edge.quant.layers import InputQuant, InputSplitter, ResidualOutput
from fqss_edge.quant.layers.io import BYTE_SCALE

SPLITTER = "input_splitter"
RECONSTRUCTION = "output_reconstruction"
BYTE_QPARAMS = QParams(float(np.float32(BYTE_SCALE)), 0, 8)  # the splitter's int8 bytes


def splitter_activations(m: InputSplitter, name: str) -> dict[str, QParams]:
    return {name: BYTE_QPARAMS} if m.enabled else {}


@register(InputSplitter, activations=splitter_activations)
def emit_splitter(b: GraphBuilder, m: InputSplitter, name: str, x: TensorRef) -> TensorRef:
    """``split_bytes``: hi = clip(floor(128 x)), lo = clip(floor(256 (128 x - hi)) - 128); exact PCM16 bytes, of
    the waveform padded with ``m.pad`` zero samples first (a Pad node) when the model moved its input layer's
    padding here."""
    isl = SPLITTER

    def c(v: float) -> str:
        return b.scalar(f"{isl}/const_{v:g}", v)

    src = x.name
    if any(m.pad):  # zero samples before the split (the input layer's padding, moved here by the model)
        pads = b.const(f"{isl}/pads", np.array([0, 0, m.pad[0], 0, 0, m.pad[1]], dtype=np.int64))
        src = b.node("Pad", [src, pads], "Pad", island=isl, mode="constant")
    x128 = b.node("Mul", [src, c(128.0)], "hi/Mul", island=isl)
    hi = b.node("Clip", [b.node("Floor", [x128], "hi/Floor", island=isl), c(-128.0), c(127.0)], "hi/Clip", island=isl)
    r = b.node("Sub", [x128, hi], "lo/Sub", island=isl)
    lo = b.node("Floor", [b.node("Mul", [r, c(256.0)], "lo/Mul", island=isl)], "lo/Floor", island=isl)
    lo = b.node("Clip", [b.node("Sub", [lo, c(128.0)], "lo/Sub_128", island=isl), c(-128.0), c(127.0)], "lo/Clip",
                island=isl)
    cat = b.node("Concat", [hi, lo], "Concat", island=isl, axis=1)
    v = b.node("Mul", [cat, c(BYTE_SCALE)], "Mul_byte_scale", island=isl)
    if not m.enabled:
        return TensorRef(v)
    return b.quantize_with(v, BYTE_QPARAMS, name, island=isl)


@register(InputQuant)
def emit_input_quant(b: GraphBuilder, m: InputQuant, name: str, x: TensorRef) -> TensorRef:
    return b.quantize(x.name, m.out_quant, child(name, "out_quant"))


@register(ResidualOutput)
def emit_residual(b: GraphBuilder, m: ResidualOutput, name: str, latent: TensorRef) -> TensorRef:
    """y0 = dec(latent) (its output quantizer: the high byte); y1 = Q(dec.linear(latent - reenc(y0)));
    out = DQ(y0) + DQ(y1) / 256 (float, [S, 1, T])."""
    dec = m.decoder[0]
    dec_name = b.module_name(dec)
    y0 = emit(b, dec, dec_name, latent)
    reenc = emit(b, m.reencoder, child(name, "reencoder"), y0)
    residual = emit(b, m.sub, child(name, "sub"), latent, reenc)
    y1 = b.quantize(conv_linear(b, dec, dec_name, residual, node=child(name, "y1")), m.q_y1, child(name, "q_y1"))
    isl = RECONSTRUCTION
    low = b.node("Mul", [b.dequantize(y1, "y1", island=isl), b.scalar(f"{isl}/const_1_256", BYTE_SCALE * 0.5)],
                 "y1/Mul", island=isl)
    return TensorRef(b.node("Add", [b.dequantize(y0, "y0", island=isl), low], "Add", island=isl))
