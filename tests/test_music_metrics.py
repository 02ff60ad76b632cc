"""``fqss-edge eval --metric museval`` against the museval package's own evaluation of the same estimates
(``museval.eval_dir`` on the estimates and references written as float WAV files)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from fqss_edge.cli.main import main
from fqss_edge.data import open_dataset
from fqss_edge.models.io import load_model
from fqss_edge.music_metrics import METRICS, median_over_tracks
from fqss_edge.music_report import MusevalReport
from fqss_edge.parity.synthetic import save_random_checkpoint, smoke_model

try:
    import museval
except (ImportError, RuntimeError) as e:  # RuntimeError: musdb's stempeg finds no ffmpeg
    pytest.skip(f"museval not usable: {e}", allow_module_level=True)

FIXTURE = Path(__file__).parent / "assets" / "music"
STEMS = ["drums", "bass", "other", "vocals"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = smoke_model("convtasnet", n_src=4, audio_channels=2, source_names=STEMS)
    return save_random_checkpoint(tmp_path_factory.mktemp("ck") / "music.safetensors", model, None,
                                  sample_rate=44100)


def _cli(*args) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([str(a) for a in args])
    return code, buf.getvalue()


def test_eval_museval_equals_museval_on_the_same_estimates(checkpoint, tmp_path):
    code, out = _cli("eval", checkpoint, "--data", FIXTURE, "--metric", "museval", "--json", "-o", tmp_path / "json")
    assert code == 0
    report = json.loads(out)
    model = load_model(checkpoint).model
    ds = open_dataset(FIXTURE, "test", 44100, 4, None, 0)
    theirs = {}
    for mix, ref, track in (ds[i] for i in range(len(ds))):
        with torch.no_grad():
            est = model(mix[None])[0].numpy()
        for kind, x in (("references", ref.numpy()), ("estimates", est)):
            for k, stem in enumerate(STEMS):
                d = tmp_path / kind / track
                d.mkdir(parents=True, exist_ok=True)
                sf.write(str(d / f"{stem}.wav"), x[2 * k:2 * k + 2].T, 44100, subtype="FLOAT")
        store = museval.eval_dir(str(tmp_path / "references" / track), str(tmp_path / "estimates" / track))
        theirs[track] = {t["name"].removesuffix(".wav"): {m: float(np.nanmedian([f["metrics"][m] for f in t["frames"]]))
                                                          for m in METRICS} for t in store.scores["targets"]}
        ours_json = json.loads((tmp_path / "json" / f"{track}.json").read_text())  # museval's TrackStore format
        assert [t["name"] for t in ours_json["targets"]] == STEMS
        assert len(ours_json["targets"][0]["frames"]) == mix.shape[-1] // 44100  # 1 s windows
    assert set(report["tracks"]) == set(theirs) == {"rendered test 00"}
    for track, stems in theirs.items():
        for stem, scores in stems.items():
            for m in METRICS:
                assert report["tracks"][track][stem][m] == pytest.approx(scores[m], abs=1e-6), (track, stem, m)
    assert report["median"] == median_over_tracks(list(report["tracks"].values()))


def test_museval_table_names_the_metric_and_the_aggregation():
    """The table alone (museval takes ~10-50 s per 4-stem track here: one evaluation per test at most)."""
    per_track = {"t": {s: {m: float(k) for m in METRICS} for k, s in enumerate(STEMS)}}
    out = " ".join(MusevalReport("ck", "fqss", 44100, per_track).table().split())
    assert "museval BSSEval v4" in out and "median over 1 s windows, then over tracks" in out
    assert all(s in out for s in STEMS) and "SI-SDR" not in out


def test_median_over_tracks_is_the_median_of_track_medians():
    tracks = [{"vocals": {m: v for m in METRICS}} for v in (1.0, 5.0, 2.0, float("nan"))]
    assert median_over_tracks(tracks)["vocals"]["SDR"] == 2.0
