"""bench.devices: shipped profiles load (also as package data), unknown keys and devices are one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from fqss_edge.bench.devices import host_arch, load_device, parse_device, shipped_devices
from fqss_edge.errors import FqssError


@pytest.mark.parametrize("name,arch,cores", [("rpi4", "aarch64", 4), ("rpi5", "aarch64", 4),
                                             ("aarch64", "aarch64", 4), ("cpu", "native", None)])
def test_shipped_profiles(name, arch, cores):
    p = load_device(name)
    assert p.name == name and p.arch == arch and p.cores == cores and p.default_threads >= 1
    assert p.ssh.host is None and p.ssh.port == 22 and p.python


def test_every_shipped_profile_is_listed():
    assert {"cpu", "rpi4", "rpi5", "aarch64"} <= set(shipped_devices())


def test_profiles_ship_as_package_data(tmp_path):
    code = ("from importlib.resources import files; "
            "print(sorted(p.name for p in (files('fqss_edge.configs') / 'devices').iterdir()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "rpi4.yaml" in out.stdout and "cpu.yaml" in out.stdout


def test_unknown_key_is_rejected(tmp_path):
    p = tmp_path / "board.yaml"
    p.write_text(yaml.safe_dump({"name": "board", "arch": "aarch64", "coers": 4}))
    with pytest.raises(FqssError, match=r"board.yaml: unknown key 'coers' \(did you mean 'cores'\?\)"):
        load_device(p)
    with pytest.raises(FqssError, match=r"unknown key 'ssh.hots'"):
        parse_device({"name": "x", "ssh": {"hots": "pi@1.2.3.4"}})


def test_bad_values_are_one_line_errors():
    with pytest.raises(FqssError, match="default_threads: must be >= 1") as e:
        parse_device({"name": "x", "default_threads": 0})
    assert "\n" not in str(e.value)
    with pytest.raises(FqssError, match="arch"):
        parse_device({"name": "x", "arch": "mips"})


def test_unknown_device_is_a_one_line_error():
    with pytest.raises(FqssError) as e:
        load_device("rpi3")
    msg = str(e.value)
    assert "\n" not in msg and "unknown device 'rpi3'" in msg and "rpi4" in msg


def test_wrong_architecture_without_host_or_emulation():
    other = "x86_64" if host_arch() == "aarch64" else "aarch64"
    with pytest.raises(FqssError, match=f"is {other} but this host is {host_arch()}: pass --host"):
        parse_device({"name": "board", "arch": other}).check_local()
    load_device("cpu").check_local()  # native: always fine
