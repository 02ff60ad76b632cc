"""A music summary page (like the demo's speech page): one rendered test track's stems, the float and the int8
FQSS model's estimates (``separate``), waveforms, spectrograms and players per stem, and the museval table that
``benchmarks/qat_methods_music.py`` recorded.

    .venv/bin/python benchmarks/music_summary.py --config convtasnet_music_tiny    # after qat_methods_music.py
    -> benchmarks/work/music_summary/convtasnet_music_tiny/site/index.html
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import soundfile as sf

from fqss_edge.export.onnx import export_onnx
from fqss_edge.export.tflite import export as export_tflite
from fqss_edge.models.io import load_model
from fqss_edge.report.summary_page import build_summary_page
from fqss_edge.runtimes import open_backend
from fqss_edge.separate import SeparateOptions, separate_file

ROOT = Path(__file__).resolve().parents[1]
STEMS = ("drums", "bass", "other", "vocals")


def _as_wav(src: Path, dst: Path) -> Path:
    x, sr = sf.read(str(src), dtype="int16", always_2d=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), x, sr, subtype="PCM_16")
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="convtasnet_music_tiny",
                    help="config stem of the qat_methods_music.py run whose float and FQSS models are shown")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "work" / "music")
    ap.add_argument("--runs", type=Path, default=None,
                    help="default: benchmarks/work/qat_methods_music/<config>/runs")
    ap.add_argument("--results", type=Path, default=None,
                    help="default: benchmarks/results/qat_methods_music_<config>.json")
    ap.add_argument("--out", type=Path, default=None, help="default: benchmarks/work/music_summary/<config>")
    args = ap.parse_args()
    args.runs = args.runs or ROOT / "benchmarks" / "work" / "qat_methods_music" / args.config / "runs"
    args.results = args.results or ROOT / "benchmarks" / "results" / f"qat_methods_music_{args.config}.json"
    args.out = args.out or ROOT / "benchmarks" / "work" / "music_summary" / args.config
    track = sorted(p for p in (args.data / "test").iterdir() if p.is_dir())[0]
    ext = ".wav" if (track / "mixture.wav").exists() else ".flac"
    mix = _as_wav(track / f"mixture{ext}", args.out / "input" / f"{track.name.replace(' ', '_')}.wav")
    refs = [_as_wav(track / f"{s}{ext}", args.out / "reference" / f"{s}.wav") for s in STEMS]
    fqss = args.runs / "fqss" / "best.safetensors"
    export_onnx(load_model(fqss).model, args.out / "fqss" / "model.onnx")
    tflite = args.out / "fqss" / "model.tflite"
    export_tflite(args.out / "fqss" / "model.onnx", tflite)
    opts = SeparateOptions(chunk_seconds=4.0, overlap_seconds=0.5)
    outputs = {}
    for label, model in (("float (PyTorch)", args.runs / "float" / "best.safetensors"),
                         ("FQSS int8 (LiteRT XNNPACK)", tflite)):
        paths = separate_file(mix, open_backend(model), args.out / "separated" / label.split()[0], opts)
        outputs[label] = [paths[s] for s in STEMS]
    record = json.loads(args.results.read_text())
    rows = [{"method": m, "stem": s, **{k: v for k, v in r[s].items()}}
            for m, r in record["results"].items() for s in STEMS]
    index = build_summary_page(args.out / "site", mix, outputs, metrics_table=rows, references=refs,
                               source_names=STEMS,
                               title=f"fqss-edge: music stems, {Path(record['config']).stem} on rendered stems "
                                     f"({record['metric']})")
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
