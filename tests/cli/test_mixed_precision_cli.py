"""A mixed-precision plan through the command line: train --plan (FQSS QAT, one short epoch) -> export ->
parity (integer reference == LiteRT REF on every tensor, |dSI-SDR| <= 0.05 dB per runtime) -> bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml

from fqss_edge.audio import read_wav
from fqss_edge.checkpoint import load_checkpoint
from tests.cli.test_cli import run_cli
from tests.conftest import make_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from litert_ref import reference_equals_litert_ref  # noqa: E402

# int4 weights (an int8 pointwise conv: INT4 in the .tflite; a 16x8 one: int8 codes), int16 outputs of a 1x1
# conv, a depthwise conv, a skip conv (an int8 + int16 ADD) and the mask conv (a fused RELU, then int8)
PLAN = {"masker.blocks.0.in_conv": {"weight_bits": 4},
        "masker.blocks.0.dw_conv": {"act_bits": 16},
        "masker.blocks.1.skip_conv": {"weight_bits": 4, "act_bits": 16},
        "masker.mask_conv": {"act_bits": 16}}


def test_plan_trains_exports_and_keeps_parity(tiny_config, tiny_data, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"quant": {"plan": PLAN}}))
    run = {k: tmp_path / k for k in ("float", "fqss", "export")}
    assert run_cli(["train", "-c", tiny_config, "--method", "float", "-o", run["float"], "--no-progress"], capsys)[0] == 0
    code, _, err = run_cli(["train", "-c", tiny_config, "--plan", plan, "--method", "fqss", "--teacher",
                            run["float"] / "best.safetensors", "-o", run["fqss"], "--no-progress"], capsys)
    assert code == 0, err
    ckpt = run["fqss"] / "best.safetensors"
    assert load_checkpoint(ckpt).config["quant"]["plan"] == {k: {"weight_bits": v.get("weight_bits"),
                                                                  "act_bits": v.get("act_bits")}
                                                              for k, v in PLAN.items()}
    code, _, err = run_cli(["export", ckpt, "-o", run["export"]], capsys)
    assert code == 0, err
    onnx_path, tflite_path = run["export"] / "model.onnx", run["export"] / "model.tflite"

    test = make_split(tmp_path / "test", 2, 2.0, 2)  # parity on 2 s mixtures (the tiny set's are 0.4 s)
    mix, _ = read_wav(next((test / "mix").glob("*.wav")))
    pcm = np.clip(np.floor(mix * 32768), -32768, 32767).astype(np.int16).reshape(1, -1)
    compared, ops = reference_equals_litert_ref(tflite_path.read_bytes(), pcm)
    assert len(compared) > 150 and {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "QUANTIZE"} <= ops

    code, out, err = run_cli(["parity", ckpt, onnx_path, tflite_path, "--data", test, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    runtimes = {r["runtime"]: r["overall"]["delta_si_sdr_db"] for r in report["runtimes"]}
    assert {"litert-ref", "litert-builtin", "litert-xnnpack"} <= set(runtimes)
    print("dSI-SDR per runtime (dB):", runtimes, f"reference == REF on {len(compared)} tensors")
    assert all(abs(d) <= 0.05 for d in runtimes.values()), runtimes

    code, out, err = run_cli(["bench", tflite_path, "--runs", "1", "--warmup", "0", "--no-memory", "--md"], capsys)
    assert code == 0 and "model.tflite" in out and "litert" in out, (out[:500], err[-300:])
