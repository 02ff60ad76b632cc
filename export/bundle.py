"""``fqss-edge export CKPT``: model.onnx and model.tflite written as a pair: with ``--int8`` the QDQ graph and a
fully integer .tflite, with ``--float`` the float graph and a float32 .tflite (float32 I/O, for float-vs-int8
comparisons).

Both files are built in a temporary folder next to the output folder and moved into place only when both
succeeded, so an error leaves no half-written export behind (nor an output folder it created); a file of an
earlier export that this one does not rewrite is removed at commit."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fqss_edge.export.onnx import OnnxExport, apply_flavour, export_checkpoint
from fqss_edge.fileio import output_folder


@dataclass
class BundleExport:
    onnx: OnnxExport
    tflite: Path | None
    tflite_meta: dict[str, Any] | None
    onnx_written: bool = True
    removed: list[Path] = field(default_factory=list)  # stale files of an earlier export in the same folder
    audio_decoder: Path | None = None  # model_audio_decoder.onnx (--with-audio-decoder)

    @property
    def files(self) -> list[Path]:
        return [self.onnx.path] + ([self.tflite] if self.tflite else []) + [p for p in [self.audio_decoder] if p]


def export_bundle(checkpoint: str | Path, out_dir: str | Path, quantized: bool | None = None,
                  config: Any = None, formats: tuple[str, ...] | None = None,
                  io: str | None = None, min_runtime: str | None = None, length: int | None = None,
                  target: str = "onnxruntime", audio_decoder: bool = False) -> BundleExport:
    """``formats``: ("onnx", "tflite") by default. ``io``: the TFLite I/O, int16 (default) or float32 for an int8
    export; a float export has float32 I/O only. ``min_runtime``: the oldest TF Lite / LiteRT runtime the .tflite
    must load on (e.g. "2.14"); an export needing a newer one is refused and nothing is written. ``length``: fix
    the .tflite's input length in samples (needed by models with an LSTM whose batch follows the length: DPRNN,
    DPTNet); it must be a length the model takes. ``audio_decoder``: also ``model_audio_decoder.onnx``, the ONNX
    graph behind onnxruntime-extensions' AudioDecoder (audio file bytes in: ``export/onnx/audio_decoder.py``)."""
    from fqss_edge.export.onnx.flavour import TARGETS

    if target not in TARGETS:
        from fqss_edge.errors import FqssError

        raise FqssError(f"export target {target!r}: choose one of {', '.join(TARGETS)}")
    if min_runtime is not None:
        from fqss_edge.export.tflite.versions import parse_version

        parse_version(min_runtime)  # a usage error before any work
    with output_folder(out_dir) as out:
        return _export_into(Path(checkpoint), out, quantized, config, formats, io, min_runtime, length, target,
                            audio_decoder)


AUDIO_DECODER_FILE = "model_audio_decoder.onnx"
BUNDLE_FILES = ("model.onnx", "model.tflite", AUDIO_DECODER_FILE)


def check_length(onnx_path: Path, checkpoint: Path, length: int) -> None:
    """A fixed .tflite length must be one the model takes (its I/O contract's length rule)."""
    import onnx

    from fqss_edge.errors import FqssError
    from fqss_edge.runtimes.base import IoContract

    meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    c = IoContract.from_json(meta["fqss.io_contract"], f"{onnx_path}: fqss.io_contract")
    if length != c.valid_length(length):
        raise FqssError(f"{checkpoint}: --length {length}: the model takes a multiple of {c.stride} samples, at "
                        f"least {c.kernel_size} (e.g. {c.valid_length(length)})")


def _write_audio_decoder(onnx_path: Path, out: Path) -> None:
    import onnx

    from fqss_edge.export.onnx.audio_decoder import with_audio_decoder
    from fqss_edge.export.onnx.exporter import save_atomic
    from fqss_edge.runtimes.onnxruntime_backend import contract_of

    model = onnx.load(str(onnx_path))
    save_atomic(with_audio_decoder(model, contract_of(model, onnx_path)), out)


def _export_into(checkpoint: Path, out: Path, quantized: bool | None, config: Any, formats: tuple[str, ...] | None,
                 io: str | None, min_runtime: str | None, length: int | None = None,
                 target: str = "onnxruntime", audio_decoder: bool = False) -> BundleExport:
    # named before it exists and created inside the try: a Ctrl-C between creating it and entering the try
    # (tempfile.mkdtemp's return) would leave it behind
    staging = out / f".export-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        staging.mkdir()
        onnx_result = export_checkpoint(checkpoint, staging, quantized, config)
        if formats is None:  # int8: QDQ ONNX + integer .tflite; float: float ONNX + float32 .tflite
            formats = ("onnx", "tflite")
        tflite, meta = None, None
        if "tflite" in formats:
            from fqss_edge.errors import FqssError
            from fqss_edge.export.tflite import export as export_tflite

            precision = "int8" if onnx_result.quantized else "float32"
            if precision == "float32" and io not in (None, "float32"):
                raise FqssError(f"{checkpoint}: a float export writes a float32 .tflite with float32 I/O; --io {io} "
                                "is for --int8 exports")
            tflite = staging / "model.tflite"
            if length is not None:
                check_length(onnx_result.path, checkpoint, length)
            meta = export_tflite(onnx_result.path, tflite, io=io, precision=precision, min_runtime=min_runtime,
                                 length=length)
        if "onnx" in formats:  # after the .tflite: the TFLite writer reads the contract graph
            onnx_result = apply_flavour(onnx_result, target)
        if audio_decoder:
            _write_audio_decoder(onnx_result.path, staging / AUDIO_DECODER_FILE)
        moved = {}
        names = ["model.onnx"] * ("onnx" in formats) + ["model.tflite"] * (tflite is not None)
        for name in names + [AUDIO_DECODER_FILE] * audio_decoder:
            os.replace(staging / name, out / name)
            moved[name] = out / name
        # a file of an earlier export that this one did not rewrite (model.tflite beside a new --format onnx
        # model.onnx) belongs to another model: removed, so the folder holds one export
        stale = [out / name for name in BUNDLE_FILES if name not in moved and (out / name).is_file()]
        for path in stale:
            path.unlink()
        onnx_result.path = moved.get("model.onnx", onnx_result.path)
        return BundleExport(onnx_result, moved.get("model.tflite"), meta, "model.onnx" in moved, stale,
                            moved.get(AUDIO_DECODER_FILE))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
