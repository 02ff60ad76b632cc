#!/usr/bin/env bash
# Set up fqss-edge on a fresh machine with Python 3.11: .venv, torch (CPU build) first, the package (editable, with
# test tools), and the Debian packages the tests and benchmarks use. Safe to run again: finished steps are skipped.
#
# Environment: FQSS_TORCH_INDEX_URL  optional pip index for torch (e.g. https://download.pytorch.org/whl/cpu on a
#                                    machine whose default index would give the CUDA build).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TORCH_VERSION="2.13.0"
# speech synthesis (tests, benchmarks), sox, an SSH server for the real SSH bench test (not started by
# installing it), and Chromium for the summary-page test
APT_PACKAGES=(espeak-ng flite sox openssh-server openssh-client chromium ffmpeg)  # ffmpeg: museval imports stempeg

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }

# 1. Virtual environment --------------------------------------------------------------------------------------
if [[ -x .venv/bin/python ]] && is_py311 .venv/bin/python; then
    step "Using the existing .venv ($(.venv/bin/python --version))"
else
    [[ -e .venv ]] && die ".venv exists but is not a Python 3.11 environment; remove it and run again"
    if command -v python3.11 >/dev/null && is_py311 python3.11; then
        PYTHON=python3.11
    elif command -v python3 >/dev/null && is_py311 python3; then
        PYTHON=python3
    else
        die "Python 3.11 not found (tried python3.11 and python3)"
    fi
    step "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv || die "could not create .venv (Debian/Ubuntu: apt-get install python3.11-venv)"
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)

step "Upgrading pip"
"${PIP[@]}" install -q --upgrade pip

# 2. torch first, so that nothing pulls a CUDA build ----------------------------------------------------------
installed_torch=$(.venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [[ "${installed_torch%%+*}" == "$TORCH_VERSION" ]]; then
    step "torch $installed_torch already installed"
else
    step "Installing torch==$TORCH_VERSION (CPU build)"
    "${PIP[@]}" install -q ${FQSS_TORCH_INDEX_URL:+--index-url "$FQSS_TORCH_INDEX_URL"} "torch==$TORCH_VERSION"
fi

# 3. fqss-edge itself, editable, with the test tools -----------------------------------------------------------
step "Installing fqss-edge (editable, with [dev])"
# (the message filtered out is setuptools' generic note about editable installs, which does not apply here)
PYTHONWARNINGS="ignore:Editable installation" "${PIP[@]}" install -q -e '.[dev]'
cuda=$(.venv/bin/python -c 'import torch; print(torch.version.cuda or "")')
[[ -z "$cuda" ]] || note "warning: torch is a CUDA build ($cuda); set FQSS_TORCH_INDEX_URL for the CPU build"

# 3b. STOI and PESQ (optional: eval and the summary page leave them out without their packages)
if .venv/bin/python -c 'import pystoi, pesq' 2>/dev/null; then
    step "STOI / PESQ packages present"
else
    step "Installing the perceptual metrics (pystoi, pesq; pesq compiles C code)"
    "${PIP[@]}" install -q pystoi pesq || { "${PIP[@]}" install -q pystoi || true;
        note "warning: pesq did not install (no C compiler?): no PESQ in eval and on the summary page"; }
fi

# 3c. museval (optional: `eval --metric museval`) and mido (scripts/build_music_fixture.py)
if .venv/bin/python -c 'import museval, mido' 2>/dev/null; then
    step "museval / mido present"
else
    step "Installing the music metrics (museval, mido)"
    "${PIP[@]}" install -q museval mido || note "warning: museval did not install: no eval --metric museval"
fi

# 4. Debian packages (speech synthesis and audio tools used by tests and benchmarks) ---------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    step "Debian packages present (${APT_PACKAGES[*]})"
elif [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    step "Skipping Debian packages (needs root and apt-get): please install ${missing[*]} yourself"
else
    step "Installing Debian packages: ${missing[*]}"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
    then
        note "warning: apt-get failed; please install ${missing[*]} yourself"
    fi
fi

# 5. Optional aarch64 emulation root for `fqss-edge bench --emulate` and tests/bench/test_emulate.py
#    (~30 s, ~210 MB in ~/.cache/fqss-edge/aarch64, nothing installed system-wide). FQSS_SKIP_EMULATION=1 skips it.
if [[ "${FQSS_SKIP_EMULATION:-0}" != 1 ]] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    step "Preparing the aarch64 emulation root (qemu-user 10, arm64 python3.11, aarch64 LiteRT)"
    .venv/bin/python -m fqss_edge.bench.emulate prepare >/dev/null || note "warning: no emulation root; test_emulate.py will skip"
fi

# 6. tflite-runtime 2.14 (numpy < 2) in its own .venv-tflite214 for the runtime-compatibility tests
step "Preparing .venv-tflite214 (fqss-edge with tflite-runtime 2.14.0 and no ai-edge-litert, numpy < 2)"
bash scripts/tflite214_env.sh || note "warning: no tflite-runtime 2.14 environment; test_runtime_compat.py will skip"

step "Done: $(.venv/bin/fqss-edge --version 2>/dev/null || echo 'fqss-edge installed')"
