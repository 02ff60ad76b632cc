"""Where XNNPACK and TFLite's own kernels compute an integer model differently, operator by operator
(``fqss_edge.bench.agreement``), on a real input: per operator type, how many of its operators XNNPACK takes, how
many of those give a different code anywhere, the share of output codes that differ and the largest difference.

    python benchmarks/xnnpack_agreement.py MODEL.tflite --wav MIXTURE.wav [--seconds 4] --name NAME

writes ``benchmarks/results/NAME.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from fqss_edge.bench.agreement import group_agreement, kernel_agreement
from fqss_edge.runtimes.litert_backend import LiteRtBackend

ROOT = Path(__file__).resolve().parents[1]


def model_input(path: Path, wav: Path, seconds: float) -> tuple[np.ndarray, int]:
    """The model's input from ``wav`` (its first ``seconds``, resampled to the model's rate): 16-bit PCM codes or
    float, mono or the file's channels, as the model's input tensor wants; and its length in samples."""
    from ai_edge_litert.interpreter import Interpreter

    d = Interpreter(model_path=str(path)).get_input_details()[0]
    contract = LiteRtBackend(kernels="builtin").load(path).io_contract
    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    x = x[: int(round(seconds * sr))]
    x = (soxr.resample(x, sr, contract.sample_rate) if sr != contract.sample_rate else x).T  # [channels, T]
    n = contract.call_length(x.shape[-1])  # a length the model takes: cropped or zero-padded to it
    x = np.pad(x[:, :n], ((0, 0), (0, max(n - x.shape[-1], 0))))
    channels = int(np.prod(d["shape"][1:-1])) if len(d["shape"]) > 2 else 1
    if channels == 1:
        x = x.mean(0, keepdims=True)
    elif x.shape[0] != channels:
        sys.exit(f"{wav}: {x.shape[0]} channel(s), the model takes {channels}")
    if np.dtype(d["dtype"]) == np.int16:
        x = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return x.astype(d["dtype"]), x.shape[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tflite", type=Path)
    ap.add_argument("--wav", type=Path, required=True, help="a real input (e.g. a test mixture)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--name", required=True)
    args = ap.parse_args()
    x, n = model_input(args.tflite, args.wav, args.seconds)
    rows = kernel_agreement(args.tflite, x)
    summary = group_agreement(rows)
    cmd = " ".join(["python benchmarks/xnnpack_agreement.py", str(args.tflite), "--wav", f"'{args.wav}'",
                    "--seconds", str(args.seconds), "--name", args.name])
    lines = [f"# XNNPACK vs TFLite builtin kernels, operator by operator: `{args.tflite.name}`", "",
             f"Command: `{cmd}`  ", f"Input: {n} samples of `{args.wav}` (at the model's rate)", "",
             "Each operator alone on the inputs it receives in the whole model (builtin kernels); outputs of the "
             "operators XNNPACK takes compared code by code.", "",
             "| operator | output | operators | taken by XNNPACK | differing | codes | codes differing % "
             "| max difference |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| {s['op']} | {s['dtype']} | {s['operators']} | {s['xnnpack']} | {s['operators_differing']} | "
                     f"{s['elements']} | {s['differing_pct']:.3f} | {s['max_diff']:g} |")
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results"
    (out / f"{args.name}.md").write_text(text)
    (out / f"{args.name}.json").write_text(json.dumps({"command": cmd, "summary": summary, "operators": rows},
                                                      indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
