"""How far do tiny rounding differences carry through a quantized model? The simulation against itself.

Runtimes agree with the PyTorch simulation up to their arithmetic: float32 summation order (onnxruntime with
optimisation off: ~1e-6..1e-5 of a code before rounding), float32 requantization scales (onnxruntime's
integer kernels, XNNPACK), TFLite's fixed-point double rounding (up to 2^-(shift+1) codes, i.e. 1e-3..1e-2
for the shifts of this model). Where a value lies that close to a rounding boundary, a runtime picks the
other code; every following layer sees a slightly different input and flips more codes.

This benchmark measures that without any runtime: it runs the simulation of a checkpoint twice on the same
mixtures, once as is and once with uniform noise of +-eps codes added before every activation rounding
(``fqss_edge.quant.tools.perturbed_rounding``), and reports the output SQNR, % of samples exact and
Delta SI-SDR between the two, for eps from 1e-7 to 1e-2; then, at eps = 1e-5, with the noise confined to
one part of the network at a time (where flips start decides how far they grow). The smallest disagreement two
runtimes can have is one code: the last table moves a single value per mixture, the one of a given tensor that
lies closest to a rounding boundary, to its other neighbouring code, and measures the output against the
unchanged run. For scale, it also reports the SQNR of the simulation against the same network unquantized (the
quantization noise itself).

    .venv/bin/python benchmarks/parity_sensitivity.py [--checkpoint CKPT] [--data DIR] [--utts 10]

Writes ``benchmarks/results/parity_sensitivity.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fqss_edge.data.common import normalize_peak, read_mono
from fqss_edge.models.io import load_model
from fqss_edge.parity.metrics import pit_si_sdr
from fqss_edge.quant import quantizers
from fqss_edge.quant.tools import perturbed_rounding
from fqss_edge.runtimes.torch_backend import without_quantization

ROOT = Path(__file__).resolve().parents[1]
EPS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
REGION_EPS = 1e-5


def sampled_blocks(model: torch.nn.Module) -> list[int]:
    """The first, a quarter-way, half-way and last TCN block (distinct, in order)."""
    blocks = sorted({int(n.split(".")[2]) for n, _ in model.named_modules() if n.startswith("masker.blocks.")
                     and len(n.split(".")) > 2})
    return list(dict.fromkeys((blocks[0], blocks[len(blocks) // 4], blocks[len(blocks) // 2], blocks[-1])))


def regions(model: torch.nn.Module) -> dict[str, str]:
    """Region label -> module-path prefix (in execution order)."""
    out = {"encoder": "encoder.", "input gLN + bottleneck": "masker.norm.|masker.bottleneck."}
    for b in sampled_blocks(model):
        out[f"TCN block {b}"] = f"masker.blocks.{b}."
    out["mask head + decoder + residual output"] = "masker.out_act.|masker.mask_conv.|masker.mask_act.|" \
                                                   "apply_mask.|decoder.|residual."
    return out


@contextlib.contextmanager
def confined_to(model: torch.nn.Module, prefixes: str) -> Any:
    """Perturb only the quantizers under ``prefixes`` ('|'-separated): the others round unperturbed."""
    names = {id(m): n for n, m in model.named_modules()}
    pre = tuple(prefixes.split("|"))
    hooks = []
    saved: list[list[Any]] = []

    def before(mod: torch.nn.Module, _inp: Any) -> None:
        if not names.get(id(mod), "").startswith(pre):
            saved.append(list(quantizers._rounding_noise))
            quantizers._rounding_noise.clear()
        else:
            saved.append(None)  # type: ignore[arg-type]

    def after(_mod: torch.nn.Module, _inp: Any, _out: Any) -> None:
        s = saved.pop()
        if s is not None:
            quantizers._rounding_noise.extend(s)

    for m in model.modules():
        if isinstance(m, quantizers.ACTIVATION_QUANTIZERS):
            hooks += [m.register_forward_pre_hook(before), m.register_forward_hook(after)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def one_code_targets(model: torch.nn.Module) -> list[str]:
    """Quantizers whose one-code flip is measured: the encoder's ReLU, the input 1x1 conv of the first, a
    quarter, half-way and last TCN block, and the mask's activation (after a ReLU, not before: a flip below zero
    would vanish in it)."""
    names = {n for n, _ in model.named_modules()}
    picks = ["enc_act.out_quant", *(f"masker.blocks.{b}.in_conv.out_quant" for b in sampled_blocks(model)),
             "masker.mask_act.out_quant"]
    return [n for n in picks if n in names]


@contextlib.contextmanager
def one_code_flipped(model: torch.nn.Module, name: str) -> Any:
    """In every forward pass, the one value of quantizer ``name`` nearest a rounding tie takes its other code."""
    quantizer = dict(model.named_modules())[name]

    def hook(_mod: torch.nn.Module, inp: Any, out: Any) -> Any:
        scale, zp, r = out.scale, out.zero_point, quantizer.range
        v = (inp[0] / scale).reshape(-1)  # the value before rounding, in codes from the zero point
        low = torch.floor(v)
        inside = (low + zp >= r.qmin) & (low + 1 + zp <= r.qmax)  # both neighbouring codes are in range
        dist = torch.where(inside, torch.abs(v - low - 0.5), torch.full_like(v, float("inf")))
        idx = int(torch.argmin(dist))
        other = low[idx] + 1 if torch.round(v[idx]) == low[idx] else low[idx]
        value = out.value.clone().reshape(-1)
        value[idx] = (other * scale).to(value.dtype)
        return out.with_value(value.reshape(out.value.shape))

    handle = quantizer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def load_mixtures(data: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    mixes = sorted((data / "mix").glob("*.wav"))[:n]
    out = []
    for p in mixes:
        x = read_mono(p, 8000)
        srcs = np.stack([read_mono(data / s / p.name, 8000) for s in ("s1", "s2")])
        x, srcs = normalize_peak(x, srcs)
        out.append((x.astype(np.float32), srcs.astype(np.float32)))
    return out


@torch.no_grad()
def separate(model: torch.nn.Module, mixes: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    return [model(torch.from_numpy(x)[None])[0].numpy() for x, _ in mixes]


def compare(ref: list[np.ndarray], other: list[np.ndarray], mixes: list[tuple[np.ndarray, np.ndarray]]
            ) -> dict[str, float]:
    r = np.concatenate([a.ravel() for a in ref]).astype(np.float64)
    o = np.concatenate([a.ravel() for a in other]).astype(np.float64)
    err = float(np.sum((o - r) ** 2))
    sqnr = float("inf") if err == 0 else 10 * np.log10(float(np.sum(r ** 2)) / err)
    d_sisdr = [float(np.mean(pit_si_sdr(b, s) - pit_si_sdr(a, s))) for a, b, (_, s) in zip(ref, other, mixes)]
    return {"sqnr_db": sqnr, "pct_exact": 100.0 * float(np.mean(np.abs(o - r) < 0.5 / 32768)),
            "max_lsb": float(np.max(np.abs(o - r)) * 32768), "delta_si_sdr_db": float(np.mean(d_sisdr))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "fqss_edge/assets/convtasnet_tiny_fqss.safetensors")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks/work/qat_methods/data/test")
    ap.add_argument("--utts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    model = load_model(args.checkpoint).model.eval()
    mixes = load_mixtures(args.data, args.utts)
    ref = separate(model, mixes)
    rows: list[dict[str, Any]] = []
    for eps in EPS:
        with perturbed_rounding(eps, args.seed):
            rows.append({"where": "every activation rounding", "eps": eps, **compare(ref, separate(model, mixes), mixes)})
        print(rows[-1], flush=True)
    for label, prefixes in regions(model).items():
        with perturbed_rounding(REGION_EPS, args.seed), confined_to(model, prefixes):
            rows.append({"where": label, "eps": REGION_EPS, **compare(ref, separate(model, mixes), mixes)})
        print(rows[-1], flush=True)
    one_code = []
    for name in one_code_targets(model):
        with one_code_flipped(model, name):
            one_code.append({"tensor": name, **compare(ref, separate(model, mixes), mixes)})
        print(one_code[-1], flush=True)
    float_net = compare(ref, separate(without_quantization(model), mixes), mixes)
    rec = {"command": "python benchmarks/parity_sensitivity.py " + " ".join(sys.argv[1:]),
           "checkpoint": str(args.checkpoint.relative_to(ROOT)) if args.checkpoint.is_relative_to(ROOT)
           else str(args.checkpoint), "utterances": len(mixes), "rows": rows,
           "one_code_per_mixture": one_code, "simulation_vs_float_network": float_net,
           "seconds": round(time.time() - t0, 1)}
    out = ROOT / "benchmarks" / "results"
    (out / "parity_sensitivity.json").write_text(json.dumps(rec, indent=2))
    md = ["# Sensitivity of the int8 simulation to rounding differences (the simulation against itself)", "",
          f"`{rec['command'].strip()}`: checkpoint `{rec['checkpoint']}`, {len(mixes)} test mixtures, "
          f"{rec['seconds']} s. Output differences in 16-bit LSBs.", "",
          "| noise before each rounding | eps (codes) | output SQNR (dB) | exact % | max LSB | ΔSI-SDR (dB) |",
          "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['where']} | {r['eps']:g} | {r['sqnr_db']:.1f} | {r['pct_exact']:.1f} | {r['max_lsb']:.0f} "
                  f"| {r['delta_si_sdr_db']:+.3f} |")
    md += ["", "One code per mixture: the value of the tensor nearest a rounding boundary takes its other code "
           "(nothing else perturbed):", "",
           "| tensor | output SQNR (dB) | exact % | max LSB | ΔSI-SDR (dB) |", "|---|---:|---:|---:|---:|"]
    for r in one_code:
        md.append(f"| `{r['tensor']}` | {r['sqnr_db']:.1f} | {r['pct_exact']:.1f} | {r['max_lsb']:.0f} "
                  f"| {r['delta_si_sdr_db']:+.3f} |")
    md += ["", f"For scale: the simulation against the same network with every quantizer off (the quantization noise "
           f"itself): SQNR {float_net['sqnr_db']:.1f} dB, ΔSI-SDR {float_net['delta_si_sdr_db']:+.3f} dB."]
    (out / "parity_sensitivity.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
