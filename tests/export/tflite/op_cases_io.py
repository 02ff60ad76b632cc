"""One-node cases: graph inputs and outputs (PCM16 / float32 I/O, the FQSS input splitter and output
reconstruction islands) and the float-only ops of the splitter's float form."""

from __future__ import annotations

from op_case_kit import Case, f32
from qdq_builder import QDQ, fqss_identity_model, vanilla_model


def c_pcm16_in_out(bits):  # int16 PCM in and out: QUANTIZE at both ends, TRANSPOSEs to and from [N, 1, T, C]
    b = QDQ(channels=3, length=16)
    x = b.input(0.01, 0)
    b.output(b.op("Relu", [b.dq(x)], (0.003, -128)))
    return b


def c_floor(bits):
    b = QDQ(channels=3, length=16)
    b.float_output(b.node("Floor", [b.node("Mul", ["mixture", b.const(f32(100.0))])]))
    return b


def c_clip_one_sided(bits):
    b = QDQ(channels=2, length=16)
    b.float_output(b.node("Clip", ["mixture", "", b.const(f32(0.25))]))
    return b


def c_input_splitter_float(bits):  # the float form of the FQSS input splitter: PCM bytes with Floor and Clip
    b = QDQ(channels=1, length=48)
    c = lambda v: b.const(f32(v))  # noqa: E731
    hi_x = b.node("Mul", ["mixture", c(128.0)])
    hi = b.node("Clip", [b.node("Floor", [hi_x]), c(-128.0), c(127.0)])
    lo = b.node("Floor", [b.node("Mul", [b.node("Sub", [hi_x, hi]), c(256.0)])])
    lo = b.node("Clip", [b.node("Sub", [lo, c(128.0)]), c(-128.0), c(127.0)])
    b.float_output(b.node("Mul", [b.node("Concat", [hi, lo], axis=1), c(1 / 128)]))
    return b



CASES: dict[str, list[Case]] = {
    "Floor": [Case("floor", c_floor, bits=())],
    "Clip": [Case("one_sided", c_clip_one_sided, bits=()),
             Case("input_splitter_float", c_input_splitter_float, bits=())],
    "island:input": [Case("pcm16", c_pcm16_in_out, io="int16"),
                     Case("float32", c_pcm16_in_out, io="float32")],
    "island:output": [Case("vanilla_pcm16", lambda bits: vanilla_model(16)[0], io="int16"),
                      Case("vanilla_pcm16_zp0", lambda bits: vanilla_model(16, out_zero_point=0)[0], io="int16"),
                      Case("vanilla_float32", lambda bits: vanilla_model(16)[0], io="float32")],
    "island:input_splitter": [Case("pcm16_bytes", lambda bits: fqss_identity_model(256), io="int16", tol=0),
                              Case("pcm16_bytes_before_2_13", lambda bits: fqss_identity_model(256), io="int16",
                                   tol=0, min_runtime="2.12"),
                              Case("float32_bytes", lambda bits: fqss_identity_model(256), io="float32", tol=0),
                              Case("pcm16_bytes_padded", lambda bits: fqss_identity_model(256, pad=(2, 3)),
                                   io="int16", tol=0)],
    "island:output_reconstruction": [Case("two_sources_float32", lambda bits: fqss_identity_model(256, sources=2),
                                          io="float32", tol=0)],
}
