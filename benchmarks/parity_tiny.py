"""Parity of a trained tiny FQSS model across runtimes: 20 speech mixtures (by default the synthesized-speech test
split, held-out speakers; ``--data`` another folder, e.g. the real-speech test split) scored in SI-SDR, or the
rendered music test tracks scored in museval SDR (``--metric museval``).

Exports the checkpoint (model.onnx + model.tflite), then runs the PyTorch simulation, onnxruntime (optimisation
off and all) and LiteRT (reference kernels, default kernels, XNNPACK) on the same mixtures and records the
table in benchmarks/results/parity_tiny_fqss.{md,json} (``--name``).

    .venv/bin/python benchmarks/parity_tiny.py [--checkpoint CKPT] [--data DIR] [--utts 20] [--per-layer]
    .venv/bin/python benchmarks/parity_tiny.py --metric museval --data benchmarks/work/music \
        --checkpoint benchmarks/work/qat_methods_music/waveunet_lite_tiny/runs/fqss/best.safetensors \
        --name parity_waveunet_lite_tiny_fqss

``--per-layer`` also compares every quantized tensor (onnxruntime, LiteRT reference and builtin kernels) and
writes ``<name>_layers.md``: where each runtime first differs, and how far it has drifted at the key tensors of
every TCN block (% of codes exact, mean |difference| in codes of that tensor).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from fqss_edge.bench.pages import write_page
from fqss_edge.export.bundle import export_bundle
from fqss_edge.models.io import load_model
from fqss_edge.parity import run_parity
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "benchmarks/work/qat_methods/runs/fqss/best.safetensors")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks/work/qat_methods/data/test")
    ap.add_argument("--utts", type=int, default=20)
    ap.add_argument("--name", default="parity_tiny_fqss")
    ap.add_argument("--onnx-only", action="store_true", help="export and compare model.onnx only")
    ap.add_argument("--per-layer", action="store_true", help="also compare every quantized tensor (slower)")
    ap.add_argument("--metric", choices=("si_sdr", "museval"), default="si_sdr",
                    help="si_sdr: mean over utterances; museval: BSSEval v4 SDR, median over 1 s windows then over "
                         "tracks (music stems: --data a MUSDB18-HQ-layout folder)")
    ap.add_argument("--metric-jobs", type=int, default=1, help="worker processes scoring the metric (museval)")
    ap.add_argument("--length", type=int, default=None,
                    help="fix the .tflite's input length in samples (DPRNN, DPTNet: their LSTM batch follows it); "
                         "the runtimes then run the mixtures in windows of that length")
    args = ap.parse_args()
    ckpt = args.checkpoint.resolve()
    shown = ckpt.relative_to(ROOT) if ckpt.is_relative_to(ROOT) else ckpt
    loaded = load_model(args.checkpoint)
    model_cfg = loaded.config.model
    deleg_length = loaded.model.valid_length(4 * model_cfg.sample_rate)  # 4 s (32000 samples at 8 kHz)
    with tempfile.TemporaryDirectory() as tmp:
        formats = ("onnx",) if args.onnx_only else ("onnx", "tflite")
        bundle = export_bundle(args.checkpoint, Path(tmp), formats=formats, length=args.length)
        deleg = xnnpack_delegation(bundle.tflite, length=args.length or deleg_length) if bundle.tflite else None
        full = run_parity(args.checkpoint, bundle.files, args.data, max_utts=args.utts, per_layer=args.per_layer,
                          metric=args.metric, metric_jobs=args.metric_jobs)
    # the output table as without --per-layer; the layers go to <name>_layers.md
    report = dataclasses.replace(full, runtimes=[dataclasses.replace(rt, layers=None) for rt in full.runtimes])
    command = "python benchmarks/parity_tiny.py " + " ".join(sys.argv[1:])
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(report.to_json())
    arch, seconds = model_cfg.name, (args.length or deleg_length) / model_cfg.sample_rate
    what = ("rendered music test tracks (held-out voice and compositions), museval SDR" if args.metric == "museval"
            else f"speech mixtures of `{args.data}`")
    md = (f"# Parity, tiny {arch}, {report.n_utts} {what}\n\n"
          f"Command: `{command.strip()}`  \nCheckpoint: `{shown}`\n\n"
          + (f"XNNPACK delegation of model.tflite ({seconds:g} s input): "
             f"{deleg['delegated']}/{deleg['operators']} operators, "
             f"{deleg['partitions']} partitions; left to TFLite kernels: {deleg['not_delegated']}"
             + (f" (.tflite fixed at {args.length} samples; mixtures run in windows of it)" if args.length else "")
             + "\n\n" if deleg else "")
          + report.to_markdown())
    write_page(out / f"{args.name}.md", md)  # keeps the page's hand-written notes
    print(md)
    if args.per_layer:
        layers_md = drift_table(full, command, shown)
        (out / f"{args.name}_layers.md").write_text(layers_md)
        print(layers_md)
    return 0


KEY_TENSORS = ("act1.out_quant", "norm1.q_mean", "norm1.out_quant", "norm2.q_mean", "res_add.out_quant")


def drift_table(report, command: str, checkpoint: Path) -> str:  # noqa: ANN001
    """Per runtime with layers: first differing layers, then % exact / mean |diff| (codes) at key tensors."""
    rts = [rt for rt in report.runtimes if rt.layers]
    lines = [f"# Parity per layer, tiny FQSS Conv-TasNet, {report.n_utts} mixtures", "",
             f"Command: `{command.strip()}`  \nCheckpoint: `{checkpoint}`", "",
             "Differences in codes of each tensor's own quantizer, against the PyTorch simulation. XNNPACK keeps its "
             "tensors inside the delegate, so it has no per-layer figures.", "",
             "| runtime | first layer that differs | first layer off by > 1 code | output SQNR (dB) |",
             "|---|---|---|---:|"]
    for rt in rts:
        first_any = f"`{rt.first_different_layer}`" if rt.first_different_layer else "none"
        first_big = f"`{rt.first_divergent_layer}`" if rt.first_divergent_layer else "none"
        lines.append(f"| {rt.runtime} | {first_any} | {first_big} | {rt.overall.sqnr_db:.1f} |")
    names = [lay.layer for lay in rts[0].layers] if rts else []
    keys = [n for n in names if n in ("enc_act.out_quant", "masker.bottleneck.out_quant", "masker.mask_act.out_quant")
            or n.endswith(KEY_TENSORS)]
    lines += ["", "% of codes exact (mean |difference| in codes):", "",
              "| tensor | " + " | ".join(rt.runtime for rt in rts) + " |", "|---|" + "---:|" * len(rts)]
    by_rt = [{lay.layer: lay for lay in rt.layers} for rt in rts]
    for n in keys:
        cells = []
        for d in by_rt:
            lay = d.get(n)
            cells.append("-" if lay is None else f"{lay.pct_exact:.2f} ({lay.mean_lsb:.3f})")
        lines.append(f"| `{n}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
