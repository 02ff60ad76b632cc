"""``separate`` with a stereo music model (4 named stems): stems named from the contract, the input's rate,
channels and length kept, both channels separated together, ``--two-stems``, wav / flac / mp3 outputs."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.cli.main import main
from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_onnx
from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, calibrated_random_model, random_audio, smoke_model
from fqss_edge.runtimes import open_backend
from fqss_edge.separate import SeparateOptions, separate_file

STEMS = ["drums", "bass", "other", "vocals"]
WHOLE = SeparateOptions(chunk_seconds=10.0, overlap_seconds=0.0, normalize=False, subtype="FLOAT")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    m = calibrated_random_model(smoke_model("convtasnet", n_src=4, audio_channels=2, sample_rate=44100,
                                            source_names=STEMS), FQSS_QUANT_NORM8)
    path = tmp_path_factory.mktemp("music") / "model.onnx"
    export_onnx(m, path)
    return path


def _song(path: Path, rate: int, channels: int, seconds: float = 0.5) -> np.ndarray:
    x = random_audio(channels, int(rate * seconds), 4).numpy().T * 0.8  # [n, C]
    sf.write(str(path), x, rate, subtype="FLOAT")
    return x


def _read(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


def test_stereo_file_gives_named_stereo_stems_of_the_model(model, tmp_path):
    """At the model's rate, one window, no level scaling: each stem file is the model's output for that stem
    (both channels separated together, source-major rows mapped to the right file and channel)."""
    x = _song(tmp_path / "song.wav", 44100, 2)
    out = separate_file(tmp_path / "song.wav", open_backend(model), tmp_path / "out", WHOLE)
    assert list(out) == STEMS and all(p.name == f"song_{s}.wav" for s, p in out.items())
    y = open_backend(model).run(x.T)  # [8, n]
    for k, stem in enumerate(STEMS):
        got = _read(out[stem])
        assert got.shape == x.shape
        np.testing.assert_allclose(got.T, y[2 * k:2 * k + 2], atol=1e-6, err_msg=stem)


def test_rate_channels_and_length_are_the_inputs(model, tmp_path):
    x = _song(tmp_path / "song.wav", 48000, 2, 0.7)
    out = separate_file(tmp_path / "song.wav", open_backend(model), tmp_path / "out",
                        replace(WHOLE, chunk_seconds=0.2, overlap_seconds=0.05, normalize=True, subtype=None))
    for p in out.values():
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.frames) == (48000, 2, x.shape[0])


def test_two_stems_is_the_stem_and_the_sum_of_the_others(model, tmp_path):
    _song(tmp_path / "song.wav", 44100, 2)
    four = separate_file(tmp_path / "song.wav", open_backend(model), tmp_path / "four", WHOLE)
    two = separate_file(tmp_path / "song.wav", open_backend(model), tmp_path / "two",
                        replace(WHOLE, two_stems="vocals"))
    assert [p.name for p in two.values()] == ["song_vocals.wav", "song_no_vocals.wav"]
    np.testing.assert_allclose(_read(two["vocals"]), _read(four["vocals"]), atol=1e-7)
    rest = sum(_read(four[s]) for s in ("drums", "bass", "other"))
    np.testing.assert_allclose(_read(two["no_vocals"]), rest, atol=1e-6)
    with pytest.raises(FqssError, match="--two-stems 'voice': the model's sources are drums, bass, other, vocals"):
        SeparateOptions(two_stems="voice").output_names(STEMS)


def test_mono_file_gets_mono_stems(model, tmp_path):
    x = _song(tmp_path / "mono.wav", 44100, 1)
    out = separate_file(tmp_path / "mono.wav", open_backend(model), tmp_path / "out", WHOLE)
    y = open_backend(model).run(np.repeat(x.T, 2, axis=0)).reshape(4, 2, -1).mean(axis=1)
    for k, stem in enumerate(STEMS):
        np.testing.assert_allclose(_read(out[stem])[:, 0], y[k], atol=1e-6)


@pytest.mark.parametrize("fmt, subtype", [("flac", "PCM_16"), ("mp3", "MPEG_LAYER_III")])
def test_flac_and_mp3_outputs(model, tmp_path, fmt, subtype):
    x = _song(tmp_path / "song.wav", 44100, 2)
    out = separate_file(tmp_path / "song.wav", open_backend(model), tmp_path / "out",
                        replace(WHOLE, subtype=None, format=fmt))
    for stem, p in out.items():
        info = sf.info(str(p))
        assert p.suffix == f".{fmt}" and (info.samplerate, info.channels, info.subtype) == (44100, 2, subtype)
        if fmt == "flac":  # lossless: the 16-bit codes of the stem, the input's length
            assert info.frames == x.shape[0]


def test_cli_refuses_more_channels_than_a_stereo_model_takes(model, tmp_path, capsys):
    sf.write(str(tmp_path / "surround.wav"), np.zeros((4410, 3), np.float32), 44100)
    code = main(["separate", str(tmp_path / "surround.wav"), "--model", str(model), "-o", str(tmp_path / "out"),
                 "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'surround.wav'}: 3 channels; the model is stereo: it takes "
                                 f"mono or stereo files"]
    assert not (tmp_path / "out").exists()


def test_cli_two_stems_flac_and_segment(model, tmp_path):
    _song(tmp_path / "song.wav", 44100, 2)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["separate", str(tmp_path / "song.wav"), "--model", str(model), "-o", str(tmp_path / "out"),
                     "--two-stems", "vocals", "--format", "flac", "--segment", "0.2", "--overlap", "0.05", "-q"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["song_no_vocals.flac", "song_vocals.flac"]
