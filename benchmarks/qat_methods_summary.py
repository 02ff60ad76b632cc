"""Several model variants through ``qat_methods.py`` on several seeds: test SI-SDRi per seed, mean and range, and
each variant's difference from the first on the same seed (the same corpus, speaker split and mixtures).

``qat_methods.py --seed k`` writes ``<stem>_seed<k>.json`` (seed 0: ``<stem>.json``); this script reads them::

    python benchmarks/qat_methods_summary.py --name convtasnet_tiny_block_act --seeds 0 1 2 \\
        gLN=qat_methods gLN_BN=qat_methods_convtasnet_tiny_gln_bn gLN_BN_relu=qat_methods_convtasnet_tiny_gln_bn_relu

and writes ``benchmarks/results/qat_methods_summary_<name>.{md,json}`` (notes under the page's marker are kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qat_methods import seeded  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("float", "ptq", "vanilla", "fqss")


def load(variants: dict[str, str], seeds: list[int]) -> tuple[dict[str, dict[int, dict[str, float]]], set[int]]:
    """variant -> seed -> method -> test SI-SDRi, and the pages' test mixture counts; a missing page is a one-line
    error naming it."""
    table, counts = {}, set()
    for label, stem in variants.items():
        table[label] = {}
        for seed in seeds:
            p = RESULTS / f"{seeded(stem, seed)}.json"
            if not p.exists():
                sys.exit(f"{p}: no such page (run qat_methods.py for it with --seed {seed})")
            results = json.loads(p.read_text())["results"]
            table[label][seed] = {m: results[m]["si_sdri"] for m in METHODS if m in results}
            counts |= {results[m]["n"] for m in METHODS if m in results}
    return table, counts


def to_markdown(table: dict, seeds: list[int], counts: set[int], command: str) -> tuple[str, dict]:
    first = next(iter(table))
    lines = ["# QAT methods over seeds: test SI-SDRi (dB) per variant", "",
             f"Command: `{command}`", "",
             "Each seed is another synthesized corpus, speaker split and set of mixtures (`qat_methods.py --seed`); "
             f"all variants of one seed train and test on the same data. {' or '.join(map(str, sorted(counts)))} test "
             "mixtures per seed.", "",
             f"Mean difference from {first}: the mean of the per-seed differences (in brackets) ± its standard error "
             "(their standard deviation / sqrt(seeds)).", "",
             "| variant | method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | min .. max | "
             f"mean difference from {first} |", "|---|---|" + "---:|" * (len(seeds) + 3)]
    summary = {}
    for label, by_seed in table.items():
        for m in METHODS:
            vals = [by_seed[s].get(m) for s in seeds]
            if any(v is None for v in vals):
                continue
            diffs = [v - table[first][s][m] for v, s in zip(vals, seeds)]
            stderr = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else None
            summary[f"{label} {m}"] = {"values": vals, "mean": statistics.fmean(vals),
                                       "mean_difference": statistics.fmean(diffs), "standard_error": stderr}
            shown = f"{statistics.fmean(diffs):+.2f}" + ("" if stderr is None else f" ± {stderr:.2f}")
            lines.append(f"| {label} | {m} | " + " | ".join(f"{v:.2f}" for v in vals)
                         + f" | {statistics.fmean(vals):.2f} | {min(vals):.2f} .. {max(vals):.2f} | "
                         + ("" if label == first else f"{shown} (" + ", ".join(f"{d:+.2f}" for d in diffs) + ")")
                         + " |")
    return "\n".join(lines) + "\n", summary


def main(argv: list[str] | None = None) -> int:
    from fqss_edge.bench.pages import write_page

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", metavar="LABEL=STEM", help="a qat_methods page stem per variant")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    bad = [v for v in args.variants if "=" not in v]
    if bad:
        sys.exit(f"{bad[0]}: expected LABEL=STEM")
    variants = dict(v.split("=", 1) for v in args.variants)
    table, counts = load(variants, args.seeds)
    command = "python benchmarks/qat_methods_summary.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text, summary = to_markdown(table, args.seeds, counts, command)
    out = RESULTS / f"qat_methods_summary_{args.name}"
    out.with_suffix(".json").write_text(json.dumps({"command": command, "seeds": args.seeds, "table": table,
                                                    "summary": summary}, indent=1))
    write_page(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
