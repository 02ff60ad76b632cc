"""Writes ``docs/operators.md`` from the converter registries and the reference kernels:
``python -m fqss_edge.export.tflite.docs [--out docs/operators.md] [--check]`` (``--check``: fail if the file is
not up to date)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fqss_edge.export.tflite import ops as _ops  # noqa: F401  (registers the converters)
from fqss_edge.export.tflite import ops_float as _ops_float  # noqa: F401  (registers the float32 converters)
from fqss_edge.export.tflite.builder import operator_name
from fqss_edge.export.tflite.reference import KERNELS
from fqss_edge.export.tflite.registry import FLOAT32, INT8, OpSpec, twin

HEADER = """# TFLite operators written by `fqss_edge.export.tflite`

Generated from the converter registry by `python -m fqss_edge.export.tflite.docs`; do not edit by hand.

Integer path (the table below; float32 converters for plain float graphs are in the last section). Every
converter matches one QDQ ONNX pattern (`DQ -> Op -> Q`) and writes integer-only TFLite operators:
activations int8 (int16 with zero point 0 inside declared 16x8 islands), weights int8 per output channel with
zero points 0 and `quantized_dimension` set, biases int32 of scale `s_in * s_w`. Scales and zero points are
copied from the ONNX graph bit for bit. ONNX `(N, C, T)` tensors are laid out `[N, 1, T, C]` (rank 4
`[A, B, C, D]` as `[A, D, B, C]`), so convolution stacks need no TRANSPOSE. A node without a converter, or a
pattern a converter does not accept, fails the export with the node's name: there is no float fallback.
Every builtin a converter writes has a kernel in the integer reference interpreter (`export/tflite/reference/`,
which agrees with LiteRT's BUILTIN_REF kernels bit for bit); the last column is the converter's float32 form.

| ONNX op / pattern | TFLite | bit widths | matched pattern | constraints | reference kernels | float32 twin |
|---|---|---|---|---|---|---|
"""

FOOTER = """
I/O (``export(..., io=...)``): `int16` (default) takes 16-bit PCM `[1, T]` and returns 16-bit PCM `[n_src, T]`;
`float32` takes and returns the same signals as float32 / 32768; `quantized` exposes the model's first and last
quantized tensors. `length=N` writes fixed shapes (otherwise T is resizable; a ConvTranspose then becomes
PAD + CONV_2D + RESHAPE, the same integer sums as TRANSPOSE_CONV, since TRANSPOSE_CONV's output shape is a
constant tensor).
"""

FLOAT_HEADER = """
## float32

A plain float ONNX graph (`fqss-edge export CKPT --float`, no QuantizeLinear / DequantizeLinear) is written as a
float32 model by a separate registry (`export/tflite/ops_float/`), for side-by-side float vs int8 benchmarks:
the same `[N, 1, T, C]` layout and, wherever the operation is the same, the same TFLite operators as the integer
path, so that XNNPACK takes the whole graph. I/O is float32 only: the waveform `[1, T]` in `[-1, 1)` in, the
sources `[n_src, T]` out. A node without a float32 converter fails the export with its name and op type; a QDQ
graph is never converted by these converters, nor a float graph by the integer ones. Float32 files are checked
against onnxruntime, not by the integer reference interpreter (float kernels are not reproducible bit for bit).

| ONNX op / pattern | TFLite | matched pattern | constraints | int8 twin |
|---|---|---|---|---|
"""


def _cell(t: str) -> str:
    return t.replace("|", "\\|").replace("\n", " ")


def _kernels(s: OpSpec) -> str:
    """The builtins written, grouped by their reference kernel: ``CONV_2D, DEPTHWISE_CONV_2D: `conv.conv_2d` ``."""
    groups: dict[str, list[str]] = {}
    for code in s.writes:
        k = KERNELS.get(code)
        where = f"`{k.fn.__module__.rsplit('.', 1)[-1]}.{k.fn.__name__}`" if k is not None else "**none**"
        groups.setdefault(where, []).append(operator_name(code))
    return "; ".join(f"{', '.join(names)}: {where}" for where, names in groups.items())


def _twin(s: OpSpec) -> str:
    t = twin(s)
    if t is None:
        return f"none: {_cell(s.no_twin)}" if s.no_twin else "**none**"
    return "`" + "/".join(t.fn.__module__.split(".")[-2:]) + ".py`"


def _int_row(s: OpSpec) -> str:
    bits = ", ".join(f"int{b}" for b in s.bits)
    return (f"| `{s.op_type}` | {_cell(s.tflite)} | {bits} | {_cell(s.pattern)} | {_cell(s.constraints)} "
            f"| {_kernels(s)} | {_twin(s)} |")


def _float_row(s: OpSpec) -> str:
    return f"| `{s.op_type}` | {_cell(s.tflite)} | {_cell(s.pattern)} | {_cell(s.constraints)} | {_twin(s)} |"


def render() -> str:
    rows = [_int_row(s) for s in INT8.specs()]
    float_rows = [_float_row(s) for s in FLOAT32.specs()]
    return HEADER + "\n".join(rows) + "\n" + FOOTER + FLOAT_HEADER + "\n".join(float_rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fqss_edge.export.tflite.docs", description=__doc__)
    ap.add_argument("--out", default="docs/operators.md", help="file to write (default: docs/operators.md)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from the registry")
    a = ap.parse_args(argv)
    out = Path(a.out)
    text = render()
    if a.check:
        ok = out.is_file() and out.read_text() == text
        print(f"{out}: {'up to date' if ok else 'out of date (regenerate it)'}")
        return 0 if ok else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out} ({len(INT8.specs())} int8 and {len(FLOAT32.specs())} float32 converters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
