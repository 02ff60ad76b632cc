"""The report's figures (matplotlib, Agg backend): the SDR ceiling, SQNR along the network, per-layer sensitivity."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, png: Path) -> Path:  # noqa: ANN001
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    _plt().close(fig)
    return png


def ceiling_png(ceiling: dict, png: Path) -> Path:
    """Left: SI-SDR against bit width, measured per utterance (dots) and on average (solid), the prediction on
    average (dashed), output and input; right: predicted against measured, per utterance and bit width."""
    plt = _plt()
    bits = np.array(ceiling["bits"])
    fig, (ax, ax_s) = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=90)
    colors = {"output": "#3465a4", "input": "#cc0000"}
    for where, color in colors.items():
        d = ceiling[where]
        measured = np.array(d["measured"])  # [U, B]
        for u in measured:
            ax.scatter(bits, u, s=8, color=color, alpha=0.35)
        ax.plot(bits, d["mean_measured"], "-o", color=color, ms=4, label=f"{where}: measured (mean)")
        ax.plot(bits, d["mean_predicted"], "--", color=color, label=f"{where}: 1/SDR + 1/SQNR (mean)")
        ax_s.scatter(np.array(d["predicted"]).ravel(), measured.ravel(), s=10, color=color, alpha=0.6, label=where)
    ax.axhline(float(np.mean(ceiling["float_si_sdr"])), color="#555", lw=0.8, label="float twin (mean)")
    if "model_si_sdr" in ceiling:
        ax.axhline(float(np.mean(ceiling["model_si_sdr"])), color="#73d216", lw=0.8, ls=":",
                   label="quantized model (mean)")
    ax.set_xlabel("bit width", fontsize=8)
    ax.set_ylabel("SI-SDR (dB)", fontsize=8)
    ax.set_title("SDR ceiling under quantization noise", fontsize=9)
    ax.legend(fontsize=6)
    lo = min(ax_s.get_xlim()[0], ax_s.get_ylim()[0])
    hi = max(ax_s.get_xlim()[1], ax_s.get_ylim()[1])
    ax_s.plot([lo, hi], [lo, hi], color="#888", lw=0.8)
    ax_s.set_xlabel("predicted SI-SDR (dB)", fontsize=8)
    ax_s.set_ylabel("measured SI-SDR (dB)", fontsize=8)
    ax_s.set_title("per utterance and bit width", fontsize=9)
    ax_s.legend(fontsize=6)
    for a in (ax, ax_s):
        a.tick_params(labelsize=7)
    return _save(fig, png)


def sqnr_png(rows: list[dict], png: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10.0, 3.2), dpi=90)
    y = [min(r["sqnr_db"], 200.0) for r in rows]
    ax.plot(range(len(rows)), y, "-o", ms=2.5, lw=0.8, color="#3465a4")
    ax.set_xlabel("tensor (in the order the network computes them; table below)", fontsize=8)
    ax.set_ylabel("SQNR vs float twin (dB)", fontsize=8)
    ax.set_title("per-tensor SQNR along the network", fontsize=9)
    ax.tick_params(labelsize=7)
    return _save(fig, png)


def sensitivity_png(layers: list[str], delta: list[float], kl: list[float], omega: list[float], png: Path) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(10.0, 7.5), dpi=90, sharex=True)
    x = np.arange(len(layers))
    panels = (("-ΔSI-SDR (dB), layer alone quantized", [-d for d in delta], False),
              ("KL(P_float || P_quant), spectral energy", kl, True),
              ("0.5 tr(H)/n · Σ step²/12 (int8 weights)", omega, True))
    for ax, (title, values, log) in zip(axes, panels):
        v = np.array(values, dtype=float)
        ax.bar(x, np.where(v > 0, v, 0) if log else v, color="#3465a4")
        if log and (v > 0).any():
            ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.tick_params(which="both", labelsize=6)
    axes[-1].set_xticks(x, layers, rotation=90, fontsize=5)
    return _save(fig, png)
