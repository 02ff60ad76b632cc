"""fqss_edge.data.folder and open_dataset's layout detection on a tiny mix/ s1/ s2/ folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from fqss_edge.data import FolderDataset, open_dataset
from fqss_edge.audio import PEAK
from fqss_edge.errors import FqssError

SR = 8000
LENGTHS = {"utt_a": 8000, "utt_b": 6000, "utt_c": 2000}


def make_folder(root: Path, sr: int = SR, loud: bool = False) -> dict[str, np.ndarray]:
    """Sources [2, T] per name, written as float wavs (mix = s1 + s2) so that values survive exactly."""
    rng = np.random.default_rng(0)
    out = {}
    for name, n in LENGTHS.items():
        n = n * sr // SR
        src = rng.uniform(-0.4, 0.4, size=(2, n)).astype(np.float32) * (5.0 if loud and name == "utt_a" else 1.0)
        for sub, x in (("mix", src.sum(0)), ("s1", src[0]), ("s2", src[1])):
            (root / sub).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / sub / f"{name}.wav"), x, sr, subtype="FLOAT")
        out[name] = src
    return out


def test_full_utterances(tmp_path: Path, raw_levels) -> None:
    srcs = make_folder(tmp_path)
    ds = FolderDataset(tmp_path, SR, n_src=2)
    assert len(ds) == 3
    for i, name in enumerate(sorted(LENGTHS)):
        mix, sources, utt = ds[i]
        assert utt == name and mix.dtype == torch.float32 and sources.dtype == torch.float32
        assert mix.shape == (LENGTHS[name],) and sources.shape == (2, LENGTHS[name])
        np.testing.assert_allclose(sources.numpy(), srcs[name], atol=1e-7)
        np.testing.assert_allclose(mix.numpy(), srcs[name].sum(0), atol=1e-6)


def test_loud_mixture_is_scaled_with_its_sources(tmp_path: Path, raw_levels) -> None:
    srcs = make_folder(tmp_path, loud=True)
    mix, sources, _ = FolderDataset(tmp_path, SR)[0]
    assert mix.abs().max().item() == pytest.approx(PEAK, abs=1e-6)
    g = PEAK / np.abs(srcs["utt_a"].sum(0)).max()
    np.testing.assert_allclose(sources.numpy(), srcs["utt_a"] * g, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mix, sources.sum(0), atol=1e-5, rtol=0)


def test_segments_crop_pad_and_repeat(tmp_path: Path, raw_levels) -> None:
    srcs = make_folder(tmp_path)
    ds = FolderDataset(tmp_path, SR, segment_seconds=0.5, seed=3)
    ds.set_epoch(0)
    mix, sources, _ = ds[0]
    assert mix.shape == (4000,) and sources.shape == (2, 4000)
    full = srcs["utt_a"]
    starts = [s for s in range(full.shape[1] - 4000 + 1) if np.allclose(full[0, s:s + 4000], sources[0].numpy())]
    assert len(starts) == 1  # a contiguous window of the utterance ...
    np.testing.assert_allclose(sources[1].numpy(), full[1, starts[0]:starts[0] + 4000])  # ... the same for all
    torch.testing.assert_close(ds[0][0], mix)  # same (seed, epoch, index): same crop
    crops = set()
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        crops.add(ds[0][0][:8].sum().item())
    assert len(crops) > 1  # crops move between epochs
    short_mix, short_src, _ = ds[2]  # 2000 samples: zero-padded, not dropped
    assert short_mix.shape == (4000,) and (short_src[:, 2000:] == 0).all()
    np.testing.assert_allclose(short_src[:, :2000].numpy(), srcs["utt_c"])


def test_batches_through_dataloader(tmp_path: Path) -> None:
    make_folder(tmp_path)
    loader = DataLoader(FolderDataset(tmp_path, SR, segment_seconds=0.25), batch_size=3)
    mix, sources, ids = next(iter(loader))
    assert mix.shape == (3, 2000) and sources.shape == (3, 2, 2000) and list(ids) == sorted(LENGTHS)


def test_other_rate_is_an_error_naming_the_file(tmp_path: Path) -> None:
    make_folder(tmp_path, sr=16000)
    with pytest.raises(FqssError, match=r"mix/utt_\w+\.wav: sample rate 16000 Hz, expected 8000 Hz"):
        FolderDataset(tmp_path, SR)


def test_missing_source_file_is_named(tmp_path: Path) -> None:
    make_folder(tmp_path)
    (tmp_path / "s2" / "utt_b.wav").unlink()
    with pytest.raises(FqssError, match="utt_b.wav: no such file"):
        FolderDataset(tmp_path, SR)


def test_bad_wav_in_folder_is_named(tmp_path: Path) -> None:
    make_folder(tmp_path)
    sf.write(str(tmp_path / "s1" / "utt_b.wav"), np.array([0.0, np.nan], dtype=np.float32), SR, subtype="FLOAT")
    ds = FolderDataset(tmp_path, SR)
    with pytest.raises(FqssError, match="utt_b.wav: audio contains NaN"):
        ds[1]


def test_open_dataset_detects_folder_and_split_subfolder(tmp_path: Path) -> None:
    make_folder(tmp_path / "test")
    for path in (tmp_path / "test", tmp_path):
        ds = open_dataset(path, "test", SR, 2, None, 0)
        assert isinstance(ds, FolderDataset) and len(ds) == 3


@pytest.mark.parametrize(("make", "message"), [
    (None, "no such data folder"),
    (lambda p: p.mkdir(), "not a recognised data layout"),
    (lambda p: (p / "mix").mkdir(parents=True), "not a recognised data layout"),
], ids=["missing", "empty-dir", "mix-only"])
def test_open_dataset_errors(tmp_path: Path, make, message: str) -> None:
    p = tmp_path / "data"
    if make is not None:
        make(p)
    with pytest.raises(FqssError, match=message) as err:
        open_dataset(p, "train", SR, 2, 3.0, 0)
    assert str(err.value).startswith(f"{p}: ")


def test_folder_without_wavs(tmp_path: Path) -> None:
    for d in ("mix", "s1", "s2"):
        (tmp_path / d).mkdir()
    with pytest.raises(FqssError, match="no .wav files"):
        open_dataset(tmp_path, "train", SR, 2, None, 0)


def test_items_are_normalised_to_full_scale(tmp_path: Path) -> None:
    """FQSS feeds the model full-scale input: every mixture peaks at 0.9, sources scaled alike."""
    srcs = make_folder(tmp_path)
    for i, name in enumerate(sorted(LENGTHS)):
        mix, sources, _ = FolderDataset(tmp_path, SR)[i]
        g = 0.9 / np.abs(srcs[name].sum(0)).max()
        assert mix.abs().max().item() == pytest.approx(0.9, abs=1e-6)
        np.testing.assert_allclose(sources.numpy(), srcs[name] * g, rtol=1e-5, atol=1e-6)
