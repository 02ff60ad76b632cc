#!/usr/bin/env bash
# The tflite-runtime 2.14 environment (.venv-tflite214/): the last tflite-runtime release, the TFLite interpreter of
# older Raspberry Pi OS images, which needs numpy < 2 and so cannot share .venv. tests/export/tflite/
# test_runtime_compat.py runs exported models there (through fqss_edge/bench/device_runner.py, which needs only
# numpy and an interpreter), and tests/bench/test_remote.py uses it as the device's python.
# Safe to run again: an environment that already imports tflite_runtime 2.14 is kept. Exit status 1 when it cannot
# be made (no python3.11, no wheel for this platform, no network to PyPI).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENV=.venv-tflite214
probe='import tflite_runtime, numpy; assert tflite_runtime.__version__ == "2.14.0", tflite_runtime.__version__'
if [[ -x $ENV/bin/python ]] && $ENV/bin/python -c "$probe" >/dev/null 2>&1; then
    exit 0
fi
PYTHON=$(command -v python3.11 || command -v python3 || true)
[[ -n "$PYTHON" ]] || { echo "tflite214_env.sh: no python3.11" >&2; exit 1; }
rm -rf "$ENV"
"$PYTHON" -m venv "$ENV"
"$ENV/bin/python" -m pip install -q --disable-pip-version-check "tflite-runtime==2.14.0" "numpy<2"
"$ENV/bin/python" -c "$probe"
