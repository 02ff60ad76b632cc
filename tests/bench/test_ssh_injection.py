"""``bench --host`` / device YAMLs: a host, port, key or -o option that ssh/scp would read as a command is refused
before any process starts (issue: "-oProxyCommand=touch pwned" ran a local command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fqss_edge.bench.remote import SshTarget, check_ssh_settings
from fqss_edge.cli.main import main
from fqss_edge.errors import FqssError
from tests.app_models import tiny_models  # noqa: F401


def _run(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("host", ["pi@192.168.1.20", "raspberrypi.local", "[::1]", "u_1@h-2.example.com"])
def test_ordinary_hosts_pass_and_go_after_a_double_dash(host):
    t = SshTarget(host, options=["ServerAliveInterval=5"])
    cmd = t.ssh("true")
    assert cmd[cmd.index("--") + 1:] == [host, "true"]
    (scp,) = t.scp([(Path("-odd name.tflite"), "m.tflite")], "/tmp/d")
    assert scp[scp.index("--") + 1:] == ["-odd name.tflite", f"{host}:/tmp/d/m.tflite"]


@pytest.mark.parametrize("host", ["-oProxyCommand=touch pwned", "-oProxyCommand=touch", "a b", "h;touch x", "h$(x)",
                                  "@h", "h@", "", "h\nx"])
def test_bad_hosts_are_refused(host):
    with pytest.raises(FqssError, match="ssh host"):
        check_ssh_settings(host, 22)


@pytest.mark.parametrize("option", ["ProxyCommand=touch", "proxycommand=x", "LocalCommand=x", "ProxyJump=h",
                                    "KnownHostsCommand=x", "A=b c", "-oX=y"])
def test_dangerous_or_malformed_options_are_refused(option):
    with pytest.raises(FqssError, match="ssh option"):
        check_ssh_settings("h", 22, options=[option])


@pytest.mark.parametrize("port, key", [(0, None), (70000, None), (22, "-oProxyCommand=x"), (22, "")])
def test_bad_port_or_key_is_refused(port, key):
    with pytest.raises(FqssError, match="ssh (port|key)"):
        check_ssh_settings("h", port, key)


def test_cli_host_injection_creates_nothing(tiny_models, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    code, err = _run(["bench", tiny_models["tflite"], "--device", "rpi4", "--host", "-oProxyCommand=touch pwned"],
                     capsys)
    assert code != 0 and "ssh host" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()


def test_device_yaml_host_injection_creates_nothing(tiny_models, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    dev = tmp_path / "evil.yaml"
    dev.write_text('name: evil\narch: aarch64\nssh:\n  host: "-oProxyCommand=touch pwned"\n')
    code, err = _run(["bench", tiny_models["tflite"], "--device", dev], capsys)
    assert code != 0 and "ssh host" in err and str(dev) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()
