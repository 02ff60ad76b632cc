"""SI-SDRi of checkpoints against the input's level: every mixture of a split brought to the training level (peak
0.9, as the datasets and ``fqss-edge eval`` do), then scaled by 0, -6, -12 and -18 dB and separated by the model as
it is (no level normalisation before it: an app that feeds a quiet recording straight in).

A gLN model is independent of the level (its statistics are the utterance's); a ``norm: BN`` model's frozen
statistics are not; ``norm: gLN_BN`` keeps one gLN before its BatchNorm blocks for that reason
(``fqss_edge/models/tcn.py``). FQSS checkpoints run their int8 simulation.

    python benchmarks/level_sweep.py --data WORK/data --split test --split valid --utts 60 \\
        --model gln=R/gln/best.safetensors --model bn=R/bn/best.safetensors --name level_sweep_real_speech

Writes ``benchmarks/results/<name>.{md,json}`` (text under the page's notes marker is kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
from rich.progress import Progress

from fqss_edge.bench.pages import NOTES_MARKER, write_page
from fqss_edge.data import open_dataset
from fqss_edge.evaluate import evaluate, model_separator, summarize
from fqss_edge.models.io import load_model

ROOT = Path(__file__).resolve().parents[1]
GAINS_DB = (0.0, -6.0, -12.0, -18.0)


def scaled(separate, gain: float):
    """``separate`` fed the mixture times ``gain`` (SI-SDR and its improvement do not depend on the estimates'
    scale, so the scores stay comparable)."""
    return lambda mix: separate(mix * gain)


def page(record: dict) -> str:
    models = list(record["models"])
    lines = [f"# {record['name']}: SI-SDRi (dB) against the input level", "",
             f"Command: `{record['command']}`  ", f"Data: `{record['data']}`  ",
             *(f"Model `{m}`: `{p}`  " for m, p in record["models"].items()),
             f"Run {record['date']} ({record['seconds']:.0f} s). Each mixture at the training level (peak 0.9) scaled "
             "by the gain, separated as it is (no level normalisation); FQSS checkpoints run their int8 simulation.",
             ""]
    for split, res in record["results"].items():
        lines += [f"## {split} ({res['n']} mixtures)", "",
                  "| model | " + " | ".join(f"{g:+g} dB" for g in GAINS_DB) + " | spread |",
                  "|---|" + "---:|" * (len(GAINS_DB) + 1)]
        for m in models:
            v = res["si_sdri"][m]
            lines.append(f"| {m} | " + " | ".join(f"{x:.2f}" for x in v) + f" | {max(v) - min(v):.2f} |")
        lines.append("")
    return "\n".join(lines + [NOTES_MARKER, ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a data/ folder with split folders (mix/ s1/ s2/)")
    ap.add_argument("--split", action="append", required=True, help="split folder name (repeatable)")
    ap.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    ap.add_argument("--utts", type=int, default=60, help="the first N mixtures of each split")
    ap.add_argument("--name", required=True, help="results file stem")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = dict(m.split("=", 1) for m in args.model)
    loaded = {k: load_model(p) for k, p in models.items()}
    m = next(iter(loaded.values())).config.model
    # the eval command's items: peak-normalised to the training level, first N by name
    datasets = {s: open_dataset(args.data / s, "test", m.sample_rate, m.n_src, None, 0) for s in args.split}
    data = {s: [ds[i] for i in range(min(len(ds), args.utts))] for s, ds in datasets.items()}
    t0 = time.perf_counter()
    results = {}
    with Progress() as bar:
        task = bar.add_task("level sweep", total=sum(len(d) for d in data.values()) * len(loaded) * len(GAINS_DB))
        for split, items in data.items():
            scores = {}
            for label, lm in loaded.items():
                separate = model_separator(lm.model)
                scores[label] = [summarize(evaluate(scaled(separate, 10 ** (g / 20)), items, with_sdr=False,
                                                    on_item=lambda _: bar.advance(task)))["si_sdri"]
                                 for g in GAINS_DB]
            results[split] = {"n": len(items), "si_sdri": scores}
    record = {"name": args.name, "command": "python benchmarks/level_sweep.py "
              + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              "data": str(args.data), "models": models, "gains_db": GAINS_DB, "results": results,
              "date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - t0}
    out = ROOT / "benchmarks" / "results"
    (out / f"{args.name}.json").write_text(json.dumps(record, indent=1))
    write_page(out / f"{args.name}.md", page(record))
    print(page(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
