"""The analysis report folder: ``report.json``, ``index.html`` with its figures (``img/``) and tables, and with
``--plan`` the plan (``plan.yaml``). Built in a hidden temporary folder beside the target and moved into place
when complete: a failed or interrupted run leaves nothing half-written (an older report stays as it was)."""

from __future__ import annotations

import html
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from fqss_edge.analysis import plots
from fqss_edge.analysis.plan import plan_yaml
from fqss_edge.fileio import check_output_folder
from fqss_edge.report.summary_page import STATUS_SCRIPT, STYLE, html_table

DEFINITIONS = {
    "sqnr": "10 log10(Σ|f|² / Σ|f − q|²) of each activation quantizer's tensor, f from the float twin (every "
            "quantizer off, the residual output block bypassed), q from the quantized model, pooled over utterances.",
    "sensitivity": "ΔSI-SDR: mean SI-SDR (PIT) with that layer alone quantized (weights and output, every other "
                   "layer float) minus the float twin's.",
    "kl": "KL(P_float ‖ P_quant) of the model outputs' spectral energy distributions (|STFT|², Hann 256, hop 128, "
          "normalised over source × frequency × frame, floor 1e-10), that layer alone quantized; mean over "
          "utterances.",
    "hessian": "Hutchinson estimate (Rademacher vectors, double backward) of tr(H), H the Hessian of the training "
               "loss with respect to the layer's weights at the float twin; ω = 0.5 · tr(H)/n · Σ step²/12 "
               "(step of each output channel's weight range at b bits).",
    "ceiling": "The float twin's SI-SDR with its output (or input) quantized uniformly to b bits at the tensor's "
               "peak, against 1/SDR_q = 1/SDR + 1/SQNR with SQNR = 10 log10(12) + 20 log10(2^(b−1) − 1) − 20 log10(peak/rms) per source (≈ 6.02 b + 4.77 − crest factor) "
               "(input: the mixture's SQNR, assuming the network passes input noise at the mixture's SNR).",
}


def strict(obj: Any) -> Any:
    """JSON without NaN / inf (null)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def report_json(report: dict) -> str:
    return json.dumps(strict({**report, "definitions": DEFINITIONS}), indent=2, allow_nan=False)


def _figure(rel: str, alt: str) -> str:
    return f'<figure><img src="{html.escape(rel)}" alt="{html.escape(alt)}"></figure>'


def _ceiling_rows(c: dict) -> list[dict]:
    return [{"bits": b, "output measured (dB)": c["output"]["mean_measured"][i],
             "output predicted (dB)": c["output"]["mean_predicted"][i],
             "input measured (dB)": c["input"]["mean_measured"][i],
             "input predicted (dB)": c["input"]["mean_predicted"][i]} for i, b in enumerate(c["bits"])]


def _sensitivity_rows(report: dict) -> list[dict]:
    kl = {r["layer"]: r["kl"] for r in report["kl"]}
    hess = {r["layer"]: r for r in report["hessian"]}
    rows = []
    for r in report["sensitivity"]:
        h = hess[r["layer"]]
        row = {"layer": r["layer"], "ΔSI-SDR (dB)": r["delta_si_sdr_db"], "KL": kl[r["layer"]],
               "tr(H)": h["trace"], "ω int8 weights": h["omega_w8"], "ω int4 weights": h["omega_w4"],
               "weights": r["n_weights"]}
        if "delta_w4a8_db" in r:
            row["ΔSI-SDR int4 w (dB)"] = r["delta_w4a8_db"]
            row["ΔSI-SDR int16 out (dB)"] = r["delta_w8a16_db"]
        rows.append(row)
    return rows


def build_page(report: dict, out: Path) -> Path:
    """Write ``index.html``, ``report.json``, ``img/*.png`` (and ``plan.yaml``) into the folder ``out``."""
    img = out / "img"
    plots.ceiling_png(report["ceiling"], img / "ceiling.png")
    plots.sqnr_png(report["sqnr"], img / "sqnr.png")
    sens = report["sensitivity"]
    plots.sensitivity_png([r["layer"] for r in sens], [r["delta_si_sdr_db"] for r in sens],
                          [r["kl"] for r in report["kl"]], [r["omega_w8"] for r in report["hessian"]],
                          img / "sensitivity.png")
    c = report["ceiling"]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    summary = [{"checkpoint": report["checkpoint"], "architecture": report["architecture"],
                "utterances": len(report["utterances"]), "float twin SI-SDR (dB)": mean(c["float_si_sdr"]),
                "quantized model SI-SDR (dB)": mean(c["model_si_sdr"])}]
    title = f"fqss-edge analyze: {Path(report['checkpoint']).name}"
    body = [f"<h1>{html.escape(title)}</h1>", html_table(summary),
            "<h2>SDR ceiling</h2>", f"<p>{html.escape(DEFINITIONS['ceiling'])}</p>",
            _figure("img/ceiling.png", "SDR ceiling: measured and predicted SI-SDR against bit width"),
            html_table(_ceiling_rows(c)),
            "<h2>Per-layer sensitivity</h2>",
            *(f"<p>{html.escape(DEFINITIONS[k])}</p>" for k in ("sensitivity", "kl", "hessian")),
            _figure("img/sensitivity.png", "per-layer sensitivity: ΔSI-SDR, KL, Hessian trace x noise"),
            html_table(_sensitivity_rows(report)),
            "<h2>SQNR along the network</h2>", f"<p>{html.escape(DEFINITIONS['sqnr'])}</p>",
            _figure("img/sqnr.png", "per-tensor SQNR along the network"),
            html_table([{"tensor": r["tensor"], "SQNR (dB)": r["sqnr_db"], "elements": r["numel"]}
                        for r in report["sqnr"]])]
    if "plan" in report:
        p = report["plan"]
        body += ["<h2>Mixed-precision plan</h2>",
                 f"<p>Budget {p['budget']:g}x uniform int8: cost {p['cost_bytes']:.0f} of "
                 f"{p['uniform_int8_cost_bytes']:.0f} bytes ({p['ratio']:.3f}x); <code>plan.yaml</code>.</p>",
                 html_table([{"layer": k, **v} for k, v in p["layers"].items()] or [{"layer": "(uniform int8)"}])]
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body)
            + '\n<footer><span id="media-status"></span> · generated by fqss-edge analyze · numbers in '
            '<a href="report.json">report.json</a></footer>\n'
            f"<script>{STATUS_SCRIPT}</script>\n</body>\n</html>\n")
    (out / "index.html").write_text(page, encoding="utf-8")
    (out / "report.json").write_text(report_json(report), encoding="utf-8")
    if "plan" in report:
        p = report["plan"]
        (out / "plan.yaml").write_text(plan_yaml(p["layers"], f"fqss-edge analyze --plan --budget {p['budget']:g}x "
                                                              f"{report['checkpoint']}: cost {p['ratio']:.3f}x "
                                                              "uniform int8"), encoding="utf-8")
    return out / "index.html"


def write_report(report: dict, out: str | Path) -> Path:
    """Build the report beside ``out`` and move it into place (replacing an older report folder)."""
    out = check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    old = out.parent / f".{out.name}.{secrets.token_hex(6)}.old"
    tmp.mkdir()
    try:
        build_page(report, tmp)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out / "index.html"
