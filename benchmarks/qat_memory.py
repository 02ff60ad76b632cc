"""Memory of a training step per method (float / vanilla QAT / FQSS QAT): peak RSS and what autograd saves.

For each method a fresh child process builds the config's model (a randomly initialised float model is the
"float checkpoint" of the QAT methods and FQSS's teacher), calibrates the activation ranges on one batch (as the
first training batches do), runs ``--steps`` training steps (forward, the method's loss, backward, gradient
clipping, Adam) on random waveforms of the config's batch and segment, then one validation item of
``--valid-seconds`` as ``train.loop.validate`` runs it (``evaluate``: eval mode, no gradient). It reports

* peak RSS of the training steps and of the validation pass separately (Linux VmHWM, reset between phases
  through ``/proc/self/clear_refs``), and RSS after each step (a leak grows it);
* the bytes autograd keeps for backward in one step (``torch.autograd.graph.saved_tensors_hooks``; one count
  per storage), per module class (the innermost module running when the tensor was saved) and per autograd
  node type (walking ``loss.grad_fn``'s graph and its ``_saved_*`` tensors).

    .venv/bin/python benchmarks/qat_memory.py --config configs/convtasnet_tiny.yaml --label speech_tiny
    .venv/bin/python benchmarks/qat_memory.py --config configs/convtasnet_tiny.yaml --label speech_size \
        --set n_filters=128 bn_chan=64 hid_chan=128 skip_chan=64 n_blocks=8 n_repeats=3 \
        --batch-size 8 --segment-seconds 2 --steps 2
    .venv/bin/python benchmarks/qat_memory.py --config configs/convtasnet_music_tiny.yaml --label music_tiny \
        --valid-seconds 20

Results go to ``benchmarks/results/qat_memory.json`` (one entry per label, merged) and the table in
``qat_memory.md``; ``--tag before|after`` keeps the measurements of two implementations side by side.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import platform
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from fqss_edge.bench.device_runner import read_hwm_kb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MIB = 2**20


def _status_kib(key: str) -> int:  # VmRSS (the peak, VmHWM: device_runner.read_hwm_kb)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak() -> int:
    """Return freed heap to the system, then VmHWM := VmRSS; returns that RSS (KiB)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


class SavedTensorCounter:
    """Bytes saved for backward, one count per storage, attributed to the innermost running module's class."""

    def __init__(self, model: nn.Module):
        self.stack: list[str] = []
        self.by_module: dict[str, int] = defaultdict(int)
        self.seen: set[int] = set()
        self.total = 0
        self.handles = []
        for m in model.modules():
            self.handles.append(m.register_forward_pre_hook(self._push))
            self.handles.append(m.register_forward_hook(self._pop))

    def _push(self, module: nn.Module, _args) -> None:
        self.stack.append(type(module).__name__)

    def _pop(self, _module: nn.Module, _args, _out) -> None:
        self.stack.pop()

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key not in self.seen and not isinstance(t, nn.Parameter):
            self.seen.add(key)
            self.total += storage.nbytes()
            self.by_module[self.stack[-1] if self.stack else "(model level)"] += storage.nbytes()
        return t

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def saved_by_node(loss: torch.Tensor) -> dict[str, int]:
    """Bytes of the tensors each autograd node type holds (one count per storage, first node type wins)."""
    seen: set[int] = set()
    out: dict[str, int] = defaultdict(int)
    todo, visited = [loss.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                v = getattr(node, name)
            except RuntimeError:  # freed, or an undefined optional tensor
                continue
            for t in (v if isinstance(v, (tuple, list)) else (v,)):
                if isinstance(t, torch.Tensor) and t.numel():
                    key = t.untyped_storage().data_ptr()
                    if key not in seen:
                        seen.add(key)
                        out[node.name()] += t.untyped_storage().nbytes()
        todo.extend(n for n, _ in node.next_functions)
    return dict(out)


def _top(d: dict[str, int], n: int = 12) -> dict[str, float]:
    return {k: round(v / MIB, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]}


def _measure(config: str, overrides: dict, method: str, batch: int | None, segment: float | None, steps: int,
             valid_seconds: float, seed: int) -> dict:
    torch.set_num_threads(1)
    from fqss_edge.config import load_config
    from fqss_edge.evaluate import evaluate, model_separator
    from fqss_edge.train.losses import (
        PERMUTATION_FREE,
        distillation_loss,
        separation_loss,
    )
    from fqss_edge.train.methods import build_models

    cfg = load_config(Path(config))
    cfg = cfg.updated(model=overrides, quant={"calib_batches": 1},
                      train={k: v for k, v in {"batch_size": batch, "segment_seconds": segment}.items()
                             if v is not None})
    m, t = cfg.model, cfg.train
    torch.manual_seed(seed)
    float_model, _ = build_models(m, cfg.quant, "float", None)
    student, teacher = (float_model, None) if method == "float" else \
        build_models(m, cfg.quant, method, float_model.state_dict())
    opt = torch.optim.Adam(student.parameters(), lr=t.lr)
    length = round(t.segment_seconds * m.sample_rate)
    shape = (t.batch_size, m.audio_channels, length) if m.audio_channels > 1 else (t.batch_size, length)
    gen = torch.Generator().manual_seed(seed)
    batches = [torch.rand(shape, generator=gen) * 0.5 - 0.25 for _ in range(2)]
    with torch.no_grad():
        est_shape = float_model.eval()(batches[0][:1, ..., : min(length, 4096)]).shape
    refs = [torch.rand((t.batch_size, est_shape[1], length), generator=gen) * 0.5 - 0.25 for _ in range(2)]
    loss_fn = distillation_loss(t.loss) if teacher is not None else separation_loss(t.loss)
    student.train()

    def step(i: int, counter: SavedTensorCounter | None = None) -> tuple[float, dict[str, int]]:
        mix, ref = batches[i % 2], refs[i % 2]
        if counter is None:
            est = student(mix)
        else:
            with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda x: x):
                est = student(mix)
        if teacher is not None:  # as Trainer._loss
            with torch.no_grad():
                teacher_est = teacher(mix)
            loss = loss_fn(est, teacher_est, ref, t.kd_lambda)
        else:
            loss = loss_fn(est, ref)
        nodes = saved_by_node(loss) if counter is not None else {}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(student.parameters(), t.grad_clip)
        opt.step()
        return float(loss.detach()), nodes

    base = _status_kib("VmRSS")
    step(0)  # calibration batch (quantizers observe, values pass through)
    train_base = _reset_peak()
    t0 = time.time()
    rss_after, losses = [], []
    counter = SavedTensorCounter(student)
    loss, nodes = step(1, counter)
    counter.close()
    losses.append(loss)
    rss_after.append(_mib(_status_kib("VmRSS")))
    for i in range(2, steps + 1):
        losses.append(step(i)[0])
        rss_after.append(_mib(_status_kib("VmRSS")))
    train_peak = read_hwm_kb()
    step_seconds = (time.time() - t0) / steps

    vlen = round(valid_seconds * m.sample_rate)
    vshape = (m.audio_channels, vlen) if m.audio_channels > 1 else (vlen,)
    vmix = torch.rand(vshape, generator=gen) * 0.5 - 0.25
    vref = torch.rand((est_shape[1], vlen), generator=gen) * 0.5 - 0.25
    valid_base = _reset_peak()
    t0 = time.time()
    evaluate(model_separator(student), [(vmix, vref, "valid")], with_sdr=False, pit=t.loss not in PERMUTATION_FREE)
    valid_peak = read_hwm_kb()
    return {"method": method, "rss_start_mib": _mib(base), "rss_after_calibration_step_mib": _mib(train_base),
            "train_peak_rss_mib": _mib(train_peak),
            "rss_after_each_step_mib": rss_after, "step_seconds": round(step_seconds, 2),
            "saved_for_backward_mib": round(counter.total / MIB, 1),
            "saved_by_module_mib": _top(counter.by_module), "saved_by_node_mib": _top(nodes),
            "valid_seconds": valid_seconds, "valid_start_rss_mib": _mib(valid_base),
            "valid_peak_rss_mib": _mib(valid_peak),
            "valid_wall_seconds": round(time.time() - t0, 1), "losses": losses,
            "batch": list(shape), "segment_samples": length}


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not value:
            sys.exit(f"--set {item}: expected KEY=VALUE")
        out[key] = json.loads(value) if value[0] in "0123456789-[{tf" else value
    return out


def _cell(runs: dict, tag: str, method: str, key: str) -> str:
    r = runs.get((tag, method))
    return "-" if r is None else str(r[key])


def _report(record: dict) -> list[str]:
    """The markdown page: before / after per model setting and method, then the commands and the breakdowns."""
    labels = list(dict.fromkeys(e["label"] for e in record["entries"].values()))
    lines = ["# QAT memory: peak RSS and bytes saved for backward, before / after", "",
             ("Measured by `benchmarks/qat_memory.py` (one fresh process per method; random waveforms of the config's "
              "batch and segment; one calibration step, then the measured steps; then one validation item as "
              "`train.loop.validate` runs it). Peak RSS: Linux VmHWM, reset between phases. Saved for backward: "
              "distinct storages packed by `torch.autograd.graph.saved_tensors_hooks` in one training step."), "",
             "| model | method | train peak RSS (MiB) | saved for backward, 1 step (MiB) | validation peak RSS (MiB) |",
             "|---|---|---:|---:|---:|"]
    for label in labels:
        runs = {(e["tag"], r["method"]): r for e in record["entries"].values() if e["label"] == label
                for r in e["methods"]}
        seconds = next(r["valid_seconds"] for r in runs.values())
        for method in dict.fromkeys(m for _, m in runs):
            cols = [" -> ".join(_cell(runs, tag, method, key) for tag in ("before", "after"))
                    for key in ("train_peak_rss_mib", "saved_for_backward_mib", "valid_peak_rss_mib")]
            lines.append(f"| {label} | {method} | {cols[0]} | {cols[1]} | {cols[2]} ({seconds} s item) |")
    if record.get("reading"):
        lines += ["", "## Reading", "", *record["reading"]]
    lines += ["", "## Commands", ""]
    lines += [f"- {e['label']} ({e['tag']}, {e['commit']}): `{e['command']}`" for e in record["entries"].values()]
    lines += ["", "## Saved for backward by module class (MiB, one step)", ""]
    for e in record["entries"].values():
        for r in e["methods"]:
            top = ", ".join(f"{k} {v}" for k, v in list(r["saved_by_module_mib"].items())[:6])
            lines.append(f"- {e['label']} / {e['tag']} / {r['method']}: {top}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=lambda p: Path(p).resolve(), required=True)
    ap.add_argument("--label", required=True, help="name of this model setting in the results")
    ap.add_argument("--tag", default="after", help="which implementation is measured (before / after a change)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="model config overrides")
    ap.add_argument("--methods", nargs="+", default=["float", "vanilla", "fqss"],
                    choices=["float", "vanilla", "fqss"])
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--segment-seconds", type=float, default=None)
    ap.add_argument("--steps", type=int, default=3, help="measured training steps (after one calibration step)")
    ap.add_argument("--valid-seconds", type=float, default=4.0, help="length of the validation item")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    overrides = _parse_set(args.set)
    ctx = multiprocessing.get_context("spawn")
    runs = []
    for method in args.methods:
        with ctx.Pool(1) as pool:  # a fresh process per method: its own peak RSS
            r = pool.apply(_measure, (str(args.config), overrides, method, args.batch_size, args.segment_seconds,
                                      args.steps, args.valid_seconds, args.seed))
        print(json.dumps(r), flush=True)
        runs.append(r)
    if args.no_write:
        return 0
    path = RESULTS / "qat_memory.json"
    record = json.loads(path.read_text()) if path.exists() else {"entries": {}}
    record["entries"][f"{args.label}/{args.tag}"] = {
        "label": args.label, "tag": args.tag, "config": str(args.config.relative_to(ROOT)), "overrides": overrides,
        "command": "python benchmarks/qat_memory.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "commit": subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], check=False,
                                 capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.machine()} {platform.processor()}", "torch": torch.__version__, "methods": runs}
    path.write_text(json.dumps(record, indent=2))
    page = "\n".join(_report(record)) + "\n"
    path.with_suffix(".md").write_text(page)
    print(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
