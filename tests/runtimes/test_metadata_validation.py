"""Values read from files are validated before use: hand-edited checkpoint configs, ONNX / TFLite export metadata
and foreign models with copied metadata give one line naming the file and the key (exit 2), never a traceback or
an allocation sized by the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fqss_edge.cli.main import main
from fqss_edge.config import parse_config
from fqss_edge.errors import FqssError
from fqss_edge.models.size import MAX_PARAMETERS, check_model_size
from fqss_edge.runtimes import open_backend
from tests.app_models import tiny_models  # noqa: F401
from tests.tampering import edited_checkpoint, edited_onnx, edited_tflite, one_operator_tflite, with_metadata_of


def _set(*path_and_value):
    *path, key, value = path_and_value

    def mutate(d):
        for p in path:
            d = d[p]
        if value is ...:
            d.pop(key)
        else:
            d[key] = value
    return mutate


CHECKPOINT_CASES = {
    "n_filters -5": (_set("model", "n_filters", -5), "model.n_filters: must be > 0"),
    "n_filters 1e11": (_set("model", "n_filters", 10**11), "model.n_filters: input should be less than or equal"),
    "stride 0": (_set("model", "stride", 0), "model.stride: must be > 0"),
    "kernel 1e12": (_set("model", "kernel_size", 10**12), "model.kernel_size: input should be less than or equal"),
    "sample rate -8000": (_set("model", "sample_rate", -8000), "model.sample_rate: must be > 0"),
    "n_blocks 60": (_set("model", "n_blocks", 60), "model.n_blocks: input should be less than or equal to 24"),
    "ema nan": (_set("quant", "ema_alpha", float("nan")), "quant.ema_alpha: must be in [0, 1)"),
    "model a string": (_set("model", "x"), "model: input should be a valid dictionary"),
}

TFLITE_CASES = {
    "stride 0": (_set("length", "multiple_of", 0), "length.multiple_of: input should be greater than or equal to 1"),
    "kernel 1e12": (_set("length", "min", 10**12), "length.min: input should be less than or equal to 65536"),
    "negative sample rate": (_set("sample_rate", -8000), "sample_rate: input should be greater than or equal to 1"),
    "missing input": (_set("input", ...), "input: field required"),
    "source name is a path": (_set("source_names", ["../../etc/x", "s2"]), "source_names.0: string should match"),
    "n_src 10**9": (_set("n_src", 10**9), "n_src: input should be less than or equal to 64"),
    "sample rate a string": (_set("sample_rate", "8k"), "sample_rate: input should be a valid integer"),
    "names do not match n_src": (_set("source_names", ["a", "b", "c"]), "source_names: 3 names for n_src 2"),
    "not ours": (_set("format", "x"), "format: input should be 'fqss-edge-tflite'"),
}

ONNX_CASES = {
    "stride 0": (_set("fqss.io_contract", "stride", 0), "fqss.io_contract: stride: input should be greater"),
    "kernel 1e12": (_set("fqss.io_contract", "kernel_size", 10**12), "fqss.io_contract: kernel_size: input should "
                                                                     "be less than or equal"),
    "negative rate": (_set("fqss.io_contract", "sample_rate", -1), "fqss.io_contract: sample_rate: input should"),
    "lsb inf": (_set("fqss.io_contract", "output_lsb", float("inf")), "output_lsb: must be a finite number > 0"),
    "not JSON": (_set("fqss.io_contract", "{nope"), "fqss.io_contract: not valid JSON"),
    "other input name": (_set("fqss.io_contract", "input_name", "x"), "metadata copied from another model?"),
    "n_src 3": (lambda m: m["fqss.io_contract"].update(n_src=3, source_names=["a", "b", "c"]),
                "the graph outputs 2 sources, its metadata says n_src 3; metadata copied from another model?"),
}


def cli_error(args: list[str], capsys) -> str:
    """Exit 2 and one error line, the last on stderr (bench prints its progress there before it)."""
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in err, err
    assert len(lines) == 1 or (args[0] == "bench" and len(lines) == 2), err
    return lines[-1]


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_edited_checkpoint_config_is_named(case, tiny_models, tmp_path, capsys):  # noqa: F811
    mutate, expected = CHECKPOINT_CASES[case]
    ckpt = edited_checkpoint(tiny_models["checkpoint"], tmp_path / "edited.safetensors", mutate)
    err = cli_error(["export", str(ckpt), "-o", str(tmp_path / "out")], capsys)
    assert f"{ckpt} (embedded config): {expected}" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", list(TFLITE_CASES))
def test_edited_tflite_metadata_is_named(case, tiny_models, tmp_path, capsys):  # noqa: F811
    mutate, expected = TFLITE_CASES[case]
    model = edited_tflite(tiny_models["tflite"], tmp_path / "edited.tflite", mutate)
    for command in (["info", str(model)], ["bench", str(model), "--runs", "1", "--warmup", "0"]):
        assert f"{model}: fqss_edge metadata: {expected}" in cli_error(command, capsys)


@pytest.mark.parametrize("case", list(ONNX_CASES))
def test_edited_onnx_metadata_is_named(case, tiny_models, tmp_path, capsys):  # noqa: F811
    mutate, expected = ONNX_CASES[case]
    model = edited_onnx(tiny_models["onnx"], tmp_path / "edited.onnx", mutate)
    assert f"{model}: " in cli_error(["info", str(model)], capsys)
    with pytest.raises(FqssError, match=expected.replace("?", r"\?").replace("(", r"\(")):
        open_backend(model)


@pytest.mark.parametrize("names", [("pcm", "sources"), ("mixture", "sources")], ids=["other names", "same names"])
def test_foreign_tflite_with_copied_metadata_is_refused(names, tiny_models, tmp_path, capsys):  # noqa: F811
    """A one-operator model carrying our metadata: refused on load (parity, separate, bench), one line."""
    foreign = with_metadata_of(one_operator_tflite(tmp_path / "one.tflite", *names), tiny_models["tflite"],
                               tmp_path / "foreign.tflite")
    data = tmp_path / "data"
    (data / "mix").mkdir(parents=True)
    args = ["parity", str(tiny_models["checkpoint"]), str(foreign), "--data", str(data)]
    assert "metadata copied from another model?" in cli_error(args, capsys)


def test_one_operator_tflite_without_metadata_is_refused(tmp_path, capsys):
    model = one_operator_tflite(tmp_path / "one.tflite")
    assert "no 'fqss_edge' metadata" in cli_error(["bench", str(model), "--runs", "1"], capsys)


def test_config_sizes_are_bounded():
    with pytest.raises(FqssError, match=r"^x.yaml: model.hid_chan: input should be less than or equal to 65536"):
        parse_config({"model": {"hid_chan": 10**6}}, "x.yaml")
    big = parse_config({"model": {"n_filters": 65536, "bn_chan": 65536}}, "x.yaml").model
    with pytest.raises(FqssError, match=rf"^x.yaml: the model config describes [\d,]+ M parameters .* at most "
                                        rf"{MAX_PARAMETERS // 10**6} M"):
        check_model_size(big, "x.yaml")


def test_a_huge_model_config_file_is_refused_before_allocating(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text("model:\n  n_filters: 65536\n  hid_chan: 65536\n")
    assert f"{path}: the model config describes" in cli_error(["train", "--config", str(path), "-o",
                                                               str(tmp_path / "run")], capsys)


@pytest.mark.parametrize("value", ["nan", ".nan", ".inf", "-.inf", "0", "-1e-3"])
def test_non_finite_or_non_positive_lr_is_refused(tmp_path, value):
    path = tmp_path / "run.yaml"
    path.write_text(f"train:\n  lr: {value}\n")
    from fqss_edge.config import load_config

    with pytest.raises(FqssError, match=rf"^{path}: train.lr: "):
        load_config(path)
