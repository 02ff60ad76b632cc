"""QConv1d (incl. depthwise and dilated) and QConvTranspose1d: ``DQ(x), DQ(int8 W, axis), DQ(int32 b) -> Conv -> Q``
(a fused ReLU: ``Conv -> Relu -> Q``).

The weights and bias are the layer's ``folded_params`` (a folded BatchNorm leaves no node of its own)."""

from __future__ import annotations

from fqss_edge.export.onnx.expected import ExpectedConst
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef, weight_storage_bits
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QConv1d, QConvTranspose1d

QConv = QConv1d | QConvTranspose1d


def conv_weight(b: GraphBuilder, layer: QConv, name: str, consumer: str) -> str:
    w = layer.folded_params()[0].detach()
    if not b.quantized or not layer.weight_quant.enabled:
        return b.float_const(f"{name}.weight", w.numpy())
    codes, scale = layer.weight_quant.export(w)
    bits = weight_storage_bits(layer.weight_quant.bits)
    if layer.weight_quant.bits == 4 and f"{name}.weight" not in b.int4_weights:
        b.int4_weights.append(f"{name}.weight")  # int8 codes in [-7, 7]: the .tflite stores them as INT4
    return b.quantized_const(f"{name}.weight", codes.numpy(), scale.numpy(), bits, consumer, axis=layer.weight_axis)


def conv_bias(b: GraphBuilder, layer: QConv, name: str, x: TensorRef, consumer: str) -> list[str]:
    """int32 codes with scale ``s_in * s_w`` (float32), exactly the simulation's: the learned bias plus the input
    offset's share (``bias_codes``); the float graph adds the offset's share of the float weights."""
    if not b.quantized or x.qparams is None or not layer.weight_quant.enabled:
        w, bias = (t.detach() if t is not None else None for t in layer.folded_params())
        comp = layer.offset_bias(w)
        if bias is None and comp is None:
            return []
        bias = (bias if bias is not None else 0.0) + (comp if comp is not None else 0.0)
        return [b.float_const(f"{name}.bias", bias.numpy())]
    codes = layer.bias_codes(x.qparams.scale, layer.weight_quant.scale().detach())
    if codes is None:
        return []
    return [b.quantized_const(f"{name}.bias", codes[0].numpy(), codes[1].numpy(), 32, consumer, axis=0)]


def conv_linear(b: GraphBuilder, layer: QConv, name: str, x: TensorRef, node: str | None = None) -> str:
    """The float accumulator (Conv/ConvTranspose output before requantization); ``node`` names the nodes
    when one layer is applied twice (the FQSS shared decoder)."""
    node = node or name
    c = layer.conv
    transposed = isinstance(layer, QConvTranspose1d)
    op = "ConvTranspose" if transposed else "Conv"
    attrs = dict(kernel_shape=list(c.kernel_size), strides=list(c.stride), pads=[c.padding[0], c.padding[0]],
                 dilations=list(c.dilation), group=c.groups)
    if transposed and c.output_padding[0]:
        attrs["output_padding"] = list(c.output_padding)
    inputs = [b.dequantize(x, node), conv_weight(b, layer, name, node), *conv_bias(b, layer, name, x, node)]
    return b.node(op, inputs, f"{node}/{op}", **attrs)


def conv_constants(layer: QConv, name: str) -> dict[str, ExpectedConst]:
    """The checkpoint's weight codes and per-channel scales (biases are checked structurally: s_in * s_w)."""
    if not layer.weight_quant.enabled:
        return {}
    codes, scale = layer.weight_quant.export(layer.folded_params()[0].detach())
    return {f"{name}.weight": ExpectedConst(codes.numpy(), scale.numpy(), layer.weight_axis)}


@register(QConv1d, QConvTranspose1d, constants=conv_constants, bias_ops=("Conv", "ConvTranspose"),
          composites=(("Conv", "Relu"),))
def emit_conv(b: GraphBuilder, layer: QConv, name: str, x: TensorRef) -> TensorRef:
    y = conv_linear(b, layer, name, x)
    if layer.act == "relu":
        y = b.node("Relu", [y], f"{name}/Relu")
    return b.quantize(y, layer.out_quant, child(name, "out_quant"))
