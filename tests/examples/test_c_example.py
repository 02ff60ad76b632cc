"""examples/c: the LiteRT C API example builds with the system C compiler against the wheel's libLiteRt.so and
gives the same int16 samples as the Python LiteRT backend with the same kernels (XNNPACK) and the same level
handling (peak to 0.9 of full scale and back), bit for bit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.export.tflite import export
from fqss_edge.runtimes.litert_backend import LiteRtBackend
from tests.app_models import SR, tiny_models  # noqa: F401

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "c"


@pytest.fixture(scope="module")
def c_separate(tmp_path_factory) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH: cannot build examples/c/separate.c")
    import ai_edge_litert

    litert_dir = Path(ai_edge_litert.__file__).parent
    if not (litert_dir / "libLiteRt.so").is_file():
        pytest.skip(f"the ai-edge-litert wheel has no libLiteRt.so in {litert_dir}")
    exe = tmp_path_factory.mktemp("c_build") / "separate"
    cmd = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(EXAMPLE / "separate.c"),
           f"-L{litert_dir}", "-l:libLiteRt.so", "-lm", f"-Wl,-rpath,{litert_dir}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"build failed: {' '.join(cmd)}\n{r.stderr}"
    return exe


def run_c(exe: Path, model: Path, inp: Path, prefix: Path) -> list[Path]:
    r = subprocess.run([str(exe), str(model), str(inp), str(prefix)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return [Path(line) for line in r.stdout.split()]


def pcm(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t) + 0.2 * rng.uniform(-1, 1, n)
    return np.floor(x * 32768).clip(-32768, 32767).astype(np.int16)


def leveled(run, x: np.ndarray) -> np.ndarray:
    """The C example's level handling around ``run`` (int16 -> int16), in numpy: peak to 0.9 and back."""
    peak = int(np.abs(x.astype(np.int32)).max())
    if peak < 4:
        return run(x)
    g = 0.9 * 32768.0 / peak
    y = run(np.clip(np.rint(x * g), -32768, 32767).astype(np.int16))
    return np.clip(np.rint(y / g), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("n, level", [(1, 1), (16, 1), (1000, 1), (12_345, 1), (12_345, 100), (500, 20_000)],
                         ids=lambda v: str(v))
def test_c_wav_output_equals_python_litert_bit_for_bit(c_separate, tiny_models, tmp_path, n, level):
    x = (pcm(n, n) // level).astype(np.int16)  # level 100: -40 dB (amplified); 20000: peak < 4 LSB (left alone)
    sf.write(tmp_path / "mix.wav", x, SR, subtype="PCM_16")
    outs = run_c(c_separate, tiny_models["tflite"], tmp_path / "mix.wav", tmp_path / "mix")
    assert [p.name for p in outs] == ["mix_s1.wav", "mix_s2.wav"]
    got = np.stack([sf.read(p, dtype="int16")[0] for p in outs])
    assert all(sf.info(p).samplerate == SR for p in outs)
    want = leveled(LiteRtBackend(kernels="xnnpack", threads=1).load(tiny_models["tflite"]).run_int16, x)
    assert got.shape == want.shape == (2, n)
    diff = np.abs(got.astype(np.int32) - want)
    assert diff.max() == 0, f"source {int(np.argmax(diff.max(axis=1))) + 1} differs by up to {diff.max()} LSB"


def test_c_raw_pcm_and_fixed_length_model(c_separate, tiny_models, tmp_path):
    x = pcm(5000, 7)
    x.tofile(tmp_path / "mix.raw")
    fixed = tmp_path / "fixed.tflite"
    export(tiny_models["onnx"], fixed, length=1600)  # static shapes: the C example runs 1600-sample blocks
    for model in (tiny_models["tflite"], fixed):
        outs = run_c(c_separate, model, tmp_path / "mix.raw", tmp_path / model.stem)
        got = np.stack([np.fromfile(p, dtype="<i2") for p in outs])
        be = LiteRtBackend(kernels="xnnpack").load(model)
        if model == fixed:
            blocks = [np.pad(x[i:i + 1600], (0, max(0, i + 1600 - x.size))) for i in range(0, x.size, 1600)]
            want = np.concatenate([leveled(be.run_int16, b) for b in blocks], axis=1)[:, :x.size]
        else:
            want = leveled(be.run_int16, x)
        assert np.array_equal(got, want), f"{model.name}: up to {np.abs(got.astype(int) - want).max()} LSB"


def test_c_rejects_bad_input(c_separate, tiny_models, tmp_path):
    sf.write(tmp_path / "stereo.wav", np.zeros((100, 2), dtype=np.int16), SR, subtype="PCM_16")
    r = subprocess.run([str(c_separate), str(tiny_models["tflite"]), str(tmp_path / "stereo.wav"),
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode != 0 and "mono 16-bit" in r.stderr
    r = subprocess.run([str(c_separate)], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_c_runs_a_sepformer_bit_for_bit(c_separate, tmp_path):
    """A Sepformer .tflite (attention: BATCH_MATMUL, SOFTMAX; the positional encodings' CONCATENATION and
    STRIDED_SLICE; the dual-path reshapes) through the C API, resized to the input's valid length."""
    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, calibrated_random_model, smoke_model

    cfg = smoke_model("sepformer", sample_rate=SR)
    model = calibrated_random_model(cfg, FQSS_QUANT_NORM8)
    export_onnx(model, tmp_path / "model.onnx", config={"model": cfg, "quant": FQSS_QUANT_NORM8})
    export(tmp_path / "model.onnx", tmp_path / "model.tflite")
    x = pcm(1234, 3)  # padded to 1248 (a multiple of stride * chunk_size = 32), cropped back
    sf.write(tmp_path / "mix.wav", x, SR, subtype="PCM_16")
    got = np.stack([sf.read(p, dtype="int16")[0] for p in run_c(c_separate, tmp_path / "model.tflite",
                                                                   tmp_path / "mix.wav", tmp_path / "mix")])
    want = leveled(LiteRtBackend(kernels="xnnpack", threads=1).load(tmp_path / "model.tflite").run_int16, x)
    assert got.shape == want.shape == (2, x.size)
    assert np.array_equal(got, want), f"up to {np.abs(got.astype(int) - want).max()} LSB"
