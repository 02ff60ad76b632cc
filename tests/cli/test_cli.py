"""The command line: help with examples, and one-line errors with a non-zero exit for bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from fqss_edge.cli.commands import COMMAND_MODULES
from fqss_edge.cli.main import main
from tests.conftest import make_split

COMMAND_NAMES = {"evaluate": "eval", "import_checkpoint": "import"}  # modules named apart from their command
COMMANDS = [m.__name__.rsplit(".", 1)[-1] for m in COMMAND_MODULES]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_the_commands(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    for name in ("train", "eval"):
        assert name in out


@pytest.mark.parametrize("command", [COMMAND_NAMES.get(c, c) for c in COMMANDS])
def test_every_command_has_help_with_examples(command, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and "Examples" in out and "fqss-edge" in out


def _assert_one_line_error(code, err, *needles):
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data):
    """A float checkpoint trained for one short epoch on the tiny data."""
    from fqss_edge.config import parse_config
    from fqss_edge.train.loop import train
    from tests.conftest import TINY_MODEL

    cfg = parse_config({"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 2, "segment_seconds": 0.25},
                        "data": {k: str(tiny_data / k) for k in ("train", "valid")}})
    return train(cfg, "float", tmp_path_factory.mktemp("cli_run"), progress=False).best_checkpoint


def test_eval_prints_a_table_and_json(trained, tiny_data, capsys):
    code, out, _ = run_cli(["eval", trained, "--data", tiny_data / "test", "--no-sdr"], capsys)
    assert code == 0 and "SI-SDRi" in out and "mean" in out
    code, out, _ = run_cli(["eval", trained, "--data", tiny_data / "test", "--json"], capsys)
    import json

    report = json.loads(out)
    assert code == 0 and report["mean"]["n"] == 2 and len(report["utterances"]) == 2
    # STOI by default where pystoi is installed (setup.sh installs it); these 0.4 s utterances are too short for
    # it (values: tests/test_perceptual.py): undefined, null, never pystoi's stand-in 1e-5
    assert all(u["stoi"] is None for u in report["utterances"]) and "stoi" not in report["mean"]


def test_eval_json_is_strict_and_silent_references_do_not_crash(trained, tiny_data, tmp_path, capsys):
    """A silent reference source (BSS-eval failed on it): null in strict JSON, never NaN or a crash."""
    import json
    import shutil

    data = tmp_path / "test"
    shutil.copytree(tiny_data / "test", data)
    silent = sorted((data / "s2").glob("*.wav"))[0]
    audio, sr = sf.read(silent)
    sf.write(silent, np.zeros_like(audio), sr, subtype="PCM_16")
    code, out, _ = run_cli(["eval", trained, "--data", data, "--json"], capsys)  # BSS-eval SDR too
    assert code == 0
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    by_id = {u["utt_id"]: u for u in report["utterances"]}
    assert by_id[silent.stem]["si_sdr"] is None and by_id[silent.stem]["sdr"] is None
    assert report["mean"]["n"] == 2 and report["mean"]["si_sdr"] is not None  # the mean of the defined ones
    code, _, err = run_cli(["eval", trained, "--data", data, "--max-utts", "0"], capsys)
    assert code == 2 and "max-utts" in err


def test_truncated_checkpoint(trained, tiny_data, tmp_path, capsys):
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(Path(trained).read_bytes()[:5000])
    code, _, err = run_cli(["eval", bad, "--data", tiny_data / "test"], capsys)
    _assert_one_line_error(code, err, str(bad))


def test_config_with_unknown_key(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"n_filterz": 3}}))
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "-c", cfg, "-o", out, "--method", "float"], capsys)
    _assert_one_line_error(code, err, str(cfg), "n_filterz")
    assert not out.exists()


def test_wav_at_the_wrong_sample_rate(trained, tmp_path, capsys):
    data = make_split(tmp_path / "data", 1, 0.3, 0)
    wav = data / "mix" / "utt000.wav"
    x, _ = sf.read(str(wav))
    sf.write(str(wav), x, 16000)
    code, _, err = run_cli(["eval", trained, "--data", data], capsys)
    _assert_one_line_error(code, err, str(wav), "16000")


def test_wav_with_nans(trained, tmp_path, capsys):
    data = make_split(tmp_path / "data", 1, 0.3, 0)
    wav = data / "s1" / "utt000.wav"
    sf.write(str(wav), np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 8000, subtype="FLOAT")
    code, _, err = run_cli(["eval", trained, "--data", data], capsys)
    _assert_one_line_error(code, err, str(wav), "NaN")


def test_missing_data_folder(trained, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code, _, err = run_cli(["eval", trained, "--data", missing], capsys)
    _assert_one_line_error(code, err, str(missing))


def test_console_script_exit_status(tmp_path):
    """The installed `fqss-edge` entry point returns the status (not just main())."""
    exe = Path(sys.executable).with_name("fqss-edge")
    proc = subprocess.run([str(exe), "eval", str(tmp_path / "none.safetensors"), "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "none.safetensors" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("folder, change, expected", [
    ("s1", lambda x: x[: len(x) // 2], "the samples differ"),
    ("mix", lambda x: np.stack([x] * 8, axis=1), "the channels differ"),
], ids=["short reference", "8-channel mixture"])
def test_eval_refuses_mismatched_references(trained, tmp_path, capsys, folder, change, expected):
    """A reference shorter than its mixture, or an 8-channel mixture with mono references: one line, exit 2."""
    data = make_split(tmp_path / "data", 1, 0.3, 0)
    wav = data / folder / "utt000.wav"
    x, sr = sf.read(str(wav))
    sf.write(str(wav), change(x), sr)
    code, _, err = run_cli(["eval", trained, "--data", data], capsys)
    _assert_one_line_error(code, err, expected)
