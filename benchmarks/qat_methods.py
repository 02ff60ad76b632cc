"""Float vs PTQ vs vanilla QAT vs FQSS (8-bit) on 2-speaker mixtures of synthesized speakers, for any architecture.

Builds a speech corpus with espeak-ng and flite voices (8 kHz), splits speakers into disjoint train / valid /
test sets, mixes 2-speaker mixtures, trains the config's model in float, then derives PTQ, vanilla QAT and
FQSS 8-bit models from it with the same QAT budget, and records the test SI-SDRi of each in
``benchmarks/results/qat_methods.{json,md}`` (``qat_methods_<config>.{json,md}`` for other configs than
``convtasnet_tiny``) together with the command that produced them.

    .venv/bin/python benchmarks/qat_methods.py                 # the recorded run (tiny Conv-TasNet)
    .venv/bin/python benchmarks/qat_methods.py --config configs/flatconv_tiny.yaml
    .venv/bin/python benchmarks/qat_methods.py --quick         # a few-minute smoke run (not recorded)
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

import torch

from fqss_edge.bench.pages import write_page
from fqss_edge.config import load_config
from fqss_edge.data.synthetic_set import build_synthetic_set
from fqss_edge.evaluation_report import run_evaluation
from fqss_edge.train.loop import train

ROOT = Path(__file__).resolve().parents[1]


def _logged_seconds(run: Path) -> float | None:
    """Training time of a finished run, from its metrics.jsonl (sum of the epochs' seconds)."""
    log = run / "metrics.jsonl"
    if not log.exists():
        return None
    secs = [json.loads(line).get("seconds") for line in log.read_text().splitlines() if line.strip()]
    return round(sum(s for s in secs if s is not None), 1) if any(s is not None for s in secs) else None


def seeded(stem: str, seed: int) -> str:
    """The page of ``stem`` for ``--seed``: another corpus, speaker split and mixtures get a page of their own
    (seed 0 keeps the plain stem)."""
    return f"{stem}_seed{seed}" if seed else stem


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "qat_methods")
    ap.add_argument("--config", type=lambda p: Path(p).resolve(), default=ROOT / "configs" / "convtasnet_tiny.yaml")
    ap.add_argument("--speakers", type=int, default=20)
    ap.add_argument("--utterances", type=int, default=30)
    ap.add_argument("--train-mixtures", type=int, default=1200)
    ap.add_argument("--float-epochs", type=int, default=12)
    ap.add_argument("--qat-epochs", type=int, default=4)
    ap.add_argument("--qat-steps", type=int, default=None, help="cap on QAT steps per epoch (default: whole epoch)")
    ap.add_argument("--retrain", nargs="*", default=None, metavar="METHOD",
                    help="retrain only these methods; reuse the other runs' best checkpoints (evaluated again; "
                         "the table says which). --retrain alone reuses every run")
    ap.add_argument("--seed", type=int, default=0, help="of the corpus, the speaker split and the mixtures")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 on a machine shared with other jobs)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; results are not recorded")
    args = ap.parse_args()
    if args.quick:
        args.speakers, args.utterances, args.train_mixtures, args.float_epochs, args.qat_epochs = 8, 8, 64, 1, 1
        args.work = args.work.with_name(args.work.name + "_quick")
    torch.set_num_threads(args.threads)
    started = time.time()
    data = build_synthetic_set(args.work, args.speakers, args.utterances,
                               {"train": args.train_mixtures, "valid": 24, "test": 40}, args.seed)
    cfg = load_config(args.config).with_data_root(data)
    runs, timings = args.work / "runs", {}
    stem = seeded("qat_methods" if args.config.stem == "convtasnet_tiny" else f"qat_methods_{args.config.stem}",
                  args.seed)
    plan = [("float", args.float_epochs, None), ("ptq", 1, "float"), ("vanilla", args.qat_epochs, "float"),
            ("fqss", args.qat_epochs, "float")]
    results, reused = {}, set()
    previous_file = ROOT / "benchmarks" / "results" / f"{stem}.json"
    previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
    for method, epochs, teacher in plan:
        t0 = time.time()
        out = runs / method
        if args.retrain is not None and method not in args.retrain and (out / "best.safetensors").exists():
            timings[method] = previous.get("train_seconds", {}).get(method) or _logged_seconds(out)
            results[method] = run_evaluation(out / "best.safetensors", data / "test", progress=False).as_dict()["mean"]
            reused.add(method)
            print(f"{method:8s} test SI-SDRi {results[method]['si_sdri']:6.2f} dB  (reused run)", flush=True)
            continue
        run_cfg = cfg.updated(train={"epochs": epochs, **({"max_steps_per_epoch": args.qat_steps} if method != "float"
                                                           else {})})
        teacher_ckpt = runs / teacher / "best.safetensors" if teacher else None
        # the float model is resumed if a previous run left one (the same data and config), the others start anew
        resume = method == "float" and (out / "last.optim.safetensors").exists()
        if out.exists() and not resume:
            shutil.rmtree(out)
        train(run_cfg, method, out, teacher_ckpt, resume=resume, progress=sys.stderr.isatty())
        timings[method] = round(time.time() - t0, 1)
        report = run_evaluation(out / "best.safetensors", data / "test", with_sdr=True, progress=False)
        results[method] = report.as_dict()["mean"]
        print(f"{method:8s} test SI-SDRi {results[method]['si_sdri']:6.2f} dB  ({timings[method]} s)", flush=True)
    if args.quick:
        return 0
    command = "python benchmarks/qat_methods.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    record = {
        "command": command.strip(), "config": str(args.config.relative_to(ROOT)),
        "args": {k: str(v) for k, v in vars(args).items()},
        "data": json.loads((data / "speaker_split.json").read_text()), "results": results,
        "reused_runs": sorted(reused), "train_seconds": timings,
        "total_seconds": round(time.time() - started, 1), "machine": f"{platform.machine()} {platform.processor()}",
        "torch": torch.__version__,
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=2))
    lines = [f"# Float vs PTQ vs vanilla QAT vs FQSS, {args.config.stem} ({cfg.model.name}, loss {cfg.train.loss}), "
             "8-bit", "",
             f"Command: `{record['command']}`  ", f"Data: 2-speaker mixtures of espeak-ng/flite speakers, 8 kHz, "
             f"speaker-disjoint test split ({len(record['data']['test'])} test speakers, 40 test mixtures).  ",
             f"Budget: float {args.float_epochs} epochs; QAT {args.qat_epochs} epochs"
             f"{f' of {args.qat_steps} steps' if args.qat_steps else ''} from the float model "
             f"(batch {cfg.train.batch_size}, {cfg.train.segment_seconds} s segments).", "",
             "| method | test SI-SDR (dB) | test SI-SDRi (dB) | test SDR (dB) | train time (s) | run |",
             "|---|---:|---:|---:|---:|---|"]
    for method, r in results.items():
        secs = timings[method] if timings[method] is not None else "not logged"
        run = "reused (trained by an earlier run of this script, same data and budget)" if method in reused else \
            "trained by this command"
        lines.append(f"| {method} | {r['si_sdr']:.2f} | {r['si_sdri']:.2f} | {r['sdr']:.2f} | {secs} | {run} |")
    write_page(out_dir / f"{stem}.md", "\n".join(lines))  # keeps the page's hand-written notes
    print(f"recorded in {out_dir / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
