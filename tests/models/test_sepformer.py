"""Sepformer: typed config, the published recipe's size against SpeechBrain's module layout, the length rule, and
what exports in which layout / positional encoding. (Export, parity, CLI and streaming of the default:
tests/models/test_architectures.py, for every architecture; the transformer and dual-path pieces:
tests/models/test_transformer.py; SpeechBrain's golden output: tests/models/test_import_speechbrain.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fqss_edge.config import load_config, shipped_config
from fqss_edge.errors import FqssError
from fqss_edge.models import Sepformer, SepformerConfig, build_model
from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, smoke_model
from fqss_edge.quant.tools import count_parameters

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
from litert_ref import reference_equals_litert_ref  # noqa: E402


def speechbrain_sepformer_parameters(n: int = 256, kernel: int = 16, n_src: int = 2, blocks: int = 2,
                                     layers: int = 8, d_ffn: int = 1024) -> int:
    """Parameters of SpeechBrain's Sepformer (Encoder, Dual_Path_Model with SBTransformerBlock intra / inter
    models, Decoder), summed from its module layout (speechbrain/lobes/models/dual_path.py, transformer/)."""
    encoder = n * 1 * kernel  # Conv1d(1, N, K, bias=False)
    decoder = n * 1 * kernel  # ConvTranspose1d(N, 1, K, bias=False)
    attention = 3 * n * n + 3 * n + n * n + n  # nn.MultiheadAttention: in_proj (q, k, v) and out_proj
    ffn = n * d_ffn + d_ffn + d_ffn * n + n  # PositionalwiseFeedForward: Linear, ReLU, Linear
    layer = attention + ffn + 2 * 2 * n  # two LayerNorms
    transformer = layers * layer + 2 * n  # TransformerEncoder's final LayerNorm
    block = 2 * transformer + 2 * 2 * n  # intra and inter, each followed by GroupNorm(1, N)
    masknet = (2 * n  # GroupNorm(1, N)
               + n * n  # Conv1d(N, N, 1, bias=False)
               + blocks * block
               + 1  # PReLU
               + n * n * n_src + n * n_src  # Conv2d(N, N * spks, 1)
               + 2 * (n * n + n)  # output (Conv1d + Tanh) and output_gate (Conv1d + Sigmoid)
               + n * n)  # end_conv1x1, bias=False
    return encoder + masknet + decoder


def test_recipe_has_speechbrains_parameter_count():
    assert speechbrain_sepformer_parameters() == 25_679_361  # "about 25.7 M"
    model = build_model(load_config(shipped_config("sepformer_2spks_8k")).model)
    assert isinstance(model, Sepformer) and count_parameters(model) == speechbrain_sepformer_parameters()


def test_tiny_config_size_follows_the_same_layout():
    c = load_config(shipped_config("sepformer_tiny")).model
    model = build_model(c)
    assert count_parameters(model) == speechbrain_sepformer_parameters(c.n_filters, c.kernel_size, c.n_src,
                                                                       c.n_blocks, c.n_intra, c.d_ffn)


def test_length_rule_is_the_chunk_grid_and_other_lengths_are_padded():
    model = build_model(smoke_model("sepformer")).eval()
    step = model.config.stride * model.config.chunk_size
    assert model.length_multiple == step and model.valid_length(step + 1) == 2 * step
    x = torch.rand(1, 3 * step - 5) * 1.8 - 0.9
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 2, 3 * step - 5)
    assert model.io_contract().stride == step


def test_smoke_model_quantized_keeps_every_tensor_int8():
    from fqss_edge.parity.synthetic import calibrated_random_model

    model = calibrated_random_model(smoke_model("sepformer"), FQSS_QUANT_NORM8)
    bits = {m.bits for m in model.modules() if hasattr(m, "bits") and hasattr(m, "qparams")}
    assert bits == {8}


@pytest.mark.parametrize("text, message", [
    ("chunk_size: 7", "model.chunk_size: must be even"),
    ("n_heads: 3", "model.n_heads: must divide n_filters (256)"),
    ("stride: 7", "model.stride: must be <= kernel_size (16) with kernel_size - stride even"),
    ("bn_chan: 3", "unknown key 'model.bn_chan'"),
    ("layout: speechbrain\n  kernel_size: 20", "model.layout: speechbrain needs kernel_size = 2 * stride "
                                               "(SpeechBrain's Encoder), not 20 and 8"),
    ("n_filters: 7\n  n_heads: 1\n  positional_encoding: both", "model.positional_encoding: a sinusoidal encoding "
                                                                 "needs an even n_filters, not 7"),
    ("positional_encoding: inter", "model.positional_encoding"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  name: sepformer\n  {text}\n")
    with pytest.raises(FqssError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_config_defaults_are_the_published_recipe():
    c = SepformerConfig()
    assert (c.n_filters, c.kernel_size, c.stride, c.chunk_size, c.n_blocks, c.n_intra, c.n_inter, c.n_heads,
            c.d_ffn) == (256, 16, 8, 250, 2, 8, 8, 8, 1024)


@pytest.mark.parametrize("pe, n", [("intra", 1200), ("both", 2000)])
def test_positional_encodings_export_and_reference_equals_litert_ref(tmp_path, pe, n):
    """The intra-chunk encoding is an int8 constant of ``chunk_size`` frames, the inter-chunk one a table of 2500
    whose first S frames the graph cuts (CONCATENATION, STRIDED_SLICE): verified in the QDQ graph (the tables'
    codes), onnxruntime <= 1 LSB of the simulation and reference == BUILTIN_REF on every tensor of the resizable
    .tflite. (The smoke config, ``both``, runs the same checks at 1200 samples in test_architectures.py: S
    follows the length.)"""
    import onnx

    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.export.tflite import export as export_tflite
    from fqss_edge.parity.synthetic import calibrated_random_model, random_audio
    from fqss_edge.runtimes import open_backend

    model = calibrated_random_model(smoke_model("sepformer", positional_encoding=pe), FQSS_QUANT_NORM8)
    export_onnx(model, tmp_path / "model.onnx")
    tables = {i.name: i.data_type for i in onnx.load(tmp_path / "model.onnx").graph.initializer
              if i.name.endswith("pos_enc.table")}
    paths = ["intra"] if pe == "intra" else ["intra", "inter"]
    assert tables == {f"masker.blocks.0.{p}.pos_enc.table": onnx.TensorProto.INT8 for p in paths}
    export_tflite(tmp_path / "model.onnx", tmp_path / "model.tflite")
    x = random_audio(1, n + 3, seed=7).numpy().reshape(-1)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    y = open_backend(tmp_path / "model.onnx", optimization="all").run(x).astype(np.float64)
    assert np.abs(y - ref).max() * 32768 <= 1.0
    t = model.valid_length(n)
    pcm = np.clip(np.floor(random_audio(1, t, 5).numpy().reshape(1, -1) * 32768), -32768, 32767).astype(np.int16)
    compared, ops = reference_equals_litert_ref((tmp_path / "model.tflite").read_bytes(), pcm)
    assert len(compared) >= 10 and {"ADD", "CONCATENATION", "STRIDED_SLICE"} <= ops


def test_speechbrain_layout_refuses_the_export_naming_the_reason(tmp_path):
    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.parity.synthetic import calibrated_random_model

    model = calibrated_random_model(smoke_model("sepformer", layout="speechbrain"), FQSS_QUANT_NORM8)
    with pytest.raises(FqssError, match=r"^ONNX export: masker\.segment\.pad: SpeechBrain's segmentation pads and "
                                        r"crops by a gap that follows the input length.* Sepformer exports with "
                                        r"layout: fqss$"):
        export_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("pe", ["none", "intra", "both"])
def test_speechbrain_layout_takes_any_multiple_of_the_stride(pe):
    """No encoder padding: ``(T - kernel) / stride + 1`` frames, the segmentation's gap for any of them."""
    model = build_model(smoke_model("sepformer", layout="speechbrain", positional_encoding=pe)).eval()
    assert (model.length_multiple, model.min_length) == (8, 16)
    for t in (16, 24, 8 * 37):
        with torch.no_grad():
            assert model(torch.rand(2, t) - 0.5).shape == (2, 2, t)


def test_fold_norms_leaves_one_mul_and_one_add_fewer_per_folded_norm(tmp_path):
    """``fold_norms``: the masker's gLN and every transformer layer's two LayerNorms end at the normalised values
    (their gamma / beta in the 1x1 convs after them); the blocks' gLNs and each transformer's last LayerNorm keep
    theirs. The exported graph has one Mul and one Add fewer per folded norm; the parameters are the same."""
    import onnx

    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.parity.synthetic import calibrated_random_model
    from fqss_edge.quant.layers import QGlobalLayerNorm

    counts = {}
    for fold in (False, True):
        cfg = smoke_model("sepformer", fold_norms=fold)
        model = calibrated_random_model(cfg, dict(FQSS_QUANT_NORM8, calib_batches=2), length=cfg["stride"] * 40,
                                        norm_affines=True)
        norms = [m for m in model.modules() if isinstance(m, QGlobalLayerNorm)]
        folded = sum(m.folded for m in norms)
        layers = cfg["n_blocks"] * (cfg["n_intra"] + cfg["n_inter"])
        assert folded == (1 + 2 * layers if fold else 0)
        export_onnx(model, tmp_path / f"{fold}.onnx")
        graph = onnx.load(str(tmp_path / f"{fold}.onnx")).graph
        counts[fold] = (count_parameters(model), folded, *(sum(n.op_type == k for n in graph.node)
                                                           for k in ("Mul", "Add")))
    (p0, _, mul0, add0), (p1, folded, mul1, add1) = counts[False], counts[True]
    assert p0 == p1 and (mul0 - mul1, add0 - add1) == (folded, folded), counts


def test_an_unfolded_float_checkpoint_loads_into_fold_norms_with_the_same_output():
    """The fold is exact: the weights of a model without ``fold_norms`` (its state dict holds the affine maps'
    quantizer ranges, which the folded norms do not have: dropped) give the same float output with it."""
    from fqss_edge.parity.synthetic import randomize_norm_affines
    from fqss_edge.quant.layers import QGlobalLayerNorm
    from fqss_edge.quant.tools import load_network_state

    torch.manual_seed(0)
    plain = build_model(smoke_model("sepformer"))
    randomize_norm_affines(plain, 0)  # gamma / beta off 1 / 0, or the fold would change nothing
    state = plain.state_dict()
    assert any(".norm1.gamma_quant." in k for k in state)
    folded = build_model(smoke_model("sepformer", fold_norms=True))
    load_network_state(folded, state)
    x = torch.randn(1, plain.config.stride * 80)
    with torch.no_grad():
        y, y_folded = plain.eval()(x), folded.eval()(x)
        for m in plain.modules():  # without its affine maps the plain model is another function
            if isinstance(m, QGlobalLayerNorm):
                m.gamma.fill_(1.0), m.beta.zero_()
        assert torch.allclose(y_folded, y, atol=1e-5) and not torch.allclose(plain(x), y, atol=1e-3)
    state["masker.norm.gamma"] = state.pop("masker.blocks.0.intra.layers.0.norm1.gamma")
    with pytest.raises(KeyError, match="missing tensors masker.blocks.0.intra.layers.0.norm1.gamma"):
        load_network_state(folded, state)
