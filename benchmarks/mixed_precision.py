"""Uniform int8 vs uniform int16 activations vs a mixed-precision plan: FQSS QAT, then SI-SDRi, size, latency.

From one float teacher (the qat_methods benchmark's tiny Conv-TasNet and its synthesized-speech data), three
FQSS QAT runs with the same budget:

* ``int8``: uniform int8 (the shipped recipe);
* ``int16act``: ``act_bits: 16`` (every learned activation quantizer int16: 16x8 kernels throughout);
* ``plan``: a mixed-precision plan written by this script from a simple sensitivity measure on the ``int8``
  run (``fqss-edge analyze --plan`` is another helper's work, not in this branch): int16 outputs for the
  ``--act16`` layers whose int8 output quantizer has the lowest SQNR (quantization noise vs its input, on
  ``--probe`` validation mixtures), int4 weights for the ``--int4`` pointwise convolutions (not already int16)
  whose 4-bit weight quantization has the highest SQNR. The size budget (``--budget``, x uniform int8's
  .tflite) is checked, not searched: int16 activations cost little size (an int64 bias), see the table.

Each run is exported (``fqss-edge export``), scored on the test split (PyTorch simulation, ``run_evaluation``:
SI-SDRi) and benchmarked (``fqss-edge bench``, LiteRT with XNNPACK, round robin, 1 thread, 1 s chunks). Results:
``benchmarks/results/mixed_precision.{json,md}``.

    nice .venv/bin/python benchmarks/mixed_precision.py --teacher RUNS/float/best.safetensors --data DATA
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from fqss_edge.config import load_config
from fqss_edge.data import open_dataset
from fqss_edge.evaluation_report import run_evaluation
from fqss_edge.models.io import load_model
from fqss_edge.quant.quantizers import ActQuantizer, WeightQuantizer
from fqss_edge.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "fqss_edge.cli.main"]


def sqnr_db(signal: float, noise: float) -> float:
    return float("inf") if noise == 0 else 10.0 * torch.log10(torch.tensor(signal / noise)).item()


@torch.no_grad()
def activation_sqnr(ckpt: Path, data: Path, n: int) -> dict[str, float]:
    """SQNR (dB) of every learned output quantizer of ``ckpt``: its input vs its quantized output, over ``n``
    validation mixtures."""
    loaded = load_model(ckpt)
    model, m = loaded.model, loaded.config.model
    sums: dict[str, list[float]] = {}

    def hook(name: str):
        def record(_module, inputs, output) -> None:
            x, y = inputs[0].detach().double(), output.value.detach().double()
            s = sums.setdefault(name, [0.0, 0.0])
            s[0] += float((x * x).sum())
            s[1] += float(((y - x) ** 2).sum())
        return record

    handles = [getattr(mod, "out_quant").register_forward_hook(hook(name)) for name, mod in model.named_modules()
               if isinstance(getattr(mod, "out_quant", None), ActQuantizer)]
    ds = open_dataset(data, "valid", m.sample_rate, m.n_src, None, 0)
    for i in range(min(n, len(ds))):
        model(ds[i][0].view(1, -1))
    for h in handles:
        h.remove()
    return {k: sqnr_db(s, e) for k, (s, e) in sums.items()}


@torch.no_grad()
def int4_weight_sqnr(ckpt: Path) -> dict[str, float]:
    """SQNR (dB) of each pointwise convolution's weights on the 4-bit grid of their own per-channel range."""
    model = load_model(ckpt).model
    out = {}
    for name, mod in model.named_modules():
        wq = getattr(mod, "weight_quant", None)
        conv = getattr(mod, "conv", None)
        if not isinstance(wq, WeightQuantizer) or conv is None or conv.kernel_size[0] != 1 or conv.groups != 1:
            continue
        w = conv.weight.detach().double()
        s = wq.max_abs.detach().abs().clamp(min=1e-8).double().view(-1, 1, 1) / 7.0
        q = torch.clamp(torch.round(w / s), -7, 7) * s
        out[name] = sqnr_db(float((w * w).sum()), float(((q - w) ** 2).sum()))
    return out


def write_plan(int8_ckpt: Path, data: Path, n_probe: int, n_act16: int, n_int4: int, path: Path) -> dict:
    act = activation_sqnr(int8_ckpt, data, n_probe)
    act16 = sorted(act, key=act.get)[:n_act16]
    w4 = {k: v for k, v in int4_weight_sqnr(int8_ckpt).items() if k not in act16}
    int4 = sorted(w4, key=w4.get, reverse=True)[:n_int4]
    plan = {name: {"act_bits": 16} for name in act16}
    for name in int4:
        plan.setdefault(name, {})["weight_bits"] = 4
    path.write_text(yaml.safe_dump({"quant": {"plan": plan}}, sort_keys=False))
    return {"plan": plan, "act_sqnr_db": {k: round(act[k], 2) for k in act16},
            "int4_weight_sqnr_db": {k: round(w4[k], 2) for k in int4}}


def run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{done.stderr}")
    return done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", type=Path, required=True, help="float checkpoint of --config's model")
    ap.add_argument("--data", type=Path, required=True, help="folder with train/ valid/ test/")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "convtasnet_tiny.yaml")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "mixed_precision")
    ap.add_argument("--qat-steps", type=int, default=60)
    ap.add_argument("--qat-epochs", type=int, default=1)
    ap.add_argument("--valid-utts", type=int, default=8)
    ap.add_argument("--probe", type=int, default=8, help="validation mixtures for the sensitivity measure")
    ap.add_argument("--act16", type=int, default=8)
    ap.add_argument("--int4", type=int, default=8)
    ap.add_argument("--budget", type=float, default=1.1)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    base = load_config(args.config).with_data_root(args.data)
    base = base.updated(train={"epochs": args.qat_epochs, "max_steps_per_epoch": args.qat_steps,
                               "valid_max_utts": args.valid_utts})
    variants = {"int8": {}, "int16act": {"act_bits": 16}, "plan": None}
    results, plan_info, int8_ckpt = {}, None, None
    for name, quant in variants.items():
        out = args.work / "runs" / name
        if quant is None:  # the plan, from the int8 run
            plan_file = args.work / "plan.yaml"
            plan_info = write_plan(int8_ckpt, args.data, args.probe, args.act16, args.int4, plan_file)
            quant = {"plan": plan_info["plan"]}
        cfg = base.updated(quant=quant)
        t0 = time.time()
        ckpt = train(cfg, "fqss", out, args.teacher, resume=False, progress=False).best_checkpoint
        train_s = round(time.time() - t0, 1)
        run([*CLI, "export", str(ckpt), "-o", str(out / "export")])
        score = run_evaluation(ckpt, args.data / "test", with_sdr=False, progress=False).as_dict()["mean"]
        results[name] = {"si_sdri_db": round(score["si_sdri"], 2), "si_sdr_db": round(score["si_sdr"], 2),
                         "tflite_bytes": (out / "export" / "model.tflite").stat().st_size,
                         "onnx_bytes": (out / "export" / "model.onnx").stat().st_size, "train_s": train_s}
        print(name, results[name], flush=True)
        int8_ckpt = ckpt if name == "int8" else int8_ckpt
    models = [str(args.work / "runs" / n / "export" / "model.tflite") for n in variants]
    bench = json.loads(run([*CLI, "bench", *models, "--runs", str(args.runs), "--warmup", "2", "--no-memory",
                            "--json"]))
    for name, r in zip(variants, bench["results"]):
        results[name]["latency_ms_median"] = round(r["latency_ms"]["p50"], 2)
        results[name]["latency_ms_p90"] = round(r["latency_ms"]["p90"], 2)
        results[name]["delegation"] = {k: r["delegation"][k] for k in ("operators", "delegated", "not_delegated")}
    int8_bytes = results["int8"]["tflite_bytes"]
    for r in results.values():
        r["size_vs_int8"] = round(r["tflite_bytes"] / int8_bytes, 3)
    record = {"command": "python benchmarks/mixed_precision.py " + shlex.join(sys.argv[1:]),
              "config": str(args.config), "teacher": str(args.teacher), "data": str(args.data),
              "budget_x_int8": args.budget, "plan": plan_info, "results": results,
              "load_average": open("/proc/loadavg").read().split()[:3], "seconds": round(time.time() - started)}
    res = ROOT / "benchmarks" / "results"
    (res / "mixed_precision.json").write_text(json.dumps(record, indent=2) + "\n")
    (res / "mixed_precision.md").write_text(markdown(record))
    print(markdown(record))
    return 0


def markdown(r: dict) -> str:
    lines = ["# Mixed precision: uniform int8 vs uniform int16 activations vs a plan (FQSS QAT)", "",
             f"Command: `{r['command']}`  ",
             f"Teacher: `{r['teacher']}`; data: `{r['data']}`; load average at the end: {' '.join(r['load_average'])} "
             "(2 cores shared: latencies are noisy).", "",
             "| variant | test SI-SDRi (dB) | .tflite bytes | x int8 | .onnx bytes | LiteRT+XNNPACK p50 / p90 (ms, "
             "1 s audio) | ops delegated | QAT (s) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, v in r["results"].items():
        lines.append(f"| {name} | {v['si_sdri_db']:.2f} | {v['tflite_bytes']} | {v['size_vs_int8']:.3f} | "
                     f"{v['onnx_bytes']} | {v['latency_ms_median']} / {v['latency_ms_p90']} | "
                     f"{v['delegation']['delegated']} / {v['delegation']['operators']} | {v['train_s']} |")
    lines += ["", f"Size budget of the plan: {r['budget_x_int8']} x uniform int8's .tflite "
              f"({'met' if r['results']['plan']['size_vs_int8'] <= r['budget_x_int8'] else 'NOT met'}).", "",
              "Plan (written by the script from the int8 run, see its docstring):", "", "```yaml",
              yaml.safe_dump({"quant": {"plan": r["plan"]["plan"]}}, sort_keys=False).rstrip(), "```", "",
              f"Output-quantizer SQNR of the int16 layers (dB): {r['plan']['act_sqnr_db']}  ",
              f"4-bit weight SQNR of the int4 layers (dB): {r['plan']['int4_weight_sqnr_db']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
