"""Stream a wav through a separation model as if it came from a microphone, and report the real-time margin.

    python examples/stream_mic.py speech.wav --model exported/fqss/model.tflite
    python examples/stream_mic.py speech.wav --model model.tflite --realtime --frame-ms 10 --chunk 1 --overlap 0.25
    python examples/stream_mic.py speech.wav --model model.onnx --out separated/ --json report.json

The wav is converted to mono at the model's rate, then fed in frames of --frame-ms (10-20 ms is what an audio
callback delivers) to ``fqss_edge.runtimes.streaming.StreamingSeparator``. With --realtime the frames arrive at
the pace of the audio clock (sleeping between frames); without it, as fast as possible. For every model call
(one chunk of new audio plus the overlap) the example prints the compute time against the chunk's duration: the
margin is what is left of the real-time budget (negative: the model cannot keep up on this machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fqss_edge.audio import read_wav, write_wav
from fqss_edge.errors import FqssError
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.streaming import StreamingSeparator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wav", type=Path, help="input audio (mixed down to mono, resampled to the model's rate)")
    ap.add_argument("--model", "-m", type=Path, required=True, help=".tflite, .onnx or checkpoint")
    ap.add_argument("--chunk", type=float, default=4.0, help="seconds of new audio per model call (default 4)")
    ap.add_argument("--overlap", type=float, default=0.5, help="cross-faded seconds (default 0.5)")
    ap.add_argument("--frame-ms", type=float, default=10.0, help="microphone frame size in ms (default 10)")
    ap.add_argument("--realtime", action="store_true", help="deliver frames at the audio clock's pace")
    ap.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    ap.add_argument("--no-normalize", dest="normalize", action="store_false",
                    help="hand chunks to the model at their recorded level (default: peak 0.9, as in training)")
    ap.add_argument("--out", type=Path, help="also write the separated sources to this folder")
    ap.add_argument("--json", type=Path, help="write the per-chunk report as JSON")
    return ap.parse_args(argv)


def stream_file(args: argparse.Namespace) -> dict:
    backend = open_backend(args.model, threads=args.threads)
    sep = StreamingSeparator(backend, args.chunk, args.overlap, normalize=args.normalize)
    sr = sep.sample_rate
    audio, _ = read_wav(args.wav, resample_to=sr)
    mono = audio.mean(axis=0).astype(np.float32)
    frame = max(int(round(args.frame_ms * sr / 1000)), 1)
    budget_ms = 1000 * sep.chunk_duration_seconds
    print(f"{args.model.name}: {sr} Hz, {sep.n_src} sources {list(sep.source_names)}; frames of {frame} samples "
          f"({1000 * frame / sr:.1f} ms), chunk {sep.chunk_samples} + overlap {sep.overlap_samples} samples; "
          f"algorithmic latency {sep.latency_samples} samples = {sep.latency_ms:.1f} ms")
    print(f"{'chunk':>5} {'compute ms':>10} {'budget ms':>9} {'margin':>7} {'RTF':>6}")
    outputs, rows = [], []
    t_start = time.perf_counter()
    for i in range(0, mono.size, frame):
        if args.realtime:  # the frame [i, i + frame) is complete at the audio clock's time (i + frame) / sr
            delay = t_start + (i + frame) / sr - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        n_before = len(sep.chunk_timings)
        outputs.append(sep.push(mono[i:i + frame]))
        for t in sep.chunk_timings[n_before:]:
            rows.append(_row(len(rows), t, budget_ms))
    n_before = len(sep.chunk_timings)
    outputs.append(sep.flush())
    for t in sep.chunk_timings[n_before:]:
        rows.append(_row(len(rows), t, budget_ms, final=True))
    wall = time.perf_counter() - t_start
    sources = np.concatenate(outputs, axis=1)
    if args.out:
        for name, s in zip(sep.source_names, sources):
            write_wav(Path(args.out) / f"{args.wav.stem}_{name}.wav", s, sr)
    computes = [r["compute_ms"] for r in rows if not r["final"]] or [r["compute_ms"] for r in rows]
    summary = {
        "model": str(args.model), "sample_rate": sr, "frame_samples": frame, "chunk_samples": sep.chunk_samples,
        "overlap_samples": sep.overlap_samples, "latency_samples": sep.latency_samples,
        "latency_ms": sep.latency_ms, "chunk_budget_ms": budget_ms, "chunks": rows,
        "mean_compute_ms": float(np.mean(computes)), "max_compute_ms": float(np.max(computes)),
        "worst_margin": 1 - float(np.max(computes)) / budget_ms, "audio_seconds": mono.size / sr,
        "wall_seconds": wall, "realtime": bool(args.realtime), "output_samples": int(sources.shape[1]),
    }
    print(f"compute per chunk: mean {summary['mean_compute_ms']:.1f} ms, max {summary['max_compute_ms']:.1f} ms "
          f"of {budget_ms:.0f} ms -> worst margin {100 * summary['worst_margin']:.1f}% "
          f"({'keeps up' if summary['worst_margin'] > 0 else 'too slow'} in real time); latency "
          f"{sep.latency_ms:.0f} ms + compute")
    return summary


def _row(k: int, seconds: float, budget_ms: float, final: bool = False) -> dict:
    ms = 1000 * seconds
    row = {"chunk": k, "compute_ms": ms, "budget_ms": budget_ms, "margin": 1 - ms / budget_ms,
           "rtf": ms / budget_ms, "final": final}
    print(f"{k:>5} {ms:>10.2f} {budget_ms:>9.0f} {100 * row['margin']:>6.1f}% {row['rtf']:>6.3f}"
          + ("  (flush)" if final else ""))
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = stream_file(args)
    except FqssError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
