"""``fqss-edge analyze`` on the shipped tiny FQSS model and its test set: the SDR ceiling, the most sensitive layers
by each measure, how the three measures rank the layers alike, and the mixed-precision plan at 1.1x uniform int8.

    .venv/bin/python benchmarks/analyze_shipped.py [--report DIR]   # runs the command unless DIR has a report

Runs (unless ``--report`` names a finished report folder)::

    fqss-edge analyze fqss_edge/assets/convtasnet_tiny_fqss.safetensors --data fqss_edge/assets/test_set \\
        -o benchmarks/work/analyze_shipped/report --plan --budget 1.1x

and writes ``benchmarks/results/analyze_shipped.md`` with ``analyze_shipped_{ceiling,sensitivity}.png``,
``analyze_shipped.json`` (the report), ``analyze_shipped_plan.yaml`` (1.1x) and ``analyze_shipped_plan_0.9x.yaml``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CKPT = "fqss_edge/assets/convtasnet_tiny_fqss.safetensors"
DATA = "fqss_edge/assets/test_set"
COMMAND = ["analyze", CKPT, "--data", DATA, "-o", "benchmarks/work/analyze_shipped/report", "--plan", "--budget",
           "1.1x"]


def ranks(values: list[float]) -> np.ndarray:
    return np.argsort(np.argsort(np.asarray(values, dtype=float)))


def spearman(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def write(report: dict, seconds: float | None) -> str:
    c = report["ceiling"]
    sens, kl, hess = report["sensitivity"], report["kl"], report["hessian"]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    md = ["# fqss-edge analyze on the shipped tiny FQSS model", "",
          f"`.venv/bin/fqss-edge {' '.join(COMMAND)}`" + (f" ({seconds / 60:.1f} min on this machine, 1 torch thread, "
                                                          "shared with other jobs)" if seconds else ""),
          f"(`benchmarks/analyze_shipped.py`). {len(report['utterances'])} utterance(s) of `{DATA}`; the report's "
          "definitions are in `analyze_shipped.json` (`definitions`).", "",
          f"Float twin (same weights, quantizers off) mean SI-SDR {mean(c['float_si_sdr']):.2f} dB, the quantized "
          f"model {mean(c['model_si_sdr']):.2f} dB.", "",
          "## SDR ceiling", "", "![ceiling](analyze_shipped_ceiling.png)", "",
          table(["bits", "output measured (dB)", "output predicted (dB)", "input measured (dB)",
                 "input predicted (dB)"],
                [[str(b), f"{c['output']['mean_measured'][i]:.2f}", f"{c['output']['mean_predicted'][i]:.2f}",
                  f"{c['input']['mean_measured'][i]:.2f}", f"{c['input']['mean_predicted'][i]:.2f}"]
                 for i, b in enumerate(c["bits"])]), ""]
    err = np.abs(np.array(c["output"]["measured"]) - np.array(c["output"]["predicted"]))
    err_in = np.abs(np.array(c["input"]["measured"]) - np.array(c["input"]["predicted"]))
    md += [f"Per utterance and bit width, |measured - predicted|: output max {err.max():.2f} dB (mean "
           f"{err.mean():.2f}), input max {err_in.max():.2f} dB (mean {err_in.mean():.2f}).", "",
           "## Most sensitive layers", "", "![sensitivity](analyze_shipped_sensitivity.png)", ""]
    order = sorted(range(len(sens)), key=lambda i: sens[i]["delta_si_sdr_db"])[:10]
    md += [table(["layer", "ΔSI-SDR alone (dB)", "KL", "tr(H)", "ω int8 w", "ΔSI-SDR int4 w (dB)",
                  "ΔSI-SDR int16 out (dB)"],
                 [[sens[i]["layer"], f"{sens[i]['delta_si_sdr_db']:.3f}", f"{kl[i]['kl']:.2e}",
                   f"{hess[i]['trace']:.3g}", f"{hess[i]['omega_w8']:.2e}", f"{sens[i]['delta_w4a8_db']:.3f}",
                   "-" if sens[i]["delta_w8a16_db"] is None else f"{sens[i]['delta_w8a16_db']:.3f}"]
                  for i in order]), ""]
    d = [-r["delta_si_sdr_db"] for r in sens]
    k = [r["kl"] for r in kl]
    o = [r["omega_w8"] for r in hess]
    top = lambda v: [sens[i]["layer"] for i in np.argsort(v)[::-1][:5]]  # noqa: E731
    md += [f"Top 5 by KL: {', '.join(top(k))}. Top 5 by ω (int8 weights): {', '.join(top(o))}.", "",
           f"Rank agreement over the {len(sens)} layers (Spearman): -ΔSI-SDR vs KL {spearman(d, k):.2f}, "
           f"-ΔSI-SDR vs ω {spearman(d, o):.2f}, KL vs ω {spearman(k, o):.2f}.", ""]
    gains = [(r["delta_w8a16_db"] - r["delta_si_sdr_db"], r["layer"]) for r in sens if r["delta_w8a16_db"] is not None]
    best_gain = max(gains)
    mo, mp = np.array(c["output"]["mean_measured"]), np.array(c["output"]["mean_predicted"])
    md += ["Reading it:", "",
           f"- The quantized model is {mean(c['model_si_sdr']) - mean(c['float_si_sdr']):+.3f} dB from its float "
           "twin: after FQSS QAT there is almost nothing for wider tensors to recover. The largest layer-alone gain of "
           f"an int16 output is {best_gain[0]:+.3f} dB ({best_gain[1]}), below the plan's 0.01 dB threshold.",
           f"- Layer-alone ΔSI-SDR is within ±0.01 dB for {sum(abs(r['delta_si_sdr_db']) < 0.01 for r in sens)} of "
           f"{len(sens)} layers, of both signs: on {len(report['utterances'])} utterances that is measurement noise, "
           "so the ranks of the three measures agree only at the top (encoder, decoder).",
           f"- Output ceiling: the prediction is within {np.abs(mo - mp)[1:].max():.2f} dB of the measured mean from 5 "
           f"bits up; at 4 bits the measured mean is {mo[0] - mp[0]:+.2f} dB from it (measured - predicted): the "
           "formula assumes rounding noise independent of the signal, which a 4-bit step over speech's range does "
           "not give (not investigated further). Input: the assumption that the "
           f"network passes input noise at the mixture's SNR holds within {err_in.max():.2f} dB per utterance.", ""]
    p = report["plan"]
    md += ["## Plan at 1.1x uniform int8", "",
           f"Cost {p['cost_bytes']:.0f} of {p['uniform_int8_cost_bytes']:.0f} bytes ({p['ratio']:.3f}x); "
           f"`analyze_shipped_plan.yaml`, {len(p['layers'])} layers differ from uniform int8:", "",
           table(["layer", "weight bits", "act bits"],
                 [[n, str(b["weight_bits"]), str(b["act_bits"])] for n, b in p["layers"].items()]
                 or [["(none: the plan is uniform int8)", "8", "8"]]), ""]
    md += ["The same greedy choice over this report's sensitivities at other budgets (`choose_plan`, no new "
           "measurement; 'sum of layer-alone losses' adds each chosen layer's own ΔSI-SDR change, negative where int4 "
           "measured better than int8: a first-order estimate within the noise above, not a measurement of the plan):", "",
           "`analyze_shipped_plan_0.9x.yaml` holds the 0.9x plan.", "",
           table(["budget", "cost ratio", "int4 weight layers", "int16 output layers", "sum of layer-alone losses (dB)"],
                 [other_budget(sens, b) for b in (1.1, 1.0, 0.9, 0.8, 0.7, 0.6)]), ""]
    return "\n".join(md)


def layer_costs(sens: list[dict]) -> list:
    from fqss_edge.analysis.plan import LayerCost

    return [LayerCost(r["layer"], r["n_weights"], r["act_per_ms"], r["delta_w8a16_db"] is not None,
                      r["delta_si_sdr_db"], r["delta_w4a8_db"], r["delta_w8a16_db"]) for r in sens]


def other_budget(sens: list[dict], budget: float) -> list[str]:
    from fqss_edge.analysis.plan import choose_plan, total_cost

    costs = layer_costs(sens)
    plan = choose_plan(costs, budget)
    by = {c.layer: c for c in costs}
    loss = sum((by[n].delta_w8a8 - by[n].delta_w4a8) if b["weight_bits"] == 4 else 0.0 for n, b in plan.items())
    loss -= sum((by[n].delta_w8a16 - by[n].delta_w8a8) if b["act_bits"] == 16 else 0.0 for n, b in plan.items())
    return [f"{budget:g}x", f"{total_cost(costs, plan) / total_cost(costs, {}):.3f}",
            str(sum(b["weight_bits"] == 4 for b in plan.values())), str(sum(b["act_bits"] == 16 for b in plan.values())),
            f"{loss:.3f}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", type=Path, default=ROOT / "benchmarks/work/analyze_shipped/report")
    args = ap.parse_args()
    seconds: float | None = None
    if not (args.report / "report.json").is_file():
        t = time.time()
        subprocess.run([str(ROOT / ".venv/bin/fqss-edge"), *COMMAND[:5], str(args.report), *COMMAND[6:]], cwd=ROOT,
                       check=True)
        seconds = time.time() - t
    log = args.report.parent / "log.txt"  # /usr/bin/time -v of a run started by hand (see the module docstring)
    if seconds is None and log.is_file():
        for line in log.read_text().splitlines():
            if "Elapsed (wall clock)" in line:
                m, sec = line.rsplit(" ", 1)[-1].split(":")[-2:]
                seconds = 60 * int(m) + float(sec)
    report = json.loads((args.report / "report.json").read_text())
    for name in ("ceiling", "sensitivity"):
        shutil.copyfile(args.report / "img" / f"{name}.png", RESULTS / f"analyze_shipped_{name}.png")
    shutil.copyfile(args.report / "plan.yaml", RESULTS / "analyze_shipped_plan.yaml")
    shutil.copyfile(args.report / "report.json", RESULTS / "analyze_shipped.json")
    from fqss_edge.analysis.plan import choose_plan, plan_yaml  # a non-empty plan to train / export (0.9x)

    (RESULTS / "analyze_shipped_plan_0.9x.yaml").write_text(plan_yaml(
        choose_plan(layer_costs(report["sensitivity"]), 0.9),
        f"choose_plan at 0.9x over the sensitivities of analyze_shipped.json ({CKPT})"), encoding="utf-8")
    (RESULTS / "analyze_shipped.md").write_text(write(report, seconds), encoding="utf-8")
    print(RESULTS / "analyze_shipped.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
