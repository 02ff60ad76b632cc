"""``export --with-audio-decoder``: onnxruntime-extensions' AudioDecoder in front of the shipped tiny Conv-TasNet
(int8 QDQ and float) against ``fqss-edge separate`` on the same file (``--subtype FLOAT``, so that the comparison
is not rounded to 16 bits), for wav / flac / mp3 at the model's rate and wav / flac above it. Files are shorter
than separate's chunk, so separate runs the model once on the whole file, as the decoder model does. Figures are
printed (``pytest -s``).

Bounds:
* at the model's rate (wav, flac): the same samples reach the same graph: equal to one output LSB (1/32768);
* mp3: dr_mp3 keeps the encoder delay that libsndfile's decoder removes: the decoded mixture is the same once
  shifted (checked, >= 100 dB), but the model sees it at another offset (not a multiple of its stride) with extra
  near-silence in its global statistics, so the sources are only compared loosely (>= 10 dB, measured 13 / 16);
* above the model's rate: the decoder's resampler (Butterworth low-pass, Kaiser interpolation) is not soxr's: its
  output differs from soxr's by a frequency-dependent phase (magnitudes agree); the sources must differ from
  separate's by no more than the resampled mixtures differ from each other, 3 dB of margin (SNR_sources >=
  SNR_mixture - 3 dB): the model does not amplify the resampling difference.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import soundfile as sf
import soxr
from fqss_edge.export.onnx.audio_decoder import with_audio_decoder
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.audio_file import AudioFileSession
from fqss_edge.runtimes.onnxruntime_backend import extensions_library
from onnx import TensorProto, helper

from fqss_edge.assets import asset
from fqss_edge.cli.main import main
from fqss_edge.audio import peak_gain
from fqss_edge.errors import FqssError
from fqss_edge.models.registry import ARCHITECTURES
from fqss_edge.parity.synthetic import save_random_checkpoint
from fqss_edge.separate.resample import StreamResampler

SR = 8000
CHECKPOINTS = {"int8": "convtasnet_tiny_fqss.safetensors", "float": "convtasnet_tiny_float.safetensors"}
MP3 = "MP3" in sf.available_formats()  # libsndfile >= 1.1 writes mp3 (LAME): no encoder is needed otherwise


def snr(ref: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum((ref - x).astype(np.float64) ** 2),
                                                                          1e-30)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("audio_decoder")
    out = {}
    for precision, ckpt in CHECKPOINTS.items():
        folder = root / precision
        flag = "--int8" if precision == "int8" else "--float"
        assert main(["export", str(asset(ckpt)), flag, "--format", "onnx", "--with-audio-decoder", "-o",
                     str(folder)]) == 0
        out[precision] = folder
    return out


@pytest.fixture(scope="module")
def mixture() -> np.ndarray:
    x, sr = sf.read(str(asset("example_mixture.wav")), dtype="float32")
    assert sr == SR and x.size / sr > 3.0
    return x[: 3 * SR]  # shorter than separate's 4 s chunk


def _write(path, x: np.ndarray, sr: int) -> None:
    fmt = path.suffix[1:].upper()
    sf.write(str(path), x, sr, format=fmt, **({"subtype": "PCM_16"} if fmt == "WAV" else {}))


def _separate(path, model, out) -> np.ndarray:
    assert main(["separate", str(path), "--model", str(model), "-o", str(out), "--subtype", "FLOAT"]) == 0
    return np.stack([sf.read(str(out / f"{path.stem}_{name}.wav"), dtype="float32")[0] for name in ("s1", "s2")])


def _decoded(path) -> np.ndarray:
    """The AudioDecoder alone (8 kHz, mono) on a file."""
    node = helper.make_node("AudioDecoder", ["audio"], ["pcm"], domain="ai.onnx.contrib", downsampling_rate=SR,
                            stereo_to_mono=1)
    g = helper.make_graph([node], "decode", [helper.make_tensor_value_info("audio", TensorProto.UINT8, [1, None])],
                          [helper.make_tensor_value_info("pcm", TensorProto.FLOAT, [1, None])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.contrib", 1)],
                          ir_version=10)
    so = ort.SessionOptions()
    so.register_custom_ops_library(extensions_library())
    session = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return session.run(None, {"audio": np.fromfile(str(path), np.uint8)[None]})[0][0]


@pytest.mark.parametrize("precision", ["int8", "float"])
@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_at_the_model_rate_equals_separate(precision, suffix, exported, mixture, tmp_path):
    path = tmp_path / f"mix{suffix}"
    _write(path, mixture, SR)
    y = AudioFileSession(exported[precision] / "model_audio_decoder.onnx").run(path)
    want = _separate(path, exported[precision] / "model.onnx", tmp_path / "sep")
    print(f"\n{precision} {suffix} at {SR} Hz: max |decoder model - separate| = {np.abs(y - want).max():.3e}")
    assert y.shape == want.shape
    assert np.abs(y - want).max() <= 1 / 32768


@pytest.mark.skipif(not MP3, reason="this libsndfile cannot write mp3")
@pytest.mark.parametrize("precision", ["int8", "float"])
def test_mp3_decodes_with_its_encoder_delay(precision, exported, mixture, tmp_path):
    path = tmp_path / "mix.mp3"
    _write(path, mixture, SR)
    x, _ = sf.read(str(path), dtype="float32")  # libsndfile's mp3 decoder (separate's reader)
    d = _decoded(path)
    lag = int(np.argmax(np.correlate(d[:8000], x[:4000], mode="valid")))
    assert d.size >= lag + x.size
    decoded_snr = snr(x, d[lag:lag + x.size])
    y = AudioFileSession(exported[precision] / "model_audio_decoder.onnx").run(path)
    want = _separate(path, exported[precision] / "model.onnx", tmp_path / "sep")
    sources_snr = snr(want, y[:, lag:lag + want.shape[1]])
    print(f"\n{precision} mp3 at {SR} Hz: decoder output {d.size} samples, libsndfile {x.size}, lag {lag}; decoded "
          f"mixture SNR {decoded_snr:.1f} dB once shifted; sources vs separate {sources_snr:.1f} dB")
    assert decoded_snr >= 100
    assert sources_snr >= 10


@pytest.mark.parametrize("precision", ["int8", "float"])
@pytest.mark.parametrize("name, rate", [("mix.wav", 16000), ("mix.flac", 48000)])
def test_downsampled_input_is_within_the_resampling_difference(precision, name, rate, exported, mixture,
                                                               tmp_path):
    path = tmp_path / name
    _write(path, soxr.resample(mixture, SR, rate), rate)
    x, _ = sf.read(str(path), dtype="float32")
    ours, theirs = soxr.resample(x, rate, SR, quality="HQ"), _decoded(path)  # separate's resampler: soxr HQ
    mixture_snr, shifted_snr = snr(ours, theirs), snr(ours[:-1], theirs[1:])
    y = AudioFileSession(exported[precision] / "model_audio_decoder.onnx").run(path)
    want = _separate(path, exported[precision] / "model.onnx", tmp_path / "sep")  # at the input's rate
    ups = [StreamResampler(SR, rate, 1) for _ in range(2)]  # separate's way back to the input rate
    up = np.stack([np.concatenate([u.process(y[k][:, None]), u.finish()])[:, 0] for k, u in enumerate(ups)])
    assert up.shape == want.shape
    sources_snr = snr(want, up)
    print(f"\n{precision} {path.suffix} at {rate} Hz: mixture (AudioDecoder vs soxr at {SR} Hz) {mixture_snr:.1f} dB "
          f"({shifted_snr:.1f} dB with the decoder's output one sample earlier); "
          f"sources vs separate {sources_snr:.1f} dB, max |diff| {np.abs(up - want).max():.3f}")
    assert mixture_snr >= 5  # the same signal (a phase difference), not another one
    assert sources_snr >= mixture_snr - 3


def test_stereo_is_the_mean_of_its_channels(exported, mixture, tmp_path):
    left = np.round(mixture * 16384) / 32768
    right = np.round(np.roll(mixture, 101) * 16384) / 32768
    sf.write(str(tmp_path / "stereo.wav"), np.stack([left, right], 1), SR, subtype="PCM_16")
    sf.write(str(tmp_path / "mean.wav"), (left + right) / 2, SR, subtype="FLOAT")
    session = AudioFileSession(exported["int8"] / "model_audio_decoder.onnx")
    assert np.array_equal(session.run(tmp_path / "stereo.wav"), session.run(tmp_path / "mean.wav"))


@pytest.mark.parametrize("case, message", [
    ("upsample", "only down-sampling supported"),
    ("channels", "3 channels; the model's audio decoder mixes mono or stereo only"),
    ("long", "61.0 s; the model's audio decoder returns at most 480000 samples (60 s)"),
    ("ogg", "Cannot detect audio stream format"),
])
def test_what_the_decoder_cannot_do_is_a_one_line_error(case, message, exported, tmp_path):
    x = np.zeros(4000, np.float32) + 0.1
    files = {"upsample": ("low.wav", x, 4000), "channels": ("three.wav", np.stack([x] * 3, 1), SR),
             "long": ("long.wav", np.zeros(61 * SR, np.float32), SR), "ogg": ("mix.ogg", x, SR)}
    name, data, rate = files[case]
    sf.write(str(tmp_path / name), data, rate)
    with pytest.raises(FqssError, match=rf"^{re.escape(str(tmp_path / name))}: .*{re.escape(message)}") as e:
        AudioFileSession(exported["int8"] / "model_audio_decoder.onnx").run(tmp_path / name)
    assert "\n" not in str(e.value)


def test_the_waveform_backend_refuses_it_and_a_later_export_removes_it(exported, tmp_path):
    with pytest.raises(FqssError, match="takes the bytes of an audio file"):
        open_backend(exported["int8"] / "model_audio_decoder.onnx")
    ckpt = save_random_checkpoint(tmp_path / "smoke.safetensors")  # the smoke-size float model: fast to export
    out = tmp_path / "again"
    assert main(["export", str(ckpt), "--format", "onnx", "--with-audio-decoder", "-o", str(out)]) == 0
    assert (out / "model_audio_decoder.onnx").is_file()
    assert main(["export", str(ckpt), "--format", "onnx", "-o", str(out)]) == 0
    assert not (out / "model_audio_decoder.onnx").exists()


def test_the_exported_graph_inside_is_unchanged(exported):
    inner = onnx.load(str(exported["int8"] / "model.onnx"))
    outer = onnx.load(str(exported["int8"] / "model_audio_decoder.onnx"))
    contract = open_backend(exported["int8"] / "model.onnx").io_contract
    rebuilt = with_audio_decoder(inner, contract)
    assert rebuilt.graph == outer.graph
    inner_ops = [n.op_type for n in inner.graph.node]
    assert [n.op_type for n in outer.graph.node if not n.name.startswith("audio_decoder/")] == inner_ops


def test_info_shows_the_decoder_contract_and_verifies_the_weights(exported, capsys):
    assert main(["info", str(exported["float"] / "model_audio_decoder.onnx")]) == 0
    out = capsys.readouterr().out
    assert "weights     : verified" in out and "AudioDecoder x1" in out
    assert "'input': 'audio'" in out and "'max_samples': 480000" in out


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_behind_the_decoder_equals_its_model(arch, tmp_path):
    """The smoke-size float model of each architecture: the decoder model on a wav at the model's rate equals the
    exported graph on the same samples with separate's level normalisation (``peak_gain``)."""
    config = dict(ARCHITECTURES[arch].model.smoke_config, name=arch)
    ckpt = save_random_checkpoint(tmp_path / "ckpt.safetensors", config)
    assert main(["export", str(ckpt), "--float", "--format", "onnx", "--with-audio-decoder", "-o",
                 str(tmp_path / "out")]) == 0
    x = (0.3 * np.random.default_rng(0).standard_normal(3001)).astype(np.float32)
    sf.write(str(tmp_path / "mix.wav"), x, SR, subtype="PCM_16")
    pcm, _ = sf.read(str(tmp_path / "mix.wav"), dtype="float32")
    g = np.float32(peak_gain(pcm))
    want = open_backend(tmp_path / "out" / "model.onnx").run(pcm * g) / g
    y = AudioFileSession(tmp_path / "out" / "model_audio_decoder.onnx").run(tmp_path / "mix.wav")
    assert y.shape == want.shape == (2, 3001)
    assert np.abs(y - want).max() <= 1e-6
