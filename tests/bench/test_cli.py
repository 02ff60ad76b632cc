"""``fqss-edge bench`` end to end on tiny models, and its one-line errors (exit status 2)."""

from __future__ import annotations

import csv
import json
import socket

import pytest

from fqss_edge.cli.main import main

FAST = ["--runs", "3", "--warmup", "1", "--chunk", "0.5"]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str) -> str:
    """Exit status 2 and one ``error:`` line (after any ``...`` progress lines), no traceback."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip() and not ln.startswith("... ")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_help_has_examples(capsys):
    code, out, _ = run_cli(["bench", "--help"], capsys)
    assert code == 0 and "Examples" in out and "fqss-edge bench" in out
    for opt in ("--device", "--threads", "--chunk", "--warmup", "--runs", "--min-secs", "--no-xnnpack",
                "--op-profile", "--json", "--md", "--host", "--emulate", "--ssh-port", "--ssh-key", "--remote-python"):
        assert opt in out


def test_side_by_side_json(tiny, capsys):
    code, out, _ = run_cli(["bench", tiny.tflite, tiny.onnx_int8, tiny.onnx_float, tiny.ckpt, "--json", *FAST],
                           capsys)
    assert code == 0
    d = json.loads(out)
    labels = [r["label"] for r in d["results"]]
    assert labels == ["int8.tflite", "int8.onnx", "float.onnx", "tiny.safetensors"]
    kinds = [r["kind"] for r in d["results"]]
    assert kinds == ["tflite", "onnx", "onnx", "pytorch"]
    for r in d["results"]:
        assert r["latency_ms"]["n"] == 3 and r["rtf"] > 0 and r["file_bytes"] > 0 and r["threads"] == 1
        assert r["memory"]["peak_mb"] > 0 and r["samples"] == 4000
    assert d["results"][0]["xnnpack"] is True and d["results"][0]["delegation"]["partitions"] >= 1
    assert d["results"][1]["xnnpack"] is None
    assert d["results"][0]["ratios_vs_first"]["latency"] == pytest.approx(1.0)
    assert any("VmHWM" in c for c in d["caveats"])
    # the interpreter the LiteRT backend runs (here ai-edge-litert; tflite_runtime where only it is installed)
    assert d["environment"]["litert_module"] == "ai_edge_litert" and d["environment"]["litert_version"]


def test_int8_speed_note_is_a_caveat_where_int8_is_not_faster_on_a_cpu_without_dot_products(tiny, capsys):
    """An int8 and a float32 .tflite in one local run: the report carries ``int8_speed_note`` exactly when the int8
    one was not faster and this CPU lacks int8 dot products (on this project's CI host, AVX2 only, it does)."""
    from fqss_edge.bench.report import has_int8_dot_product
    from fqss_edge.export.tflite import export as export_tflite

    flt = tiny.dir / "float32.tflite"
    if not flt.exists():
        export_tflite(tiny.onnx_float, flt, precision="float32")
    code, out, _ = run_cli(["bench", tiny.tflite, flt, "--json", "--no-memory", *FAST], capsys)
    assert code == 0
    d = json.loads(out)
    int8, f32 = (r["latency_ms"]["mean"] for r in d["results"])
    expected = int8 >= f32 and not has_int8_dot_product(d["environment"]["cpu_simd"])
    notes = [c for c in d["caveats"] if c.startswith("The int8 .tflite takes")]
    assert len(notes) == expected, (int8, f32, d["caveats"])


def test_markdown_with_torch_float_and_no_xnnpack(tiny, capsys):
    code, out, _ = run_cli(["bench", tiny.tflite, tiny.ckpt, "--md", "--no-xnnpack", "--torch-float", "--no-memory",
                            "--threads", "2", *FAST], capsys)
    assert code == 0
    assert "| metric | int8.tflite | tiny.safetensors |" in out
    assert "| XNNPACK | off | n/a |" in out and "| threads | 2 | 2 |" in out
    assert "pytorch-float / pytorch-float" in out and "litert-builtin" in out


def test_op_profile_csvs(tiny, tmp_path, capsys):
    out_csv = tmp_path / "prof.csv"
    code, out, _ = run_cli(["bench", tiny.onnx_int8, tiny.tflite, "--op-profile", out_csv, "--no-memory", *FAST],
                           capsys)
    assert code == 0 and "per-operator profile" in out
    with (tmp_path / "prof.int8.onnx.csv").open() as f:
        assert next(csv.DictReader(f))["op_type"]
    with (tmp_path / "prof.int8.tflite.csv").open() as f:
        assert next(csv.DictReader(f))["op"]


def test_unknown_device(tiny, capsys):
    line = one_line_error(*run_cli(["bench", tiny.tflite, "--device", "pi4"], capsys)[::2])
    assert "unknown device 'pi4'" in line


def test_wrong_arch_device_without_host(tiny, capsys):
    from fqss_edge.bench.devices import host_arch

    if host_arch() == "aarch64":
        pytest.skip("this host is aarch64: the rpi4 profile runs here")
    line = one_line_error(*run_cli(["bench", tiny.tflite, "--device", "rpi4"], capsys)[::2])
    assert "--host" in line and "--emulate" in line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host(tiny, capsys):
    port = _free_port()  # nothing listens there
    line = one_line_error(*run_cli(["bench", tiny.tflite, "--host", "root@127.0.0.1", "--ssh-port", port], capsys)[::2])
    assert f"unreachable host root@127.0.0.1 port {port}" in line


@pytest.mark.parametrize("name,content", [("broken.tflite", b"TFL3 garbage"), ("broken.onnx", b"\x00\x01garbage"),
                                          ("broken.safetensors", b"garbage")])
def test_model_that_does_not_load(tmp_path, capsys, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    line = one_line_error(*run_cli(["bench", p, "--no-memory", *FAST], capsys)[::2])
    assert name in line


def test_missing_model_and_unknown_suffix(tmp_path, capsys):
    line = one_line_error(*run_cli(["bench", tmp_path / "nope.tflite"], capsys)[::2])
    assert "nope.tflite: no such model file" in line
    (tmp_path / "m.bin").write_bytes(b"x")
    assert "cannot benchmark '.bin'" in one_line_error(*run_cli(["bench", tmp_path / "m.bin"], capsys)[::2])


def test_remote_and_emulated_runs_take_tflite_only(tiny, capsys):
    line = one_line_error(*run_cli(["bench", tiny.onnx_int8, "--emulate"], capsys)[::2])
    assert "int8.onnx" in line and ".tflite models only" in line
