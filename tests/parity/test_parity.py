"""Parity: run_parity on a tiny generated data folder, the per-layer search for the first diverging layer, the
CLI (export + parity, --json), and one-line errors for corrupt or non-QDQ models."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.parity import ParityReport, run_parity
from fqss_edge.parity.metrics import DiffAccumulator
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, save_random_checkpoint, write_random_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("parity")
    ckpt = save_random_checkpoint(d / "fqss.safetensors", TINY_MODEL, FQSS_QUANT)
    onnx_path = export_checkpoint(ckpt, d / "exported").path
    data = write_random_dataset(d / "data", n_utts=2, seconds=0.2)
    return d, ckpt, onnx_path, data


def test_run_parity_reports_every_runtime_and_output(setup):
    d, ckpt, onnx_path, data = setup
    report = run_parity(ckpt, [onnx_path], data)
    assert isinstance(report, ParityReport) and report.n_utts == 2 and report.lsb == 1 / 32768
    assert [r.runtime for r in report.runtimes] == ["onnxruntime[opt=off]", "onnxruntime[opt=all]"]
    for rt in report.runtimes:
        assert [o.output for o in rt.outputs] == ["s1", "s2"]
        assert rt.overall.max_lsb <= 1 and rt.overall.pct_within_1lsb == 100.0
        assert abs(rt.overall.delta_si_sdr_db) < 0.1
    d = json.loads(report.to_json())
    assert set(d["runtimes"][0]["outputs"][0]) == {"output", "max_lsb", "mean_lsb", "pct_exact", "pct_within_1lsb",
                                                   "sqnr_db", "delta_si_sdr_db"}
    md = report.to_markdown()
    assert "| onnxruntime[opt=all] | s2 |" in md and "ΔSI-SDR" in md
    # SQNR between every pair of runtimes: the pytorch row against a runtime is that runtime's overall SQNR
    pw = report.pairwise_sqnr_db
    assert list(pw) == ["pytorch", "onnxruntime[opt=off] model.onnx", "onnxruntime[opt=all] model.onnx"]
    for rt in report.runtimes:
        assert pw["pytorch"][f"{rt.runtime} model.onnx"] == pytest.approx(rt.overall.sqnr_db, abs=0.05)
    assert "SQNR between runtimes" in md
    assert json.loads(report.to_json())["pairwise_sqnr_db"]["pytorch"]


def test_pairwise_sqnr_matrix():
    from fqss_edge.parity.runner import PairwiseSqnr

    p = PairwiseSqnr(["a", "b", "c"])
    x = np.ones((2, 100))
    p.add([x, x, x + 0.01])
    m = p.matrix()
    assert m["a"]["b"] == float("inf") and m["a"]["c"] == pytest.approx(40.0) and "a" not in m["a"]


def test_per_layer_names_the_first_diverging_layer(setup):
    d, ckpt, onnx_path, data = setup
    proto = onnx.load(str(onnx_path))
    name = "masker.blocks.1.dw_conv.weight"
    (init,) = [i for i in proto.graph.initializer if i.name == name]
    w = numpy_helper.to_array(init).copy()
    w[:, 0, :] = -w[:, 0, :]  # a wrong weight in one layer
    init.CopyFrom(numpy_helper.from_array(w, name))
    # as an exporter bug would write it: the integrity hash is of the wrong weights (else loading refuses it)
    from fqss_edge.fingerprint import ONNX_WEIGHTS_KEY, onnx_weights_sha256

    for p in proto.metadata_props:
        if p.key == ONNX_WEIGHTS_KEY:
            p.value = onnx_weights_sha256(proto)
    broken = d / "broken.onnx"
    onnx.save(proto, str(broken))
    report = run_parity(ckpt, [onnx_path, broken], data, max_utts=1, per_layer=True)
    good_off, good_all, broken_off, broken_all = report.runtimes
    assert good_off.first_divergent_layer is None and good_all.layers
    for rt in (broken_off, broken_all):
        assert rt.first_divergent_layer == "masker.blocks.1.dw_conv.out_quant"
        assert rt.first_different_layer == "masker.blocks.1.dw_conv.out_quant"
    assert "first layer off by more than 1 LSB: `masker.blocks.1.dw_conv.out_quant`" in report.to_markdown()


def test_diff_accumulator_counts_lsbs():
    acc = DiffAccumulator(lsb=0.5)
    acc.add(np.array([0.0, 0.5, 1.0, 3.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    assert (acc.max_lsb, acc.mean_lsb, acc.pct_exact, acc.pct_within_1lsb) == (4.0, 1.25, 50.0, 75.0)
    same = DiffAccumulator(lsb=1.0)
    same.add(np.ones(3), np.ones(3))
    assert same.sqnr_db == float("inf")


def _cli():
    from fqss_edge.cli.main import app

    return CliRunner(), app


def test_cli_export_then_parity_json(setup):
    d, ckpt, _, data = setup
    runner, app = _cli()
    out = d / "cli"
    res = runner.invoke(app, ["export", str(ckpt), "--int8", "--format", "onnx", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "model.onnx").is_file()
    res = runner.invoke(app, ["parity", str(ckpt), str(out / "model.onnx"), "--data", str(data), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["n_utts"] == 2 and len(report["runtimes"]) == 2


def test_cli_passes_the_metric_and_its_workers_on(setup, monkeypatch):
    import fqss_edge.parity
    from fqss_edge.cli.main import main

    d, ckpt, onnx_path, data = setup
    seen = {}

    def run_parity_spy(*args, **kwargs):
        seen.update(kwargs)
        raise FqssError("spied")

    monkeypatch.setattr(fqss_edge.parity, "run_parity", run_parity_spy)
    args = ["parity", str(ckpt), str(onnx_path), "--data", str(data), "--metric", "museval"]
    assert main([*args, "--metric-jobs", "3"]) == 2
    assert seen["metric"] == "museval" and seen["metric_jobs"] == 3
    assert main([*args, "--metric-jobs", "0"]) == 2  # refused by the option's bound


def test_cli_help_has_examples():
    runner, app = _cli()
    for cmd in ("export", "parity"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Examples" in res.output and f"fqss-edge {cmd}" in res.output


@pytest.mark.parametrize("kind", ["corrupt", "float"])
def test_corrupt_or_non_qdq_onnx_is_a_one_line_error(setup, capsys, kind):
    from fqss_edge.cli.main import main

    d, ckpt, _, data = setup
    if kind == "corrupt":
        model = d / "corrupt.onnx"
        model.write_bytes(b"not an onnx file at all")
        expected = "not a readable ONNX model"
    else:
        model = export_checkpoint(ckpt, d / "float", quantized=False).path
        expected = "not a QDQ model"
    assert main(["parity", str(ckpt), str(model), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and str(model) in err


def test_per_layer_for_litert_reference_and_builtin_kernels(setup):
    from fqss_edge.export.tflite import export as export_tflite

    d, ckpt, onnx_path, data = setup
    tflite = d / "model.tflite"
    export_tflite(onnx_path, tflite)
    report = run_parity(ckpt, [onnx_path, tflite], data, max_utts=1, per_layer=True)
    by_name = {rt.runtime: rt for rt in report.runtimes}
    assert by_name["litert-xnnpack"].layers is None  # XNNPACK keeps its tensors inside the delegate
    onnx_names = [lay.layer for lay in by_name["onnxruntime[opt=off]"].layers]
    for kernels in ("litert-ref", "litert-builtin"):
        rt = by_name[kernels]
        names = [lay.layer for lay in rt.layers]
        # the quantized ONNX tensors, but for conv outputs whose activation the .tflite fuses (encoder + ReLU), the
        # last block's unused residual branch (pruned) and the decoder outputs inside the int16 output reconstruction
        missing = set(onnx_names) - set(names)
        assert "encoder.out_quant" in missing and len(names) >= 0.9 * len(onnx_names), missing
        assert not missing & {n for n in onnx_names if n.startswith(("masker.norm.", "masker.blocks.0."))}
        assert not any(lay.shape_mismatch for lay in rt.layers)  # the NHWC tensors come back in the ONNX layout
        assert rt.layers[0].layer == "input" and rt.layers[0].max_lsb == 0  # the PCM bytes, exactly
        # TFLite's fixed-point requantization rounds a few values differently from the simulation, by one code
        first = rt.layers[1]
        assert first.max_lsb <= 2 and first.pct_exact > 99.0, first
        assert f"**{kernels}** (`model.tflite`) per layer" in report.to_markdown()


def test_litert_intermediates_refuse_xnnpack(setup):
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite import export as export_tflite
    from fqss_edge.runtimes import open_backend

    d, _, onnx_path, _ = setup
    export_tflite(onnx_path, d / "xnn.tflite")
    be = open_backend(d / "xnn.tflite", kernels="xnnpack")
    assert not be.intermediates_available
    with pytest.raises(FqssError, match="XNNPACK keeps its tensors inside the delegate"):
        be.intermediates(np.zeros(800, np.float32))


def test_museval_metric_scores_each_distinct_output_once(monkeypatch):
    """museval costs seconds per track: an output bit-identical to one already scored on that track reuses its
    score; any other output (or another track) is scored; the aggregate is the median over tracks."""
    from types import SimpleNamespace

    import fqss_edge.music_metrics as mm
    from fqss_edge.parity.metrics import parity_metric

    calls = []
    monkeypatch.setattr(mm, "score_track", lambda est, ref, names, rate, track: calls.append(track) or est)
    monkeypatch.setattr(mm, "track_medians", lambda est: {n: {"SDR": float(est[i].sum())} for i, n in
                                                          enumerate(["a", "b"])})
    metric = parity_metric("museval", SimpleNamespace(audio_channels=2, source_names=("a", "b"), sample_rate=8))
    y, ref = np.ones((4, 8)), np.zeros((4, 8))
    assert list(metric.score(y, ref, "t1")) == [8.0, 8.0] and calls == ["t1"]
    metric.score(y.copy(), ref, "t1")
    assert calls == ["t1"]  # same bytes, same track: not scored again
    metric.score(y, ref, "t2")
    metric.score(y + 1, ref, "t1")
    assert calls == ["t1", "t2", "t1"]
    assert list(metric.aggregate(np.array([[1.0, 5.0], [2.0, np.nan], [9.0, 7.0]]))) == [2.0, 6.0]
    with pytest.raises(FqssError, match="unknown parity metric 'pesq'"):
        parity_metric("pesq", None)


def test_parity_museval_on_the_music_fixture(tmp_path, monkeypatch):
    """``--metric museval`` on the rendered stems: the simulation's figure per stem is the metric's median over
    tracks of its own estimates, each runtime's ΔSDR its figure minus that. museval itself is replaced by an SNR
    per stem here (a real BSSEval v4 call costs one 4096 x 4096 solve per stem: minutes on a loaded CPU; that
    ``score_track`` equals museval's own numbers is tests/test_music_metrics.py's job)."""
    from pathlib import Path

    import fqss_edge.music_metrics as mm
    from fqss_edge.data import open_dataset
    from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, smoke_model
    from fqss_edge.runtimes.torch_backend import TorchBackend

    stems = ["drums", "bass", "other", "vocals"]

    def snr(est, ref, names, rate, track):
        e, r = est.reshape(len(names), -1), ref.reshape(len(names), -1)
        return {n: {"SDR": float(10 * np.log10(np.sum(r[i] ** 2) / np.sum((e[i] - r[i]) ** 2)))}
                for i, n in enumerate(names)}

    monkeypatch.setattr(mm, "score_track", snr)
    monkeypatch.setattr(mm, "track_medians", lambda store: store)
    ck = save_random_checkpoint(tmp_path / "ck.safetensors", smoke_model("convtasnet", n_src=4, audio_channels=2,
                                sample_rate=44100, source_names=stems), FQSS_QUANT_NORM8, sample_rate=44100)
    onnx_path = export_checkpoint(ck, tmp_path / "exported").path
    fixture = Path(__file__).parents[1] / "assets" / "music"
    report = run_parity(ck, [onnx_path], fixture, metric="museval")
    assert report.metric == "museval SDR" and "Δmuseval SDR dB" in report.to_markdown()
    mix, sources, track = open_dataset(fixture, "test", 44100, 4, None, 0)[0]
    expected = snr(TorchBackend().load(ck).run(mix.numpy()), sources.numpy(), stems, 44100, track)
    assert report.reference_si_sdr_db == pytest.approx({n: v["SDR"] for n, v in expected.items()})
    for rt in report.runtimes:
        assert [o.output for o in rt.outputs] == stems and abs(rt.overall.delta_si_sdr_db) <= 0.05, rt
