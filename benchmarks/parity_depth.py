"""How parity between runtimes depends on depth: the trained tiny FQSS model cut after its first k TCN blocks.

Every runtime rounds a little differently (TFLite: fixed-point multipliers with double rounding; onnxruntime's
integer kernels and XNNPACK: float32 requantization; onnxruntime without optimisation: float32 sums). Where a
value lies that close to a rounding boundary, a runtime picks the other code, and the following layers carry
the flip on (``parity_sensitivity.md``). This benchmark measures how far that goes with depth on real weights
and real speech: it keeps the encoder, the first k TCN blocks (their skip sum goes straight to the mask head),
the mask head and the decoder of the trained checkpoint, with every quantizer as trained, exports each cut
(ONNX + .tflite) and runs the same parity as ``fqss-edge parity``. The cut models separate worse than the whole
one (their later blocks are missing); only the agreement between runtimes is the point here.

    .venv/bin/python benchmarks/parity_depth.py [--checkpoint CKPT] [--data DIR] [--utts 20] [--blocks 1 2 3 6 12]

Writes ``benchmarks/results/parity_depth.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.checkpoint import load_checkpoint, save_checkpoint
from fqss_edge.data.common import normalize_peak, read_mono
from fqss_edge.export.bundle import export_bundle
from fqss_edge.parity import run_parity
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.litert_backend import LiteRtBackend

ROOT = Path(__file__).resolve().parents[1]
PAIRS = (("pytorch", "onnxruntime[opt=off]"), ("pytorch", "onnxruntime[opt=all]"), ("pytorch", "litert-ref"),
         ("pytorch", "litert-builtin"), ("pytorch", "litert-xnnpack"), ("onnxruntime[opt=off]", "onnxruntime[opt=all]"),
         ("litert-ref", "litert-builtin"), ("litert-ref", "litert-xnnpack"))


def cut_checkpoint(src: Path, k: int, dst: Path) -> Path:
    """The checkpoint with only its first ``k`` TCN blocks (one repeat of k blocks, the same dilations)."""
    ck = load_checkpoint(src)
    model_cfg = ck.config["model"]
    per_repeat = int(model_cfg["n_blocks"])
    total = per_repeat * int(model_cfg["n_repeats"])
    if not 1 <= k <= total:
        raise SystemExit(f"--blocks {k}: the checkpoint has {total} TCN blocks")
    cfg = copy.deepcopy(ck.config)
    if k < total:
        if k > per_repeat:
            raise SystemExit(f"--blocks {k}: a cut must lie within the first repeat ({per_repeat} blocks) or be all")
        cfg["model"]["n_blocks"], cfg["model"]["n_repeats"] = k, 1
    keep = {n: t for n, t in ck.state_dict.items()
            if not n.startswith("masker.blocks.") or int(n.split(".")[2]) < k}
    return save_checkpoint(dst, keep, cfg, dict(ck.meta, cut_after_blocks=k))


def pair_sqnr(report: Any, a: str, b: str) -> float | None:
    rows = report.pairwise_sqnr_db
    ka = next((r for r in rows if r.split(" ")[0] == a), None)
    kb = next((r for r in rows if r.split(" ")[0] == b), None)
    return None if ka is None or kb is None else rows[ka].get(kb)


def first_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """The first tensor (execution order of ``a``) whose codes differ between two runs of the same mixture."""
    for name, x in a.items():
        y = b.get(name)
        if y is not None and y.shape == x.shape and not np.array_equal(x, y):
            return {"tensor": name, "pct_differing": round(100.0 * float(np.mean(x != y)), 4)}
    return None


def first_mixture(data: Path, sample_rate: int) -> np.ndarray:
    mix = sorted((data / "mix").glob("*.wav"))[0]
    x = read_mono(mix, sample_rate)
    return normalize_peak(x, x[None])[0].astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "benchmarks/work/qat_methods/runs/fqss/best.safetensors")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks/work/qat_methods/data/test")
    ap.add_argument("--utts", type=int, default=20)
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 3, 6, 12])
    args = ap.parse_args()
    t0 = time.time()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.blocks:
            ckpt = cut_checkpoint(args.checkpoint, k, Path(tmp) / f"cut{k}.safetensors")
            bundle = export_bundle(ckpt, Path(tmp) / f"cut{k}", formats=("onnx", "tflite"))
            report = run_parity(ckpt, bundle.files, args.data, max_utts=args.utts)
            sim = open_backend(ckpt)  # where the runs part, on one mixture: same file, same input
            x = first_mixture(args.data, sim.io_contract.sample_rate)
            ref = LiteRtBackend("ref").load(bundle.tflite).intermediates(x)
            firsts = {"litert-ref vs litert-builtin": first_difference(
                          ref, LiteRtBackend("builtin").load(bundle.tflite).intermediates(x)),
                      "pytorch vs litert-ref": first_difference(sim.intermediates(x), ref)}
            row = {"blocks": k, "pytorch_si_sdr_db": report.reference_si_sdr_db,
                   "sqnr_db": {f"{a} vs {b}": pair_sqnr(report, a, b) for a, b in PAIRS},
                   "delta_si_sdr_db": {rt.runtime: rt.overall.delta_si_sdr_db for rt in report.runtimes},
                   "pct_exact": {rt.runtime: rt.overall.pct_exact for rt in report.runtimes},
                   "first_difference": firsts}
            rows.append(row)
            print(json.dumps(row), flush=True)
    rec = {"command": "python benchmarks/parity_depth.py " + " ".join(sys.argv[1:]),
           "checkpoint": str(args.checkpoint.relative_to(ROOT)) if args.checkpoint.is_relative_to(ROOT)
           else str(args.checkpoint), "utterances": args.utts, "rows": rows, "seconds": round(time.time() - t0, 1)}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "parity_depth.json").write_text(json.dumps(rec, indent=2))
    heads = [f"{a} vs {b}".replace("onnxruntime", "ORT").replace("[opt=", "[") for a, b in PAIRS]
    md = ["# Parity between runtimes against depth (the trained tiny FQSS model cut after k TCN blocks)", "",
          f"`{rec['command'].strip()}`: checkpoint `{rec['checkpoint']}`, {args.utts} test mixtures per cut, "
          f"{rec['seconds']} s. SQNR between the separated outputs of two runtimes, dB (all sources); "
          "the target is 40 dB.", "",
          "| TCN blocks | " + " | ".join(heads) + " |", "|---:|" + "---:|" * len(heads)]
    for r in rows:
        cells = ["—" if v is None else f"{v:.1f}" for v in r["sqnr_db"].values()]
        md.append(f"| {r['blocks']} | " + " | ".join(cells) + " |")
    md += ["", "ΔSI-SDR against the PyTorch simulation (dB):", "",
           "| TCN blocks | PyTorch PIT SI-SDR (dB, mean of sources) | "
           + " | ".join(rows[0]["delta_si_sdr_db"]) + " |", "|---:|---:|" + "---:|" * len(rows[0]["delta_si_sdr_db"])]
    for r in rows:
        si = sum(r["pytorch_si_sdr_db"].values()) / max(len(r["pytorch_si_sdr_db"]), 1)
        md.append(f"| {r['blocks']} | {si:.2f} | " + " | ".join(f"{v:+.3f}" for v in r["delta_si_sdr_db"].values())
                  + " |")
    md += ["", "Where two runs of the first test mixture first part (first tensor whose codes differ, % of its codes "
           "that differ):", "", "| TCN blocks | " + " | ".join(rows[0]["first_difference"]) + " |",
           "|---:|" + "---|" * len(rows[0]["first_difference"])]
    for r in rows:
        cells = ["none" if f is None else f"`{f['tensor']}` ({f['pct_differing']:g} %)"
                 for f in r["first_difference"].values()]
        md.append(f"| {r['blocks']} | " + " | ".join(cells) + " |")
    (out / "parity_depth.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
