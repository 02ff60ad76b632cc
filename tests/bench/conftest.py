"""Tiny exported models for the bench tests: a random calibrated checkpoint, its int8 QDQ and float ONNX graphs
and its int8 .tflite (int16 PCM I/O, resizable), built once per session (~5 s)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, save_random_checkpoint


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> SimpleNamespace:
    d: Path = tmp_path_factory.mktemp("bench_models")
    ckpt = save_random_checkpoint(d / "tiny.safetensors", TINY_MODEL, FQSS_QUANT)
    int8 = export_checkpoint(ckpt, d, True, filename="int8.onnx").path
    flt = export_checkpoint(ckpt, d, False, filename="float.onnx").path
    export_tflite(int8, d / "int8.tflite")
    return SimpleNamespace(dir=d, ckpt=ckpt, onnx_int8=int8, onnx_float=flt, tflite=d / "int8.tflite")
