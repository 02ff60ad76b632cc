"""Model-level emitters: ConvTasNet (encoder -> masker -> masks -> decoder), its TCN and TCN blocks."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.emitters.io import RECONSTRUCTION
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, emit, register
from fqss_edge.models.convtasnet import ConvTasNet
from fqss_edge.models.tcn import TCN, TCNBlock

OUTPUT = "sources"


def _shape(b: GraphBuilder, name: str, dims: list[int]) -> str:
    return b.const(f"const.shape_{name}", np.array(dims, dtype=np.int64))


@register(TCNBlock)
def emit_tcn_block(b: GraphBuilder, m: TCNBlock, name: str, x: TensorRef,
                   skip: TensorRef | None) -> tuple[TensorRef, TensorRef]:
    def sub(attr: str, *inputs: TensorRef) -> TensorRef:
        return emit(b, getattr(m, attr), child(name, attr), *inputs)

    h = sub("norm1", sub("act1", sub("in_conv", x)))
    h = sub("norm2", sub("act2", sub("dw_conv", h)))
    out = sub("res_add", x, sub("res_conv", h))
    s = sub("skip_conv", h)
    if skip is None or m.skip_add is None:  # the first block starts the skip sum
        return out, s
    return out, sub("skip_add", skip, s)


@register(TCN)
def emit_tcn(b: GraphBuilder, m: TCN, name: str, tf_rep: TensorRef) -> TensorRef:
    x = emit(b, m.bottleneck, child(name, "bottleneck"), emit(b, m.norm, child(name, "norm"), tf_rep))
    skip = None
    for i, block in enumerate(m.blocks):
        x, skip = emit(b, block, child(name, f"blocks.{i}"), x, skip)
    h = emit(b, m.out_act, child(name, "out_act"), skip)
    return emit(b, m.mask_act, child(name, "mask_act"), emit(b, m.mask_conv, child(name, "mask_conv"), h))


def emit_apply_masks(b: GraphBuilder, m: ConvTasNet, tf_rep: TensorRef, masks: TensorRef) -> TensorRef:
    """[1, N, F] x masks [1, S*N, F] -> [S, N, F] (the decoder's batch); reshapes keep their scale/zero point."""
    s, n = m.n_src, m.n_filters
    m4 = b.same_params("Reshape", masks, "apply_masks.masks", [_shape(b, "1_S_N_F", [1, s, n, -1])])
    t4 = b.same_params("Unsqueeze", tf_rep, "apply_masks.tf_rep", [b.const("const.axes_1", np.array([1], np.int64))])
    masked = emit(b, m.apply_mask, "apply_mask", t4, m4)
    return b.same_params("Reshape", masked, "apply_masks.masked", [_shape(b, "S_N_F", [s, n, -1])])


@register(ConvTasNet)
def emit_convtasnet(b: GraphBuilder, m: ConvTasNet, name: str, mixture: TensorRef) -> TensorRef:
    tf_rep = emit(b, m.encoder, "encoder", emit(b, m.input, "input", mixture))
    if m.enc_act is not None:
        tf_rep = emit(b, m.enc_act, "enc_act", tf_rep)
    masked = emit_apply_masks(b, m, tf_rep, emit(b, m.masker, "masker", tf_rep))
    shape = _shape(b, "1_S_T", [1, m.n_src, -1])
    if m.residual is not None:
        y = emit(b, m.residual, "residual", masked).name
        b.node("Reshape", [y, shape], "Reshape", output=OUTPUT, island=RECONSTRUCTION)
        return TensorRef(OUTPUT)
    dec = emit(b, m.decoder, "decoder", masked)
    if dec.qparams is None:
        b.node("Reshape", [dec.name, shape], "output/Reshape", output=OUTPUT)
        return TensorRef(OUTPUT)
    # No float island: DQ -> Reshape -> Q -> DQ -> sources. (onnxruntime 1.31, default options, fails on
    # DQ -> Reshape -> graph output: its QDQ propagation adds a Q that its S8->U8 pass then leaves mistyped.)
    y = b.same_params("Reshape", dec, "decoder.out_quant.reshaped", [shape])
    b.node("DequantizeLinear", [y.name, *b.qparam_inputs(y.name, y.qparams)], "output/DequantizeLinear",
           output=OUTPUT)
    return TensorRef(OUTPUT)
