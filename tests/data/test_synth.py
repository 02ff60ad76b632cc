"""fqss_edge.data.synth and scripts/synth_speakers.py: a tiny espeak-ng + flite corpus."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fqss_edge.audio import read_wav
from fqss_edge.data import external, synth
from fqss_edge.errors import FqssError

REPO = Path(__file__).resolve().parents[2]
needs_tts = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("flite") is None,
                               reason="espeak-ng and flite are not installed (apt-get install espeak-ng flite)")


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@needs_tts
def test_tiny_corpus(tmp_path: Path) -> None:
    ids = synth.synthesize_corpus(tmp_path / "a", n_speakers=4, n_utts=2, seed=0)
    assert ids == ["spk000", "spk001", "spk002", "spk003"]
    speakers = _csv(tmp_path / "a" / "speakers.csv")[1:]
    assert {row[1] for row in speakers} == {"espeak-ng", "flite"}  # both engines
    assert len({(row[2], row[3]) for row in speakers}) == 4  # distinct voice/pitch per speaker
    for spk in ids:
        files = sorted((tmp_path / "a" / spk).glob("*.wav"))
        assert [f.name for f in files] == [f"{spk}_000.wav", f"{spk}_001.wav"]
        for f in files:
            x, sr = read_wav(f, expected_sr=8000)
            assert x.shape[0] == 1 and 0.8 < x.shape[1] / sr < 10
            assert np.abs(x).max() == pytest.approx(0.9, abs=1e-3) and np.sqrt(np.mean(x**2)) > 0.03
    texts = [row[2] for row in _csv(tmp_path / "a" / "utterances.csv")[1:]]
    assert len(texts) == 8 and len(set(texts)) > 4


@needs_tts
def test_same_seed_same_corpus(tmp_path: Path) -> None:
    synth.synthesize_corpus(tmp_path / "a", 2, 2, seed=5)
    synth.synthesize_corpus(tmp_path / "b", 2, 2, seed=5)
    synth.synthesize_corpus(tmp_path / "c", 2, 2, seed=6)
    for name in ("speakers.csv", "utterances.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    assert (tmp_path / "a/spk000/spk000_001.wav").read_bytes() == (tmp_path / "b/spk000/spk000_001.wav").read_bytes()


@needs_tts
def test_script(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "synth_speakers.py"), str(tmp_path / "o"),
                          "--speakers", "2", "--utterances", "1", "--seed", "1"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert "2 speakers x 1 utterances" in res.stdout
    assert len(list((tmp_path / "o").glob("spk*/*.wav"))) == 2


def test_missing_tool_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(external.shutil, "which", lambda name: None if name == "espeak-ng" else f"/usr/bin/{name}")
    with pytest.raises(FqssError, match=r"^espeak-ng: not found on PATH \(install"):
        synth.synthesize_corpus(tmp_path, 2, 1, seed=0)


def test_voice_choice_spreads_engines() -> None:
    voices = synth.choose_voices(8, ["en-us+m1", "en-gb+f3", "en-029+m3"], ["kal", "slt"], seed=0)
    assert [v.engine for v in voices].count("flite") == 2
    assert len({v.speaker_id for v in voices}) == 8
    espeak = [v.name for v in voices if v.engine == "espeak-ng"]
    assert set(espeak[:3]) == {"en-us+m1", "en-gb+f3", "en-029+m3"}  # every combination before any repeat
    assert synth.choose_voices(8, ["en-us+m1"], ["kal"], seed=0) == synth.choose_voices(8, ["en-us+m1"], ["kal"], 0)


def test_sentences_are_seeded() -> None:
    a = [synth.make_sentence(np.random.default_rng(3)) for _ in range(3)]
    assert len(set(a)) == 1 and a[0].endswith(".") and "{" not in a[0]
