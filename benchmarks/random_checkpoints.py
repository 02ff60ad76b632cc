"""Random-weight checkpoints of a config's model (FQSS as configured, quantizers calibrated on two random batches,
and float) for export and speed measurements that need no training, e.g. the full-size Sepformer. The norms' gamma
and beta are moved off their initial 1 and 0 as a trained model's are (an all-zero beta is an int8 ADD at a ~1e-12
scale that XNNPACK refuses, which no trained model has):

    .venv/bin/python benchmarks/random_checkpoints.py configs/sepformer_2spks_8k.yaml benchmarks/work/sepformer_full
    fqss-edge export benchmarks/work/sepformer_full/random_fqss.safetensors --int8 -o benchmarks/work/sepformer_full/int8
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from fqss_edge.config import load_config
from fqss_edge.parity.synthetic import save_random_checkpoint


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    config, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)
    cfg = load_config(config)
    out.mkdir(parents=True, exist_ok=True)
    quant = cfg.updated(quant={"calib_batches": 2}).quant.model_dump()
    for name, q in (("random_fqss", quant), ("random_float", None)):
        print(save_random_checkpoint(out / f"{name}.safetensors", cfg.model.model_dump(), q,
                                     sample_rate=cfg.model.sample_rate, norm_affines=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
