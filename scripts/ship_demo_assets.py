"""Copy the tiny models trained by benchmarks/qat_methods.py, and a few held-out test mixtures, into
fqss_edge/assets/ (the built-in default of `fqss-edge demo`).

    python benchmarks/qat_methods.py ...            # trains float, PTQ, vanilla QAT, FQSS on synthesized speakers
    python scripts/ship_demo_assets.py              # ships float + FQSS and 6 test mixtures
    python scripts/ship_demo_assets.py --fqss benchmarks/work/qat_methods/gln_qat/nb8_s0/best.safetensors
                                                    # another FQSS run of the same data (e.g. the best of several
                                                    # seeds by validation SI-SDRi)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "qat_methods")
    ap.add_argument("--mixtures", type=int, default=6)
    ap.add_argument("--fqss", type=Path, default=None, help="FQSS checkpoint to ship (default: the qat_methods run)")
    args = ap.parse_args()
    assets = ROOT / "fqss_edge" / "assets"
    runs, test = args.work / "runs", args.work / "data" / "test"
    shutil.copyfile(runs / "float" / "best.safetensors", assets / "convtasnet_tiny_float.safetensors")
    fqss = args.fqss or runs / "fqss" / "best.safetensors"
    shutil.copyfile(fqss, assets / "convtasnet_tiny_fqss.safetensors")
    from fqss_edge.checkpoint import load_checkpoint

    ck = load_checkpoint(fqss)
    shown = fqss.resolve().relative_to(ROOT) if fqss.resolve().is_relative_to(ROOT) else fqss
    fqss_note = (f"The FQSS model is `{shown}` (norm_bits {ck.config['quant']['norm_bits']}, validation SI-SDRi "
                 f"{ck.meta.get('best_si_sdri', float('nan')):.2f} dB).")
    names = sorted(p.name for p in (test / "mix").glob("*.wav"))[: args.mixtures]
    shutil.rmtree(assets / "test_set", ignore_errors=True)
    for sub in ("mix", "s1", "s2"):
        (assets / "test_set" / sub).mkdir(parents=True)
        for n in names:
            shutil.copyfile(test / sub / n, assets / "test_set" / sub / n)
    shutil.copyfile(test / "mix" / names[0], assets / "example_mixture.wav")
    split = json.loads((args.work / "data" / "speaker_split.json").read_text())
    results = ROOT / "benchmarks" / "results" / "qat_methods.md"
    (assets / "README.md").write_text(
        "# Built-in default assets\n\n"
        "- `convtasnet_tiny_float.safetensors`, `convtasnet_tiny_fqss.safetensors`: `configs/convtasnet_tiny.yaml`, "
        "trained by `benchmarks/qat_methods.py` (float, then FQSS 8-bit QAT from it) on 2-speaker mixtures of "
        f"espeak-ng/flite speakers at 8 kHz; results in `benchmarks/results/qat_methods.md`. {fqss_note}\n"
        f"- `test_set/`: {len(names)} mixtures of held-out speakers ({', '.join(split['test'])}), mix/ s1/ s2/.\n"
        f"- `example_mixture.wav`: `test_set/mix/{names[0]}`.\n\n"
        f"Regenerate: `python benchmarks/qat_methods.py` then `python scripts/ship_demo_assets.py"
        f"{' --fqss ' + str(args.fqss) if args.fqss else ''}`.\n")
    print(f"shipped to {assets} ({'see ' + str(results) if results.exists() else 'run the benchmark first'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
