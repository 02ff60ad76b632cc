"""The stereo I/O contract (``audio_channels: 2``): a model maps [B, 2, T] to [B, n_src * 2, T], source-major, and
every export and runtime keeps it; the music ConvTasNet configs (FQSS recipe: 4 stems, stereo, 44.1 kHz).

Guards as in ``test_architectures.py``: QDQ ONNX through the verifier, integer reference == LiteRT BUILTIN_REF on
every tensor, onnxruntime <= 1 output LSB from the simulation, the contract read back by every runtime.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fqss_edge.config import load_config, shipped_config
from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_onnx
from fqss_edge.export.onnx.audio_decoder import with_audio_decoder
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.models import build_model
from fqss_edge.models.io import load_model
from fqss_edge.parity.runner import run_parity
from fqss_edge.parity.synthetic import (FQSS_QUANT_NORM8, VANILLA_QUANT, calibrate, calibrated_random_model,
                                        random_audio, save_random_checkpoint, smoke_model)
from fqss_edge.quant.layers.io import split_bytes
from fqss_edge.quant.tools import count_parameters
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.base import IoContract, sources_by_channel

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
from litert_ref import reference_equals_litert_ref  # noqa: E402

STEMS = ["drums", "bass", "other", "vocals"]
STEREO = dict(n_src=4, audio_channels=2, sample_rate=44100, source_names=STEMS)
QUANTS = {"fqss": FQSS_QUANT_NORM8, "vanilla": VANILLA_QUANT}


def _stereo(n: int, seed: int) -> np.ndarray:
    return random_audio(2, n, seed).numpy()


@pytest.fixture(scope="module", params=list(QUANTS))
def exported(request, tmp_path_factory):
    model = calibrated_random_model(smoke_model("convtasnet", **STEREO), QUANTS[request.param])
    d = tmp_path_factory.mktemp(f"stereo_{request.param}")
    export_onnx(model, d / "model.onnx")  # the QDQ verifier against the model's own quantizers
    export_tflite(d / "model.onnx", d / "model.tflite")
    return model, d


def test_splitter_channels_are_byte_major():
    """[hi_0, hi_1, lo_0, lo_1]: the high bytes of both channels, then their low bytes."""
    p = torch.tensor([[[1000, -3]], [[-20000, 255]]], dtype=torch.float64).view(1, 2, 2)  # [1, C=2, T=2]
    b = (split_bytes(p / 32768.0) * 128).round().to(torch.int64)
    pcm = p.to(torch.int64)
    assert b.shape == (1, 4, 2)
    assert torch.equal(b[0, :2], pcm[0] >> 8) and torch.equal(b[0, 2:], (pcm[0] & 0xFF) - 128)


def test_model_maps_stereo_to_source_major_stems():
    model = build_model(smoke_model("convtasnet", **STEREO))
    assert model.in_channels == 2 and model.decoder.conv.out_channels == 2
    x = torch.from_numpy(_stereo(803, 1))[None]
    y = model(x)
    assert y.shape == (1, 8, 803)
    with pytest.raises(ValueError, match=r"expected \[B, 2, T\]"):
        model(x[:, :1])


def test_fqss_input_layer_reads_both_low_bytes_offset_free():
    model = build_model(smoke_model("convtasnet", **STEREO), FQSS_QUANT_NORM8)
    assert model.in_channels == 4
    assert model.encoder.input_offset.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_integer_reference_equals_litert_ref_on_every_tensor(exported):
    model, d = exported
    n = model.valid_length(1200)
    pcm = np.clip(np.floor(_stereo(n, 5) * 32768), -32768, 32767).astype(np.int16)[None]  # [1, 2, T]
    compared, _ = reference_equals_litert_ref((d / "model.tflite").read_bytes(), pcm)
    assert len(compared) >= 10


@pytest.mark.parametrize("optimization", ["off", "all"])
def test_onnxruntime_computes_the_simulation(exported, optimization):
    model, d = exported
    x = _stereo(1203, 7)  # not a valid length: padded, cropped
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    backend = open_backend(d / "model.onnx", optimization=optimization)
    y = backend.run(x)
    assert y.shape == ref.shape == (8, 1203)
    assert np.abs(y - ref).max() / backend.io_contract.output_lsb <= 1.0


@pytest.mark.parametrize("kernels", ["ref", "xnnpack"])
def test_litert_runs_stereo_and_follows_the_simulation(exported, kernels):
    """LiteRT's rounding differs from the simulation (README: 21-23 dB SQNR on mono random models); a swapped
    channel or source order would give ~0 dB."""
    model, d = exported
    x = _stereo(1203, 7)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy().astype(np.float64)
    backend = open_backend(d / "model.tflite", kernels=kernels)
    y = backend.run(x).astype(np.float64)
    assert y.shape == (8, 1203)
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2))
    assert sqnr > 18.0, sqnr
    assert sources_by_channel(y, backend.io_contract).shape == (4, 2, 1203)


def test_every_runtime_reads_the_stereo_contract(exported):
    _, d = exported
    for path in (d / "model.onnx", d / "model.tflite"):
        c = open_backend(path).io_contract
        assert (c.audio_channels, c.n_src, c.output_channels, list(c.source_names), c.sample_rate) == \
            (2, 4, 8, STEMS, 44100), path
    with pytest.raises(Exception, match=r"\[2, T\]"):
        open_backend(d / "model.onnx").run(_stereo(800, 1)[0])  # a mono waveform for a stereo model


def test_contract_without_audio_channels_is_mono():
    """Files exported before stereo carry no ``audio_channels``: they stay valid, as mono."""
    c = IoContract.from_dict({"sample_rate": 8000, "n_src": 2, "stride": 8, "kernel_size": 16})
    assert c.audio_channels == 1 and c.output_channels == 2


def _convtasnet_parameters(c) -> int:
    """Conv-TasNet's parameters counted by hand (float model): encoder and decoder filterbanks (no bias, C audio
    channels), gLN (gamma, beta), bottleneck, blocks (1x1, PReLU, gLN, depthwise, PReLU, gLN, residual and skip
    1x1), output PReLU and mask 1x1."""
    n, b, h, s, ch = c.n_filters, c.bn_chan, c.hid_chan, c.skip_chan, c.audio_channels
    block = (b * h + h) + 1 + 2 * h + (h * c.conv_kernel_size + h) + 1 + 2 * h + (h * b + b) + (h * s + s)
    masker = 2 * n + (n * b + b) + c.n_blocks * c.n_repeats * block + 1 + (s * c.n_src * n + c.n_src * n)
    return 2 * n * ch * c.kernel_size + masker


@pytest.mark.parametrize("name", ["convtasnet_music", "convtasnet_music_tiny"])
def test_music_configs_are_stereo_stems_with_the_counted_size(name):
    cfg = load_config(shipped_config(name))
    m = cfg.model
    assert (m.n_src, m.audio_channels, m.sample_rate, m.source_names) == (4, 2, 44100, STEMS)
    assert cfg.train.loss == "l1"
    assert count_parameters(build_model(m)) == _convtasnet_parameters(m)


def test_music_recipe_is_the_fqss_recipe():
    m = load_config(shipped_config("convtasnet_music")).model
    assert (m.n_filters, m.kernel_size, m.stride, m.bn_chan, m.hid_chan, m.conv_kernel_size, m.n_blocks,
            m.n_repeats) == (256, 20, 10, 256, 512, 3, 10, 4)
    assert count_parameters(build_model(m)) == 16_283_473  # with the skip path (B = 256 channels)


def test_music_tiny_config_exports_and_reference_equals_litert_ref(tmp_path):
    cfg = load_config(shipped_config("convtasnet_music_tiny"))
    model = calibrated_random_model(cfg.model.model_dump(), cfg.updated(quant={"calib_batches": 2}).quant.model_dump())
    export_onnx(model, tmp_path / "model.onnx")
    export_tflite(tmp_path / "model.onnx", tmp_path / "model.tflite")
    n = model.valid_length(1200)
    pcm = np.clip(np.floor(_stereo(n, 3) * 32768), -32768, 32767).astype(np.int16)[None]
    compared, _ = reference_equals_litert_ref((tmp_path / "model.tflite").read_bytes(), pcm)
    assert len(compared) >= 10


def test_parity_scores_each_stereo_stem_in_order(tmp_path):
    """``parity`` on the rendered stems: one row per named stem (both channels), the simulation's SI-SDR per stem
    without permutation, onnxruntime within 1 output LSB of it on nearly every sample."""
    ck = save_random_checkpoint(tmp_path / "ck.safetensors", smoke_model("convtasnet", **STEREO), FQSS_QUANT_NORM8,
                                sample_rate=44100)
    export_onnx(load_model(ck).model, tmp_path / "model.onnx")
    report = run_parity(ck, [tmp_path / "model.onnx"], Path(__file__).parents[1] / "assets" / "music")
    assert report.n_utts == 1 and list(report.reference_si_sdr_db) == STEMS
    for rt in report.runtimes:
        assert [o.output for o in rt.outputs] == STEMS
        assert rt.overall.pct_within_1lsb > 99.9 and abs(rt.overall.delta_si_sdr_db) < 0.05, rt


def test_float_export_computes_the_float_stereo_model(tmp_path):
    model = calibrated_random_model(smoke_model("convtasnet", **STEREO), None)
    export_onnx(model, tmp_path / "float.onnx")
    export_tflite(tmp_path / "float.onnx", tmp_path / "float.tflite")
    x = _stereo(1000, 2)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    for path in ("float.onnx", "float.tflite"):
        np.testing.assert_allclose(open_backend(tmp_path / path).run(x), ref, atol=1e-4, err_msg=path)


def test_audio_decoder_export_refuses_a_stereo_model(exported):
    """onnxruntime-extensions' AudioDecoder averages stereo to mono: no such export of a stereo model."""
    _, d = exported
    with pytest.raises(FqssError, match="2-channel; onnxruntime-extensions' AudioDecoder averages stereo to mono"):
        with_audio_decoder(onnx.load(str(d / "model.onnx")), open_backend(d / "model.onnx").io_contract)


def test_fqss_student_seeded_from_a_stereo_float_model_follows_it():
    """``init_from_float``: the splitter's byte-major input channels get [w, w / 256] per audio channel; a wrong
    channel order would put the student near 0 dB from its teacher (measured 15.9 dB on this random model)."""
    torch.manual_seed(0)
    teacher = build_model(smoke_model("convtasnet", **STEREO)).eval()
    student = build_model(smoke_model("convtasnet", **STEREO), FQSS_QUANT_NORM8)
    student.init_from_float(teacher.state_dict())
    calibrate(student, batches=3)
    x = torch.rand(1, 2, 4000) * 1.2 - 0.6
    with torch.no_grad():
        a, b = teacher(x), student(x)
    assert float(10 * torch.log10(a.pow(2).sum() / (a - b).pow(2).sum())) > 12.0
