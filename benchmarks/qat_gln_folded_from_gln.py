"""QAT of Conv-TasNet ``norm: gLN_folded`` from a gLN float model (the teacher loaded into the folded model:
``load_network_state`` drops the gLN affine maps' quantizer ranges), with the QAT budget of ``qat_methods.py``
(2 epochs of 100 steps, its data). The float model and data are those of a ``qat_methods.py`` run of the gLN tiny
config:

    python benchmarks/qat_methods.py --config configs/convtasnet_tiny.yaml --work W --train-mixtures 800 \\
        --float-epochs 10 --qat-epochs 2 --qat-steps 100 --threads 1
    python benchmarks/qat_gln_folded_from_gln.py W fqss vanilla ptq

Writes ``W/../qat_methods_gln_folded/runs_from_gln/<method>`` and prints test SI-SDRi per method; the 12-04 run's
output is ``benchmarks/results/qat_gln_folded_from_gln.json`` (notes: ``qat_methods_convtasnet_tiny_gln_folded.md``).
"""
import json
import sys
import time
from pathlib import Path

import torch

from fqss_edge.config import load_config
from fqss_edge.evaluation_report import run_evaluation
from fqss_edge.train.loop import train

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    work = Path(sys.argv[1])
    cfg = load_config(ROOT / "configs" / "convtasnet_tiny_gln_folded.yaml").with_data_root(work / "data")
    out = work.parent / "qat_methods_gln_folded" / "runs_from_gln"
    res = {}
    for method in sys.argv[2:]:
        t0 = time.time()
        run_cfg = cfg.updated(train={"epochs": 2, "max_steps_per_epoch": 100})
        train(run_cfg, method, out / method, work / "runs/float/best.safetensors", progress=False)
        r = run_evaluation(out / method / "best.safetensors", work / "data/test", with_sdr=True, progress=False)
        res[method] = {"si_sdri": r.as_dict()["mean"]["si_sdri"], "seconds": round(time.time() - t0, 1)}
        print(method, res[method], flush=True)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
