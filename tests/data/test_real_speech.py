"""fqss_edge.data.real_speech: the Asterisk-prompt corpus, on stand-in .deb packages of the same layout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fqss_edge.audio import read_wav, write_wav
from fqss_edge.data.generate import list_speakers
from fqss_edge.data.real_speech import (PACKAGES, REAL_SPEAKERS, REAL_SPLIT, augment_speakers, build_real_corpus,
                                        extract_packages, pack_utterances)
from fqss_edge.errors import FqssError

SR = 8000
needs_tools = pytest.mark.skipif(not (shutil.which("dpkg-deb") and shutil.which("sox")),
                                 reason="dpkg-deb and sox are needed (scripts/setup.sh installs sox)")


def _prompt(rng: np.random.Generator, f0: float) -> np.ndarray:
    """A tone burst between silences: trim_silence must cut the silences."""
    t = np.arange(int(SR * rng.uniform(0.5, 1.0))) / SR
    tone = 0.5 * np.sin(2 * np.pi * f0 * t) * np.hanning(t.size)
    return np.concatenate([np.zeros(2000), tone, np.zeros(3000)])


def _fake_debs(tmp: Path, n_prompts: int = 6) -> Path:
    """One .deb per package of PACKAGES holding its speakers' folders; GSM prompts where the real ones are GSM."""
    rng = np.random.default_rng(0)
    debs = tmp / "debs"
    debs.mkdir()
    for pkg in PACKAGES:
        tree = tmp / "tree" / pkg
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(f"Package: {pkg}\nVersion: 1.0\nArchitecture: all\n"
                                                 "Maintainer: t <t@t>\nDescription: stand-in\n")
        for s, spk in enumerate(REAL_SPEAKERS):
            for p, folder in spk.sources:
                if p != pkg:
                    continue
                for k in range(n_prompts):
                    sub = "digits/" if k % 3 == 0 else ""
                    wav = tree / folder / f"{sub}p{k}.wav"
                    write_wav(wav, _prompt(rng, 150 + 40 * s), SR)
                    if pkg in ("asterisk-prompt-fr-armelle", "asterisk-prompt-es-co"):  # GSM 6.10 there
                        subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", str(wav.with_suffix(".gsm"))],
                                       check=True)
                        wav.unlink()
                (tree / folder / "empty.wav").write_bytes(b"")  # the real packages hold a few empty prompts
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(debs / f"{pkg}_1.0_all.deb")],
                       check=True, capture_output=True)
    return debs


@needs_tools
def test_corpus_from_packages(tmp_path):
    root = extract_packages(_fake_debs(tmp_path), tmp_path / "root")
    counts = build_real_corpus(root, tmp_path / "corpus", SR, seconds=1.5)
    speakers = list_speakers(tmp_path / "corpus")
    assert set(speakers) == {s.speaker_id for s in REAL_SPEAKERS}
    assert counts["allison"] > counts["june"]  # two packages of one speaker pooled
    for spk, files in speakers.items():
        assert len(files) == counts[spk]
        for f in files:
            x, sr = read_wav(f)
            assert sr == SR and x.shape[0] == 1
            assert x.shape[1] >= 0.75 * SR  # packed to at least half of `seconds`
            assert np.abs(x).max() > 0.8  # peak-normalised, and not silence


@needs_tools
def test_missing_package_is_named(tmp_path):
    debs = _fake_debs(tmp_path)
    next(debs.glob("asterisk-prompt-es-co_*.deb")).unlink()
    with pytest.raises(FqssError, match="asterisk-prompt-es-co"):
        extract_packages(debs, tmp_path / "root")


def test_pack_utterances_uses_every_prompt_once():
    prompts = [np.full(n, float(i + 1), dtype=np.float32) for i, n in enumerate([3000, 5000, 4000, 6000, 2000])]
    utts = pack_utterances(prompts, SR, seconds=1.0, gap_seconds=0.0, seed=3)
    assert all(len(u) >= SR for u in utts[:-1])
    values = np.concatenate(utts)
    used = sorted(set(values.tolist()))
    assert used == [1.0, 2.0, 3.0, 4.0, 5.0][: len(used)]
    for i, p in enumerate(prompts):
        assert (values == i + 1).sum() in (0, len(p))  # whole prompts only, never cut


@needs_tools
def test_augmented_speakers_are_new_voices(tmp_path):
    corpus = tmp_path / "corpus"
    t = np.arange(SR) / SR
    write_wav(corpus / "allison" / "allison_0000.wav", 0.5 * np.sin(2 * np.pi * 200 * t), SR)
    new = augment_speakers(corpus, ["allison"], SR, pitch_shifts=(-4.0, 2.0), speed_factors=(0.95, 1.05))
    assert new == ["allison_p-4", "allison_p+2"]
    files = list_speakers(corpus)
    assert [f.name for f in files["allison"]] == ["allison_0000.wav", "allison_0000_s0.95.wav",
                                                  "allison_0000_s1.05.wav"]
    slow = read_wav(files["allison"][1])[0][0]
    assert abs(len(slow) - SR / 0.95) <= 2  # speed perturbation changes the length

    def f0(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
        return float(np.argmax(spec)) * SR / x.size

    low = f0(read_wav(files["allison_p-4"][0])[0][0])
    assert low == pytest.approx(200 * 2 ** (-4 / 12), rel=0.03)  # pitch down 4 semitones, same duration


def test_split_is_speaker_disjoint_and_tests_a_male_voice():
    names = [s for v in REAL_SPLIT.values() for s in v]
    assert len(names) == len(set(names)) == len(REAL_SPEAKERS)
    genders = {s.speaker_id: s.gender for s in REAL_SPEAKERS}
    assert "m" in {genders[s] for s in REAL_SPLIT["test"]}
    assert len(REAL_SPLIT["test"]) >= 2
