"""The README's main command: `fqss-edge demo` on the shipped assets, end to end."""

import json

from fqss_edge.assets import asset
from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.cli.main import main


def test_shipped_assets_are_the_tiny_float_and_fqss_models():
    f = load_checkpoint(asset("convtasnet_tiny_float.safetensors"))
    q = load_checkpoint(asset("convtasnet_tiny_fqss.safetensors"))
    assert f.config["quant"]["enabled"] is False
    assert q.config["quant"]["splitter"] and q.config["quant"]["residual_output"]
    assert len(list(asset("test_set").joinpath("mix").glob("*.wav"))) >= 5


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path), "--bench-runs", "2"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    page = tmp_path / "summary" / "index.html"
    assert page.is_file() and "<audio" in page.read_text()
    assert {"export", "parity", "bench", "separate", "page"} <= set(summary["seconds"])
    models = [r["model"] for r in summary["latency"]]
    assert len(models) == 4 and all(r["mean (ms)"] > 0 for r in summary["latency"])
    assert any("litert" in r["model"] for r in summary["metrics"])
    for sub in ("float", "int8_tflite"):
        assert len(list((tmp_path / "separated" / sub).glob("*.wav"))) == 2
    for kind in ("int8", "float"):
        assert (tmp_path / "export" / kind / "model.tflite").is_file()
    assert "summary page" in capsys.readouterr().out
