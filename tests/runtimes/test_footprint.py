"""The memory estimate of one model call (runtimes/footprint.py): recorded at export, read without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes import footprint
from tests.app_models import tiny_models  # noqa: F401

_NO_TORCH = """
import sys
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.footprint import bytes_per_sample
print(bytes_per_sample(open_backend(sys.argv[1])))
print("torch" in sys.modules)
"""


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
def test_an_exported_file_records_its_estimate_and_is_sized_without_torch(tiny_models, kind):  # noqa: F811
    backend = open_backend(tiny_models[kind])
    cfg = footprint.model_config_of(backend)
    from_config = footprint.LIVE_TENSORS * footprint.largest_activation_per_sample(cfg) + footprint.PIPELINE_BYTES
    out = subprocess.run([sys.executable, "-c", _NO_TORCH, str(tiny_models[kind])], capture_output=True, text=True,
                         check=True).stdout.split()
    assert float(out[0]) == pytest.approx(from_config, rel=1e-12)
    assert out[1] == "False"


class _Old:
    """A file exported before the estimate was recorded: only its model config in the metadata."""

    def __init__(self, meta: dict):
        self.meta = {"onnx_metadata": meta}


def test_a_file_without_the_recorded_estimate_is_sized_from_its_config(tiny_models):  # noqa: F811
    cfg = footprint.model_config_of(open_backend(tiny_models["tflite"]))
    old = _Old({"fqss.model_config": json.dumps(cfg)})
    recorded = _Old({"fqss.model_config": json.dumps(cfg), footprint.ACTIVATION_KEY: 2.5})
    assert footprint.bytes_per_sample(old) == pytest.approx(
        footprint.LIVE_TENSORS * footprint.largest_activation_per_sample(cfg) + footprint.PIPELINE_BYTES)
    assert footprint.bytes_per_sample(recorded) == footprint.LIVE_TENSORS * 2.5 + footprint.PIPELINE_BYTES
