"""fqss_edge.data.dynamic_mix: training mixtures drawn per item and epoch from a speaker corpus."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from fqss_edge.audio import write_wav
from fqss_edge.data import DynamicMixDataset, open_dataset
from fqss_edge.data.dynamic_mix import SPEC, write_spec
from fqss_edge.data.generate import rms_db
from fqss_edge.errors import FqssError

SR = 8000
SPEAKERS = {"a": 220.0, "b": 330.0, "c": 440.0, "d": 550.0}  # speaker -> the tone each of its utterances holds


def _corpus(root: Path, seconds: float = 1.0, utts: int = 3) -> Path:
    t = np.arange(int(SR * seconds)) / SR
    for spk, f0 in SPEAKERS.items():
        for u in range(utts):
            write_wav(root / spk / f"{spk}_{u}.wav", 0.5 * np.sin(2 * np.pi * f0 * (1 + 0.01 * u) * t), SR)
    return root


@pytest.fixture()
def dm_folder(tmp_path) -> Path:
    corpus = _corpus(tmp_path / "corpus")
    write_spec(tmp_path / "data" / "train_dynamic", corpus, {"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.0}, 40)
    return tmp_path / "data" / "train_dynamic"


def _dominant_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spec) * SR / x.size)


def test_open_dataset_detects_it_and_items_are_sums_of_distinct_speakers(dm_folder, raw_levels):
    ds = open_dataset(dm_folder, "train", SR, 2, 0.5, seed=3)
    assert isinstance(ds, DynamicMixDataset) and len(ds) == 40
    ds.set_epoch(0)
    seen = Counter()
    for k in range(len(ds)):
        mix, src, utt = ds[k]
        assert mix.shape == (4000,) and src.shape == (2, 4000)
        torch.testing.assert_close(src.sum(0), mix, rtol=0, atol=1e-6)
        spk = utt.split("_")[2:]
        assert len(set(spk)) == 2 and "d" not in spk  # distinct speakers; odds 0 never drawn
        for s, x in zip(spk, src.numpy()):
            assert abs(_dominant_hz(x) - SPEAKERS[s]) < 12  # each source is its speaker's utterance
        seen.update(spk)
    assert set(seen) == {"a", "b", "c"}


def test_levels_in_range_and_relative_level_kept(dm_folder, raw_levels):
    """Each source's RMS is drawn in level_db before the item's common peak scaling, so their difference is too."""
    ds = DynamicMixDataset(dm_folder, SR, 2, 0.5, seed=0)
    ds.set_epoch(1)
    for k in range(20):
        _, src, _ = ds[k]
        a, b = (rms_db(x) for x in src.numpy())
        assert abs(a - b) <= 8.0 + 1e-3


def test_epochs_differ_and_are_reproducible(dm_folder):
    ds = DynamicMixDataset(dm_folder, SR, 2, 0.5, seed=0)
    ds.set_epoch(0)
    e0 = [ds[k][0] for k in range(8)]
    ds.set_epoch(1)
    e1 = [ds[k][0] for k in range(8)]
    ds.set_epoch(0)
    again = [ds[k][0] for k in range(8)]
    assert all(torch.equal(x, y) for x, y in zip(e0, again))
    assert not all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(e0, e1))
    other_seed = DynamicMixDataset(dm_folder, SR, 2, 0.5, seed=1)
    other_seed.set_epoch(0)
    assert not all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(e0, (other_seed[k][0]
                                                                                 for k in range(8))))


def test_short_utterances_are_padded_by_the_segment(tmp_path, raw_levels):
    corpus = _corpus(tmp_path / "corpus", seconds=0.3)
    write_spec(tmp_path / "dm", corpus, {s: 1.0 for s in SPEAKERS}, 4)
    ds = DynamicMixDataset(tmp_path / "dm", SR, 2, 0.5, seed=0)
    ds.set_epoch(0)
    mix, src, _ = ds[0]
    assert mix.shape == (4000,) and torch.all(mix[2400:] == 0) and torch.all(src[:, 2400:] == 0)


def test_spec_names_the_corpus_relative_to_its_folder(dm_folder, tmp_path):
    spec = json.loads((dm_folder / SPEC).read_text())
    assert spec["corpus"] == "../../corpus" and spec["mixtures"] == 40
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "data").rename(moved / "data")
    (tmp_path / "corpus").rename(moved / "corpus")
    assert len(DynamicMixDataset(moved / "data" / "train_dynamic", SR, 2, 0.5)) == 40


@pytest.mark.parametrize("same_group_odds", [0.0, 0.5, 1.0])
def test_same_group_odds_draws_that_share_within_one_group(tmp_path, same_group_odds):
    """Groups {a, b} and {c, d}, equal odds: the usual draw pairs within a group 1 time in 3; ``same_group_odds``
    of the items are drawn within one."""
    corpus = _corpus(tmp_path / "corpus", seconds=0.1, utts=1)
    write_spec(tmp_path / "dm", corpus, dict.fromkeys(SPEAKERS, 1.0), 600,
               groups={"a": "x", "b": "x", "c": "y", "d": "y"}, same_group_odds=same_group_odds)
    ds = DynamicMixDataset(tmp_path / "dm", SR, 2, 0.05, seed=0)
    ds.set_epoch(0)
    pairs = [ds._speakers(ds._rng(k)) for k in range(len(ds))]
    assert all(len(set(p)) == 2 for p in pairs)
    within = np.mean([ds.group[i] == ds.group[j] for i, j in pairs])
    expected = same_group_odds + (1 - same_group_odds) / 3
    assert abs(within - expected) < 0.06, (within, expected)


def test_a_group_too_small_falls_back_to_the_usual_draw(tmp_path):
    corpus = _corpus(tmp_path / "corpus", seconds=0.1, utts=1)
    write_spec(tmp_path / "dm", corpus, dict.fromkeys(SPEAKERS, 1.0), 200,
               groups={"a": "x", "b": "y", "c": "z", "d": "w"}, same_group_odds=1.0)
    ds = DynamicMixDataset(tmp_path / "dm", SR, 2, 0.05, seed=0)
    ds.set_epoch(0)
    pairs = [tuple(sorted(ds._speakers(ds._rng(k)))) for k in range(len(ds))]
    assert all(len(set(p)) == 2 for p in pairs) and len(set(pairs)) == 6


@pytest.mark.parametrize("spec, message", [
    ("{", "not valid JSON"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": 1}, "mixtures": 4, "extra": 1}', "extra"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": 0}, "mixtures": 4}', "at least two speakers"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": -1, "c": 1}, "mixtures": 4}', "none negative"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": 1}, "mixtures": 0}', "mixtures"),
    ('{"corpus": "c", "speakers": {"a": 1, "zz": 1}, "mixtures": 4}', "no wavs of speaker(s) zz"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": 1}, "mixtures": 4, "same_group_odds": 0.5, "groups": {"a": "x"}}',
     "none for b"),
    ('{"corpus": "c", "speakers": {"a": 1, "b": 1}, "mixtures": 4, "same_group_odds": 1.5}', "same_group_odds"),
])
def test_bad_specs_are_refused_naming_the_file(tmp_path, spec, message):
    _corpus(tmp_path / "dm" / "c")
    (tmp_path / "dm" / SPEC).write_text(spec)
    with pytest.raises(FqssError) as e:
        DynamicMixDataset(tmp_path / "dm", SR, 2, 0.5)
    assert str(tmp_path / "dm") in str(e.value) and message in str(e.value)


def test_needs_a_segment(dm_folder):
    with pytest.raises(FqssError, match="for training"):
        open_dataset(dm_folder, "valid", SR, 2, None, 0)
