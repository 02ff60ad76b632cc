"""Every registered architecture (and the model variants in ``VARIANTS``, e.g. Conv-TasNet with ``norm: BN``) through
the whole product path, with the same code and the same commands:

* guard: its smallest config (``smoke_config``) exports to QDQ ONNX that passes the verifier, and to a fully integer
  .tflite on which the integer reference equals LiteRT BUILTIN_REF on every tensor (FQSS and vanilla QAT);
* onnxruntime computes what the PyTorch simulation computes (<= 1 output LSB), the float export too;
* the CLI: ``train`` (float, then PTQ / vanilla / FQSS from it), ``export``, ``info``, ``parity``, ``eval``,
  ``bench``, ``separate``, and streaming of the exported model (independent of how the input is pushed).

Models with an LSTM whose batch follows the input length (``fixed_length_tflite``: DPRNN, DPTNet) differ in two
checked ways: their .tflite is exported at a fixed input length (a resizable export is refused with the reason), and
the contract graph's LSTM runs in float in onnxruntime (ONNX has no integer LSTM), so that graph is held to an SQNR
against the simulation instead of 1 LSB; the onnxruntime flavour (the default .onnx) has the integer LSTM and is
held to 1 LSB like every other model. The CLI path runs on their ONNX graph and on the fixed-length .tflite, which
``parity``, ``bench``, ``separate`` and streaming run in windows of its length.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import yaml

from fqss_edge.cli.main import main
from fqss_edge.config import load_config, shipped_config
from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_onnx
from fqss_edge.export.onnx.flavour import onnxruntime_flavour
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.models import ARCHITECTURES
from fqss_edge.parity.synthetic import (FQSS_QUANT_NORM8, VANILLA_QUANT, calibrated_random_model, random_audio,
                                        smoke_model)
from fqss_edge.quant.layers import QLSTM
from fqss_edge.runtimes import open_backend

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
from litert_ref import reference_equals_litert_ref  # noqa: E402

ARCHS = sorted(ARCHITECTURES)
# model variants held to the same guards as the architectures: id -> (architecture, changes to its smoke config)
VARIANTS = {a: (a, {}) for a in ARCHS} | {"convtasnet-BN": ("convtasnet", {"norm": "BN"}),
                                          "convtasnet-gLN_BN": ("convtasnet", {"norm": "gLN_BN"}),
                                          "convtasnet-gLN_folded": ("convtasnet", {"norm": "gLN_folded"}),
                                          "convtasnet-gLN_BN-relu": ("convtasnet", {"norm": "gLN_BN",
                                                                                    "block_act": "relu"}),
                                          # one block: its skip conv is the whole skip sum (the ReLU fused there)
                                          "convtasnet-relu-1block": ("convtasnet", {"block_act": "relu",
                                                                                    "n_blocks": 1}),
                                          "sepformer-fold_norms": ("sepformer", {"fold_norms": True})}
# the shipped tiny configs: one per architecture, and the variants'
TINY_CONFIGS = [f"{a}_tiny" for a in ARCHS] + ["convtasnet_tiny_bn", "convtasnet_tiny_gln_bn",
                                                "convtasnet_tiny_gln_bn_relu", "convtasnet_tiny_gln_folded"]
QUANTS = {"fqss": FQSS_QUANT_NORM8, "vanilla": VANILLA_QUANT}

# The contract graph (`export --target tflite`) holds ONNX's float LSTM, which onnxruntime runs in float: the bound
# against the simulation for such models. Measured on the smoke DPRNN (random weights, 1203 samples): FQSS 39.1 dB,
# vanilla 44.9 dB. The onnxruntime flavour (the default .onnx) has the integer LSTM: within 1 LSB like the others.
LSTM_ORT_SQNR_DB = 30.0
# architectures whose contract graph misses that bound in onnxruntime, and why
ORT_LSTM_GAP = {
    "dptnet": ("the contract graph's float LSTM is not the integer one, and on DPTNet the difference reaches the "
               "output more than on DPRNN: smoke FQSS DPTNet 25.4 dB SQNR vs the simulation (the onnxruntime "
               "flavour, with the integer LSTM, is within 1 LSB)"),
}


def _export_tflite(model, onnx: Path, out: Path, n: int) -> Path:
    """``out``: resizable, or fixed at ``n`` samples for a ``fixed_length_tflite`` model (whose resizable export
    must be refused with the reason, nothing written)."""
    if model.fixed_length_tflite:
        with pytest.raises(FqssError, match="state tensors have a fixed batch"):
            export_tflite(onnx, out)
        assert not out.exists()
        export_tflite(onnx, out, length=n)
    else:
        export_tflite(onnx, out)
    return out


def _pcm(n: int, seed: int, channels: int = 1) -> np.ndarray:
    """int16 PCM as the .tflite takes it: [1, n] mono, [1, C, n] stereo."""
    x = np.stack([random_audio(1, n, seed + c).numpy().reshape(-1) for c in range(channels)])
    x = x.reshape(1, -1) if channels == 1 else x[None]
    return np.clip(np.floor(x * 32768), -32768, 32767).astype(np.int16)


def _smoke(variant: str) -> dict:
    arch, changes = VARIANTS[variant]
    return smoke_model(arch, **changes)


@pytest.fixture(scope="module", params=[(v, q) for v in VARIANTS for q in QUANTS], ids=lambda p: f"{p[0]}-{p[1]}")
def exported(request, tmp_path_factory):
    variant, quant = request.param
    model = calibrated_random_model(_smoke(variant), QUANTS[quant])
    d = tmp_path_factory.mktemp(f"{variant}_{quant}")
    export_onnx(model, d / "model.onnx")  # runs the QDQ verifier against the model's own quantizers
    return model, d, _export_tflite(model, d / "model.onnx", d / "model.tflite", model.valid_length(1200))


@pytest.mark.parametrize("name", TINY_CONFIGS)
def test_shipped_tiny_config_exports_and_reference_equals_litert_ref(name, tmp_path):
    """The same guard on ``configs/<arch>_tiny.yaml`` itself (its model, FQSS as configured)."""
    cfg = load_config(shipped_config(name))
    model = calibrated_random_model(cfg.model.model_dump(), cfg.updated(quant={"calib_batches": 2}).quant.model_dump())
    export_onnx(model, tmp_path / "model.onnx")
    n = model.valid_length(1200)
    _reference_equals_litert_ref(_export_tflite(model, tmp_path / "model.onnx", tmp_path / "model.tflite", n), n,
                                 model.audio_channels)


def test_every_architecture_registers_a_smoke_config():
    for name, arch in ARCHITECTURES.items():
        cfg = arch.smoke_config()
        assert cfg.name == name and isinstance(cfg, arch.config)
        assert isinstance(arch.model(cfg), arch.model)


def test_integer_reference_equals_litert_ref_on_every_tensor(exported, request):
    model, _, tflite = exported
    _reference_equals_litert_ref(tflite, model.valid_length(1200), model.audio_channels)


def _reference_equals_litert_ref(path, n: int, channels: int = 1) -> None:
    compared, _ = reference_equals_litert_ref(path.read_bytes(), _pcm(n, seed=5, channels=channels))
    assert len(compared) >= 10


@pytest.mark.parametrize("flavour", ["tflite", "onnxruntime"])
@pytest.mark.parametrize("optimization", ["off", "all"])
def test_onnxruntime_computes_the_simulation(exported, optimization, flavour):
    """Within 1 LSB of the simulation; the contract graph's LSTM runs in float in onnxruntime (close, not equal),
    the onnxruntime flavour (what `export` writes) has the integer LSTM (export/onnx/integer_lstm.py)."""
    model, d, _ = exported
    path = d / "model.onnx"
    if flavour == "onnxruntime":
        path = d / "model.ort.onnx"
        if not path.exists():
            onnx.save(onnxruntime_flavour(onnx.load(str(d / "model.onnx"))), str(path))
    # not a valid length for every model: padded, cropped. Seed 7 (before TFLite's LeakyRelu codes) now meets
    # near ties in onnxruntime's float rounding (smoke ResUNet decoder: -8.5000005 codes, the simulation's exact
    # accumulator rounds to -9, onnxruntime to -8; ConvTasNet's res_conv in float at opt=off): one code, 257 LSB
    x = random_audio(1, 1203, seed=8).numpy().reshape(-1)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    backend = open_backend(path, optimization=optimization)
    y = backend.run(x).astype(np.float64)
    assert y.shape == ref.shape == (model.n_src, 1203)
    if flavour == "tflite" and any(isinstance(m, QLSTM) for m in model.modules()):
        sqnr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((y - ref) ** 2))
        if sqnr < LSTM_ORT_SQNR_DB and model.config.name in ORT_LSTM_GAP:
            pytest.xfail(f"{sqnr:.1f} dB: {ORT_LSTM_GAP[model.config.name]}")
        assert sqnr >= LSTM_ORT_SQNR_DB, sqnr
    else:
        # 1 LSB, up to float32's rounding of the two values (a vanilla output scale is no power of two)
        assert np.abs(y - ref).max() / backend.io_contract.output_lsb <= 1.0 + 1e-5


@pytest.mark.parametrize("arch", VARIANTS)
def test_float_export_computes_the_float_model(arch, tmp_path):
    model = calibrated_random_model(_smoke(arch), None)
    export_onnx(model, tmp_path / "float.onnx")
    tflite = _export_tflite(model, tmp_path / "float.onnx", tmp_path / "float.tflite", model.valid_length(1000))
    x = random_audio(1, 1000, seed=2).numpy().reshape(-1)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(open_backend(tmp_path / "float.onnx").run(x), ref, atol=1e-4, err_msg="onnx")
    np.testing.assert_allclose(open_backend(tflite).run(x), ref, atol=1e-4, err_msg="tflite")


# (architecture, quantization) pairs that do not map digital silence to silence, and why
_FLATCONV = ("learned biases in every layer: the float FlatConv is not silent either (-55 dBFS RMS on the trained "
             "flatconv_tiny)")
NOT_SILENT = {
    ("flatconv", "fqss"): _FLATCONV,
    ("flatconv", "vanilla"): _FLATCONV,
    ("flatconv", "float"): _FLATCONV,
}


def _silence_peaks(model, paths: dict) -> dict[str, float]:
    """max |output| on digital silence: the simulation, and each exported file in each of its runtimes."""
    x = np.zeros(model.valid_length(1200), np.float32)
    with torch.no_grad():
        peaks = {"simulation": float(model(torch.from_numpy(x)[None]).abs().max())}
    for label, (path, opts) in paths.items():
        peaks[label] = float(np.abs(open_backend(path, **opts).run(x)).max())
    return peaks


def _assert_silent(key: tuple[str, str], peaks: dict[str, float]) -> None:
    if key in NOT_SILENT:
        assert max(peaks.values()) > 0, f"{key} maps silence to silence now: drop it from NOT_SILENT"
        pytest.xfail(NOT_SILENT[key])
    assert all(p == 0.0 for p in peaks.values()), peaks


def test_digital_silence_gives_exact_zeros(exported, request):
    """int8 (FQSS and vanilla): the simulation, onnxruntime (optimisations off / all) and LiteRT (reference,
    builtin and XNNPACK kernels) give exact zeros for all-zero input (issue 24: FQSS gave -46 dBFS noise)."""
    model, d, tflite = exported
    paths = {f"onnxruntime {o}": (d / "model.onnx", dict(optimization=o)) for o in ("off", "all")}
    paths |= {f"LiteRT {k}": (tflite, dict(kernels=k)) for k in ("ref", "builtin", "xnnpack")}
    _assert_silent(request.node.callspec.params["exported"], _silence_peaks(model, paths))


@pytest.mark.parametrize("arch", VARIANTS)
def test_digital_silence_gives_exact_zeros_in_float(arch, tmp_path):
    model = calibrated_random_model(_smoke(arch), None)
    export_onnx(model, tmp_path / "float.onnx")
    tflite = _export_tflite(model, tmp_path / "float.onnx", tmp_path / "float.tflite", model.valid_length(1200))
    paths = {"onnxruntime": (tmp_path / "float.onnx", {}), "LiteRT": (tflite, {})}
    _assert_silent((arch, "float"), _silence_peaks(model, paths))


# -- the same commands for every architecture ------------------------------------------------------------------
def _cli(*args) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([str(a) for a in args])
    return code, buf.getvalue()


@pytest.fixture(scope="module", params=list(VARIANTS))
def trained(request, tmp_path_factory, tiny_data):
    """A float run and an FQSS run of the architecture's smoke config, trained by the CLI on the tiny data."""
    arch = VARIANTS[request.param][0]
    d = tmp_path_factory.mktemp(f"cli_{request.param}")
    loss = load_config(shipped_config(f"{arch}_tiny")).train.loss  # the architecture's own loss (FlatConv: MSE)
    cfg = {"model": _smoke(request.param), "quant": {"calib_batches": 2},
           "train": {"epochs": 1, "batch_size": 2, "segment_seconds": 0.25, "loss": loss},
           "data": {k: str(tiny_data / k) for k in ("train", "valid", "test")}}
    (d / "run.yaml").write_text(yaml.safe_dump(cfg))
    code, _ = _cli("train", "-c", d / "run.yaml", "--method", "float", "-o", d / "float", "--no-progress")
    assert code == 0
    return arch, d


@pytest.mark.parametrize("method", ["ptq", "vanilla", "fqss"])
def test_train_methods_and_eval(trained, method, tiny_data):
    _, d = trained
    teacher = d / "float" / "best.safetensors"
    code, _ = _cli("train", "-c", d / "run.yaml", "--method", method, "--teacher", teacher, "-o", d / method,
                   "--no-progress")
    assert code == 0
    code, out = _cli("eval", d / method / "best.safetensors", "--data", tiny_data / "test", "--json", "--no-sdr")
    assert code == 0 and json.loads(out)["mean"]["n"] == 2


def test_export_info_parity_bench_separate_stream(trained, tiny_data, tmp_path, capsys):
    arch, d = trained
    ckpt = d / "fqss" / "best.safetensors"
    if not ckpt.exists():
        assert _cli("train", "-c", d / "run.yaml", "--method", "fqss", "--teacher", d / "float" / "best.safetensors",
                    "-o", d / "fqss", "--no-progress")[0] == 0
    out = tmp_path / "exported"
    if ARCHITECTURES[arch].model.fixed_length_tflite:  # refused with the reason, nothing written; then ONNX alone
        capsys.readouterr()
        assert _cli("export", ckpt, "--int8", "-o", out)[0] == 2
        assert "state tensors have a fixed batch" in capsys.readouterr().err
        assert not (out / "model.tflite").exists()
        n = ARCHITECTURES[arch].model.smoke_config["stride"] * ARCHITECTURES[arch].model.smoke_config["chunk_size"]
        assert _cli("export", ckpt, "--int8", "--length", n + 1, "-o", out)[0] == 2
        assert f"--length {n + 1}: the model takes a multiple of {n} samples" in capsys.readouterr().err
        assert _cli("export", ckpt, "--int8", "--length", 3 * n, "-o", tmp_path / "fixed")[0] == 0
        fixed = tmp_path / "fixed" / "model.tflite"
        from ai_edge_litert.interpreter import Interpreter

        assert list(Interpreter(model_path=str(fixed)).get_input_details()[0]["shape_signature"]) == [1, 3 * n]
        code, info = _cli("info", fixed)
        assert code == 0 and f"[1, {3 * n}]" in info and f"fixed {3 * n} samples" in info
        assert _cli("export", ckpt, "--int8", "--format", "onnx", "-o", out)[0] == 0
        models = [out / "model.onnx", fixed]  # the app windows its input to the fixed length
    else:
        assert _cli("export", ckpt, "--int8", "-o", out)[0] == 0
        models = [out / "model.onnx", out / "model.tflite"]
    code, info = _cli("info", out / "model.onnx")
    assert code == 0 and f"'name': '{arch}'" in info
    code, report = _cli("parity", ckpt, *models, "--data", tiny_data / "test", "--json")
    assert code == 0
    runtimes = json.loads(report)["runtimes"]
    assert len(runtimes) == 2 + 3 * (len(models) - 1)  # onnxruntime off / all, LiteRT ref / builtin / XNNPACK
    over = []
    for rt in runtimes:
        # one epoch on 0.4 s mixtures (SI-SDR near 0 dB): LiteRT's double rounding moves it by ~0.15 dB here,
        # up to +0.51 dB (DPTNet, LiteRT reference kernels, the model trained with one thread on 2026-12-04's
        # machine; +0.02 with two); the 0.05 dB bound is for trained models on real-size inputs
        # (benchmarks/parity_tiny.py); exactness against the integer reference is tested per architecture elsewhere
        bound = 0.05 if rt["runtime"].startswith("onnxruntime") else 1.0
        if abs(rt["overall"]["delta_si_sdr_db"]) > bound:
            over.append(f"{rt['runtime']} {rt['overall']['delta_si_sdr_db']:+.3f} dB")
    assert not over, over
    code, bench = _cli("bench", *models[::-1], "--runs", "1", "--warmup", "0", "--chunk", "0.2", "--no-memory",
                       "--json")
    assert code == 0 and len(json.loads(bench)["results"]) == len(models)
    mix = sorted((tiny_data / "test" / "mix").glob("*.wav"))[0]
    assert _cli("separate", mix, "--model", models[-1], "-o", tmp_path / "sep")[0] == 0
    assert len(list((tmp_path / "sep").glob("*.wav"))) == 2
    _streaming_does_not_depend_on_push_sizes(models[-1])


def _streaming_does_not_depend_on_push_sizes(model_path) -> None:
    from fqss_edge.runtimes.streaming import StreamingSeparator

    backend = open_backend(model_path, **({"kernels": "ref"} if model_path.suffix == ".tflite" else {}))
    x = random_audio(1, 3000, seed=11).numpy().reshape(-1)
    c = backend.io_contract
    fixed = c.fixed_length  # the separator's windows are that long
    offline = StreamingSeparator(backend, chunk_seconds=0.1, overlap_seconds=0.02, normalize=False)
    if fixed:  # the model's window; the overlap cut to at most half of it (160 samples asked)
        assert offline.window_samples == fixed and 0 < offline.overlap_samples <= fixed // 2
    whole = np.concatenate([offline.push(x), offline.flush()], axis=1)
    online = StreamingSeparator(backend, chunk_seconds=0.1, overlap_seconds=0.02, normalize=False)
    parts = [online.push(x[i:i + 97]) for i in range(0, x.size, 97)] + [online.flush()]
    assert whole.shape == (backend.io_contract.n_src, x.size)
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_teacher_of_another_architecture_is_a_clear_error(trained, tmp_path, capsys):
    arch, d = trained
    other = next(a for a in ARCHS if a != arch)
    cfg = yaml.safe_load((d / "run.yaml").read_text())
    cfg["model"] = smoke_model(other)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["train", "-c", str(tmp_path / "other.yaml"), "--method", "fqss", "--teacher",
                 str(d / "float" / "best.safetensors"), "-o", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and f"is a {arch} checkpoint, the run config trains {other}" in err
