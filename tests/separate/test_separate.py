"""fqss_edge.separate: lengths, rates and channels preserved, per-channel separation, atomic outputs, bad audio,
constant memory."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import soxr

from fqss_edge.errors import FqssError
from fqss_edge.runtimes import open_backend
from fqss_edge.separate import SeparateOptions, output_paths, separate_file, separate_files
from tests.app_models import SR, FakeBackend, expected, noise, tiny_models  # noqa: F401

FAST = SeparateOptions(chunk_seconds=0.1, overlap_seconds=0.02, block_seconds=0.05)


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    est, ref = est - est.mean(), ref - ref.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


def read(path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return data.T, sr


def tone_mix(n: int, sr: int, channels: int) -> np.ndarray:
    """[n, channels] band-limited (< 3 kHz) test signal, different per channel."""
    t = np.arange(n) / sr
    chans = [0.25 * np.sin(2 * np.pi * (220 + 150 * c) * t) + 0.2 * np.sin(2 * np.pi * (1300 + 400 * c) * t + c)
             for c in range(channels)]
    return np.stack(chans, axis=1).astype(np.float32)


@pytest.mark.parametrize("n", [1, 15, 16, 800, 801, 2345], ids=lambda n: f"T{n}")
def test_any_length_in_same_length_out(n, tmp_path):
    mix = tmp_path / "m.wav"
    x = noise(n, seed=n)
    sf.write(mix, x, SR, subtype="FLOAT")
    out = separate_file(mix, FakeBackend("signs"), tmp_path / "out", replace(FAST, normalize=False))
    assert set(out) == {"pos", "neg"}
    assert out == output_paths(mix, tmp_path / "out", ["pos", "neg"])
    ys = np.concatenate([read(out[k])[0] for k in ("pos", "neg")])
    assert ys.shape == (2, n)
    assert np.array_equal(ys, expected("signs", x))  # same rate, float output: exact


def test_quiet_file_reaches_the_model_at_the_training_level(tmp_path):
    """Every chunk is handed to the model at peak 0.9, and the sources come back at the file's level."""
    mix = tmp_path / "quiet.wav"
    x = noise(2345, seed=4) * 0.01  # about -40 dB
    sf.write(mix, x, SR, subtype="FLOAT")
    be = FakeBackend("signs")
    out = separate_file(mix, be, tmp_path / "out", FAST)
    assert be.peaks and np.allclose(be.peaks, 0.9, rtol=1e-6)
    ys = np.concatenate([read(out[k])[0] for k in ("pos", "neg")])
    np.testing.assert_allclose(ys, expected("signs", x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n", [1, 3000, 44_100 * 2 + 17], ids=lambda n: f"T{n}")
def test_stereo_44k_in_stereo_44k_out_per_channel(n, tmp_path):
    """Each channel is separated on its own at 8 kHz and brought back to 44.1 kHz; the two 'sources' of the fake
    model sum to the soxr round trip of each channel."""
    sr = 44_100
    x = tone_mix(n, sr, 2)
    x[:, 1] = -x[:, 0]  # channel 1 = -channel 0: its 'pos' source is channel 0's 'neg' source
    mix = tmp_path / "stereo.wav"
    sf.write(mix, x, sr, subtype="PCM_24")
    out = separate_file(mix, FakeBackend("signs"), tmp_path, FAST)
    pos, sr_pos = read(out["pos"])
    neg, sr_neg = read(out["neg"])
    assert sr_pos == sr_neg == sr and pos.shape == neg.shape == (2, n)
    assert sf.info(out["pos"]).subtype == "PCM_24"
    np.testing.assert_allclose(pos[1], -neg[0], atol=1e-6)  # a few 24-bit LSBs
    if n > 1000:
        round_trip = soxr.resample(soxr.resample(x, sr, SR), SR, sr)[:n].T
        m = round_trip.shape[1]  # a round trip may lose the last sample or so: the output is padded to n
        assert n - 3 <= m <= n and np.abs((pos + neg)[:, :m] - round_trip).max() < 1e-4
        for c in range(2):
            assert si_sdr(pos[c] + neg[c], x[:, c]) > 25  # band-limited input survives the 8 kHz round trip


def test_tiny_tflite_stereo_44k(tiny_models, tmp_path):
    sr = 44_100
    x = tone_mix(int(sr * 2.5), sr, 2)
    mix = tmp_path / "song.flac"
    sf.write(mix, x, sr)
    out = separate_file(mix, open_backend(tiny_models["tflite"]), tmp_path / "o", SeparateOptions(1.0, 0.25))
    assert [p.name for p in out.values()] == ["song_s1.wav", "song_s2.wav"]
    for p in out.values():
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (sr, 2, x.shape[0], "PCM_16")


def test_separate_files_checks_names_and_headers_first(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        sf.write(tmp_path / d / "mix.wav", noise(100), SR)
    with pytest.raises(FqssError, match="same name"):
        separate_files([tmp_path / "a" / "mix.wav", tmp_path / "b" / "mix.wav"], FakeBackend(), tmp_path / "o")
    (tmp_path / "bad.wav").write_text("hello")
    with pytest.raises(FqssError, match="bad.wav"):
        separate_files([tmp_path / "a" / "mix.wav", tmp_path / "bad.wav"], FakeBackend(), tmp_path / "o")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # nothing started


def _nan_wav(path):
    x = noise(4000)
    x[3000] = np.nan  # after the first blocks: some output has been written to the temp files already
    sf.write(path, x, SR, subtype="FLOAT")


def _empty_wav(path):
    sf.write(path, np.zeros(0, dtype=np.float32), SR)


BAD = {
    "not_audio": (lambda p: p.write_text("this is not audio\n" * 50), "not a readable audio file"),
    "random_bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not a readable audio file"),
    "empty": (_empty_wav, "empty audio file"),
    "zero_bytes": (lambda p: p.write_bytes(b""), "not a readable audio file"),
    "nan": (_nan_wav, "NaN or Inf"),
    "missing": (lambda p: None, "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_audio_is_one_line_error_and_no_output(case, tmp_path):
    make, needle = BAD[case]
    mix = tmp_path / f"{case}.wav"
    make(mix)
    out_dir = tmp_path / "out"
    with pytest.raises(FqssError) as e:
        separate_file(mix, FakeBackend("signs"), out_dir, FAST)
    msg = str(e.value)
    assert needle in msg and str(mix) in msg and "\n" not in msg
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


class FailingBackend(FakeBackend):
    def run(self, waveform):
        if len(self.calls) == 3:
            raise FqssError("model crashed")
        return super().run(waveform)


def test_failure_midway_leaves_previous_outputs_untouched(tmp_path):
    mix = tmp_path / "m.wav"
    sf.write(mix, noise(8000), SR)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    old = out_dir / "m_pos.wav"
    sf.write(old, np.ones(10, dtype=np.float32) * 0.5, SR)
    with pytest.raises(FqssError, match="crashed"):
        separate_file(mix, FailingBackend("signs"), out_dir, FAST)
    assert sorted(p.name for p in out_dir.iterdir()) == ["m_pos.wav"]  # no temp files, no m_neg.wav
    assert sf.info(old).frames == 10


def test_bad_options():
    with pytest.raises(FqssError, match="sample format"):
        SeparateOptions(subtype="MP3")
    with pytest.raises(FqssError, match="block"):
        SeparateOptions(block_seconds=0)


def test_memory_stays_constant_for_long_files(tmp_path):
    """10 minutes at 8 kHz (19 MB as float32) separate with a few MB of Python/numpy allocations."""
    mix = tmp_path / "long.wav"
    n = SR * 600
    with sf.SoundFile(mix, "w", SR, 1, "PCM_16") as f:
        for i in range(0, n, SR * 10):
            f.write(noise(SR * 10, seed=i))
    tracemalloc.start()
    try:
        out = separate_file(mix, FakeBackend("signs"), tmp_path / "out", SeparateOptions(4.0, 0.5))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sf.info(out["pos"]).frames == n
    assert peak < 4e6, f"peak {peak / 1e6:.1f} MB"
