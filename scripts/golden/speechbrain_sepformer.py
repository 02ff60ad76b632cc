"""Golden output of a small SpeechBrain Sepformer for ``tests/models/test_import_speechbrain.py`` (CI has no
SpeechBrain: it needs torchaudio, which has no build for the project's torch).

Runs in its own environment (torch 2.9.1 is the version with a loadable torchaudio build):

    python3 -m venv /work/sbenv
    /work/sbenv/bin/pip install torch==2.9.1 "torchaudio==2.9.*"
    /work/sbenv/bin/pip install speechbrain==1.1.2 safetensors
    /work/sbenv/bin/python scripts/golden/speechbrain_sepformer.py

Builds a randomly initialised (seeded) small Sepformer as SpeechBrain's sepformer recipe composes it
(``recipes/WSJ0Mix/separation/hparams/sepformer.yaml``): ``dual_path.Encoder`` (ReLU, stride kernel / 2),
``Dual_Path_Model`` (``norm: ln``, ``skip_around_intra: True``, ``linear_layer_after_inter_intra: False``) with
``SBTransformerBlock`` intra / inter models (``use_positional_encoding: True``, ``norm_before: True``, dropout 0) and
``dual_path.Decoder`` (ConvTranspose1d, no bias), and the recipe's ``compute_forward`` (masks times the encoded
mixture, one decoder call per source, padded / cropped to the input length). Norm gains / biases and the PReLU
slope are drawn away from their initial values so that every tensor matters. The input length gives SpeechBrain's
segmentation a non-zero gap (``L % K != 0``).

Writes ``tests/assets/speechbrain_sepformer/sepformer.safetensors``: the state dict as SpeechBrain's pretrained
model holds it (``encoder.*``, ``masknet.*``, ``decoder.*``; under ``state.``), ``input`` [B, T] and ``output``
[B, n_src, T], and the hyper-parameters and versions in the metadata.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[2] / "tests" / "assets" / "speechbrain_sepformer" / "sepformer.safetensors"
# our SepformerConfig's names; SpeechBrain's in build()
HPARAMS = dict(n_src=2, n_filters=16, kernel_size=16, stride=8, chunk_size=10, n_blocks=1, n_intra=1, n_inter=1,
               n_heads=2, d_ffn=32)
BATCH, FRAMES = 2, 57  # L = 57 frames: SpeechBrain's gap is K - (K/2 + L % K) % K = 8


def build(h: dict) -> torch.nn.ModuleDict:
    from speechbrain.lobes.models.dual_path import Decoder, Dual_Path_Model, Encoder, SBTransformerBlock

    def transformer(layers: int) -> SBTransformerBlock:
        return SBTransformerBlock(num_layers=layers, d_model=h["n_filters"], nhead=h["n_heads"], d_ffn=h["d_ffn"],
                                  dropout=0, use_positional_encoding=True, norm_before=True)

    assert h["stride"] * 2 == h["kernel_size"]  # SpeechBrain's Encoder strides by kernel_size // 2
    return torch.nn.ModuleDict({
        "encoder": Encoder(kernel_size=h["kernel_size"], out_channels=h["n_filters"]),
        "masknet": Dual_Path_Model(in_channels=h["n_filters"], out_channels=h["n_filters"],
                                   intra_model=transformer(h["n_intra"]), inter_model=transformer(h["n_inter"]),
                                   num_layers=h["n_blocks"], norm="ln", K=h["chunk_size"], num_spks=h["n_src"],
                                   skip_around_intra=True, linear_layer_after_inter_intra=False),
        "decoder": Decoder(in_channels=h["n_filters"], out_channels=1, kernel_size=h["kernel_size"],
                           stride=h["stride"], bias=False),
    }).eval()


def separate(m: torch.nn.ModuleDict, mix: torch.Tensor, n_src: int) -> torch.Tensor:
    """The recipe's ``compute_forward`` (inference): [B, T] -> [B, n_src, T]."""
    mix_w = m["encoder"](mix)
    est_mask = m["masknet"](mix_w)
    sep_h = torch.stack([mix_w] * n_src) * est_mask
    est = torch.cat([m["decoder"](sep_h[i]).unsqueeze(-1) for i in range(n_src)], dim=-1)  # [B, T', n_src]
    t_origin, t_est = mix.size(1), est.size(1)
    est = F.pad(est, (0, 0, 0, t_origin - t_est)) if t_origin > t_est else est[:, :t_origin, :]
    return est.transpose(1, 2)


def main() -> int:
    try:
        import speechbrain
    except ImportError as e:
        print(f"speechbrain_sepformer.py: speechbrain does not import ({e}); see the environment in this script",
              file=sys.stderr)
        return 2
    torch.manual_seed(0)
    m = build(HPARAMS)
    with torch.no_grad():
        for key, value in m.state_dict().items():
            if ("norm" in key) and key.endswith("weight"):  # GroupNorm / LayerNorm gains
                value.copy_(torch.rand_like(value) + 0.5)
            elif "norm" in key and key.endswith("bias"):
                value.copy_(0.1 * torch.randn_like(value))
            elif key == "masknet.prelu.weight":
                value.fill_(0.3)
        t = (FRAMES - 1) * HPARAMS["stride"] + HPARAMS["kernel_size"]
        x = 0.3 * torch.randn(BATCH, t)
        y = separate(m, x, HPARAMS["n_src"])
    tensors = {f"state.{k}": v.contiguous() for k, v in m.state_dict().items()}
    tensors.update(input=x.contiguous(), output=y.contiguous())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={"hparams": json.dumps(HPARAMS), "speechbrain": speechbrain.__version__,
                                           "torch": torch.__version__})
    print(f"wrote {OUT}: input {tuple(x.shape)}, output {tuple(y.shape)}, max |y| {y.abs().max():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
