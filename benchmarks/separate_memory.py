"""Peak memory of ``fqss-edge separate`` on a long 44.1 kHz stereo file: it must not grow with the file's length.

Synthesizes a ``--minutes``-long 44.1 kHz stereo 16-bit wav (two harmonic 'voices' with syllable envelopes, mixed
differently per channel; with ``--music FILE...``: those recordings, e.g. the rendered music fixture's mixtures,
concatenated in a loop instead), exports the tiny Conv-TasNet (calibrated random weights) to an int16-I/O .tflite
unless ``--model`` is given (``--config CONFIG.yaml``: that config's model with calibrated random weights, e.g. a
full-size music model), then runs ``fqss-edge separate`` in a child process twice: on a 1-minute excerpt (the
baseline) and on the whole file (with ``--two-stems STEM`` a third time, the whole file into STEM and no_STEM). For each run it records the child's peak RSS (``wait4`` rusage) and an RSS
timeline (psutil), and checks that every output has the input's rate, channels and length. It also reports the
SI-SDR of the sum of the separated sources against the mixture, per channel (computed block by block): with a
trained model (``--model``) it measures how well the sources add back up to the mixture through the chunking,
cross-fades and resampling; the default random-weight model does not reconstruct its input at all (about -40 dB),
so there it only shows that the number is computed.

    .venv/bin/python benchmarks/separate_memory.py                # the recorded run: 60 minutes
    .venv/bin/python benchmarks/separate_memory.py --minutes 2    # a quick check
    .venv/bin/python benchmarks/separate_memory.py --minutes 10 --config configs/waveunet_lite.yaml \
        --music tests/assets/music/*/*/mixture.flac --two-stems vocals --work benchmarks/work/separate_music_10min \
        --results benchmarks/results/separate_music_10min      # the music run

Writes ``benchmarks/results/separate_memory.json`` and ``.md`` (``--results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SR = 44_100
BLOCK_SECONDS = 10


def synthesize(path: Path, minutes: float, seed: int = 0) -> Path:
    """A long 44.1 kHz stereo mixture, written block by block (constant memory here too)."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SR)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", SR, 2, "PCM_16") as f:
        for start in range(0, total, BLOCK_SECONDS * SR):
            n = min(BLOCK_SECONDS * SR, total - start)
            t = (start + np.arange(n)) / SR
            voices = []
            for k in range(2):
                f0 = rng.uniform(90, 260) * (1 + 0.05 * np.sin(2 * np.pi * 0.3 * t))
                phase = 2 * np.pi * np.cumsum(f0) / SR
                v = sum(np.sin(h * phase) / h for h in range(1, 8))
                env = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)), 0, None) ** 2
                voices.append(0.15 * v * env)
            left = voices[0] + 0.6 * voices[1] + 0.003 * rng.standard_normal(n)
            right = 0.6 * voices[0] + voices[1] + 0.003 * rng.standard_normal(n)
            f.write(np.stack([left, right], axis=1).clip(-0.99, 0.99))
    return path


def loop_music(path: Path, files: list[Path], minutes: float) -> Path:
    """``files`` (any rate, mono or stereo) at 44.1 kHz stereo, concatenated in a loop to ``minutes``, written block by
    block (one file in memory at a time)."""
    import soxr

    total = int(minutes * 60 * SR)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", SR, 2, "PCM_16") as f:
        done = 0
        while done < total:
            for src in files:
                x, rate = sf.read(str(src), dtype="float32", always_2d=True)
                if x.shape[1] not in (1, 2):
                    raise SystemExit(f"{src}: {x.shape[1]} channels (mono or stereo only)")
                x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x
                x = x if rate == SR else soxr.resample(x, rate, SR)
                n = min(x.shape[0], total - done)
                f.write(x[:n])
                done += n
                if done >= total:
                    break
    return path


def config_tflite(work: Path, config: Path) -> Path:
    """The config's model with calibrated random weights, exported to an int16-I/O int8 .tflite (CLI children)."""
    ckpt_dir = work / config.stem
    model = ckpt_dir / "int8" / "model.tflite"
    if not model.is_file():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "random_checkpoints.py"), str(config),
                        str(ckpt_dir)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "fqss_edge.cli.main", "export",
                        str(ckpt_dir / "random_fqss.safetensors"), "--int8", "--format", "tflite", "-o",
                        str(ckpt_dir / "int8")], check=True, stdout=subprocess.DEVNULL)
    return model


def excerpt(src: Path, dst: Path, seconds: float) -> Path:
    with sf.SoundFile(src) as f, sf.SoundFile(dst, "w", f.samplerate, f.channels, f.subtype) as g:
        g.write(f.read(int(seconds * f.samplerate), dtype="float32"))
    return dst


def tiny_tflite(work: Path) -> Path:
    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.export.tflite import export
    from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, calibrated_random_model

    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    export_onnx(model, work / "tiny.onnx", config={"model": dict(TINY_MODEL, sample_rate=8000)})
    export(work / "tiny.onnx", work / "tiny.tflite")
    return work / "tiny.tflite"


# The child reports its own peak RSS (VmHWM of its address space, which exec resets) when it exits. getrusage's
# ru_maxrss would not do: it keeps the pre-exec high-water mark, i.e. this (torch-importing) parent's size.
CHILD = """
import atexit, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("FQSS_VMHWM_KB " + line.split()[1] + "\\n")
atexit.register(_peak)
from fqss_edge.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_separate(mix: Path, model: Path, out: Path, chunk: float, overlap: float,
                 extra: list[str] | None = None) -> dict:
    """``fqss-edge separate`` in a child process: wall time, peak RSS (VmHWM) and an RSS timeline (psutil)."""
    args = ["separate", str(mix), "--model", str(model), "-o", str(out), "--chunk", str(chunk), "--overlap",
            str(overlap), "-q", *(extra or [])]
    load_before = os.getloadavg()[:2]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    timeline: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        ps = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                rss = ps.memory_info().rss / 2**20
            except psutil.Error:
                break
            if rss > 0:  # (0 once the child has exited and not yet been reaped)
                timeline.append((time.perf_counter() - t0, rss))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"fqss-edge separate failed ({proc.returncode}):\n{err[-3000:]}")
    peak_kb = [int(line.split()[1]) for line in err.splitlines() if line.startswith("FQSS_VMHWM_KB ")]
    return {"command": "fqss-edge " + shlex.join(args), "wall_seconds": wall,
            "peak_rss_mib": peak_kb[-1] / 1024 if peak_kb else float("nan"),
            "rss_timeline_mib": _quantiles(timeline), "rss_samples": len(timeline),
            "load_before": [round(v, 2) for v in load_before], "load_after": [round(v, 2) for v in os.getloadavg()[:2]]}


def _quantiles(timeline: list[tuple[float, float]]) -> dict[str, float]:
    """RSS at 10/25/50/75/90/100 % of the run (shows that memory stays flat)."""
    if not timeline:
        return {}
    return {f"{int(q * 100)}%": round(timeline[min(int(q * len(timeline)), len(timeline) - 1)][1], 1)
            for q in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)}


def check_outputs(mix: Path, outputs: list[Path]) -> dict:
    """Same rate / channels / length, and the SI-SDR of the sum of the sources vs the mixture, per channel."""
    info = sf.info(str(mix))
    for p in outputs:
        o = sf.info(str(p))
        if (o.samplerate, o.channels, o.frames) != (info.samplerate, info.channels, info.frames):
            raise SystemExit(f"{p}: {o.samplerate} Hz x {o.channels} x {o.frames}, expected "
                             f"{info.samplerate} Hz x {info.channels} x {info.frames}")
    acc = np.zeros((5, info.channels))  # sums of e, r, e*r, r*r, e*e per channel
    files = [sf.SoundFile(str(p)) for p in [mix, *outputs]]
    try:
        while True:
            blocks = [f.read(SR * 10, dtype="float64", always_2d=True) for f in files]
            if blocks[0].shape[0] == 0:
                break
            r, e = blocks[0], sum(blocks[1:])
            acc += np.stack([e.sum(0), r.sum(0), (e * r).sum(0), (r * r).sum(0), (e * e).sum(0)])
    finally:
        for f in files:
            f.close()
    n = info.frames
    se, sr_, ser, srr, see = acc
    cov, var_r, var_e = ser - se * sr_ / n, srr - sr_**2 / n, see - se**2 / n
    alpha = cov / var_r
    noise = var_e - 2 * alpha * cov + alpha**2 * var_r
    si_sdr = 10 * np.log10(alpha**2 * var_r / np.maximum(noise, 1e-20))
    return {"frames": n, "sample_rate": info.samplerate, "channels": info.channels, "lengths_match": True,
            "sum_of_sources_si_sdr_db": [round(float(v), 2) for v in si_sdr]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--model", type=Path, help="model to run (default: the tiny Conv-TasNet as .tflite)")
    ap.add_argument("--config", type=Path, help="instead of --model: this config's model, calibrated random weights")
    ap.add_argument("--music", type=Path, nargs="+", help="recordings looped into the input instead of synthesizing")
    ap.add_argument("--two-stems", help="also separate the whole file with --two-stems STEM")
    ap.add_argument("--chunk", type=float, default=4.0)
    ap.add_argument("--overlap", type=float, default=0.5)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "separate_memory")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "separate_memory")
    ap.add_argument("--keep", action="store_true", help="keep the (large) synthesized input and outputs")
    args = ap.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = args.model or (config_tflite(work, args.config) if args.config else tiny_tflite(work))
    t0 = time.perf_counter()
    if args.music:
        mix = loop_music(work / f"music_{args.minutes:g}min.wav", args.music, args.minutes)
        source = f"the {len(args.music)} recordings {', '.join(str(p) for p in args.music)} looped"
    else:
        mix = synthesize(work / f"mix_{args.minutes:g}min.wav", args.minutes)
        source = "two synthesized harmonic voices"
    synth_seconds = time.perf_counter() - t0
    base_mix = excerpt(mix, work / "mix_baseline_1min.wav", min(60.0, args.minutes * 60))
    plan = [("baseline_1min", base_mix, []), ("full", mix, [])]
    if args.two_stems:
        plan.append(("full_two_stems", mix, ["--two-stems", args.two_stems]))
    runs = {}
    for label, m, extra in plan:
        out = work / f"out_{label}"
        runs[label] = run_separate(m, model, out, args.chunk, args.overlap, extra)
        outputs = sorted(out.glob(f"{m.stem}_*.wav"))
        runs[label].update(check_outputs(m, outputs), outputs=[p.name for p in outputs])
        runs[label]["rtf"] = runs[label]["wall_seconds"] / (runs[label]["frames"] / SR)
        if not args.keep:
            for p in outputs:
                p.unlink()
        print(f"{label}: {runs[label]['frames'] / SR / 60:.1f} min in {runs[label]['wall_seconds']:.1f} s, "
              f"peak RSS {runs[label]['peak_rss_mib']:.0f} MiB, sum-of-sources SI-SDR "
              f"{runs[label]['sum_of_sources_si_sdr_db']} dB")
    input_mib = mix.stat().st_size / 2**20
    if not args.keep:
        mix.unlink()
    result = {
        "benchmark": "separate_memory", "minutes": args.minutes, "input": f"{SR} Hz stereo PCM_16, "
        f"{input_mib:.0f} MiB", "input_source": source, "model": str(model),
        "config": str(args.config) if args.config else None, "chunk_seconds": args.chunk, "overlap_seconds": args.overlap,
        "runs": runs, "peak_rss_growth_mib": runs["full"]["peak_rss_mib"] - runs["baseline_1min"]["peak_rss_mib"],
        "synthesis_seconds": synth_seconds, "command": shlex.join([sys.executable, *sys.argv]),
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.with_suffix(".json").write_text(json.dumps(result, indent=2))
    args.results.with_suffix(".md").write_text(to_markdown(result))
    print(f"wrote {args.results.with_suffix('.json')} and .md")
    return 0


def to_markdown(r: dict) -> str:
    lines = [
        f"# `fqss-edge separate` memory on a {r['minutes']:g}-minute file",
        "",
        f"Input: {r['input']} ({r.get('input_source', 'two synthesized harmonic voices')}); model "
        f"`{r['model']}`{' (calibrated random weights of ' + r['config'] + ')' if r.get('config') else ''}; chunk "
        f"{r['chunk_seconds']} s, overlap {r['overlap_seconds']} s; each run in its own process.",
        "",
        "| run | audio (min) | wall (s) | RTF | peak RSS (MiB) | RSS at 10/50/90/100 % (MiB) | sum-of-sources "
        "SI-SDR per channel (dB) | outputs | rate, channels, length = input | load 1/5 min before -> after |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|",
    ]
    for label, run in r["runs"].items():
        q = run["rss_timeline_mib"]
        lines.append(f"| {label} | {run['frames'] / SR / 60:.1f} | {run['wall_seconds']:.1f} | {run['rtf']:.3f} | "
                     f"{run['peak_rss_mib']:.0f} | {q.get('10%')} / {q.get('50%')} / {q.get('90%')} / "
                     f"{q.get('100%')} | {', '.join(f'{v:.1f}' for v in run['sum_of_sources_si_sdr_db'])} | "
                     f"{', '.join(run['outputs'])} | {'yes' if run['lengths_match'] else 'NO'} "
                     f"({run['sample_rate']} Hz, {run['channels']} ch, {run['frames']} frames) | "
                     + ("/".join(map(str, run["load_before"])) + " -> " + "/".join(map(str, run["load_after"]))
                        if "load_before" in run else "not recorded") + " |")
    lines += [
        "",
        f"Peak RSS growth from the 1-minute baseline to the full file: **{r['peak_rss_growth_mib']:+.0f} MiB** "
        + ("(within 5 % of the baseline: constant memory; the input is read in 1 s blocks, resampled in streaming "
           "mode and written incrementally)." if abs(r["peak_rss_growth_mib"]) <= 0.05 * r["runs"]["baseline_1min"][
               "peak_rss_mib"] else "(more than 5 % of the baseline: memory grows with the file's length)."),
        "",
        *(["The model has calibrated random weights: its sources do not add up to the mixture (the SI-SDR column "
           "only shows that the check ran); the run is about the mechanics (stems, lengths, rate, channels, memory, "
           "time), not quality.", ""] if r.get("config") else []),
        f"Command: `{r['command']}` ({r['date']}, Python {r['machine']['python']}, {r['machine']['cpu_count']} CPUs).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
