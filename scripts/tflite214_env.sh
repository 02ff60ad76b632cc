#!/usr/bin/env bash
# The tflite-runtime 2.14 environment (.venv-tflite214/): fqss-edge with tflite-runtime 2.14.0 as its only TFLite
# package (no ai-edge-litert), the interpreter of older Raspberry Pi OS images and of platforms ai-edge-litert has
# no wheel for. tflite-runtime 2.14 needs numpy < 2, so it cannot share .venv. Used by
# tests/export/tflite/test_runtime_compat.py (exported models through fqss_edge/bench/device_runner.py),
# tests/bench/test_remote.py (the device's python) and tests/bench/test_tflite_runtime_only.py (fqss-edge bench).
# Safe to run again: an environment that passes the probe is kept. Exit status 1 when it cannot be made (no
# python3.11, no wheel for this platform, no network to PyPI).
#
# Environment: FQSS_TORCH_INDEX_URL  optional pip index for torch, as in scripts/setup.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENV=.venv-tflite214
TORCH_VERSION="2.13.0"
probe='
import importlib.util, numpy, tflite_runtime, fqss_edge.cli.main
assert tflite_runtime.__version__ == "2.14.0", tflite_runtime.__version__
assert importlib.util.find_spec("ai_edge_litert") is None, "ai_edge_litert is installed"
'
if [[ -x $ENV/bin/python ]] && $ENV/bin/python -c "$probe" >/dev/null 2>&1; then
    exit 0
fi
PYTHON=$(command -v python3.11 || command -v python3 || true)
[[ -n "$PYTHON" ]] || { echo "tflite214_env.sh: no python3.11" >&2; exit 1; }
rm -rf "$ENV"
"$PYTHON" -m venv "$ENV"
PIP=("$ENV/bin/python" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" ${FQSS_TORCH_INDEX_URL:+--index-url "$FQSS_TORCH_INDEX_URL"} "torch==$TORCH_VERSION"
# fqss-edge's own dependencies but ai-edge-litert (and torch, installed above), from pyproject.toml
mapfile -t deps < <("$PYTHON" -c '
import tomllib
for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    if not d.startswith(("ai-edge-litert", "torch")):
        print(d)')
"${PIP[@]}" "tflite-runtime==2.14.0" "numpy<2" "${deps[@]}"
PYTHONWARNINGS="ignore:Editable installation" "${PIP[@]}" --no-deps -e .
"$ENV/bin/python" -c "$probe"
