"""``fqss-edge separate``: the command writes one wav per source; bad input is a one-line error (exit 2)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.cli.main import main
from tests.app_models import SR, noise, tiny_models  # noqa: F401


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_has_examples(capsys):
    code, out, _ = run_cli(["separate", "--help"], capsys)
    assert code == 0 and "Examples" in out and "fqss-edge separate" in out


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "checkpoint"])
def test_separate_command(fmt, tiny_models, tmp_path, capsys):
    a, b = tmp_path / "a.wav", tmp_path / "b.flac"
    sf.write(a, noise(SR * 2), SR)
    sf.write(b, np.stack([noise(22_050 * 3, 1), noise(22_050 * 3, 2)], 1), 22_050)
    code, out, err = run_cli(["separate", a, b, "--model", tiny_models[fmt], "-o", tmp_path / "out",
                              "--chunk", "1", "--overlap", "0.25"], capsys)
    assert code == 0, err
    assert "a_s1.wav" in out and "b_s2.wav" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_s1.wav", "a_s2.wav", "b_s1.wav",
                                                                    "b_s2.wav"]
    info = sf.info(tmp_path / "out" / "b_s1.wav")
    assert (info.samplerate, info.channels, info.frames) == (22_050, 2, 22_050 * 3)


def test_bad_input_is_one_line_error(tiny_models, tmp_path, capsys):
    good, bad = tmp_path / "good.wav", tmp_path / "notes.wav"
    sf.write(good, noise(SR), SR)
    bad.write_text("not audio")
    code, _, err = run_cli(["separate", good, bad, "--model", tiny_models["tflite"], "-o", tmp_path / "out",
                            "-q"], capsys)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "notes.wav" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # every header is checked before any output


def test_bad_model_is_one_line_error(tmp_path, capsys):
    mix = tmp_path / "m.wav"
    sf.write(mix, noise(SR), SR)
    (tmp_path / "model.tflite").write_bytes(b"junk")
    code, _, err = run_cli(["separate", mix, "--model", tmp_path / "model.tflite", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "model.tflite" in err and len(err.strip().splitlines()) == 1


def test_an_output_that_would_overwrite_an_input_is_refused_before_any_write(tiny_models, tmp_path, capsys):  # noqa: F811
    """``x.wav`` and ``x_s1.wav`` separated into their own folder: x's first output is the second input."""
    for name, seed in (("x.wav", 1), ("x_s1.wav", 2)):
        sf.write(tmp_path / name, noise(4000, seed=seed), SR, subtype="PCM_16")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code = main(["separate", str(tmp_path / "x.wav"), str(tmp_path / "x_s1.wav"), "--model",
                 str(tiny_models["tflite"]), "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "x_s1.wav: is an input and would be overwritten" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def _one_error_line(code: int, err: str) -> str:
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_a_failure_on_the_second_file_commits_nothing(tiny_models, tmp_path, capsys):  # noqa: F811
    """All outputs of one command together or none: the first file's outputs are not left behind either."""
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    sf.write(first, noise(SR * 2), SR, subtype="FLOAT")
    bad = noise(SR * 3)
    bad[SR * 2] = np.nan  # found while reading, after the first file was separated
    sf.write(second, bad, SR, subtype="FLOAT")
    out = tmp_path / "new_out"
    code, _, err = run_cli(["separate", first, second, "-m", tiny_models["tflite"], "-o", out, "-q"], capsys)
    assert "second.wav: audio contains NaN or Inf samples (first at 2.000 s)" in _one_error_line(code, err)
    assert not out.exists()


@pytest.mark.parametrize("option, value, expected", [
    ("--chunk", "inf", "chunk length must be a finite number > 0 seconds, not inf"),
    ("--chunk", "nan", "chunk length must be a finite number > 0 seconds, not nan"),
    ("--chunk", "0", "chunk length must be a finite number > 0 seconds, not 0.0"),
    ("--overlap", "inf", "overlap must be a finite number >= 0 seconds, not inf"),
    ("-o", "FILE", "exists and is not a folder"),
    ("-o", "FILE/sub", "is a file"),
    ("-o", "/proc/self/out", "a system folder"),
])
def test_bad_options_are_one_line(tiny_models, tmp_path, capsys, option, value, expected):  # noqa: F811
    mix = tmp_path / "mix.wav"
    sf.write(mix, noise(SR), SR)
    (tmp_path / "FILE").write_text("x")
    args = ["separate", mix, "-m", tiny_models["tflite"], "-q", "-o", tmp_path / "out", option,
            value.replace("FILE", str(tmp_path / "FILE"))]
    assert expected in _one_error_line(*run_cli(args, capsys)[::2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE", "mix.wav"]


def test_a_chunk_longer_than_the_file_is_the_whole_file(tiny_models, tmp_path, capsys):  # noqa: F811
    """--chunk 36000 on a short file: one window (the file), the same output as --chunk of the file's length."""
    mix = tmp_path / "mix.wav"
    sf.write(mix, noise(SR * 3), SR)
    for chunk in ("36000", "4"):
        code, _, err = run_cli(["separate", mix, "-m", tiny_models["tflite"], "-q", "-o", tmp_path / chunk,
                                "--chunk", chunk], capsys)
        assert code == 0, err
    assert np.array_equal(sf.read(tmp_path / "36000" / "mix_s1.wav")[0], sf.read(tmp_path / "4" / "mix_s1.wav")[0])


def test_a_chunk_over_the_memory_limit_is_refused_with_the_estimate(tiny_models, tmp_path, capsys,  # noqa: F811
                                                                     monkeypatch):
    monkeypatch.setenv("FQSS_MAX_MEMORY_MB", "50")
    mix = tmp_path / "long.wav"
    sf.write(mix, np.zeros(SR * 600, dtype=np.float32), SR)
    code, _, err = run_cli(["separate", mix, "-m", tiny_models["tflite"], "-q", "-o", tmp_path / "out",
                            "--chunk", "36000"], capsys)
    assert f"{mix}: chunk 601 s + overlap 0.5 s: one model call on 602 s of audio needs about 1.5 GB (320 bytes " \
           "per sample for this model), above the limit of 52.4 MB; use a chunk of at most 20 s" \
           in _one_error_line(code, err)
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli(["bench", tiny_models["tflite"], "--chunk", "36000", "--runs", "1"], capsys)
    assert code == 2 and "needs about 92.1 GB (320 bytes per sample" in err.splitlines()[-1]


_SEPARATE_WITHOUT_TORCH = """
import sys
from fqss_edge.cli.main import main
code = main(["separate", sys.argv[1], "-m", sys.argv[2], "-q", "-o", sys.argv[3]])
print(code, "torch" in sys.modules)
"""


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
def test_separate_with_an_exported_file_does_not_import_torch(tiny_models, tmp_path, kind):  # noqa: F811
    """torch alone adds ~190 MB of RSS: a .tflite / .onnx run must not need it (the memory estimate is read from
    the file, the input level is numpy)."""
    import subprocess
    import sys

    mix = tmp_path / "mix.wav"
    sf.write(mix, noise(SR), SR)
    out = subprocess.run([sys.executable, "-c", _SEPARATE_WITHOUT_TORCH, str(mix), str(tiny_models[kind]),
                          str(tmp_path / "out")], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1].split() == ["0", "False"]
