"""fqss_edge.data.generate: LibriMix-style mixtures from a tiny synthetic speaker folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from fqss_edge.audio import read_wav, write_wav
from fqss_edge.data import FolderDataset, open_dataset
from fqss_edge.data.generate import list_speakers, make_mixtures, rms_db, split_speakers
from fqss_edge.errors import FqssError

SPEAKERS = [f"spk{i}" for i in range(6)]
LSB = 2.0**-15


def make_speech(root: Path, n_utts: int = 3) -> None:
    """Speaker folders of 'utterances': amplitude-modulated tones, one pitch per speaker, varied lengths/levels."""
    rng = np.random.default_rng(0)
    for s, spk in enumerate(SPEAKERS):
        for u in range(n_utts):
            sr = 16000 if (s + u) % 4 == 0 else 8000  # some files at another rate
            t = np.arange(int(sr * rng.uniform(0.4, 0.9))) / sr
            x = np.sin(2 * np.pi * (120 + 30 * s) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            write_wav(root / spk / f"{spk}_{u}.wav", x * rng.uniform(0.05, 0.8), sr)


def rows_of(metadata: Path) -> list[dict[str, str]]:
    with open(metadata, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    make_speech(tmp_path / "speech")
    return tmp_path / "speech"


def test_mixtures_are_sums_of_scaled_utterances(speech: Path, tmp_path: Path) -> None:
    meta = make_mixtures(speech, tmp_path / "out", 6, seed=1)
    rows = rows_of(meta)
    assert len(rows) == 6 and meta == tmp_path / "out" / "metadata.csv"
    for row in rows:
        mix = read_wav(tmp_path / "out" / row["mixture_path"], expected_sr=8000)[0][0]
        srcs = [read_wav(tmp_path / "out" / row[f"source_{k}_path"], expected_sr=8000)[0][0] for k in (1, 2)]
        assert row["source_1_speaker"] != row["source_2_speaker"]
        originals = [read_wav(speech / row[f"source_{k}_file"], resample_to=8000)[0][0] for k in (1, 2)]
        assert len(mix) == int(row["length"]) == min(len(o) for o in originals)  # 'min' mode
        np.testing.assert_allclose(mix, srcs[0] + srcs[1], atol=3 * LSB)
        for k, (src, orig) in enumerate(zip(srcs, originals), start=1):
            gain = 10 ** (float(row[f"source_{k}_gain_db"]) / 20)
            np.testing.assert_allclose(src, orig[:len(src)] * gain, atol=2 * LSB)  # gain applied, no offset
            level = float(row[f"source_{k}_level_db"])
            assert -33 <= level <= -25
            assert rms_db(src) == pytest.approx(level, abs=0.05)  # quiet mixtures: no peak rescaling
    levels = {row["source_1_level_db"] for row in rows}
    assert len(levels) == len(rows)  # a fresh random level per mixture


def test_loud_levels_are_peak_normalised(speech: Path, tmp_path: Path) -> None:
    meta = make_mixtures(speech, tmp_path / "out", 4, seed=2, level_db=(-4.0, -2.0))
    for row in rows_of(meta):
        mix = read_wav(tmp_path / "out" / row["mixture_path"])[0][0]
        s1 = read_wav(tmp_path / "out" / row["source_1_path"])[0][0]
        s2 = read_wav(tmp_path / "out" / row["source_2_path"])[0][0]
        peak = max(np.abs(mix).max(), np.abs(s1).max(), np.abs(s2).max())
        assert peak == pytest.approx(0.9, abs=2 * LSB)
        np.testing.assert_allclose(mix, s1 + s2, atol=3 * LSB)


def test_same_seed_same_bytes(speech: Path, tmp_path: Path) -> None:
    def snapshot(out: Path) -> dict[str, bytes]:
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    a = snapshot(make_mixtures(speech, tmp_path / "a", 5, seed=7).parent)
    b = snapshot(make_mixtures(speech, tmp_path / "b", 5, seed=7).parent)
    c = snapshot(make_mixtures(speech, tmp_path / "c", 5, seed=8).parent)
    assert a == b and len(a) == 5 * 3 + 1
    assert a != c


def test_speaker_disjoint_splits(speech: Path, tmp_path: Path) -> None:
    splits = split_speakers(sorted(list_speakers(speech)), {"train": 3, "valid": 1, "test": 2}, seed=0)
    assert len(set(splits["train"]) | set(splits["valid"]) | set(splits["test"])) == 6
    used = {}
    for name in ("train", "test"):
        meta = make_mixtures(speech, tmp_path / name, 8, seed=0, speakers=splits[name])
        used[name] = {r[f"source_{k}_speaker"] for r in rows_of(meta) for k in (1, 2)}
        assert used[name] <= set(splits[name])
    assert not used["train"] & used["test"]
    assert used["test"] == set(splits["test"])  # both test speakers in every test mixture


def test_seconds_limits_length(speech: Path, tmp_path: Path) -> None:
    meta = make_mixtures(speech, tmp_path / "out", 4, seconds=0.3, seed=0)
    assert all(int(r["length"]) <= 2400 for r in rows_of(meta))


def test_output_opens_as_dataset(speech: Path, tmp_path: Path) -> None:
    make_mixtures(speech, tmp_path / "out", 3, seed=0)
    ds = open_dataset(tmp_path / "out", "test", 8000, 2, None, 0)
    assert isinstance(ds, FolderDataset) and len(ds) == 3
    mix, sources, utt = ds[0]
    assert utt.startswith("00000_") and sources.shape == (2, mix.shape[0])


def test_errors(speech: Path, tmp_path: Path) -> None:
    with pytest.raises(FqssError, match="no such data folder"):
        make_mixtures(tmp_path / "nope", tmp_path / "o1", 1)
    with pytest.raises(FqssError, match="no speaker folder with wavs for ghost"):
        make_mixtures(speech, tmp_path / "o2", 1, speakers=["spk0", "ghost"])
    with pytest.raises(FqssError, match="1 speaker"):
        make_mixtures(speech, tmp_path / "o3", 1, speakers=["spk0"])
    make_mixtures(speech, tmp_path / "o4", 2)
    with pytest.raises(FqssError, match="already holds mixtures"):
        make_mixtures(speech, tmp_path / "o4", 1)
    make_mixtures(speech, tmp_path / "o4", 1, overwrite=True)
    assert len(list((tmp_path / "o4" / "mix").glob("*.wav"))) == 1
    with pytest.raises(FqssError, match="6 available"):
        split_speakers(SPEAKERS, {"train": 5, "test": 2})


def test_speaker_weights_set_the_odds(speech: Path, tmp_path: Path) -> None:
    plain = rows_of(make_mixtures(speech, tmp_path / "plain", 60, seed=1, seconds=0.1))
    meta = make_mixtures(speech, tmp_path / "w", 60, seed=1, seconds=0.1, speaker_weights={"spk0": 0.0, "spk1": 8})
    used = [r[f"source_{k}_speaker"] for r in rows_of(meta) for k in (1, 2)]
    assert "spk0" not in used and used.count("spk1") > 40  # ~53 of 60 at these odds, ~20 without
    assert sum(r[f"source_{k}_speaker"] == "spk1" for r in plain for k in (1, 2)) < 30
    same = rows_of(make_mixtures(speech, tmp_path / "none", 60, seed=1, seconds=0.1, speaker_weights={}))
    assert same == plain  # no weights: the draws of before
    with pytest.raises(FqssError, match="at least 2 of them > 0"):
        make_mixtures(speech, tmp_path / "bad", 1, speaker_weights={s: 0.0 for s in SPEAKERS[1:]})
