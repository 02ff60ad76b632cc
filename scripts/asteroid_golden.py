"""Golden outputs of asteroid's DPRNNTasNet for ``tests/models/test_asteroid_dprnn.py`` (CI has no asteroid).

Needs asteroid 0.7.0 (installed without its dependencies, which pull a torchaudio built for another torch, plus
``asteroid-filterbanks``, ``requests`` and ``huggingface_hub`` to import it):

    .venv/bin/pip install --no-deps asteroid==0.7.0 asteroid-filterbanks && .venv/bin/pip install requests huggingface_hub
    .venv/bin/python scripts/asteroid_golden.py

Writes ``tests/assets/asteroid/dprnn.safetensors``: a small random-weight DPRNNTasNet's state dict under asteroid's
keys (``state.<key>``; gLN gains / biases and the PReLU slope drawn away from their initial values so that every
tensor matters), a random input (``input``, [2, T]) and asteroid's output on it (``output``, [2, 2, T]), and the
hyper-parameters in the metadata. asteroid runs on the input with ``(kernel_size - stride) / 2`` zeros on both
sides, cropped back: the padding our encoder and decoder do (``fqss_edge/models/dprnn.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "assets" / "asteroid" / "dprnn.safetensors"
# asteroid's DPRNNTasNet arguments (the rest at asteroid's defaults: gLN, sigmoid masks, BiLSTM, hop K / 2)
HPARAMS = dict(n_src=2, n_filters=16, kernel_size=16, stride=8, bn_chan=16, hid_size=8, chunk_size=8, n_repeats=2)
LENGTH = 640  # samples: 80 frames, 10 chunks of 8 (our length rule: a multiple of stride * chunk_size)


def asteroid_output(model: torch.nn.Module, x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """asteroid's model on ``x`` with our encoder's padding, cropped back to ``x``'s length."""
    pad = (kernel_size - stride) // 2
    with torch.no_grad():
        return model(torch.nn.functional.pad(x, (pad, pad)))[..., pad:pad + x.shape[-1]]


def main() -> int:
    try:
        from asteroid.models import DPRNNTasNet
    except ImportError as e:
        print(f"asteroid_golden.py: asteroid does not import ({e}); see the install line in this script", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    model = DPRNNTasNet(**HPARAMS).eval()
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("gamma"):
                value.copy_(torch.rand_like(value) + 0.5)
            elif key.endswith("beta"):
                value.copy_(0.1 * torch.randn_like(value))
            elif key == "masker.first_out.0.weight":
                value.fill_(0.3)
    x = 0.3 * torch.randn(2, LENGTH)
    y = asteroid_output(model, x, HPARAMS["kernel_size"], HPARAMS["stride"])
    tensors = {f"state.{k}": v.contiguous() for k, v in model.state_dict().items()}
    tensors.update(input=x, output=y.contiguous())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={"hparams": json.dumps(HPARAMS), "asteroid": "0.7.0"})
    print(f"{OUT}: {OUT.stat().st_size} bytes, output max |y| {float(y.abs().max()):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
