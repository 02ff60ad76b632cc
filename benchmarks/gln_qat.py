"""gLN statistics in int16 (``norm_bits: 16``) vs all-int8 (``norm_bits: 8``, split squares) after FQSS QAT.

Same data, float teacher and QAT budget as ``benchmarks/qat_methods.py`` (run that first: it builds the
synthesized-speaker set and trains the float model), one FQSS QAT run per norm_bits and seed, test SI-SDRi of
the PyTorch simulation on the held-out test mixtures. Runs go ``--jobs`` at a time, one torch thread each.

Writes ``benchmarks/results/gln_qat.{json,md}``:

    .venv/bin/python benchmarks/gln_qat.py                      # the recorded run (~20 min on 2 cores)
    .venv/bin/python benchmarks/gln_qat.py --seeds 0 --qat-steps 5   # smoke run (not recorded)
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "qat_methods"


def run_one(norm_bits: int, seed: int, epochs: int, steps: int, out: Path) -> dict[str, Any]:
    import torch

    from fqss_edge.config import load_config
    from fqss_edge.evaluation_report import run_evaluation
    from fqss_edge.train.loop import train

    torch.set_num_threads(1)
    data = WORK / "data"
    cfg = load_config(ROOT / "configs" / "convtasnet_tiny.yaml").with_data_root(data).updated(
        quant={"norm_bits": norm_bits}, train={"seed": seed, "epochs": epochs, "max_steps_per_epoch": steps})
    if out.exists():
        shutil.rmtree(out)
    t0 = time.time()
    train(cfg, "fqss", out, WORK / "runs" / "float" / "best.safetensors", progress=False)
    mean = run_evaluation(out / "best.safetensors", data / "test", with_sdr=True, progress=False).as_dict()["mean"]
    row = {"norm_bits": norm_bits, "seed": seed, "si_sdri": mean["si_sdri"], "sdr": mean["sdr"], "n_test": mean["n"],
           "seconds": round(time.time() - t0, 1)}
    print(json.dumps(row), flush=True)
    return row


def to_markdown(rec: dict[str, Any]) -> str:
    bits = rec["norm_bits"]
    by = {(r["norm_bits"], r["seed"]): r for r in rec["rows"]}
    head = "| seed | " + " | ".join(f"norm_bits {b} SI-SDRi (dB)" for b in bits) + \
           (f" | {bits[1]} - {bits[0]} (dB)" if len(bits) == 2 else "") + " |"
    lines = [f"# gLN statistics after FQSS QAT: norm_bits {' vs '.join(map(str, bits))}", "",
             f"`{rec['command']}` — {rec['seconds']:.0f} s, {rec['date']}, {rec['machine']}", "",
             f"Tiny Conv-TasNet (`configs/convtasnet_tiny.yaml`), FQSS QAT from the qat_methods float model, "
             f"{rec['epochs']} x {rec['steps']} steps, test SI-SDRi of the PyTorch simulation on "
             f"{rec['rows'][0]['n_test']} held-out mixtures. norm_bits 16: int16 statistics island; norm_bits 8: "
             f"all int8, squares split into exact small ones and coarse large ones.", "",
             head, "|" + "---|" * (len(bits) + 1 + (len(bits) == 2))]
    for s in rec["seeds"]:
        vals = [by[(b, s)]["si_sdri"] for b in bits]
        diff = f" | {vals[1] - vals[0]:+.2f}" if len(bits) == 2 else ""
        lines.append(f"| {s} | " + " | ".join(f"{v:.2f}" for v in vals) + diff + " |")
    means = [sum(by[(b, s)]["si_sdri"] for s in rec["seeds"]) / len(rec["seeds"]) for b in bits]
    diff = f" | **{means[1] - means[0]:+.2f}**" if len(bits) == 2 else ""
    lines.append("| mean | " + " | ".join(f"**{m:.2f}**" for m in means) + diff + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--norm-bits", type=int, nargs="+", default=[16, 8], choices=[8, 16])
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--qat-steps", type=int, default=100, help="QAT steps per epoch")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not (WORK / "runs" / "float" / "best.safetensors").is_file() or not (WORK / "data" / "test" / "mix").is_dir():
        print(f"{WORK}: no qat_methods data / float model; run benchmarks/qat_methods.py first", file=sys.stderr)
        return 2
    recorded = args.qat_steps >= 100
    started = time.time()
    plan = [(b, s) for s in args.seeds for b in args.norm_bits]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, b, s, args.qat_epochs, args.qat_steps,
                               WORK / "gln_qat" / f"nb{b}_s{s}") for b, s in plan]
        rows = [f.result() for f in futures]
    rec = {"command": shlex.join(["python", "benchmarks/gln_qat.py", *sys.argv[1:]]), "seconds": time.time() - started,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "machine": f"{platform.machine()}, {args.jobs} runs at a time, 1 torch thread each",
           "norm_bits": args.norm_bits, "seeds": args.seeds, "epochs": args.qat_epochs, "steps": args.qat_steps,
           "rows": rows}
    md = to_markdown(rec)
    print(md)
    if recorded:
        out = ROOT / "benchmarks" / "results"
        (out / "gln_qat.json").write_text(json.dumps(rec, indent=2) + "\n")
        (out / "gln_qat.md").write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
