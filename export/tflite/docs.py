"""Writes ``docs/operators.md`` from the converter registry: ``python -m fqss_edge.export.tflite.docs
[--out docs/operators.md] [--check]`` (``--check``: fail if the file is not up to date)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fqss_edge.export.tflite import ops as _ops  # noqa: F401  (registers the converters)
from fqss_edge.export.tflite.registry import specs

HEADER = """# TFLite operators written by `fqss_edge.export.tflite`

Generated from the converter registry by `python -m fqss_edge.export.tflite.docs`; do not edit by hand.

Every converter matches one QDQ ONNX pattern (`DQ -> Op -> Q`) and writes integer-only TFLite operators:
activations int8 (int16 with zero point 0 inside declared 16x8 islands), weights int8 per output channel with
zero points 0 and `quantized_dimension` set, biases int32 of scale `s_in * s_w`. Scales and zero points are
copied from the ONNX graph bit for bit. ONNX `(N, C, T)` tensors are laid out `[N, 1, T, C]` (rank 4
`[A, B, C, D]` as `[A, D, B, C]`), so convolution stacks need no TRANSPOSE. A node without a converter, or a
pattern a converter does not accept, fails the export with the node's name: there is no float fallback.

| ONNX op / pattern | TFLite | bit widths | matched pattern | constraints |
|---|---|---|---|---|
"""

FOOTER = """
I/O (``export(..., io=...)``): `int16` (default) takes 16-bit PCM `[1, T]` and returns 16-bit PCM `[n_src, T]`;
`float32` takes and returns the same signals as float32 / 32768; `quantized` exposes the model's first and last
quantized tensors. `length=N` writes fixed shapes (otherwise T is resizable; a ConvTranspose then becomes
PAD + CONV_2D + RESHAPE, the same integer sums as TRANSPOSE_CONV, since TRANSPOSE_CONV's output shape is a
constant tensor).
"""


def render() -> str:
    rows = []
    for s in specs():
        bits = ", ".join(f"int{b}" for b in s.bits)
        cell = lambda t: t.replace("|", "\\|").replace("\n", " ")  # noqa: E731
        rows.append(f"| `{s.op_type}` | {cell(s.tflite)} | {bits} | {cell(s.pattern)} | {cell(s.constraints)} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


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
    print(f"wrote {out} ({len(specs())} converters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
