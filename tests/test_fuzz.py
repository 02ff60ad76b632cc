"""Fuzz: a fixed-seed loop of mutated checkpoints (embedded config and bytes), YAML configs, ONNX / TFLite metadata
and wav headers through the CLI entry point (``fqss_edge.cli.main.main``, what the ``fqss-edge`` script runs).

Every case must end in exit 0 with valid output, or exit 2 with exactly one ``error:`` line on stderr and no
output left behind; never a traceback, a hang (a per-case alarm) or a partial output. A few cases run as real
subprocesses to pin the exit path of the installed command.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml

from fqss_edge.cli.main import main
from fqss_edge.parity.synthetic import TINY_MODEL
from tests.app_models import SR, noise, tiny_models  # noqa: F401
from tests.tampering import edited_checkpoint, edited_onnx, edited_tflite

SEED = 24
CASE_SECONDS = 20  # a case that runs longer is a hang
N = {"checkpoint config": 16, "checkpoint bytes": 12, "config": 20, "onnx metadata": 10, "tflite metadata": 20,
     "wav header": 30}  # cases per family (onnxruntime sessions are the slowest to open)
HOSTILE = [-5, 0, 1, 3, 7, 10**11, 10**12, 2**63, -1.5, 0.5, 1e11, math.nan, math.inf, -math.inf, "x", "",
           "../../x", None, True, [], [1, 2], {}, {"a": 1}, "9" * 400]


class Hang(BaseException):
    pass


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def _raise(*_: Any) -> None:
        raise Hang()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        return [prefix] * bool(prefix) + [p for k, v in d.items() for p in _paths(v, (*prefix, k))]
    if isinstance(d, list):
        return [prefix] + [p for i, v in enumerate(d) for p in _paths(v, (*prefix, i))]
    return [prefix]


def mutation(rng: np.random.Generator) -> Callable[[dict], None]:
    """Set a random key (at any depth) to a hostile value, delete it, or add an unknown key beside it."""
    def mutate(d: dict) -> None:
        paths = _paths(d)
        path = paths[int(rng.integers(len(paths)))]
        parent = d
        for p in path[:-1]:
            parent = parent[p]
        kind = rng.integers(6)
        if kind == 0 and isinstance(parent, dict):
            parent.pop(path[-1])
        elif kind == 1 and isinstance(parent, dict):
            parent["unknown_key"] = 1
        else:
            parent[path[-1]] = HOSTILE[int(rng.integers(len(HOSTILE)))]
    return mutate


def wav_header_mutation(rng: np.random.Generator, data: bytes) -> bytes:
    b = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:  # random bytes in the header
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(44))] = int(rng.integers(256))
    elif kind == 1:  # a size field claiming far more data than there is
        offset = [4, 40][int(rng.integers(2))]
        b[offset:offset + 4] = int(rng.choice([0, 2**31 - 1, 2**32 - 1, 7])).to_bytes(4, "little")
    elif kind == 2:  # truncated
        b = b[: int(rng.integers(0, len(b)))]
    else:  # format fields: channels, rate, bits
        offset = [22, 24, 34][int(rng.integers(3))]
        b[offset:offset + 2] = int(rng.choice([0, 1, 8, 255, 65535])).to_bytes(2, "little")
    return bytes(b)


def check_case(args: list[str], out: Path, capsys, expect_files: Callable[[], None] | None = None) -> int:
    """Run one case and check its contract; returns the exit code."""
    try:
        with deadline(CASE_SECONDS):
            code = main(args)
    except Hang:
        pytest.fail(f"hang: {args}")
    except BaseException as e:  # noqa: BLE001 - anything escaping main is a traceback for the user
        pytest.fail(f"{type(e).__name__} escaped main for {args}: {e}")
    err = capsys.readouterr().err
    assert code in (0, 2), (args, code, err)
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) < 600, (args, err)
        assert not out.exists() or not any(out.iterdir()), (args, sorted(out.iterdir()))
    elif expect_files is not None:
        expect_files()
    return code


def test_fuzz_the_cli(tiny_models, tmp_path, capsys):  # noqa: F811
    rng = np.random.default_rng(SEED)
    mix = tmp_path / "mix.wav"
    sf.write(mix, noise(SR // 4), SR, subtype="PCM_16")
    wav_bytes = mix.read_bytes()
    counts: dict[str, list[int]] = {}
    case = 0

    def separate_outputs(out: Path, frames: int) -> Callable[[], None]:
        def check() -> None:
            files = sorted(out.iterdir())  # one wav per source, complete, nothing temporary
            assert len(files) >= 2 and all(f.name.startswith("mix_") and f.suffix == ".wav" for f in files), files
            for f in files:
                assert sf.info(str(f)).frames == frames
        return check

    def run(family: str, args: list[str], out: Path, expect: Callable[[], None] | None = None) -> None:
        counts.setdefault(family, []).append(check_case(args, out, capsys, expect))

    for _ in range(N["checkpoint config"]):  # the config embedded in a checkpoint (digest recomputed: only validation can catch it)
        case += 1
        ckpt = edited_checkpoint(tiny_models["checkpoint"], tmp_path / f"c{case}.safetensors", mutation(rng))
        out = tmp_path / f"o{case}"
        run("checkpoint config", ["separate", str(mix), "-m", str(ckpt), "-o", str(out), "-q"], out,
            separate_outputs(out, SR // 4))

    raw = tiny_models["checkpoint"].read_bytes()
    for _ in range(N["checkpoint bytes"]):  # checkpoint bytes: flipped, truncated
        case += 1
        b = bytearray(raw)
        if rng.integers(2):
            for _ in range(int(rng.integers(1, 8))):
                b[int(rng.integers(min(len(b), 4096)))] ^= int(rng.integers(1, 256))
        else:
            b = b[: int(rng.integers(len(b)))]
        ckpt = tmp_path / f"c{case}.safetensors"
        ckpt.write_bytes(bytes(b))
        out = tmp_path / f"o{case}"
        run("checkpoint bytes", ["separate", str(mix), "-m", str(ckpt), "-o", str(out), "-q"], out,
            separate_outputs(out, SR // 4))

    base_config = {"model": dict(TINY_MODEL), "quant": {"calib_batches": 2}, "train": {"epochs": 1, "lr": 1e-3},
                   "data": {"train": str(tmp_path / "none")}}
    for _ in range(N["config"]):  # YAML configs (no data folder: a valid config ends in a data error, after validation)
        case += 1
        cfg = json.loads(json.dumps(base_config))
        mutation(rng)(cfg)
        path = tmp_path / f"cfg{case}.yaml"
        path.write_text(yaml.safe_dump(cfg) if rng.integers(4) else yaml.safe_dump(cfg)[: int(rng.integers(60))])
        out = tmp_path / f"o{case}"
        run("config", ["train", "--config", str(path), "-o", str(out), "--method", "float"], out)

    for fmt, edit in (("onnx", edited_onnx), ("tflite", edited_tflite)):
        for _ in range(N[f"{fmt} metadata"]):  # export metadata
            case += 1
            model = edit(tiny_models[fmt], tmp_path / f"m{case}.{fmt}", mutation(rng))
            out = tmp_path / f"o{case}"
            run(f"{fmt} metadata", ["info", str(model)], out)
            run(f"{fmt} metadata", ["separate", str(mix), "-m", str(model), "-o", str(out), "-q"], out,
                separate_outputs(out, SR // 4))

    for _ in range(N["wav header"]):  # wav headers
        case += 1
        wav = tmp_path / f"w{case}" / "mix.wav"
        wav.parent.mkdir()
        wav.write_bytes(wav_header_mutation(rng, wav_bytes))
        out = tmp_path / f"o{case}"
        try:
            frames = sf.info(str(wav)).frames
        except Exception:  # noqa: BLE001 - unreadable: the command must say so
            frames = -1
        run("wav header", ["separate", str(wav), "-m", str(tiny_models["tflite"]), "-o", str(out), "-q"], out,
            separate_outputs(out, frames))

    total = sum(len(v) for v in counts.values())
    summary = {k: f"{len(v)} cases, {v.count(0)} ok, {v.count(2)} refused" for k, v in counts.items()}
    print(f"fuzz: {total} cases: {summary}")
    assert total == sum(N.values()) + N["onnx metadata"] + N["tflite metadata"]  # (info and separate for those)
    # the loop exercises both outcomes, not only one of them
    assert sum(v.count(2) for v in counts.values()) >= 10 and sum(v.count(0) for v in counts.values()) >= 10, summary


@pytest.mark.parametrize("kind", ["edited config", "bad wav header"])
def test_fuzz_cases_through_the_installed_command(kind, tiny_models, tmp_path):  # noqa: F811
    """The same contract from a real process: exit 2, one line on stderr, no traceback, nothing written."""
    mix = tmp_path / "mix.wav"
    sf.write(mix, noise(SR // 4), SR, subtype="PCM_16")
    model = tiny_models["checkpoint"]
    if kind == "edited config":
        model = edited_checkpoint(model, tmp_path / "edited.safetensors",
                                  lambda c: c["model"].update(kernel_size=10**12))
    else:
        mix.write_bytes(mix.read_bytes()[:20])
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "fqss_edge.cli.main", "separate", str(mix), "-m", str(model),
                           "-o", str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert not out.exists()
