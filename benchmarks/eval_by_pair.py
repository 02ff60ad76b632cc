"""Mean SI-SDRi per speaker pair of ``fqss-edge eval --json`` outputs (the real-speech results' pair rows).

    python benchmarks/eval_by_pair.py SPLIT_DIR EVAL.json [EVAL.json ...]

The pair of each utterance comes from SPLIT_DIR/metadata.csv (its source_1/2_speaker columns; speaker ids hold
underscores, so utterance names are not parsed). Prints a markdown table: pair, mixtures, then one column per file.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path


def pairs(split_dir: Path) -> dict[str, str]:
    with open(split_dir / "metadata.csv", newline="") as f:
        return {r["mixture_ID"]: " + ".join(sorted((r["source_1_speaker"], r["source_2_speaker"])))
                for r in csv.DictReader(f)}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pair_of = pairs(Path(argv[0]))
    columns = []
    for path in argv[1:]:
        by_pair: dict[str, list[float]] = defaultdict(list)
        for u in json.loads(Path(path).read_text())["utterances"]:
            by_pair[pair_of[u["utt_id"]]].append(u["si_sdri"])
        columns.append(by_pair)
    names = sorted(set().union(*columns))
    print("| pair | mixtures | " + " | ".join(Path(p).stem for p in argv[1:]) + " |")
    print("|---|---|" + "---|" * len(columns))
    for name in names:
        cells = [f"{sum(c[name]) / len(c[name]):.2f}" if c.get(name) else "" for c in columns]
        print(f"| {name} | {len(columns[0].get(name, []))} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
