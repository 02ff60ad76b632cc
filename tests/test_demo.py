"""The README's main command: `fqss-edge demo` on the shipped assets, end to end."""

import html
import json

from fqss_edge.assets import asset
from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.cli.main import main
from fqss_edge.config import load_config, shipped_config
from fqss_edge.data.real_speech import REAL_SPLIT


def test_shipped_assets_are_the_tiny_float_and_fqss_models():
    f = load_checkpoint(asset("convtasnet_tiny_float.safetensors"))
    q = load_checkpoint(asset("convtasnet_tiny_fqss.safetensors"))
    assert f.config["quant"]["enabled"] is False
    assert q.config["quant"]["splitter"] and q.config["quant"]["residual_output"]
    tiny = load_config(shipped_config("convtasnet_tiny_gln_bn")).model.model_dump()  # norm: gLN_BN, issue 21
    assert f.config["model"] == q.config["model"] == tiny


def test_shipped_test_set_is_real_voices_never_trained_or_validated_on():
    """Issue 21: the demo's mixtures are two of the real-speech set's test voices each (real recordings, held
    out of training and validation by speaker), with their reference sources."""
    names = sorted(p.name for p in asset("test_set").joinpath("mix").glob("*.wav"))
    assert len(names) >= 5 and (asset("test_set") / "mix" / names[0]).read_bytes() == \
        asset("example_mixture.wav").read_bytes()
    for name in names:
        voices = name[:-4].split("_")[1:]
        assert len(voices) == 2 and set(voices) <= set(REAL_SPLIT["test"]), name
        assert all((asset("test_set") / s / name).is_file() for s in ("s1", "s2"))
    assert not set(REAL_SPLIT["test"]) & (set(REAL_SPLIT["train"]) | set(REAL_SPLIT["valid"]))


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
    out = capsys.readouterr().out
    assert "summary page" in out
    text = page.read_text()  # issue 21: reference sources beside the estimates, per-utterance metrics
    note = summary["latency_note"]  # None where the int8 .tflite is faster or the CPU has int8 dot products
    assert note is None or ("no int8 dot-product instructions" in " ".join(out.split()) and html.escape(note) in text)
    assert text.count("reference and estimates</h2>") == 2 and "<h2>Per utterance</h2>" in text
    assert len(summary["utterances"]) == len(list(asset("test_set").joinpath("mix").glob("*.wav")))


def test_shipped_fqss_model_maps_digital_silence_to_exact_zeros(tmp_path):
    """Issue 24: the int8 default gave -46.8 dBFS noise for silence; the shipped model reads the low byte
    offset-free: zeros in the simulation, onnxruntime and every LiteRT kernel set."""
    import numpy as np
    import torch

    from fqss_edge.models.io import load_model
    from fqss_edge.export.bundle import export_bundle
    from fqss_edge.runtimes import open_backend

    ckpt = asset("convtasnet_tiny_fqss.safetensors")
    model = load_model(ckpt).model
    assert model.encoder.input_offset.tolist() == [0.0, 1.0]  # trained with the offset-free low byte
    x = np.zeros(8000, np.float32)
    with torch.no_grad():
        peaks = {"simulation": float(model(torch.from_numpy(x)[None]).abs().max())}
    out = export_bundle(ckpt, tmp_path / "export", quantized=True)
    for label, path, opts in [("onnxruntime", out.onnx.path, {})] + [
            (f"litert {k}", out.tflite, {"kernels": k}) for k in ("ref", "builtin", "xnnpack")]:
        peaks[label] = float(np.abs(open_backend(path, **opts).run(x)).max())
    assert all(p == 0.0 for p in peaks.values()), peaks
