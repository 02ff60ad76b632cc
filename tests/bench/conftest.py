"""Tiny exported models for the bench tests: a random calibrated checkpoint, its int8 QDQ and float ONNX graphs
and its int8 .tflite (int16 PCM I/O, resizable), built once per session (~5 s)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.parity.synthetic import FQSS_QUANT, FQSS_QUANT_NORM8, TINY_MODEL, save_random_checkpoint


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> SimpleNamespace:
    d: Path = tmp_path_factory.mktemp("bench_models")
    ckpt = save_random_checkpoint(d / "tiny.safetensors", TINY_MODEL, FQSS_QUANT)
    int8 = export_checkpoint(ckpt, d, True, filename="int8.onnx").path
    flt = export_checkpoint(ckpt, d, False, filename="float.onnx").path
    export_tflite(int8, d / "int8.tflite")
    return SimpleNamespace(dir=d, ckpt=ckpt, onnx_int8=int8, onnx_float=flt, tflite=d / "int8.tflite")


@pytest.fixture(scope="session")
def tiny_norm8(tmp_path_factory) -> Path:
    """The tiny model with 8-bit normalisation (as the shipped default): a .tflite that tflite-runtime 2.14 loads
    (``tiny``'s int16 RSQRT is version 3, first in TF Lite 2.15)."""
    d: Path = tmp_path_factory.mktemp("bench_norm8")
    ckpt = save_random_checkpoint(d / "tiny.safetensors", TINY_MODEL, FQSS_QUANT_NORM8)
    export_tflite(export_checkpoint(ckpt, d, True).path, d / "model.tflite")
    return d / "model.tflite"
