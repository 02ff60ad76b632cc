"""Run configs: YAML loading, validation errors (one line naming file and key), round trip, shipped configs."""

from pathlib import Path

import pytest

from fqss_edge.config import RunConfig, dump_config, load_config, parse_config, shipped_config, shipped_configs
from fqss_edge.errors import FqssError
from fqss_edge.models import ARCHITECTURES, ConvTasNetConfig

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(FqssError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_defaults_are_the_paper_recipe():
    cfg = RunConfig()
    m, t = cfg.model, cfg.train
    assert (m.n_filters, m.kernel_size, m.stride, m.bn_chan, m.hid_chan, m.skip_chan) == (512, 16, 8, 128, 512, 128)
    assert (m.conv_kernel_size, m.n_blocks, m.n_repeats, m.norm, m.mask_act) == (3, 8, 3, "gLN", "relu")
    assert (t.epochs, t.batch_size, t.lr, t.grad_clip, t.segment_seconds, t.kd_lambda) == (50, 2, 1e-3, 5.0, 3.0, 0.1)
    assert cfg.quant.norm_bits == 8 and cfg.data.train is None


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_configs_load(path: Path):
    cfg = load_config(path)
    name = max((a for a in ARCHITECTURES if path.stem == a or path.stem.startswith(a + "_")), key=len)
    assert cfg.model.name == name
    # speech: 2 speakers at 8 kHz; music (the U-Nets): drums, bass, other, vocals at 22.05 or 44.1 kHz
    assert (cfg.model.n_src, cfg.model.sample_rate) in {(2, 8000), (4, 22050), (4, 44100)}
    assert isinstance(cfg.model, ARCHITECTURES[cfg.model.name].config)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_ships_a_recipe_and_a_tiny_config(arch):
    recipes = [p.stem for p in SHIPPED if (p.stem == arch or p.stem.startswith(arch + "_")) and "tiny" not in p.stem]
    for stem in (f"{arch}_tiny", min(recipes, key=lambda s: s != arch)):  # waveunet.yaml, not waveunet_lite.yaml
        assert load_config(shipped_config(stem)).model.name == arch


def test_unknown_architecture_is_named(tmp_path):
    message = load_error(tmp_path, "model:\n  name: convtasnetx\n")
    assert "model.name: unknown architecture 'convtasnetx' (did you mean 'convtasnet'?); registered: " in message


def test_updated_validates_and_keeps_types():
    cfg = RunConfig().updated(train={"epochs": 3}, quant={"norm_bits": 16})
    assert cfg.train.epochs == 3 and cfg.quant.norm_bits == 16 and cfg.model == ConvTasNetConfig()
    with pytest.raises(FqssError, match="train.epochs"):
        RunConfig().updated(train={"epochs": 0})
    with pytest.raises(FqssError, match="train.lr: must be a finite number"):
        RunConfig().updated(train={"lr": float("nan")})


def test_shipped_configs_are_package_data():
    assert {p.stem for p in SHIPPED} <= set(shipped_configs())
    assert load_config(shipped_config("convtasnet_tiny")).model.n_filters == 64
    with pytest.raises(FqssError, match="no shipped config named 'nope'"):
        shipped_config("nope")


def test_paper_config_matches_defaults():
    cfg = load_config(REPO / "configs" / "convtasnet_2spks_8k.yaml")
    assert cfg.model == ConvTasNetConfig()
    assert cfg.quant == RunConfig().quant and cfg.train == RunConfig().train


@pytest.mark.parametrize("text, key", [
    ("model:\n  n_filterz: 64\n", "'model.n_filterz' (did you mean 'n_filters'?)"),
    ("quant:\n  bitz: 8\n", "'quant.bitz'"),
    ("modle:\n  n_filters: 64\n", "'modle' (did you mean 'model'?)"),
    ("data:\n  trian: x\n", "'data.trian'"),
], ids=["model", "quant", "section", "data"])
def test_unknown_key_rejected(tmp_path, text, key):
    assert f"unknown key {key}" in load_error(tmp_path, text)


@pytest.mark.parametrize("text, expected", [
    ("model:\n  kernel_size: 0\n", "model.kernel_size: must be > 0"),
    ("model:\n  n_blocks: -1\n", "model.n_blocks: must be > 0"),
    ("model:\n  kernel_size: 16\n  stride: 32\n", "model.stride: must be <= kernel_size (16)"),
    ("model:\n  n_filters: 64.5\n", "model.n_filters: "),
    ("model:\n  mask_act: tanh\n", "model.mask_act: input should be 'relu' or 'sigmoid' (got 'tanh')"),
    ("quant:\n  weight_bits: 6\n", "quant.weight_bits: input should be 4, 8 or 16 (got 6)"),
    ("quant:\n  ema_alpha: 1.0\n", "quant.ema_alpha: must be in [0, 1)"),
    ("train:\n  lr: -1.0e-3\n", "train.lr: must be > 0"),
    ("train:\n  batch_size: '4'\n", "train.batch_size: "),
    ("train:\n  max_steps_per_epoch: 0\n", "train.max_steps_per_epoch: must be > 0"),
    ("train:\n  max_minutes: 0\n", "train.max_minutes: must be > 0"),
    ("model: 3\n", "model: "),
    ("- model\n", "expected a mapping of sections"),
], ids=["kernel0", "blocks-neg", "stride", "float-int", "mask", "wbits", "alpha", "lr", "str-int", "steps0", "minutes0",
        "section-scalar", "list"])
def test_bad_values_rejected(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_missing_file(tmp_path):
    with pytest.raises(FqssError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, expected", [
    ("model:\n  n_filters: [64\n", "invalid YAML"),
    ("model:\n  n_filters: 64\n  n_filters: 128\n", "duplicate key 'n_filters'"),
    ("", "config file is empty"),
], ids=["syntax", "duplicate", "empty"])
def test_invalid_yaml(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_partial_config_and_float_exponent(tmp_path):
    cfg = load_config(write(tmp_path, "train:\n  lr: 1e-4\ndata:\n"))
    assert cfg.train.lr == 1e-4 and cfg.model == ConvTasNetConfig()


def test_relative_data_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg = load_config(write(tmp_path / "sub", "data:\n  train: ../wsj/tr\n  test: /abs/tt\n"))
    assert cfg.data.train == str((tmp_path / "wsj" / "tr").resolve())
    assert cfg.data.test == "/abs/tt" and cfg.data.valid is None


def test_round_trip(tmp_path):
    cfg = load_config(REPO / "configs" / "convtasnet_tiny.yaml")
    dumped = dump_config(cfg)
    assert dumped == cfg.model_dump()
    assert parse_config(dumped) == cfg
    import yaml

    again = load_config(write(tmp_path, yaml.safe_dump(dumped)))
    assert again == cfg


def test_a_late_field_at_its_default_is_left_out_of_the_dump():
    """``block_act`` came after checkpoints and exports recorded Conv-TasNet configs: at its default it is not
    dumped (their saved configs and fingerprints stay as they were, ``tests/models/test_convtasnet.py``); set to
    something else it is, and it loads back."""
    assert ConvTasNetConfig.late_fields == ("block_act",)
    assert "block_act" not in ConvTasNetConfig().model_dump()
    assert "block_act" not in RunConfig().model_dump(mode="json")["model"]
    relu = ConvTasNetConfig(block_act="relu")
    assert relu.model_dump()["block_act"] == "relu"
    assert ConvTasNetConfig.model_validate(relu.model_dump()) == relu
    cfg = RunConfig.model_validate({"model": {"name": "convtasnet", "block_act": "relu"}})
    assert RunConfig.model_validate(cfg.model_dump(mode="json")).model.block_act == "relu"


def test_assignment_is_validated():
    cfg = RunConfig()
    with pytest.raises(ValueError):
        cfg.model.kernel_size = 0
