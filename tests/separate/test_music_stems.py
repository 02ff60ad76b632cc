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
from fqss_edge.separate import SeparateOptions, separate_file, separate_files

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


def _cli(*args) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main([str(a) for a in args])


@pytest.mark.parametrize("flags, subtype", [(["--int24"], "PCM_24"), (["--float32"], "FLOAT"), ([], "PCM_16")])
def test_cli_demucs_layout_and_sample_formats(model, tmp_path, flags, subtype):
    """-n NAME --filename '{track}/{stem}.{ext}': demucs' OUT/<model>/<track>/<stem>.wav; --int24 / --float32."""
    x = _song(tmp_path / "song.wav", 44100, 2)
    sf.write(str(tmp_path / "song16.wav"), x, 44100, subtype="PCM_16")
    assert _cli("separate", tmp_path / "song16.wav", "-m", model, "-o", tmp_path / "sep", "-n", "tiny",
                "--filename", "{track}/{stem}.{ext}", "-q", *flags) == 0
    track = tmp_path / "sep" / "tiny" / "song16"
    assert sorted(p.name for p in track.iterdir()) == sorted(f"{s}.wav" for s in STEMS)
    for s in STEMS:
        info = sf.info(str(track / f"{s}.wav"))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (44100, 2, x.shape[0], subtype)


@pytest.mark.parametrize("flags, names", [
    (["--flac"], ["song_no_vocals.flac", "song_vocals.flac"]),
    (["--mp3"], ["song_no_vocals.mp3", "song_vocals.mp3"]),
    (["--filename", "{stem}-{track}.{trackext}.{ext}"], ["no_vocals-song.wav.wav", "vocals-song.wav.wav"]),
])
def test_cli_demucs_format_flags_and_filename_fields(model, tmp_path, flags, names):
    _song(tmp_path / "song.wav", 44100, 2)
    assert _cli("separate", tmp_path / "song.wav", "-m", model, "-o", tmp_path / "out", "--two-stems", "vocals",
                "-q", *flags) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names


@pytest.mark.parametrize("flags, expected", [
    (["--int24", "--float32"], "choose one output sample format: --int24, --float32"),
    (["--subtype", "PCM_16", "--int24"], "choose one output sample format: --subtype PCM_16, --int24"),
    (["--flac", "--mp3"], "choose one output format: --format wav, --flac, --mp3"),
    (["--format", "mp3", "--flac"], "choose one output format: --format mp3, --flac"),
    (["--mp3", "--int24"], "output sample format 'PCM_24': mp3 holds MPEG_LAYER_III"),
    (["--filename", "{track}.{ext}"], "needs {stem}"),
    (["--filename", "../{track}/{stem}.{ext}"], "must stay inside the output folder"),
    (["--filename", "/tmp/{stem}.{ext}"], "must stay inside the output folder"),
    (["--filename", "{model}/{stem}.{ext}"], "unknown field {model}"),
    (["--filename", "{stem}{"], "Single '{' encountered"),
    (["-n", "a/b"], "-n 'a/b': must be one folder name"),
    (["-n", ".."], "-n '..': must be one folder name"),
])
def test_cli_bad_demucs_options_are_one_line_and_write_nothing(model, tmp_path, capsys, flags, expected):
    _song(tmp_path / "song.wav", 44100, 2)
    code = main(["separate", str(tmp_path / "song.wav"), "-m", str(model), "-o", str(tmp_path / "out"), "-q",
                 *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_filename_without_track_collides_across_inputs(model, tmp_path, capsys):
    for name in ("a", "b"):
        _song(tmp_path / f"{name}.wav", 44100, 2)
    code = main(["separate", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-m", str(model), "-o",
                 str(tmp_path / "out"), "--filename", "{stem}.{ext}", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'b.wav'}: same name as {tmp_path / 'a.wav'}; their outputs "
                                 f"would collide (separate them into different folders, or put {{track}} in "
                                 f"--filename)"]
    assert not (tmp_path / "out").exists()


def test_a_failure_removes_the_track_folders_it_made(model, tmp_path):
    """The second file fails while being read (NaN after its header): no output, no folder of the first file's,
    and the existing output folder is left as it was."""
    _song(tmp_path / "a.wav", 44100, 2)
    bad = np.zeros((22050, 2), np.float32)
    bad[-10] = np.nan
    sf.write(str(tmp_path / "b.wav"), bad, 44100, subtype="FLOAT")
    (tmp_path / "out").mkdir()
    with pytest.raises(FqssError, match="NaN"):
        separate_files([tmp_path / "a.wav", tmp_path / "b.wav"], open_backend(model), tmp_path / "out",
                       replace(WHOLE, name="tiny", filename="{track}/{stem}.{ext}"))
    assert list((tmp_path / "out").iterdir()) == []


def test_a_file_where_a_track_folder_goes_is_one_line(model, tmp_path, capsys):
    _song(tmp_path / "song.wav", 44100, 2)
    (tmp_path / "out" / "tiny").mkdir(parents=True)
    (tmp_path / "out" / "tiny" / "song").write_text("not a folder")
    code = main(["separate", str(tmp_path / "song.wav"), "-m", str(model), "-o", str(tmp_path / "out"), "-n", "tiny",
                 "--filename", "{track}/{stem}.{ext}", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'out' / 'tiny' / 'song'}: cannot create the output folder "
                                 f"(File exists)"]
    assert [p.name for p in (tmp_path / "out" / "tiny").iterdir()] == ["song"]
