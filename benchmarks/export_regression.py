"""Exports of the shipped checkpoints, and what every runtime computes from them, recorded and compared.

A refactor of the exporter or of a model must not change what an exported file computes. Record the outputs of
every runtime (onnxruntime without / with optimisation, LiteRT REF / builtin / XNNPACK) on the shipped test
mixtures before the change, then compare after it, sample for sample. ``onnx`` is the int8 contract graph
(``export --target tflite``), ``onnx_ort`` the onnxruntime flavour of the default export (a recording made before
the flavour existed has no ``onnx_ort``: it is not compared):

    python benchmarks/export_regression.py record -o /tmp/before.npz    # on the old commit
    python benchmarks/export_regression.py compare /tmp/before.npz      # on the new one: max |LSB| per runtime

Also reports whether the .onnx / .tflite bytes are identical (``sha256`` of each file). Exit status 1 if any
output differs by one LSB or more.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np

from fqss_edge.audio import read_wav
from fqss_edge.runtimes import open_backend

VARIANTS = {".onnx": ({"optimization": "off"}, {"optimization": "all"}),
            ".tflite": ({"kernels": "ref"}, {"kernels": "builtin"}, {"kernels": "xnnpack"})}


def shipped_checkpoints() -> dict[str, Path]:
    assets = Path(str(files("fqss_edge.assets")))
    return {p.stem: p for p in sorted(assets.glob("*.safetensors"))}


def test_mixtures() -> list[Path]:
    return sorted((Path(str(files("fqss_edge.assets"))) / "test_set" / "mix").glob("*.wav"))


def export_all(out: Path) -> dict[str, dict[str, Path]]:
    from fqss_edge.export.bundle import export_bundle

    done = {}
    for name, ckpt in shipped_checkpoints().items():
        d = out / name
        export_bundle(ckpt, d, target="tflite")  # the contract graph, which the .tflite is written from
        ort = export_bundle(ckpt, d / "ort", formats=("onnx",), target="onnxruntime").onnx.path
        done[name] = {"onnx": d / "model.onnx", "tflite": d / "model.tflite", "onnx_ort": ort}
    return done


def run_all(exports: dict[str, dict[str, Path]]) -> dict[str, np.ndarray]:
    mixtures = [read_wav(p)[0][0] for p in test_mixtures()]
    results: dict[str, np.ndarray] = {}
    for name, paths in exports.items():
        for kind, path in paths.items():
            results[f"{name}/{kind}/sha256"] = np.frombuffer(hashlib.sha256(path.read_bytes()).digest(), np.uint8)
            for opts in VARIANTS[path.suffix]:
                backend = open_backend(path, threads=1, **opts)
                label = f"{name}/{kind}/{next(iter(opts.values()))}"
                for i, x in enumerate(mixtures):
                    results[f"{label}/{i}"] = backend.run(x.astype(np.float32))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="export the shipped checkpoints and save every runtime's outputs")
    rec.add_argument("-o", "--out", type=Path, required=True)
    cmp_ = sub.add_parser("compare", help="export again and compare with a recording")
    cmp_.add_argument("recording", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        now = run_all(export_all(Path(tmp)))
    if args.cmd == "record":
        np.savez(args.out, **now)
        print(f"recorded {len(now)} arrays -> {args.out}")
        return 0
    before = dict(np.load(args.recording))
    worst = 0.0
    for key in sorted(before):
        if key.endswith("/sha256"):
            same = key in now and np.array_equal(before[key], now[key])
            print(f"{key.removesuffix('/sha256')}: bytes {'identical' if same else 'changed'}")
    runtimes = sorted({k.rsplit("/", 1)[0] for k in before if not k.endswith("/sha256")})
    for label in runtimes:
        keys = [k for k in before if k.rsplit("/", 1)[0] == label]
        diffs = [float(np.max(np.abs(before[k].astype(np.float64) - now[k].astype(np.float64)))) * 32768.0
                 for k in keys]
        worst = max(worst, *diffs)
        print(f"{label}: {len(keys)} mixtures, max |difference| {max(diffs):.3f} LSB (1/32768)")
    print(f"worst: {worst:.3f} LSB")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
