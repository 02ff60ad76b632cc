"""fqss_edge.audio: round trips, clipping, atomic writes, resampling, and user errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.audio import read_wav, write_wav
from fqss_edge.errors import FqssError

LSB = 2.0**-15


def _tone(freq: float, sr: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("shape", [(4000,), (1, 4000), (2, 4000)], ids=["1d", "mono", "stereo"])
def test_round_trip_pcm16(tmp_path: Path, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).uniform(-0.9, 0.9, size=shape).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 8000)
    y, sr = read_wav(tmp_path / "a.wav", expected_sr=8000)
    assert sr == 8000 and y.dtype == np.float32
    assert y.shape == (1, 4000) if len(shape) == 1 else y.shape == shape
    assert np.abs(y - x.reshape(y.shape)).max() <= LSB
    assert sf.info(str(tmp_path / "a.wav")).subtype == "PCM_16"


def test_write_clips_without_wrap_around(tmp_path: Path) -> None:
    write_wav(tmp_path / "c.wav", np.array([1.5, 1.0, -1.0, -3.0, 0.25]), 8000)
    ints, _ = sf.read(str(tmp_path / "c.wav"), dtype="int16")
    assert ints.tolist() == [32767, 32767, -32768, -32768, 8192]


def test_write_is_atomic_and_overwrites(tmp_path: Path) -> None:
    write_wav(tmp_path / "o.wav", np.zeros(100), 8000)
    write_wav(tmp_path / "o.wav", np.full(50, 0.5), 8000)
    y, _ = read_wav(tmp_path / "o.wav")
    assert y.shape == (1, 50) and np.allclose(y, 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]  # no temp file left behind


def test_write_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(FqssError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 8000)
    assert not (tmp_path / "n.wav").exists()


def test_resample_keeps_frequency(tmp_path: Path) -> None:
    write_wav(tmp_path / "s.wav", _tone(440.0, 16000), 16000)
    y, sr = read_wav(tmp_path / "s.wav", expected_sr=8000, resample_to=8000)
    assert sr == 8000 and y.shape == (1, 4000)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert np.fft.rfftfreq(4000, 1 / 8000)[spectrum.argmax()] == pytest.approx(440.0, abs=2.0)
    assert np.abs(y).max() == pytest.approx(0.5, abs=0.01)


def _nan_file(p: Path) -> None:
    sf.write(str(p), np.array([0.0, np.nan, 0.1], dtype=np.float32), 8000, subtype="FLOAT")


def _inf_file(p: Path) -> None:
    sf.write(str(p), np.array([0.0, np.inf], dtype=np.float32), 8000, subtype="FLOAT")


def _empty_wav(p: Path) -> None:
    sf.write(str(p), np.zeros(0, dtype=np.float32), 8000, subtype="PCM_16")


def _zero_bytes(p: Path) -> None:
    p.write_bytes(b"")


def _text_file(p: Path) -> None:
    p.write_text("this is not audio\n" * 20)


def _wrong_rate(p: Path) -> None:
    sf.write(str(p), _tone(440.0, 16000), 16000)


@pytest.mark.parametrize(("make", "message"), [
    (_nan_file, "NaN or Inf"), (_inf_file, "NaN or Inf"), (_empty_wav, "empty"), (_zero_bytes, "not a readable"),
    (_text_file, "not a readable audio file"), (_wrong_rate, "sample rate 16000 Hz, expected 8000 Hz"),
    (None, "no such file"),
], ids=["nan", "inf", "empty-wav", "zero-bytes", "not-audio", "wrong-rate", "missing"])
def test_bad_input_names_the_file(tmp_path: Path, make, message: str) -> None:
    p = tmp_path / "bad.wav"
    if make is not None:
        make(p)
    with pytest.raises(FqssError, match=message) as err:
        read_wav(p, expected_sr=8000)
    assert str(err.value).startswith(f"{p}: ")
    assert "\n" not in str(err.value)
