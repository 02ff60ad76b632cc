"""Float vs PTQ vs vanilla QAT vs FQSS (8-bit) on rendered music stems, scored with museval (BSSEval v4).

Renders a MUSDB18-HQ-layout set with ``scripts/build_music_fixture.py`` (real instrument sounds, exact stems) if
``--data`` has none, trains the config's model in float, derives PTQ, vanilla QAT and FQSS models from it with the
same QAT budget (FQSS: the config's loss, ``l1``: the L1 sample-aware distillation), and records the museval
median SDR / SIR / ISR / SAR per stem (median over 1 s windows, then over test tracks) in
``benchmarks/results/qat_methods_music_<config>.{json,md}`` with the command and the budget.

    .venv/bin/python benchmarks/qat_methods_music.py --speech /tmp/asterisk      # the recorded run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import torch

from fqss_edge.bench.pages import write_page
from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.config import load_config
from fqss_edge.data.musdb import RATE as MUSDB_RATE
from fqss_edge.music_metrics import METRICS, median_over_tracks, track_medians
from fqss_edge.music_report import run_museval
from fqss_edge.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
PLAN = (("float", None), ("ptq", "float"), ("vanilla", "float"), ("fqss", "float"))


def _read_track_json(path: Path) -> dict[str, dict[str, float]]:
    """{stem: {metric: median over windows}} of a museval track JSON written by an earlier invocation."""
    return track_medians(SimpleNamespace(scores=json.loads(path.read_text())))


def _median(checkpoint: Path, data: Path, json_dir: Path) -> dict[str, dict[str, float]]:
    return run_museval(checkpoint, data, json_dir=json_dir).median


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=lambda p: Path(p).resolve(),
                    default=ROOT / "configs" / "convtasnet_music_tiny.yaml")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "work" / "music")
    ap.add_argument("--work", type=Path, default=None,
                    help="runs and museval JSON (default: benchmarks/work/qat_methods_music/<config stem>)")
    ap.add_argument("--speech", type=Path, help="extracted asterisk recordings (only to render --data)")
    ap.add_argument("--float-epochs", type=int, default=8)
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--float-steps", type=int, default=None, help="cap on float steps per epoch")
    ap.add_argument("--qat-steps", type=int, default=None, help="cap on QAT steps per epoch")
    ap.add_argument("--train-tracks", type=int, default=12, help="tracks to render (only to render --data)")
    ap.add_argument("--test-tracks", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0, help="track length to render")
    ap.add_argument("--batch-size", type=int, default=None, help="override train.batch_size")
    ap.add_argument("--segment-seconds", type=float, default=None, help="override train.segment_seconds")
    ap.add_argument("--calib-batches", type=int, default=None, help="override quant.calib_batches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-jobs", type=int, default=2, help="museval worker processes (one thread each)")
    ap.add_argument("--reuse-float", action="store_true",
                    help="keep WORK/runs/float (a float run of an earlier invocation) instead of training it again")
    ap.add_argument("--methods", nargs="+", default=[m for m, _ in PLAN], choices=[m for m, _ in PLAN],
                    metavar="METHOD", help="record only these methods (e.g. when FQSS did not fit the time)")
    ap.add_argument("--reuse", nargs="+", default=[], choices=[m for m, _ in PLAN], metavar="METHOD",
                    help="keep these methods' runs of an earlier invocation (their best.safetensors; a QAT run "
                         "stopped after its first epoch holds that epoch's model: the 1-epoch budget); museval "
                         "figures are read back from WORK/museval/<method> when it holds every test track")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.work = args.work or ROOT / "benchmarks" / "work" / "qat_methods_music" / args.config.stem
    started = time.time()
    if not (args.data / "test").is_dir():
        if args.speech is None:
            sys.exit(f"{args.data}: no rendered set; pass --speech DIR to render one")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_music_fixture.py"), "-o", str(args.data),
                        "--speech", str(args.speech), "--train", str(args.train_tracks), "--test",
                        str(args.test_tracks), "--seconds", str(args.seconds)], check=True)
    cfg = load_config(args.config).with_data_root(args.data)
    overrides = {"batch_size": args.batch_size, "segment_seconds": args.segment_seconds}
    cfg = cfg.updated(train={k: v for k, v in overrides.items() if v is not None},
                      quant={} if args.calib_batches is None else {"calib_batches": args.calib_batches})
    runs, results, timings, json_dirs = args.work / "runs", {}, {}, {}
    reused, reused_runs = None, {}
    # museval (a 4096 x 4096 solve per stem per track) runs in worker processes while the next method trains
    pool = ProcessPoolExecutor(max_workers=args.eval_jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=torch.set_num_threads, initargs=(1,))
    pending = {}
    reuse = set(args.reuse) | ({"float"} if args.reuse_float else set())
    tracks = sorted(p.name for p in (args.data / "test").iterdir() if p.is_dir())
    for method, teacher in [(m, t) for m, t in PLAN if m in args.methods]:
        out = runs / method
        json_dirs[method] = args.work / "museval" / method
        if method in reuse and (out / "best.safetensors").exists():
            logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
            best_epoch = load_checkpoint(out / "best.safetensors").meta.get("epoch")
            logged = [r for r in logged if r.get("epoch", 0) <= (best_epoch or len(logged))]
            timings[method] = round(sum(r.get("seconds") or 0 for r in logged), 1)
            reused_runs[method] = {"epochs": best_epoch, "metrics": logged}
            if method == "float":
                reused = logged
            fresh = [json_dirs[method] / f"{t}.json" for t in tracks]  # written after the checkpoint: its figures
            if all(p.exists() and p.stat().st_mtime > (out / "best.safetensors").stat().st_mtime for p in fresh):
                results[method] = median_over_tracks([_read_track_json(json_dirs[method] / f"{t}.json")
                                                      for t in tracks])
                print(method, "reused with its museval figures", flush=True)
                continue
        else:
            if out.exists():
                shutil.rmtree(out)
            epochs = args.float_epochs if method == "float" else (1 if method == "ptq" else args.qat_epochs)
            cap = args.float_steps if method == "float" else args.qat_steps
            steps = {} if cap is None else {"max_steps_per_epoch": cap}
            t0 = time.time()
            train(cfg.updated(train={"epochs": epochs, **steps}), method, out,
                  runs / teacher / "best.safetensors" if teacher else None, resume=False,
                  progress=sys.stderr.isatty())
            timings[method] = round(time.time() - t0, 1)
        print(method, "reused" if method in reused_runs else "trained", f"({timings[method]} s)", flush=True)
        pending[method] = pool.submit(_median, out / "best.safetensors", args.data, json_dirs[method])
    for method, future in pending.items():
        results[method] = future.result()
    results = {m: results[m] for m, _ in PLAN if m in results}
    for method in results:
        print(method, {s: round(v["SDR"], 2) for s, v in results[method].items()}, flush=True)
    pool.shutdown()
    stem = f"qat_methods_music_{args.config.stem}"
    record = {"command": "python benchmarks/qat_methods_music.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "config": str(args.config.relative_to(ROOT)), "args": {k: str(v) for k, v in vars(args).items()},
              "metric": "museval BSSEval v4 at the tracks' 44.1 kHz"
                        + (f" (the {cfg.model.sample_rate} Hz model's stems resampled back)"
                           if cfg.model.sample_rate != MUSDB_RATE else "")
                        + ": median over 1 s windows, then over test tracks (dB)",
              "results": results, "train_seconds": timings,
              "float_reused": None if reused is None else {"epochs": len(reused), "metrics": reused},
              "reused_runs": reused_runs,
              "total_seconds": round(time.time() - started, 1),
              "test_tracks": sorted(p.name for p in (args.data / "test").iterdir()),
              "machine": f"{platform.machine()} {platform.processor()}", "torch": torch.__version__}
    out_dir = ROOT / "benchmarks" / "results"
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=2))
    stems = list(next(iter(results.values())))
    names = {"float": "Float", "ptq": "PTQ", "vanilla": "vanilla QAT", "fqss": "FQSS"}
    lines = [f"# {' vs '.join(names[m] for m in results)}, {args.config.stem} (8-bit), museval", "",
             f"Command: `{record['command']}`  ",
             f"Data: `{args.data.name}`, rendered by scripts/build_music_fixture.py (fluidsynth + FluidR3 GM, "
             f"sonic-pi drum samples, asterisk speech as vocals; 44.1 kHz stereo, exact stems); "
             f"{len(record['test_tracks'])} test tracks, test voice not in train.  ",
             f"Budget (short: 2 CPU cores shared with other jobs): float "
             f"{len(reused) if reused is not None else args.float_epochs} epochs"
             f"{f' of at most {args.float_steps} steps' if args.float_steps else ''}; PTQ "
             f"{cfg.quant.calib_batches} calibration batches; "
             f"QAT {args.qat_epochs} epochs{f' of at most {args.qat_steps} steps' if args.qat_steps else ''} from the "
             f"float model (batch {cfg.train.batch_size}, {cfg.train.segment_seconds} s segments, loss "
             f"{cfg.train.loss}). Train time per method below.  ",
             *([f"The float model is the one an earlier invocation trained ({len(reused)} epoch(s) logged in its "
                f"metrics.jsonl; --reuse-float; its --float-steps must be this command's for the budget above to "
                f"hold).  "] if reused is not None else []),
             f"Metric: {record['metric']}; SDR per stem first, then SIR / ISR / SAR.", "",
             "| method | " + " | ".join(f"{s} SDR" for s in stems) + " | train time (s) |",
             "|---|" + "---:|" * (len(stems) + 1)]
    for method, r in results.items():
        lines.append(f"| {method} | " + " | ".join(f"{r[s]['SDR']:.2f}" for s in stems) + f" | {timings[method]} |")
    lines += ["", "| method | stem | " + " | ".join(METRICS) + " |", "|---|---|" + "---:|" * len(METRICS)]
    for method, r in results.items():
        for s in stems:
            lines.append(f"| {method} | {s} | " + " | ".join(f"{r[s][m]:.2f}" for m in METRICS) + " |")
    write_page(out_dir / f"{stem}.md", "\n".join(lines))  # keeps the page's hand-written notes
    print(f"recorded in {out_dir / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
