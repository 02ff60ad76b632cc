"""The YAML reader of configs and device profiles: alias bombs refused (fast, small, one line), huge input never
echoed, duplicate / unhashable keys, oversized and non-text files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fqss_edge.bench.devices import load_device
from fqss_edge.config import load_config
from fqss_edge.errors import FqssError
from fqss_edge.yaml_io import MAX_BYTES, MAX_NODES, load_yaml_text


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The billion-laughs document: ``width ** levels`` strings once aliases are expanded, used as a value."""
    lines = [f"x0: &x0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nmodel:\n  n_filters: *x{levels}\n"


def one_line_error(fn, *args) -> str:
    with pytest.raises(FqssError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    return message


@pytest.mark.parametrize("load", [load_config, load_device], ids=["config", "device"])
def test_alias_bomb_is_refused_with_one_line(tmp_path, load):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert one_line_error(load, path).startswith(f"{path}: invalid YAML: aliases expand to more than {MAX_NODES}")


def test_alias_bomb_through_the_cli_is_refused_small(tmp_path):
    """A real process: exit 2, one line on stderr, < 1 GB peak RSS (the child's own VmHWM: an expanded bomb would
    not fit). No wall-clock bound: timings belong in benchmarks (this one failed at 5.5-6.3 s only
    when the shared machine ran at load 15)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    # the peak RSS of the child's own memory (VmHWM): ru_maxrss would carry the forking pytest process's peak
    # across exec (1.4 GB late in the full suite)
    script = ("import pathlib, resource\nfrom fqss_edge.cli.main import main\n"
              f"rc = main(['train', '--config', {str(path)!r}, '-o', {str(tmp_path / 'run')!r}])\n"
              "status = pathlib.Path('/proc/self/status')\n"
              "hwm = [int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith('VmHWM')]"
              " if status.exists() else [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]\n"
              "print(rc, hwm[0])")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    rc, max_rss_kib = proc.stdout.split()
    assert int(rc) == 2
    assert proc.stderr.count("\n") == 1 and "aliases expand to more than" in proc.stderr
    assert int(max_rss_kib) < 1024 * 1024
    assert not (tmp_path / "run").exists()


def test_small_anchors_still_work():
    data = load_yaml_text("base: &b {n: 1, m: [1, 2]}\nuse: *b\n", "t.yaml")
    assert data["use"] == {"n": 1, "m": [1, 2]}


def test_recursive_alias_is_refused():
    assert "recursive alias" in one_line_error(load_yaml_text, "a: &a [1, *a]\n", "t.yaml")


def test_a_huge_value_is_not_echoed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("model:\n  n_filters: " + "9" * 100_000 + "x\n")
    message = one_line_error(load_config, path)
    assert message.startswith(f"{path}: model.n_filters: ") and "..." in message


@pytest.mark.parametrize("text, expected", [
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("? [1, 2]\n: 3\n", "a key must be a plain value"),
    ("a: [1, 2\n", "invalid YAML"),
])
def test_malformed_yaml_is_one_line(text, expected):
    assert expected in one_line_error(load_yaml_text, text, "t.yaml")


def test_oversized_and_binary_files_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_BYTES + 1))
    assert f"at most {MAX_BYTES} bytes" in one_line_error(load_config, big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00model")
    assert "not a text file" in one_line_error(load_config, binary)
    assert "is a folder" in one_line_error(load_config, tmp_path)
