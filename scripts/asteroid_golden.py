"""Golden outputs of asteroid's DPRNNTasNet and DPTNet for ``tests/models/test_asteroid_dualpath.py``, and of its
ConvTasNet for ``tests/models/test_pretrained.py`` (CI has no asteroid).

Needs asteroid 0.7.0 (installed without its dependencies, which pull a torchaudio built for another torch, plus
``asteroid-filterbanks``, ``requests`` and ``huggingface_hub`` to import it):

    .venv/bin/pip install --no-deps asteroid==0.7.0 asteroid-filterbanks && .venv/bin/pip install requests huggingface_hub
    .venv/bin/python scripts/asteroid_golden.py

Writes ``tests/assets/asteroid/{dprnn,dptnet,convtasnet}.safetensors``: a small random-weight model's state dict
under asteroid's keys (``state.<key>``; gLN gains / biases and the PReLU slopes drawn away from their initial values
so that every tensor matters), a random input (``input``, [2, T]) and asteroid's output on it (``output``, [2, 2, T]),
and the hyper-parameters and asteroid's ``get_model_args()`` in the metadata. For DPRNN / DPTNet, asteroid runs on the
input with ``(kernel_size - stride) / 2`` zeros on both sides, cropped back: the padding our encoder and decoder do
(``fqss_edge/models/dprnn.py``); Conv-TasNet's filterbank pads nothing, as asteroid's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "assets" / "asteroid"
# asteroid's model arguments (the rest at asteroid's defaults: gLN, BiLSTMs, hop K / 2)
HPARAMS = {
    "dprnn": dict(n_src=2, n_filters=16, kernel_size=16, stride=8, bn_chan=16, hid_size=8, chunk_size=8,
                  n_repeats=2),
    "dptnet": dict(n_src=2, n_filters=16, kernel_size=16, stride=8, n_heads=2, ff_hid=8, chunk_size=8, n_repeats=2),
    "convtasnet": dict(n_src=2, n_filters=16, kernel_size=16, stride=8, bn_chan=8, hid_chan=16, skip_chan=8,
                       n_blocks=2, n_repeats=1, mask_act="relu", encoder_activation="relu"),
}
PADDED = ("dprnn", "dptnet")  # our encoder / decoder pad (kernel_size - stride) / 2; Conv-TasNet's pad nothing
LENGTH = 640  # samples: 80 frames, 10 chunks of 8 (our length rule: a multiple of stride * chunk_size)


def asteroid_output(model: torch.nn.Module, x: torch.Tensor, kernel_size: int, stride: int,
                    padded: bool = True) -> torch.Tensor:
    """asteroid's model on ``x`` with our encoder's padding (``padded``), cropped back to ``x``'s length."""
    pad = (kernel_size - stride) // 2 if padded else 0
    with torch.no_grad():
        return model(torch.nn.functional.pad(x, (pad, pad)))[..., pad:pad + x.shape[-1]]


def asteroid_model(arch: str, **hparams) -> torch.nn.Module:
    from asteroid.models import ConvTasNet, DPRNNTasNet, DPTNet

    return {"dprnn": DPRNNTasNet, "dptnet": DPTNet, "convtasnet": ConvTasNet}[arch](**hparams).eval()


def main() -> int:
    try:
        import asteroid.models  # noqa: F401
    except ImportError as e:
        print(f"asteroid_golden.py: asteroid does not import ({e}); see the install line in this script", file=sys.stderr)
        return 2
    for arch, hparams in HPARAMS.items():
        write_golden(arch, hparams, OUT / f"{arch}.safetensors")
    return 0


def write_golden(arch: str, hparams: dict, out: Path) -> None:
    torch.manual_seed(0)
    model = asteroid_model(arch, **hparams)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("gamma"):
                value.copy_(torch.rand_like(value) + 0.5)
            elif key.endswith("beta"):
                value.copy_(0.1 * torch.randn_like(value))
            elif value.numel() == 1:  # the PReLU slopes
                value.fill_(0.3)
    x = 0.3 * torch.randn(2, LENGTH)
    y = asteroid_output(model, x, hparams["kernel_size"], hparams["stride"], arch in PADDED)
    tensors = {f"state.{k}": v.contiguous() for k, v in model.state_dict().items()}
    tensors.update(input=x, output=y.contiguous())
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"arch": arch, "hparams": json.dumps(hparams), "asteroid": "0.7.0",
                                                 "model_args": json.dumps(model.get_model_args())})
    print(f"{out}: {out.stat().st_size} bytes, output max |y| {float(y.abs().max()):.4f}")


if __name__ == "__main__":
    sys.exit(main())
