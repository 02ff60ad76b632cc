"""Score float and FQSS checkpoints on the real-speech set's held-out splits and record them.

    python benchmarks/real_speech_eval.py --data WORK/data --model float=R/float/best.safetensors \
        --model fqss=R/fqss/best.safetensors --name real_speech_tiny_dm

For every model and split (``test``: unseen real speakers; ``valid``: the unseen real validation pair;
``test_synth``: unseen synthesized voices): mean SI-SDRi, STOI and PESQ (``fqss_edge.evaluation_report``, the
``eval`` command's scores; FQSS checkpoints run their int8 simulation), and SI-SDRi per speaker pair (the pairs
from each split's ``metadata.csv``). Writes ``benchmarks/results/<name>.{md,json}``; text under the page's notes
marker is kept (``fqss_edge.bench.pages``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from fqss_edge.bench.pages import NOTES_MARKER, write_page
from fqss_edge.evaluation_report import _strict, run_evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_by_pair import pairs as pair_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPLITS = {"test": "unseen real speakers", "valid": "unseen real validation pair",
          "test_synth": "unseen synthesized voices"}


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if np.isfinite(x)]
    return float(np.mean(xs)) if xs else float("nan")


def score(checkpoint: Path, split_dir: Path, max_utts: int | None = None) -> dict:
    report = run_evaluation(checkpoint, split_dir, max_utts=max_utts, with_sdr=False, progress=False,
                            perceptual=True).as_dict()
    pairs = pair_of(split_dir)
    by_pair: dict[str, list[float]] = defaultdict(list)
    for u in report["utterances"]:
        by_pair[pairs[u["utt_id"]]].append(u["si_sdri"])
    return {"n": len(report["utterances"]), "si_sdri": report["mean"]["si_sdri"],
            "stoi": report["mean"].get("stoi", float("nan")), "pesq": report["mean"].get("pesq", float("nan")),
            "pairs": {p: {"n": len(v), "si_sdri": _mean(v)} for p, v in sorted(by_pair.items())}}


def page(record: dict) -> str:
    models = list(record["models"])
    lines = [f"# {record['name']}: real-speech separation, SI-SDRi on held-out speakers", "",
             f"Command: `{record['command']}`  ", f"Data: `{record['data']}`  ",
             *(f"Model `{m}`: `{record['models'][m]}`  " for m in models),
             f"Run {record['date']} ({record['seconds']:.0f} s). SI-SDRi dB / STOI / PESQ (narrow band); FQSS "
             "checkpoints run their int8 simulation.", "",
             "| split | mixtures | " + " | ".join(models) + " |", "|---|---:|" + "---|" * len(models)]
    for split, what in SPLITS.items():
        if split not in record["results"][models[0]]:
            continue
        cells = [record["results"][m][split] for m in models]
        lines.append(f"| {split}: {what} | {cells[0]['n']} | "
                     + " | ".join(f"**{c['si_sdri']:.2f}** / {c['stoi']:.3f} / {c['pesq']:.2f}" for c in cells)
                     + " |")
    for split in SPLITS:
        if split not in record["results"][models[0]]:
            continue
        lines += ["", f"SI-SDRi per speaker pair, {split} (dB):", "",
                  "| pair | mixtures | " + " | ".join(models) + " |", "|---|---:|" + "---:|" * len(models)]
        for p, v in record["results"][models[0]][split]["pairs"].items():
            lines.append(f"| {p} | {v['n']} | "
                         + " | ".join(f"{record['results'][m][split]['pairs'][p]['si_sdri']:.2f}" for m in models)
                         + " |")
    return "\n".join(lines + ["", NOTES_MARKER, ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the real-speech set's data/ folder")
    ap.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    ap.add_argument("--name", required=True, help="results file stem")
    ap.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-utts", type=int, default=None, help="at most this many mixtures per split (a quick look)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = dict(m.split("=", 1) for m in args.model)
    t0 = time.perf_counter()
    results = {label: {s: score(Path(ck), args.data / s, args.max_utts) for s in args.splits}
               for label, ck in models.items()}
    record = {"name": args.name, "command": "python benchmarks/real_speech_eval.py "
              + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              "data": str(args.data), "models": models, "results": results,
              "date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - t0}
    out = ROOT / "benchmarks" / "results"
    (out / f"{args.name}.json").write_text(json.dumps(_strict(record), indent=1, allow_nan=False))
    write_page(out / f"{args.name}.md", page(record))
    for label in models:
        print(label, {s: round(results[label][s]["si_sdri"], 2) for s in args.splits})
    return 0


if __name__ == "__main__":
    sys.exit(main())
