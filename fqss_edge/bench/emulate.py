"""ARM parity check without an ARM board: the aarch64 build of LiteRT run under qemu-user.

Timings under emulation mean nothing (every time printed is labelled "emulated, not representative"); what it
checks is that the .tflite loads and runs on aarch64 and gives the same integers as on x86.

The emulation root (``~/.cache/fqss-edge/aarch64``, or ``$FQSS_EMULATE_ROOT``, or ``root=``) holds, with no change
to the host's packages:
  sysroot/  Debian 12 arm64 python3.11 and the libraries it needs (``apt-get download`` + ``dpkg-deb -x``)
  site/     the aarch64 wheels of ai-edge-litert and numpy (``pip install --target --platform manylinux_2_27_aarch64``)
  qemu/     qemu-aarch64: Debian 13's static qemu-user 10 (runs every kernel), else Debian 12's
            qemu-user-static 7.2 (crashes in XNNPACK and the optimised kernels: REF kernels only)

    root = prepare_root()                       # idempotent, about a minute the first time (~200 MB)
    y = run_emulated("model.tflite", pcm, kernels="ref")

``python -m fqss_edge.bench.emulate prepare [--root DIR]`` prepares it from a shell (scripts/setup.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.errors import FqssError

RUNNER = Path(__file__).with_name("device_runner.py")
MIRROR = os.environ.get("FQSS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SYSROOT_SUITE = "bookworm"  # python3.11, as the host's venv
SYSROOT_PACKAGES = ("libc6 libgcc-s1 libstdc++6 zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5 libzstd1 "
                    "libcrypt1 libuuid1 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libnsl2 libtirpc3 libdb5.3 "
                    "libgdbm6 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib").split()
WHEELS = ("ai-edge-litert", "numpy")
QEMU_SOURCES = (("trixie", "amd64", "qemu-user", "./usr/bin/qemu-aarch64"),  # static since Debian 13
                ("bookworm", "amd64", "qemu-user-static", "./usr/bin/qemu-aarch64-static"))
XNNPACK_MIN_QEMU = 8  # Debian 12's 7.2 crashes in XNNPACK; Debian 13's 10.0 runs it


@dataclass(frozen=True)
class EmulationRoot:
    path: Path
    qemu: Path
    qemu_version: str

    @property
    def python(self) -> Path:
        return self.path / "sysroot" / "usr" / "bin" / "python3.11"

    @property
    def xnnpack_ok(self) -> bool:
        return int(self.qemu_version.split(".")[0]) >= XNNPACK_MIN_QEMU

    def command(self, script: Path, args: list[str]) -> list[str]:
        return [str(self.qemu), "-L", str(self.path / "sysroot"), str(self.python), str(script), *args]

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(self.path / "site"), PYTHONNOUSERSITE="1")

    @property
    def label(self) -> str:
        return f"emulated: qemu-aarch64 {self.qemu_version}"


def default_root() -> Path:
    env = os.environ.get("FQSS_EMULATE_ROOT")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fqss-edge" / "aarch64"


def find_root(root: str | Path | None = None) -> EmulationRoot | None:
    """The prepared root, or None (nothing is downloaded)."""
    p = Path(root).expanduser() if root else default_root()
    stamp = p / "ready.json"
    if not stamp.is_file():
        return None
    d = json.loads(stamp.read_text())
    er = EmulationRoot(p, p / d["qemu"], d["qemu_version"])
    return er if er.qemu.is_file() and er.python.is_file() else None


def require_root(root: str | Path | None = None) -> EmulationRoot:
    er = find_root(root)
    if er is None:
        where = Path(root).expanduser() if root else default_root()
        raise FqssError(f"--emulate: no aarch64 emulation root in {where}; prepare it once with "
                        f"`python -m fqss_edge.bench.emulate prepare` (about a minute, ~200 MB)")
    return er


# -- preparing --------------------------------------------------------------------------------------------------


def _apt_options(work: Path, suite: str, arch: str) -> list[str]:
    lists, cache = work / "lists", work / "cache"
    for d in (lists / "partial", cache / "archives" / "partial"):
        d.mkdir(parents=True, exist_ok=True)
    (work / "sources.list").write_text(f"deb [arch={arch} signed-by={KEYRING}] {MIRROR} {suite} main\n")
    (work / "status").touch()
    return ["-o", f"APT::Architecture={arch}", "-o", f"APT::Architectures::={arch}",
            "-o", f"Dir::Etc::sourcelist={work / 'sources.list'}", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}",
            "-o", f"Dir::State::status={work / 'status'}",
            "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-qq"]


def _apt_download(work: Path, suite: str, arch: str, packages: list[str], dest: Path) -> None:
    """``apt-get download`` from a private package list (the host's apt state and architectures are untouched)."""
    if shutil.which("apt-get") is None:
        raise FqssError("preparing the emulation root needs apt-get (Debian/Ubuntu)")
    opts = _apt_options(work, suite, arch)
    for cmd in (["apt-get", *opts, "update"], ["apt-get", *opts, "download", *packages]):
        out = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["failed"])[-1]
            raise FqssError(f"emulation root: apt-get {cmd[len(opts) + 1]} for Debian {suite}/{arch} failed ({last})")


def _qemu_version(qemu: Path) -> str:
    out = subprocess.run([str(qemu), "--version"], capture_output=True, text=True)
    m = re.search(r"version (\d+\.\d+(?:\.\d+)?)", out.stdout)
    if not m:
        raise FqssError(f"{qemu}: not a working qemu-user binary")
    return m.group(1)


def _get_qemu(root: Path, log: Callable[[str], None]) -> Path:
    target = root / "qemu" / "qemu-aarch64"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for suite, arch, package, member in QEMU_SOURCES:
        log(f"downloading {package} from Debian {suite} (only qemu-aarch64 is kept)")
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            try:
                _apt_download(Path(tmp) / "apt", suite, arch, [package], Path(tmp))
            except FqssError as e:
                errors.append(str(e))
                continue
            deb = next(Path(tmp).glob(f"{package}_*.deb"))
            extract = subprocess.run(f"dpkg-deb --fsys-tarfile {deb} | tar -x -C {tmp} {member}", shell=True,
                                     capture_output=True, text=True)
            if extract.returncode == 0:
                shutil.move(str(Path(tmp) / member), target)
                return target
            errors.append(f"{deb.name}: {extract.stderr.strip()}")
    raise FqssError(f"emulation root: no qemu-user could be fetched ({'; '.join(errors)})")


def prepare_root(root: str | Path | None = None, log: Callable[[str], None] = print) -> EmulationRoot:
    """Create (or complete) the emulation root; a finished root is returned at once."""
    found = find_root(root)
    if found is not None:
        return found
    p = Path(root).expanduser() if root else default_root()
    p.mkdir(parents=True, exist_ok=True)
    qemu = _get_qemu(p, log)
    sysroot = p / "sysroot"
    if not (sysroot / "usr" / "bin" / "python3.11").is_file():
        log(f"downloading Debian {SYSROOT_SUITE} arm64 python3.11 ({len(SYSROOT_PACKAGES)} packages)")
        debs = p / "debs"
        debs.mkdir(exist_ok=True)
        _apt_download(p / "apt", SYSROOT_SUITE, "arm64", list(SYSROOT_PACKAGES), debs)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(sysroot)], check=True)
        shutil.rmtree(debs)
    site = p / "site"
    if not (site / "ai_edge_litert").is_dir():
        log(f"installing the aarch64 wheels of {', '.join(WHEELS)}")
        out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "--target", str(site), "--platform", "manylinux_2_27_aarch64", "--python-version",
                              "3.11", "--implementation", "cp", "--only-binary=:all:", *WHEELS],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise FqssError(f"emulation root: pip could not fetch the aarch64 wheels "
                            f"({(out.stderr.strip().splitlines() or ['failed'])[-1]})")
    er = EmulationRoot(p, qemu, _qemu_version(qemu))
    probe = "import platform, numpy, ai_edge_litert.interpreter; print(platform.machine())"
    check = subprocess.run([str(er.qemu), "-L", str(sysroot), str(er.python), "-c", probe], env=er.env(),
                           capture_output=True, text=True)
    if check.stdout.strip() != "aarch64":
        raise FqssError(f"emulation root {p}: the emulated python does not start "
                        f"({(check.stderr.strip().splitlines() or ['no output'])[-1]})")
    (p / "ready.json").write_text(json.dumps({"qemu": str(qemu.relative_to(p)), "qemu_version": er.qemu_version,
                                              "suite": SYSROOT_SUITE, "wheels": list(WHEELS)}, indent=2))
    log(f"emulation root ready: {p} (qemu-aarch64 {er.qemu_version}"
        f"{'' if er.xnnpack_ok else ', REF kernels only'})")
    return er


# -- running ----------------------------------------------------------------------------------------------------


def _check_kernels(er: EmulationRoot, kernels: str) -> None:
    if kernels != "ref" and not er.xnnpack_ok:
        raise FqssError(f"--emulate: qemu-aarch64 {er.qemu_version} crashes in LiteRT's {kernels} kernels; only "
                        f"--no-xnnpack with REF kernels runs (Debian 13's qemu-user 10 runs them all)")


def run_emulated(model: str | Path, inputs: np.ndarray, kernels: str = "ref", threads: int = 1,
                 root: str | Path | None = None, timeout: float = 900.0) -> np.ndarray:
    """One run of ``model`` on ``inputs`` (the interpreter's input dtype, e.g. int16 PCM [1, T]) with the
    aarch64 LiteRT under qemu; returns the output tensor."""
    er = require_root(root)
    _check_kernels(er, kernels)
    with tempfile.TemporaryDirectory() as tmp:
        x, y = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(x, np.asarray(inputs))
        args = ["infer", "--model", str(Path(model).resolve()), "--kernels", kernels, "--threads", str(threads),
                "--input", str(x), "--output", str(y)]
        out = subprocess.run(er.command(RUNNER, args), env=er.env(), capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0 or not y.is_file():
            raise FqssError(f"{model}: the emulated aarch64 run failed ({_last(out)})")
        return np.load(y)


def bench_emulated(models: list[Path], lengths: list[int], runner_args: list[str], kernels: str,
                   root: str | Path | None = None, on_event: Callable[[dict[str, Any]], None] | None = None,
                   timeout: float = 3600.0) -> tuple[EmulationRoot, dict[str, Any], list[dict]]:
    """``device_runner.py bench`` under qemu (no memory measurement: qemu's own RSS would be measured)."""
    from fqss_edge.bench.remote import parse_runner_lines

    er = require_root(root)
    _check_kernels(er, kernels)
    args = ["bench"]
    for m, n in zip(models, lengths):
        args += ["--model", str(Path(m).resolve()), "--length", str(n)]
    out = subprocess.run(er.command(RUNNER, args + runner_args), env=er.env(), capture_output=True, text=True,
                         timeout=timeout)
    try:
        env, results = parse_runner_lines(out.stdout.splitlines(), er.label, on_event)
    except FqssError as e:
        if "stopped before the end" in str(e):
            raise FqssError(f"the emulated aarch64 benchmark failed ({_last(out)})") from None
        raise
    return er, env, results


def _last(out: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in (out.stderr or "").strip().splitlines() if ln.strip() and not ln.startswith("INFO:")]
    return lines[-1] if lines else f"exit status {out.returncode}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m fqss_edge.bench.emulate", description="aarch64 emulation root")
    p.add_argument("command", choices=("prepare", "where"))
    p.add_argument("--root", default=None, help=f"default: $FQSS_EMULATE_ROOT or {default_root()}")
    a = p.parse_args(argv)
    try:
        if a.command == "prepare":
            prepare_root(a.root)
        else:
            er = find_root(a.root)
            print(er.path if er else "not prepared")
    except FqssError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
