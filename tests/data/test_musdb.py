"""MUSDB18-HQ layout (``fqss_edge.data.musdb``) on the shipped rendered fixture (``tests/assets/music``, built by
``scripts/build_music_fixture.py``): splits, item shapes, exact stems, remix augmentation, refused layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from fqss_edge.cli.main import main
from fqss_edge.config import load_config, shipped_config
from fqss_edge.data import MusdbDataset, open_dataset
from fqss_edge.data.musdb import STEMS, VALIDATION_TRACKS, split_tracks
from fqss_edge.errors import FqssError

FIXTURE = Path(__file__).parents[1] / "assets" / "music"


def test_fixture_stems_sum_exactly_to_the_mixture():
    tracks = sorted(FIXTURE.glob("*/*/mixture.flac"))
    assert len(tracks) == 3
    for mix_path in tracks:
        mix, rate = sf.read(str(mix_path), dtype="int16")
        stems = [sf.read(str(mix_path.parent / f"{s}.flac"), dtype="int16")[0].astype(np.int32) for s in STEMS]
        assert rate == 44100 and mix.shape[1] == 2
        assert np.array_equal(mix.astype(np.int32), sum(stems))
        assert all(np.sqrt(np.mean((s / 32768.0) ** 2)) > 0.01 for s in stems)  # no silent stem


def test_root_splits_and_items():
    """``--data ROOT``: train and valid from train/ (the last track held out: no standard validation track), test."""
    cfg = load_config(shipped_config("convtasnet_music_tiny")).with_data_root(FIXTURE)
    assert Path(cfg.data.train) == Path(cfg.data.valid) == FIXTURE.absolute() / "train"
    train = open_dataset(FIXTURE, "train", 44100, 4, 0.5, 0)
    valid = open_dataset(FIXTURE, "valid", 44100, 4, None, 0)
    test = open_dataset(FIXTURE, "test", 44100, 4, None, 0)
    assert [t.name for t in train.tracks] == ["rendered train 00"]
    assert [t.name for t in valid.tracks] == ["rendered train 01"]
    assert [t.name for t in test.tracks] == ["rendered test 00"]
    mix, src, name = valid[0]
    assert mix.shape == (2, 88200) and src.shape == (8, 88200) and name == "rendered train 01"
    assert float((src.view(4, 2, -1).sum(0) - mix).abs().max()) < 1e-6


def test_standard_validation_tracks_are_held_out(tmp_path):
    for name in ("Leaf - Summerghost", "a track", "b track"):
        shutil.copytree(FIXTURE / "train" / "rendered train 00", tmp_path / name)
    assert "Leaf - Summerghost" in VALIDATION_TRACKS
    assert [t.name for t in split_tracks(tmp_path, "valid")] == ["Leaf - Summerghost"]
    assert [t.name for t in split_tracks(tmp_path, "train")] == ["a track", "b track"]


def test_training_items_are_remixed_segments():
    ds = open_dataset(FIXTURE / "train", "train", 44100, 4, 0.5, seed=3)
    ds.set_epoch(1)
    mix, src, _ = ds[0]
    assert mix.shape == (2, 22050) and src.shape == (8, 22050)
    assert float((src.view(4, 2, -1).sum(0) - mix).abs().max()) < 1e-6  # the mixture is the sum of the stems
    again, _, _ = ds[0]
    assert torch.equal(mix, again)  # deterministic given (seed, epoch, index)
    ds.set_epoch(2)
    assert not torch.equal(mix, ds[0][0])


def test_a_model_at_another_rate_gets_resampled_audio():
    mix, src, _ = open_dataset(FIXTURE / "test", "test", 22050, 4, None, 0)[0]
    assert mix.shape == (2, 44100) and src.shape == (8, 44100)


def _broken(tmp_path: Path, change) -> Path:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    change(root / "train" / "rendered train 00")
    return root


def _mono(track: Path) -> None:
    x, sr = sf.read(str(track / "bass.flac"))
    sf.write(str(track / "bass.flac"), x[:, 0], sr)


def _rate(track: Path) -> None:
    x, _ = sf.read(str(track / "drums.flac"))
    sf.write(str(track / "drums.flac"), x, 48000)


@pytest.mark.parametrize("change, problem", [
    (lambda t: (t / "vocals.flac").unlink(), r"rendered train 00/vocals.wav: missing"),
    (_mono, r"bass.flac: 1 channel\(s\), MUSDB18-HQ is stereo"),
    (_rate, r"drums.flac: sample rate 48000 Hz, MUSDB18-HQ is 44100 Hz"),
], ids=["missing-stem", "mono", "rate"])
def test_bad_layouts_are_refused_naming_the_file(tmp_path, change, problem, capsys):
    root = _broken(tmp_path, change)
    with pytest.raises(FqssError, match=problem):
        MusdbDataset(root / "train", "train", 44100, 4, 0.5)
    code = main(["train", "-c", str(shipped_config("convtasnet_music_tiny")), "--data", str(root), "-o",
                 str(tmp_path / "run"), "--method", "float", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "rendered train 00" in err[0]
    assert not (tmp_path / "run" / "best.safetensors").exists()


def test_a_four_stem_set_needs_a_four_source_model():
    with pytest.raises(FqssError, match="4 stems"):
        open_dataset(FIXTURE, "test", 44100, 2, None, 0)
