"""Two .tflite files of one model, written before and after an exporter change that must not change a code (the
framed strided convolutions and the float islands of issue 20): XNNPACK delegation of each, the float islands and
int8 RSQRTs each holds, and the largest output difference on every mixture of a test set with LiteRT's reference
kernels and with XNNPACK.

    python benchmarks/frames_islands.py BEFORE.tflite AFTER.tflite --data fqss_edge/assets/test_set \\
        [--out benchmarks/results/frames_islands.md]

Speed per operator: ``fqss-edge bench MODEL.tflite --chunk 4 --threads 1 --op-profile ops.csv`` on each file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from fqss_edge.audio import read_wav
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.runtimes.litert_backend import LiteRtBackend, xnnpack_delegation


def islands(path: Path) -> str:
    names = ReferenceModel.from_file(path).op_names()
    return f"{names.count('DEQUANTIZE')} DEQUANTIZE, {names.count('RSQRT')} RSQRT (int8 or float32)"


def max_diffs(before: Path, after: Path, mixtures: list[Path], kernels: str) -> list[int]:
    a, b = LiteRtBackend(kernels=kernels).load(before), LiteRtBackend(kernels=kernels).load(after)
    out = []
    for m in mixtures:
        x, _ = read_wav(m)
        ya, yb = a.run(x[0]), b.run(x[0])
        out.append(int(np.round(np.abs(ya.astype(np.float64) - yb).max() / a.io_contract.output_lsb)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="a test set folder (mix/*.wav)")
    ap.add_argument("--length", type=int, default=32000, help="input length for the delegation report")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    mixtures = sorted((args.data / "mix").glob("*.wav"))
    lines = [f"# {args.before.name} (before) vs {args.after.name} (after)", "",
             f"`python benchmarks/frames_islands.py {args.before} {args.after} --data {args.data}`", "",
             "| file | XNNPACK ops | partitions | not delegated | islands |", "|---|---|---|---|---|"]
    for name, p in (("before", args.before), ("after", args.after)):
        d = xnnpack_delegation(p, length=args.length)
        lines.append(f"| {name} | {d['delegated']}/{d['operators']} | {d['partitions']} | {d['not_delegated']} | "
                     f"{islands(p)} |")
    lines += ["", f"Largest |after - before| per mixture ({len(mixtures)} of `{args.data}`), output LSB:", ""]
    for kernels in ("ref", "xnnpack"):
        lines.append(f"- LiteRT {kernels}: {max_diffs(args.before, args.after, mixtures, kernels)}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
