"""fqss_edge.data.librimix on a tiny LibriMix-layout fixture (metadata CSVs with foreign absolute paths)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from torch.utils.data import DataLoader

from fqss_edge.data import LibriMixDataset, open_dataset
from fqss_edge.errors import FqssError

FOREIGN = "/home/someone/LibriMix"  # where the metadata was generated; does not exist here


def make_librimix(root: Path, rate: str = "wav8k", split: str = "dev", n: int = 3,
                  absolute: str = FOREIGN, n_src: int = 2) -> dict[str, np.ndarray]:
    """Write ``root/<rate>/min/<split>/{mix_clean,s1,s2}`` and its metadata CSV; return the sources per id."""
    sr = 8000 if rate == "wav8k" else 16000
    rng = np.random.default_rng(1)
    split_dir, meta = root / rate / "min" / split, root / rate / "min" / "metadata"
    meta.mkdir(parents=True, exist_ok=True)
    rows, out = [], {}
    for i in range(n):
        uid = f"{100 + i}-{i}-0000_{200 + i}-{i}-0001"
        length = sr // 2 + i * sr // 8
        t = np.arange(length) / sr
        src = np.stack([0.3 * np.sin(2 * np.pi * (300 + 50 * k + 20 * i) * t) for k in range(n_src)])
        src = (src + 0.01 * rng.standard_normal(src.shape)).astype(np.float32)
        files = {"mix_clean": src.sum(0)} | {f"s{k + 1}": src[k] for k in range(n_src)}
        for sub, x in files.items():
            (split_dir / sub).mkdir(parents=True, exist_ok=True)
            sf.write(str(split_dir / sub / f"{uid}.wav"), x, sr, subtype="FLOAT")
        base = f"{absolute}/{rate}/min/{split}" if absolute else str(split_dir)
        rows.append([uid, f"{base}/mix_clean/{uid}.wav"] + [f"{base}/s{k + 1}/{uid}.wav" for k in range(n_src)]
                    + [length])
        out[uid] = src
    with open(meta / f"mixture_{split}_mix_clean.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mixture_ID", "mixture_path"] + [f"source_{k + 1}_path" for k in range(n_src)] + ["length"])
        w.writerows(rows)
    return out


@pytest.mark.parametrize("absolute", [FOREIGN, ""], ids=["foreign-paths", "local-paths"])
def test_items_match_files(tmp_path: Path, absolute: str, raw_levels) -> None:
    srcs = make_librimix(tmp_path, absolute=absolute)
    ds = LibriMixDataset(tmp_path, "dev", 8000, 2)
    assert len(ds) == 3
    for i, (uid, src) in enumerate(srcs.items()):
        mix, sources, utt = ds[i]
        assert utt == uid and mix.shape == (src.shape[1],) and sources.shape == src.shape
        np.testing.assert_allclose(sources.numpy(), src, atol=1e-7)
        np.testing.assert_allclose(mix.numpy(), src.sum(0), atol=1e-6)


@pytest.mark.parametrize("where", ["root", "mode-dir", "metadata-dir", "csv"])
def test_open_dataset_finds_metadata(tmp_path: Path, where: str) -> None:
    make_librimix(tmp_path, split="test")
    path = {"root": tmp_path, "mode-dir": tmp_path / "wav8k" / "min",
            "metadata-dir": tmp_path / "wav8k" / "min" / "metadata",
            "csv": tmp_path / "wav8k" / "min" / "metadata" / "mixture_test_mix_clean.csv"}[where]
    ds = open_dataset(path, "test", 8000, 2, None, 0)
    assert isinstance(ds, LibriMixDataset) and len(ds) == 3


@pytest.mark.parametrize(("split", "folder"), [("valid", "dev"), ("train", "train-360"), ("train", "train-100")])
def test_split_aliases(tmp_path: Path, split: str, folder: str) -> None:
    make_librimix(tmp_path, split=folder, n=2)
    assert len(open_dataset(tmp_path, split, 8000, 2, 1.0, 0)) == 2


def test_16k_only_is_resampled_to_8k(tmp_path: Path, raw_levels) -> None:
    srcs = make_librimix(tmp_path, rate="wav16k")
    assert not (tmp_path / "wav8k").exists()
    ds = open_dataset(tmp_path, "valid", 8000, 2, None, 0)
    mix, sources, utt = ds[0]
    src16 = srcs[utt]
    assert mix.shape == (src16.shape[1] // 2,) and sources.shape == (2, src16.shape[1] // 2)
    expected = soxr.resample(src16.T, 16000, 8000, quality="HQ").T
    np.testing.assert_allclose(sources.numpy(), expected, atol=1e-6)
    f0 = np.fft.rfftfreq(mix.shape[0], 1 / 8000)[np.abs(np.fft.rfft(sources[0].numpy())).argmax()]
    assert f0 == pytest.approx(300, abs=3)


def test_8k_metadata_with_only_16k_audio(tmp_path: Path) -> None:
    """CSV under wav8k but the audio only under wav16k: the file names are found there and resampled."""
    make_librimix(tmp_path, rate="wav16k")
    (tmp_path / "wav8k" / "min").mkdir(parents=True)
    (tmp_path / "wav16k" / "min" / "metadata").rename(tmp_path / "wav8k" / "min" / "metadata")
    ds = LibriMixDataset(tmp_path, "dev", 8000, 2)
    assert ds[0][0].shape == (4000,)


def test_training_segments_batch(tmp_path: Path) -> None:
    make_librimix(tmp_path, split="train-360", n=4)
    ds = open_dataset(tmp_path, "train", 8000, 2, 0.25, seed=0)
    ds.set_epoch(0)
    mix, sources, ids = next(iter(DataLoader(ds, batch_size=4)))
    assert mix.shape == (4, 2000) and sources.shape == (4, 2, 2000) and len(ids) == 4
    torch.testing.assert_close(mix, sources.sum(1), atol=1e-5, rtol=0)


def test_three_sources(tmp_path: Path) -> None:
    make_librimix(tmp_path, n_src=3)
    assert LibriMixDataset(tmp_path, "dev", 8000, 3)[0][1].shape[0] == 3
    with pytest.raises(FqssError, match="missing column"):
        LibriMixDataset(tmp_path, "dev", 8000, 4)


def test_missing_audio_names_csv_and_file(tmp_path: Path) -> None:
    make_librimix(tmp_path)
    first = sorted((tmp_path / "wav8k" / "min" / "dev" / "s2").glob("*.wav"))[0]
    first.unlink()
    with pytest.raises(FqssError, match=rf"mixture_dev_mix_clean.csv: cannot find source_2_path .*{first.name}"):
        LibriMixDataset(tmp_path, "dev", 8000, 2)


def test_bad_csv(tmp_path: Path) -> None:
    meta = tmp_path / "wav8k" / "min" / "metadata"
    meta.mkdir(parents=True)
    csv_path = meta / "mixture_test_mix_clean.csv"
    csv_path.write_text("id,path\n1,a.wav\n")
    with pytest.raises(FqssError, match="missing column") as err:
        open_dataset(tmp_path, "test", 8000, 2, None, 0)
    assert str(err.value).startswith(f"{csv_path}: ")
    csv_path.write_text("mixture_ID,mixture_path,source_1_path,source_2_path,length\n")
    with pytest.raises(FqssError, match="no mixtures listed"):
        open_dataset(tmp_path, "test", 8000, 2, None, 0)


def test_split_without_metadata(tmp_path: Path) -> None:
    make_librimix(tmp_path, split="dev")
    with pytest.raises(FqssError, match="not a recognised data layout"):
        open_dataset(tmp_path, "test", 8000, 2, None, 0)
