"""``fqss-edge bench --host``: a REAL OpenSSH server on 127.0.0.1 (a free port, a temporary host key, a generated
authorized key); the models and the standalone runner go over scp, results come back over ssh.

Installs openssh-server with apt-get when /usr/sbin/sshd is missing and we are root; skips only when sshd
cannot be had.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from fqss_edge.cli.main import main

SSHD = "/usr/sbin/sshd"


def _ensure_sshd() -> str:
    found = shutil.which("sshd") or (SSHD if Path(SSHD).is_file() else None)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("no sshd, and openssh-server cannot be installed (needs root and apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-server"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(cmd, env=env, capture_output=True)
    if not Path(SSHD).is_file():
        pytest.skip("openssh-server could not be installed with apt-get")
    return SSHD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    exe = _ensure_sshd()
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    (d / "authorized_keys").chmod(0o600)
    port = _free_port()
    (d / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
        "Subsystem sftp internal-sftp", "X11Forwarding no", "PrintMotd no", ""]))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
    log = (d / "sshd.log").open("w")
    proc = subprocess.Popen([exe, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {(d / 'sshd.log').read_text()[-500:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    workdir = d / "remote_work"
    workdir.mkdir()
    device = d / "loopback.yaml"  # the cpu profile, with a work folder we can inspect afterwards
    device.write_text(yaml.safe_dump({"name": "loopback", "arch": "native", "default_threads": 1,
                                      "python": sys.executable, "workdir": str(workdir)}))
    yield SimpleNamespace(port=port, key=d / "client_key", user=getpass.getuser(), known_hosts=d / "known_hosts",
                          workdir=workdir, device=device)
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _ssh_args(sshd) -> list[str]:
    return ["--host", f"{sshd.user}@127.0.0.1", "--ssh-port", str(sshd.port), "--ssh-key", str(sshd.key),
            "--ssh-option", f"UserKnownHostsFile={sshd.known_hosts}"]


@pytest.mark.parametrize("device_python", ["ai_edge_litert", "tflite_runtime"])
def test_bench_over_ssh(tiny, sshd, capsys, device_python, request):
    """The device's python: this environment's (ai-edge-litert), or .venv-tflite214 (only tflite-runtime 2.14, with
    a model it can load)."""
    if device_python == "ai_edge_litert":
        python, model = sys.executable, tiny.tflite
    else:
        python, model = str(request.getfixturevalue("tflite214_python")), request.getfixturevalue("tiny_norm8")
    code = main(["bench", str(model), str(model), "--device", "cpu", *_ssh_args(sshd),
                 "--remote-python", python, "--runs", "4", "--warmup", "1", "--chunk", "0.5", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["where"] == f"ssh {sshd.user}@127.0.0.1:{sshd.port}" and d["emulated"] is False
    assert d["environment"]["litert_module"] == device_python
    assert len(d["results"]) == 2 and d["results"][0]["label"] != d["results"][1]["label"]
    for r in d["results"]:
        assert r["latency_ms"]["n"] == 4 and len(r["raw_latencies_ms"]) == 4 and r["rtf"] > 0
        assert r["memory"]["peak_mb"] > 0  # the runner's own child process, on the device
        assert r["samples"] == 4000 and r["backend"].endswith("xnnpack")


def test_profile_python_and_workdir_are_used_and_cleaned(tiny, sshd, capsys):
    code = main(["bench", str(tiny.tflite), "--device", str(sshd.device), *_ssh_args(sshd), "--no-xnnpack",
                 "--runs", "2", "--warmup", "0", "--chunk", "0.25", "--no-memory", "--md"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "| XNNPACK | off |" in out.out and "builtin" in out.out
    assert list(sshd.workdir.iterdir()) == []  # the remote folder was removed


def test_refused_login_is_a_one_line_error(tiny, sshd, tmp_path, capsys):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    args = _ssh_args(sshd)
    args[args.index("--ssh-key") + 1] = str(other)
    code = main(["bench", str(tiny.tflite), *args, "--runs", "1"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("... ")]
    assert code == 2 and len(err) == 1 and "unreachable host" in err[0] and "Permission denied" in err[0]
