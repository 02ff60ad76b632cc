"""Copy a float and an FQSS tiny Conv-TasNet trained on the real-speech set (``scripts/real_speech_set.py``), and a
few of its real test mixtures (voices never trained on), into fqss_edge/assets/ (the built-in default of
`fqss-edge demo`), and write the assets' README from the checkpoints and the set.

    python scripts/real_speech_set.py WORK                     # the set (Debian packages, offline afterwards)
    fqss-edge train -c CFG --method float [--init F] -o R/float  # CFG: configs/convtasnet_tiny_gln_bn_real_speech.yaml
                                                                 # F: a float model to start from (results page)
    fqss-edge train -c CFG --method fqss --teacher R/float/best.safetensors -o R/fqss
    python scripts/ship_demo_assets.py --float R/float/best.safetensors --fqss R/fqss/best.safetensors --mixtures 20 \\
        --data WORK/data --recipe CFG --results benchmarks/results/real_speech_gln_bn.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "fqss_edge" / "assets"


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _voices(names: list[str]) -> str:
    """The test voices of the shipped mixtures with their package and licence."""
    from fqss_edge.data.real_speech import LICENCES, REAL_SPEAKERS

    by_id = {s.speaker_id: s for s in REAL_SPEAKERS}
    ids = sorted({spk for n in names for spk in Path(n).stem.split("_")[1:]})
    out = []
    for spk in ids:
        s = by_id[spk]
        pkgs = sorted({pkg for pkg, _, _ in s.sources})
        out.append(f"{spk} ({s.gender}, {s.language}; Debian `{'`, `'.join(pkgs)}`, "
                   f"{', '.join(LICENCES[p] for p in pkgs)})")
    return "; ".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--float", dest="float_ckpt", type=Path, required=True, help="float checkpoint (the teacher)")
    ap.add_argument("--fqss", type=Path, required=True, help="FQSS checkpoint trained from it")
    ap.add_argument("--data", type=Path, required=True, help="the real-speech set: test/ and speaker_split.json")
    ap.add_argument("--results", type=Path, required=True, help="the results page with the shipped pair's figures")
    ap.add_argument("--recipe", type=Path, required=True, help="the run config both checkpoints were trained with")
    ap.add_argument("--mixtures", type=int, default=6)
    args = ap.parse_args()
    from fqss_edge.checkpoint import load_checkpoint
    from fqss_edge.config import load_config

    test, split_file = args.data / "test", args.data / "speaker_split.json"
    names = sorted(p.name for p in (test / "mix").glob("*.wav"))[: args.mixtures]
    for path, ok in ((test / "mix", names), (args.results, args.results.is_file()), (split_file, split_file.is_file())):
        if not ok:
            sys.exit(f"{path}: missing")
    split = json.loads(split_file.read_text())["split"]
    paths = {"float": args.float_ckpt, "fqss": args.fqss}
    ckpts = {k: load_checkpoint(p) for k, p in paths.items()}
    recipe = load_config(args.recipe).model.model_dump(mode="json")
    for k, ck in ckpts.items():
        if ck.config["model"] != recipe:
            sys.exit(f"{paths[k]}: its model is not the one of {args.recipe}")
    for k, p in paths.items():
        shutil.copyfile(p, ASSETS / f"convtasnet_tiny_{k}.safetensors")
    shutil.rmtree(ASSETS / "test_set", ignore_errors=True)
    for sub in ("mix", "s1", "s2"):
        (ASSETS / "test_set" / sub).mkdir(parents=True)
        for n in names:
            shutil.copyfile(test / sub / n, ASSETS / "test_set" / sub / n)
    shutil.copyfile(test / "mix" / names[0], ASSETS / "example_mixture.wav")
    runs = "; ".join(f"{k}: `{_shown(p)}` (epoch {ckpts[k].meta.get('epoch')}, validation SI-SDRi "
                     f"{ckpts[k].meta.get('best_si_sdri', float('nan')):.2f} dB)"
                     for k, p in paths.items())
    (ASSETS / "README.md").write_text(
        "# Built-in default assets\n\n"
        f"- `convtasnet_tiny_float.safetensors`, `convtasnet_tiny_fqss.safetensors`: `{_shown(args.recipe)}` "
        f"(norm: {recipe['norm']}), trained float, then FQSS 8-bit QAT from it (the float model is the teacher), "
        "on the real-speech set of `scripts/real_speech_set.py` (real recorded voices from Debian packages, with "
        "pitch / speed copies and synthesized voices; `fqss_edge/data/real_speech.py`). "
        f"Runs: {runs}. Figures, recipe and commands: `{_shown(args.results)}`.\n"
        f"- `test_set/`: {len(names)} mixtures of the set's real test voices, never trained or validated on "
        f"(test split: {', '.join(split['test'])}), mix/ s1/ s2/, 8 kHz. Voices: {_voices(names)}.\n"
        f"- `example_mixture.wav`: `test_set/mix/{names[0]}`.\n\n"
        "Regenerate: the commands in `scripts/ship_demo_assets.py`'s docstring.\n")
    print(f"shipped to {ASSETS} (figures: {_shown(args.results)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
