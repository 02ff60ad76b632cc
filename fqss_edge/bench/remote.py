"""Run the benchmark on a device over SSH: copy the models and ``device_runner.py`` with scp into a fresh folder,
run the runner with ssh, read its JSON lines as they come, remove the folder.

    ssh = SshTarget("pi@192.168.1.20", python="/home/pi/venv/bin/python")
    env, results = run_remote(ssh, [Path("int8.tflite")], [32000], runner_args)

Only the OpenSSH client is needed here; the device needs python3, numpy and ai-edge-litert (or tflite-runtime).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fqss_edge.errors import FqssError

RUNNER = Path(__file__).with_name("device_runner.py")


@dataclass
class SshTarget:
    host: str  # user@addr (or addr)
    port: int = 22
    key: str | None = None
    options: list[str] = field(default_factory=list)  # extra ``-o KEY=VALUE`` options
    python: str = "python3"
    workdir: str = "/tmp"
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        if not self.host:
            raise FqssError("ssh host: not set (pass --host or ssh.host in the device profile)")
        check_ssh_settings(self.host, self.port, self.key, self.options)

    def _common(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "StrictHostKeyChecking=accept-new", "-o", "LogLevel=ERROR"]
        for o in self.options:
            opts += ["-o", o]
        return opts + (["-i", self.key] if self.key else [])

    def ssh(self, command: str) -> list[str]:
        return ["ssh", "-p", str(self.port), *self._common(), "--", self.host, command]

    def scp(self, files: Iterable[tuple[Path, str]], remote_dir: str) -> list[list[str]]:
        """One scp command per file (each copied under its remote name)."""
        return [["scp", "-q", "-P", str(self.port), *self._common(), "--", str(src), f"{self.host}:{remote_dir}/{name}"]
                for src, name in files]

    @property
    def where(self) -> str:
        return f"ssh {self.host}" + (f":{self.port}" if self.port != 22 else "")


# [user@]host: a conservative character set, never an option (ssh/scp read "-o..." as one: command injection)
_HOST = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])")
_OPTION = re.compile(r"[A-Za-z][A-Za-z0-9]*=[^\s]*")
# ssh options that run local commands or reroute the connection through one
_REFUSED_OPTIONS = {"proxycommand", "localcommand", "permitlocalcommand", "knownhostscommand", "match",
                    "remotecommand", "proxyjump", "proxyusefdpass"}


def check_ssh_settings(host: str | None, port: int, key: str | None = None, options: Iterable[str] = ()) -> None:
    """One-line FqssError unless host (None: not set yet), port, key file and -o options are safe for ssh/scp."""
    if host is not None and (not isinstance(host, str) or not _HOST.fullmatch(host)):
        raise FqssError(f"ssh host {host!r}: expected [user@]host (letters, digits, '.', '-', '_'; an IPv6 address "
                        f"in brackets), not starting with '-'")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise FqssError(f"ssh port {port!r}: expected a number from 1 to 65535")
    if key is not None and (not key or key.startswith("-") or "\n" in key):
        raise FqssError(f"ssh key {key!r}: expected the path of a private key file")
    for o in options:
        if not _OPTION.fullmatch(o):
            raise FqssError(f"ssh option {o!r}: expected KEY=VALUE without spaces")
        if o.split("=", 1)[0].lower() in _REFUSED_OPTIONS:
            raise FqssError(f"ssh option {o.split('=', 1)[0]}: refused (it runs a local command or reroutes the "
                            f"connection); configure it in ~/.ssh/config if you need it")


def _run(cmd: list[str], what: str, target: SshTarget, timeout: float = 120.0) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise FqssError(f"--host: the OpenSSH client ({cmd[0]}) is not installed") from None
    except subprocess.TimeoutExpired:
        raise FqssError(f"host {target.host} port {target.port}: {what} timed out after {timeout:.0f} s") from None
    if out.returncode != 0:
        reason = _last_line(out.stderr, out.returncode)
        raise FqssError(f"host {target.host} port {target.port}: {what} failed ({reason})")
    return out.stdout


def _last_line(text: str, code: int) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {code}"


def check_reachable(target: SshTarget) -> None:
    """One-line FqssError when the host cannot be reached or refuses the login."""
    try:
        out = subprocess.run(target.ssh("true"), capture_output=True, text=True,
                             timeout=target.connect_timeout + 20)
    except FileNotFoundError:
        raise FqssError("--host: the OpenSSH client (ssh) is not installed") from None
    except subprocess.TimeoutExpired:
        raise FqssError(f"unreachable host {target.host} port {target.port} (no answer)") from None
    if out.returncode != 0:
        raise FqssError(f"unreachable host {target.host} port {target.port} ({_last_line(out.stderr, out.returncode)})")


def parse_runner_lines(lines: Iterable[str], source: str,
                       on_event: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], list[dict]]:
    """The ``env`` event and the ``result`` events of ``device_runner.py``'s output (FqssError on ``error``)."""
    env: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    done = False
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        if on_event is not None:
            on_event(ev)
        kind = ev.pop("event", "")
        if kind == "error":
            raise FqssError(f"{source}: {ev.get('message')}")
        if kind == "env":
            env = ev
        elif kind == "result":
            results.append(ev)
        elif kind == "done":
            done = True
    if not done:
        raise FqssError(f"{source}: the benchmark runner stopped before the end of its results")
    return env, sorted(results, key=lambda r: r["index"])


def run_remote(target: SshTarget, models: list[Path], lengths: list[int], runner_args: list[str],
               on_event: Callable[[dict[str, Any]], None] | None = None,
               timeout: float = 3600.0) -> tuple[dict[str, Any], list[dict]]:
    """Copy, run ``device_runner.py bench`` (with ``runner_args``) on the device, stream back, clean up."""
    check_reachable(target)
    remote_dir = _run(target.ssh(f"mktemp -d {shlex.quote(target.workdir)}/fqss-bench.XXXXXX"), "mktemp",
                      target).strip()
    if not remote_dir.startswith("/"):
        raise FqssError(f"host {target.host}: could not create a work folder under {target.workdir}")
    try:
        names = [f"model{i}{p.suffix}" for i, p in enumerate(models)]
        for cmd in target.scp([(RUNNER, RUNNER.name), *zip(models, names)], remote_dir):
            _run(cmd, "scp", target, timeout=600.0)
        args = ["bench"]
        for name, n in zip(names, lengths):
            args += ["--model", f"{remote_dir}/{name}", "--length", str(n)]
        command = " ".join(shlex.quote(a) for a in [target.python, f"{remote_dir}/{RUNNER.name}", *args, *runner_args])
        return _stream(target.ssh(command), target, on_event, timeout)
    finally:
        subprocess.run(target.ssh(f"rm -rf {shlex.quote(remote_dir)}"), capture_output=True, timeout=60)


def _stream(cmd: list[str], target: SshTarget, on_event: Callable[[dict[str, Any]], None] | None,
            timeout: float) -> tuple[dict[str, Any], list[dict]]:
    """Run ``cmd`` and parse its stdout line by line as it arrives (stderr goes to a file: no pipe stalls)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            return parse_runner_lines(iter(proc.stdout.readline, ""), f"host {target.host}",  # type: ignore
                                      on_event)
        except FqssError as e:
            proc.kill()
            proc.wait()
            err.seek(0)
            stderr = err.read()
            if "stopped before the end" in str(e) and stderr.strip():
                raise FqssError(f"host {target.host}: the runner failed "
                                f"({_last_line(stderr, proc.returncode)})") from None
            raise
        finally:
            if proc.poll() is None:
                proc.wait(timeout=timeout)
