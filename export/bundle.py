"""``fqss-edge export CKPT --int8``: model.onnx (QDQ) and model.tflite (fully int8) written as a pair.

Both files are built in a temporary folder next to the output folder and moved into place only when both
succeeded, so an error leaves no half-written export behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fqss_edge.export.onnx import OnnxExport, export_checkpoint


@dataclass
class BundleExport:
    onnx: OnnxExport
    tflite: Path | None
    tflite_meta: dict[str, Any] | None
    onnx_written: bool = True

    @property
    def files(self) -> list[Path]:
        return [self.onnx.path] + ([self.tflite] if self.tflite else [])


def export_bundle(checkpoint: str | Path, out_dir: str | Path, quantized: bool | None = None,
                  config: dict[str, Any] | None = None, formats: tuple[str, ...] | None = None,
                  io: str = "int16", split_reduce_mean: bool = False) -> BundleExport:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        onnx_result = export_checkpoint(checkpoint, staging, quantized, config, split_reduce_mean=split_reduce_mean)
        if formats is None:  # int8: both files; float: the ONNX graph only (the TFLite writer is integer-only)
            formats = ("onnx", "tflite") if onnx_result.quantized else ("onnx",)
        tflite, meta = None, None
        if "tflite" in formats:
            from fqss_edge.errors import FqssError
            from fqss_edge.export.tflite import export as export_tflite

            if not onnx_result.quantized:
                raise FqssError(f"{checkpoint}: the TFLite export is integer-only: export a quantized checkpoint "
                                "with --int8 (or --format onnx for the float graph)")
            tflite = staging / "model.tflite"
            meta = export_tflite(onnx_result.path, tflite, io=io)
        moved = {}
        for name in ["model.onnx"] * ("onnx" in formats) + ["model.tflite"] * (tflite is not None):
            os.replace(staging / name, out / name)
            moved[name] = out / name
        onnx_result.path = moved.get("model.onnx", onnx_result.path)
        return BundleExport(onnx_result, moved.get("model.tflite"), meta, "model.onnx" in moved)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
