"""examples/stream_mic.py: streams a wav in 10 ms frames and reports the real-time margin per chunk."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.app_models import SR, noise, tiny_models  # noqa: F401

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "stream_mic.py"


def load_example():
    spec = importlib.util.spec_from_file_location("stream_mic", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stream_mic_reports_margins(tiny_models, tmp_path, capsys):
    sf.write(tmp_path / "talk.wav", np.stack([noise(44_100 * 3, 1), noise(44_100 * 3, 2)], 1), 44_100)
    code = load_example().main([str(tmp_path / "talk.wav"), "--model", str(tiny_models["tflite"]), "--chunk", "0.5",
                                "--overlap", "0.125", "--out", str(tmp_path / "out"), "--json",
                                str(tmp_path / "r.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "margin" in out and "latency" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["latency_samples"] == 4000 + 1000 and report["latency_ms"] == 625.0
    assert len(report["chunks"]) == 6 and all(r["compute_ms"] > 0 for r in report["chunks"])
    assert report["output_samples"] == SR * 3
    assert sf.info(tmp_path / "out" / "talk_s1.wav").frames == SR * 3


def test_stream_mic_bad_file(tiny_models, tmp_path, capsys):
    (tmp_path / "x.wav").write_text("no")
    assert load_example().main([str(tmp_path / "x.wav"), "--model", str(tiny_models["tflite"])]) == 2
    assert "x.wav" in capsys.readouterr().err
