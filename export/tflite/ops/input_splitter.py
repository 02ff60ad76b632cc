"""The declared ``input_splitter`` island: float mixture -> the two bytes of 16-bit PCM, int8 scale 1/128.

The ONNX island (Mul/Floor/Clip/Sub/Concat -> QuantizeLinear) is first run on all 65536 PCM values to prove
it computes ``hi = p >> 8`` and ``lo = (p & 0xFF) - 128``. The TFLite graph computes the same bytes with
integer operators only, exactly:

    pcm int16 [1, T] -> RESHAPE [1, 1, T, 1] -> RIGHT_SHIFT 8 -> CAST int8 = hi
                                             -> CAST int8 (low byte, wraps) -> BITWISE_XOR 0x80 = lo
    CONCATENATION([hi, lo], channels) -> int8 [1, 1, T, 2], scale 1/128, zero point 0

A stereo model (input [1, C, T]) TRANSPOSEs the PCM to [1, 1, T, C] instead of the RESHAPE; the same operators
give [1, 1, T, 2 C], byte-major (the high bytes of every channel, then the low bytes: ``SeparationModel``).

When the model moved its input layer's zero padding into the island (a Pad of the waveform before the split,
``InputSplitter.pad``), an int16 PAD of the PCM follows the RESHAPE: padded samples are PCM 0, bytes [0, -128].

For a runtime older than TF Lite 2.13 (``export --min-runtime 2.12`` or lower), which has no RIGHT_SHIFT /
BITWISE_XOR, the same bytes come from int16 ADD / SUB with power-of-two scales and CAST (``_arithmetic_bytes``).

With ``io="float32"`` the input is float32 ``p / 32768`` and a QUANTIZE (scale 1/32768, round to nearest)
gives the int16 PCM first; the ONNX island floors, which is the same for inputs on the 1/32768 grid.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import cast, quantize, reshape, to_std_layout
from fqss_edge.export.tflite.ops._island import island_boundary, run_island
from fqss_edge.export.tflite.ops.io import PCM16, graph_input
from fqss_edge.export.tflite.registry import register

BYTE = Quant.make(1.0 / 128.0, 0)


def pcm_bytes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = p.astype(np.int32)
    return (p >> 8).astype(np.int8), ((p & 0xFF) - 128).astype(np.int8)


def _verify(ctx, nodes, qnode, pad: tuple[int, int]) -> None:
    g = ctx.g
    x_name = g.inputs[0].name
    c = g.shape(x_name)[1]
    p = np.arange(-32768, 32768, dtype=np.int32)
    p = np.stack([np.roll(p, 4099 * k) for k in range(c)])  # every value in every channel, channels different
    feed = {x_name: (p.astype(np.float32) / np.float32(32768.0)).reshape(1, c, -1)}
    (q,) = run_island(g, nodes + ([qnode] if qnode not in nodes else []), feed, [qnode.output[0]])
    hi, lo = pcm_bytes(np.pad(p, [(0, 0), pad]))  # padded samples: the bytes of PCM 0
    same = q.dtype == np.int8 and q.shape == (1, 2 * c, hi.shape[-1])
    if not (same and np.array_equal(q[0, :c], hi) and np.array_equal(q[0, c:], lo)):
        raise FqssError("TFLite export: the input_splitter island does not compute the PCM16 bytes "
                        "[p >> 8, (p & 0xFF) - 128] as int8 channels, byte-major (checked on all 65536 values"
                        + (f", padded with {pad} zero samples)" if any(pad) else ")"))


def _island_pad(ctx, nodes) -> tuple[int, int]:
    """(left, right) zero samples of the island's Pad node on the time axis (the model's moved input padding)."""
    pads = [n for n in nodes if n.op_type == "Pad"]
    if not pads:
        return 0, 0
    if len(pads) > 1:
        raise ctx.fail(pads[1], "the input_splitter island holds more than one Pad")
    node = pads[0]
    amounts = ctx.g.const(node.input[1])
    if amounts is None or amounts.size != 6 or np.any(amounts[[0, 1, 3, 4]] != 0) or np.any(amounts < 0):
        raise ctx.fail(node, f"the input_splitter pads only the time axis of [1, C, T], not {amounts}")
    if len(node.input) > 2 and node.input[2]:
        value = ctx.g.const(node.input[2])
        if value is None or np.any(value != 0):
            raise ctx.fail(node, "the input_splitter pads with zeros (silence) only")
    return int(amounts[2]), int(amounts[5])


BITWISE_RUNTIME = (2, 13, 0)  # RIGHT_SHIFT and BITWISE_XOR version 1 (runtime_version.cc)


def _bitwise_bytes(b, pcm_std, out_name: str):
    """hi = CAST(p >> 8), lo = CAST(p) ^ 0x80 (the low byte, wrapped, with its top bit flipped)."""
    shape, dyn = pcm_std.shape, pcm_std.dynamic
    hi16 = b.tensor(f"{out_name}/hi16", shape, np.int16, None, dyn)
    b.op(B.RIGHT_SHIFT, [pcm_std, b.const(f"{out_name}/eight", np.array([8], dtype=np.int16))], [hi16],
         schema.RightShiftOptionsT())
    hi = cast(b, hi16, np.int8, BYTE, f"{out_name}/hi")
    lo_raw = cast(b, pcm_std, np.int8, BYTE, f"{out_name}/low_byte")
    lo = b.tensor(f"{out_name}/lo", shape, np.int8, BYTE, dyn)
    b.op(B.BITWISE_XOR, [lo_raw, b.const(f"{out_name}/sign_bit", np.array([-128], dtype=np.int8))], [lo],
         schema.BitwiseXorOptionsT())
    return hi, lo


def _arithmetic_bytes(b, pcm_std, out_name: str):
    """The same bytes with int16 ADD / SUB (general scales, TF Lite 2.4) and CAST (2.8), for older runtimes.

    Every multiplier these ops derive is a power of two, so each step is exact whatever the rounding rule:
    ``hi16 = ADD(p @ 1/32768, -255 @ 1/65536) @ 1/128`` is ``round((2p - 255) / 512)``, never a tie (odd / 512),
    which is ``floor(p / 256)``; ``SUB(p @ 1/32768, hi16 @ 1/128) @ 1/32768 = p - 256 hi`` in [0, 255]; minus 128
    (SUB of a constant, same scale) it fits int8 and CASTs exactly."""
    shape, dyn = pcm_std.shape, pcm_std.dynamic
    add, sub = schema.AddOptionsT(), schema.SubOptionsT()
    add.potScaleInt16 = sub.potScaleInt16 = False
    hi16 = b.tensor(f"{out_name}/hi16", shape, np.int16, Quant.make(1.0 / 128, 0), dyn)
    b.op(B.ADD, [pcm_std, b.const(f"{out_name}/minus_half_byte", np.full((1,) * len(shape), -255, np.int16),
                                  Quant.make(1.0 / 65536, 0))], [hi16], add)
    low16 = b.tensor(f"{out_name}/low16", shape, np.int16, PCM16, dyn)
    b.op(B.SUB, [pcm_std, hi16], [low16], sub)
    lo16 = b.tensor(f"{out_name}/lo16", shape, np.int16, PCM16, dyn)
    b.op(B.SUB, [low16, b.const(f"{out_name}/half_byte", np.full((1,) * len(shape), 128, np.int16), PCM16)], [lo16],
         sub)
    return cast(b, hi16, np.int8, BYTE, f"{out_name}/hi"), cast(b, lo16, np.int8, BYTE, f"{out_name}/lo")


def emit_split(ctx, pcm_std, out_name: str):
    """int16 PCM [1, 1, T, C] (scale 1/32768) -> int8 [1, 1, T, 2 C] = [hi, lo] bytes (scale 1/128). RIGHT_SHIFT /
    BITWISE_XOR unless the export must load on a runtime older than 2.13 (``ctx.min_runtime``)."""
    b = ctx.b
    shape, dyn = pcm_std.shape, pcm_std.dynamic
    old = ctx.min_runtime is not None and ctx.min_runtime < BITWISE_RUNTIME
    hi, lo = (_arithmetic_bytes if old else _bitwise_bytes)(b, pcm_std, out_name)
    out = b.tensor(out_name, shape[:3] + (2 * shape[3],), np.int8, BYTE, dyn)
    opt = schema.ConcatenationOptionsT()
    opt.axis = 3
    b.op(B.CONCATENATION, [hi, lo], [out], opt)
    return out


@register("island:input_splitter",
          writes=(B.QUANTIZE, B.RESHAPE, B.PAD, B.RIGHT_SHIFT, B.CAST, B.BITWISE_XOR, B.ADD, B.SUB,
                  B.CONCATENATION),
          no_twin="a float graph keeps the island's Mul / Floor / Clip / Sub / Concat nodes, converted one by one",
          tflite="RESHAPE, [int16 PAD,] RIGHT_SHIFT, CAST, BITWISE_XOR, CONCATENATION (exact bytes); for runtimes "
                 "before 2.13 (--min-runtime): int16 ADD, SUB, CAST instead of RIGHT_SHIFT / BITWISE_XOR",
          bits=(8,), pattern="island input_splitter/*: mixture -> bytes -> QuantizeLinear(1/128, 0)",
          constraints="verified on all 65536 PCM values; graph input [1, C, T]")
def convert_input_splitter(ctx, nodes) -> None:
    g = ctx.g
    ctx.claim(*nodes)
    _, outs = island_boundary(g, nodes)
    if len(outs) != 1:
        raise FqssError(f"TFLite export: the input_splitter island has {len(outs)} outputs ({outs}); expected one")
    qnode = g.producer[outs[0]] if g.producer[outs[0]].op_type == "QuantizeLinear" else None
    if qnode is None:
        cons = g.consumers.get(outs[0], [])
        if len(cons) != 1 or cons[0].op_type != "QuantizeLinear":
            raise FqssError("TFLite export: the input_splitter island output must feed one QuantizeLinear")
        qnode = cons[0]
        ctx.claim(qnode)
    q = g.qparams(qnode)
    if q.bits != 8 or float(q.scale.reshape(-1)[0]) != 1.0 / 128 or int(q.zero_point.reshape(-1)[0]) != 0:
        raise ctx.fail(qnode, f"the input_splitter output must be int8 scale 1/128 zero point 0, not {q.describe()}")
    pad = _island_pad(ctx, nodes)
    _verify(ctx, nodes, qnode, pad)
    t, shape, dyn = graph_input(ctx, g.inputs[0])
    if len(shape) != 3 or shape[0] != 1:
        raise FqssError(f"TFLite export: the input_splitter expects a [1, C, T] input, not {shape}")
    if t.dtype == np.float32:
        t = quantize(ctx.b, t, np.int16, PCM16, "pcm")
    c = shape[1]
    pcm = to_std_layout(ctx.b, t, shape, dyn, "pcm") if c > 1 else \
        reshape(ctx.b, t, (1, 1, shape[2], 1), (False, False, dyn[2], False), "pcm/nhwc")
    if any(pad):  # int16 PAD pads with the zero point 0: PCM silence, whose bytes are [0, -128]
        padded = ctx.b.tensor("pcm/padded", (1, 1, shape[2] + sum(pad), c), np.int16, pcm.quant, pcm.dynamic)
        ctx.b.op(B.PAD, [pcm, ctx.b.const("pcm/paddings", np.array([[0, 0], [0, 0], list(pad), [0, 0]], np.int32))],
                 [padded])
        pcm = padded
    ctx.define(qnode.output[0], emit_split(ctx, pcm, qnode.output[0]))
    ctx.facts["input_splitter"] = True
