"""``fqss-edge analyze`` end to end: the report's JSON and plan, the page in headless Chromium, one-line errors with
nothing written, and the analysis of every registered architecture."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest
import yaml

from fqss_edge.analysis.run import AnalysisOptions, run_analysis
from fqss_edge.analysis.switches import analysis_layers
from fqss_edge.cli.main import main
from fqss_edge.models import ARCHITECTURES
from fqss_edge.models.io import load_model
from fqss_edge.parity.synthetic import save_random_checkpoint, smoke_model
from tests.analysis.conftest import QUANT
from tests.cli.test_cli import run_cli
from tests.report.test_summary_page import media_status, rendered_dom, served

KEYS = {"sensitivity", "sqnr", "kl", "hessian", "ceiling"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.safetensors", smoke_model("convtasnet"),
                                  QUANT)


@pytest.fixture(scope="module")
def report_dir(checkpoint, analysis_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "analysis"
    args = ["analyze", checkpoint, "--data", analysis_data, "-o", out, "--max-utterances", "1", "--hessian-samples",
            "1", "--hessian-seconds", "0.25", "--plan", "--budget", "1.1x", "--json"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([str(a) for a in args])
    assert code == 0
    return out, json.loads(buf.getvalue())


def finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def test_report_json_has_every_measure(report_dir, checkpoint):
    out, printed = report_dir
    report = json.loads((out / "report.json").read_text())
    assert printed == report and KEYS <= set(report)
    layers = [n for n, _ in analysis_layers(load_model(checkpoint).model)]
    for key in ("sensitivity", "kl", "hessian"):
        assert [r["layer"] for r in report[key]] == layers
    assert all(finite(r["delta_si_sdr_db"]) and finite(r["delta_w4a8_db"]) for r in report["sensitivity"])
    assert all(r["kl"] >= 0 for r in report["kl"]) and any(r["kl"] > 0 for r in report["kl"])
    h = report["hessian"]
    assert all(finite(r["trace"]) and r["noise_power_w4"] > 100 * r["noise_power_w8"] for r in h)
    assert report["sqnr"][-1]["tensor"] == "output" and finite(report["sqnr"][-1]["sqnr_db"])
    c = report["ceiling"]
    assert c["bits"] == list(range(4, 17)) and len(c["output"]["measured"]) == 1 and len(c["model_si_sdr"]) == 1


def test_plan_meets_the_budget_and_is_the_fixed_yaml(report_dir, checkpoint):
    out, report = report_dir
    assert report["plan"]["ratio"] <= 1.1 + 1e-9
    doc = yaml.safe_load((out / "plan.yaml").read_text())
    assert doc == {"quant": {"plan": report["plan"]["layers"]}}
    model = load_model(checkpoint).model
    for path, bits in doc["quant"]["plan"].items():
        model.get_submodule(path)  # a module path of the model
        assert bits["weight_bits"] in (4, 8) and bits["act_bits"] in (8, 16)


def test_report_opens_in_chromium_with_every_image(report_dir, tmp_path):
    out, _ = report_dir
    server = served(out)
    try:
        dom = rendered_dom(f"http://127.0.0.1:{server.server_port}/index.html", tmp_path / "profile")
    finally:
        server.shutdown()
    media = media_status(dom)
    assert len(media) == 3
    for _, a in media:
        assert a.get("data-status") == "ok" and int(a["data-natural-width"]) > 0, a.get("alt")
    assert "3 of 3 media loaded" in dom and "SDR ceiling" in dom


@pytest.mark.parametrize("what", ["checkpoint", "data"])
def test_bad_input_is_one_line_and_writes_nothing(what, checkpoint, analysis_data, tmp_path, capsys):
    ck = tmp_path / "missing.safetensors" if what == "checkpoint" else checkpoint
    data = tmp_path / "no_data" if what == "data" else analysis_data
    out = tmp_path / "out" / "analysis"
    code, _, err = run_cli(["analyze", ck, "--data", data, "-o", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(ck if what == "checkpoint" else data) in err
    assert not (tmp_path / "out").exists()


def test_a_float_checkpoint_is_refused(analysis_data, tmp_path, capsys):
    ck = save_random_checkpoint(tmp_path / "float.safetensors", smoke_model("convtasnet"))
    code, _, err = run_cli(["analyze", ck, "--data", analysis_data, "-o", tmp_path / "out"], capsys)
    assert code == 2 and "a float checkpoint" in err and str(ck) in err and not (tmp_path / "out").exists()


def test_a_failed_run_keeps_the_older_report(report_dir, tmp_path, capsys):
    out, _ = report_dir
    before = (out / "report.json").read_bytes()
    code, _, _ = run_cli(["analyze", tmp_path / "missing.safetensors", "--data", tmp_path, "-o", out], capsys)
    assert code == 2 and (out / "report.json").read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["analysis"]  # no temporary folder left


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture(arch, analysis_data, tmp_path):
    ck = save_random_checkpoint(tmp_path / f"{arch}.safetensors", smoke_model(arch), QUANT)
    r = run_analysis(ck, analysis_data, AnalysisOptions(max_utterances=1, hessian_samples=1, hessian_seconds=0.25,
                                                        bits=(4, 16)), progress=False)
    assert KEYS <= set(r) and len(r["sensitivity"]) >= 2
    assert all(finite(x["delta_si_sdr_db"]) for x in r["sensitivity"])
    assert all(finite(x["kl"]) for x in r["kl"]) and all(finite(x["trace"]) for x in r["hessian"])
    assert finite(r["sqnr"][-1]["sqnr_db"]) and len(r["ceiling"]["output"]["mean_measured"]) == 2
