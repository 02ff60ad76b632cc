"""fqss_edge.data.real_speech: the real-speaker corpus and its split, on stand-in .deb packages of the same layout."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from fqss_edge.audio import read_wav, write_wav
from fqss_edge.data import DynamicMixDataset, queen_speech, real_speech
from fqss_edge.data.generate import list_speakers
from fqss_edge.data.real_speech import (
    AUGMENTED,
    LICENCES,
    PACKAGES,
    REAL_SPEAKERS,
    REAL_SPLIT,
    augment_speakers,
    build_real_corpus,
    build_real_speech_set,
    extract_packages,
    pack_utterances,
    speaker_prompts,
    split_long,
)
from fqss_edge.errors import FqssError
from tests.data.test_queen_speech import mp3_clip, write_resource

SR = 8000
needs_tools = pytest.mark.skipif(not (shutil.which("dpkg-deb") and shutil.which("sox")),
                                 reason="dpkg-deb and sox are needed (scripts/setup.sh installs sox)")


def _prompt(rng: np.random.Generator, f0: float) -> np.ndarray:
    """A tone burst between silences: trim_silence must cut the silences."""
    t = np.arange(int(SR * rng.uniform(0.5, 1.0))) / SR
    tone = 0.5 * np.sin(2 * np.pi * f0 * t) * np.hanning(t.size)
    return np.concatenate([np.zeros(2000), tone, np.zeros(3000)])


def _longest_quiet_run(x: np.ndarray, floor: float = 1e-3) -> int:
    """The longest run of samples below ``floor`` in magnitude."""
    quiet = np.concatenate([[0], (np.abs(x) < floor).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(quiet))
    return int((edges[1::2] - edges[::2]).max(initial=0))


def _write_ogg(path: Path, x: np.ndarray, sr: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sr, format="OGG", subtype="VORBIS")


def _speaker_files(tree: Path, spk, folder: str, s: int, n: int, rng: np.random.Generator) -> None:
    """``n`` stand-in clips of speaker number ``s`` laid out as the real package lays them out."""
    for k in range(n):
        if spk.speaker_id.startswith("fillets_"):  # <level>/<lang>/<level>-<char>-<line>.ogg, at 22.05 kHz
            lang, char = spk.speaker_id.split("_")[1:]
            _write_ogg(tree / folder / f"lvl{k}" / lang / f"lvl{k}-{char}-l{k}.ogg",
                       soxr_up(_prompt(rng, 150 + 40 * s)))
        elif spk.speaker_id.startswith("klettres_"):
            _write_ogg(tree / folder / ("alpha" if k % 2 else "syllab") / f"c{k}.ogg", soxr_up(_prompt(rng, 300)))
        elif spk.speaker_id.startswith(("ktuberling_", "hedgewars_")):  # <folder>/<word>.ogg
            _write_ogg(tree / folder / f"w{k}.ogg", soxr_up(_prompt(rng, 250 + 10 * s)))
        else:
            sub = "digits/" if k % 3 == 0 else ""
            wav = tree / folder / f"{sub}p{k}.wav"
            write_wav(wav, _prompt(rng, 150 + 40 * s), SR)
            if spk.sources[0][0] in ("asterisk-prompt-fr-armelle", "asterisk-prompt-es-co"):  # GSM 6.10 there
                subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", str(wav.with_suffix(".gsm"))], check=True)
                wav.unlink()
    if not spk.speaker_id.startswith(("fillets_", *real_speech.SHORT_CLIP_PREFIXES)):
        (tree / folder / "empty.wav").write_bytes(b"")  # the real packages hold a few empty prompts
        # and silence prompts: seconds of faint noise, nothing for trim_silence to cut (relative to their peak)
        write_wav(tree / folder / "silence" / "2.wav", 3e-5 * rng.standard_normal(2 * SR), SR)


def soxr_up(x: np.ndarray) -> np.ndarray:
    return soxr.resample(x, SR, 22050)


def _fake_debs(tmp: Path, n_prompts: int = 6) -> Path:
    """One .deb per package of PACKAGES holding its speakers' files; GSM prompts where the real ones are GSM,
    ogg at 22.05 kHz for Fish Fillets and KLettres, and a Fish Fillets line of another character that no speaker
    may take."""
    rng = np.random.default_rng(0)
    debs = tmp / "debs"
    debs.mkdir()
    for pkg in PACKAGES:
        tree = tmp / "tree" / pkg
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(f"Package: {pkg}\nVersion: 1.0\nArchitecture: all\n"
                                                 "Maintainer: t <t@t>\nDescription: stand-in\n")
        for s, spk in enumerate(REAL_SPEAKERS):
            for p, folder, _ in spk.sources:
                if p == pkg != queen_speech.PACKAGE:
                    _speaker_files(tree, spk, folder, s, n_prompts, rng)
        if pkg == queen_speech.PACKAGE:  # one resource file: the speakers' lines, a cut-scene line, a picture
            lines = {"C100A032.SB": mp3_clip(900), "ROOM1.PCX": b"\1\2"}
            for k in range(n_prompts):
                lines[f"0200{k:02d}J1.SB"] = mp3_clip(180)
                lines.update({f"{d}00{k:02d}P1.SB": mp3_clip(220 + 5 * i) for i, d in enumerate(queen_speech.DIALOGS)})
            write_resource(tree / queen_speech.RESOURCE, lines)
        if pkg.startswith("fillets-ng-data-"):
            lang = pkg.rsplit("-", 1)[1]
            _write_ogg(tree / real_speech.FILLETS / "lvl0" / lang / "lvl0-pap-x.ogg", soxr_up(_prompt(rng, 900)))
            _write_ogg(tree / real_speech.FILLETS / "lvl0" / lang / "lvl0-v-empty.ogg", np.zeros(0))  # as in -nl
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Znone", "-b", str(tree),
                        str(debs / f"{pkg}_1.0_all.deb")], check=True, capture_output=True)
    return debs


@needs_tools
def test_corpus_from_packages(tmp_path):
    root = extract_packages(_fake_debs(tmp_path), tmp_path / "root")
    counts = build_real_corpus(root, tmp_path / "corpus", SR, seconds=1.5)
    speakers = list_speakers(tmp_path / "corpus")
    assert set(speakers) == {s.speaker_id for s in REAL_SPEAKERS}
    assert counts["allison"] > counts["june"]  # two packages of one speaker pooled
    cs_v = speaker_prompts(root, next(s for s in REAL_SPEAKERS if s.speaker_id == "fillets_cs_v"))
    assert len(cs_v) == 7 and all(f.name.startswith("lvl") and "-v-" in f.name and f.parent.name == "cs"
                                  for f in cs_v)  # one character of one dub, not the other character's lines
    for spk, files in speakers.items():
        assert len(files) == counts[spk]
        for f in files:
            x, sr = read_wav(f)
            assert sr == SR and x.shape[0] == 1
            assert x.shape[1] >= 0.75 * SR  # packed to at least half of `seconds`
            assert np.abs(x).max() > 0.8  # peak-normalised, and not silence
            assert _longest_quiet_run(x[0]) < 0.5 * SR, f  # no silence prompt packed in: gaps and margins only


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
    for held_out in ("test", "valid"):  # known voices (no KLettres: one voice per language is not checked)
        assert "m" in {genders[s] for s in REAL_SPLIT[held_out]}
        assert "?" not in {genders[s] for s in REAL_SPLIT[held_out]}
        assert len(REAL_SPLIT[held_out]) >= 2
    assert REAL_SPLIT["test"] == ["armelle", "carlo", "june"]  # the first run's test speakers, comparable
    assert set(AUGMENTED) <= set(REAL_SPLIT["train"])
    assert set(LICENCES) == set(PACKAGES)


def test_highpass_removes_dc_and_rumble_keeps_speech_band():
    t = np.arange(SR) / SR
    speech = 0.3 * np.sin(2 * np.pi * 200 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t)
    y = real_speech.highpass(speech + 0.05 + 0.2 * np.sin(2 * np.pi * 10 * t), SR)
    assert y.dtype == np.float32 and y.shape == speech.shape
    np.testing.assert_allclose(y, speech, atol=1e-6)  # DC and 10 Hz gone, 200 and 1500 Hz untouched
    ramp = real_speech.highpass(np.sin(2 * np.pi * 60 * t), SR)  # half-way up the 40-80 Hz ramp: gain 0.5
    np.testing.assert_allclose(np.abs(np.fft.rfft(ramp))[60] / (SR / 2), 0.5, atol=1e-6)


@pytest.mark.parametrize("speaker, group", [
    ("allison", "asterisk"), ("carlo", "asterisk"), ("menardi_p-4", "asterisk"), ("fillets_cs_v", "fillets_cs"),
    ("fillets_nl_m_p+2", "fillets_nl"), ("klettres_en_GB", "klettres"), ("ktuberling_wa", "ktuberling"),
    ("hedgewars_default_uk", "hedgewars"), ("syn_spk003", "synth"), ("queen_joe", "queen"), ("queen_joe_p-2", "queen"),
    ("queen_d57", "queen")])
def test_recording_group(speaker, group):
    assert real_speech.recording_group(speaker) == group


def test_every_speaker_has_a_recording_group():
    assert {real_speech.recording_group(s.speaker_id) for s in REAL_SPEAKERS} == {
        "asterisk", "fillets_cs", "fillets_nl", "klettres", "ktuberling", "hedgewars", "queen"}
    with pytest.raises(FqssError, match="'librispeech_1'"):
        real_speech.recording_group("librispeech_1")


def test_split_long_cuts_long_clips_only():
    assert [len(p) for p in split_long(np.zeros(100, np.float32), 40)] == [34, 33, 33]
    assert [len(p) for p in split_long(np.zeros(40, np.float32), 40)] == [40]
    x = np.arange(1000, dtype=np.float32)
    assert np.array_equal(np.concatenate(split_long(x, 300)), x)


@needs_tools
def test_set_keeps_held_out_splits_real(tmp_path, monkeypatch):
    """The whole build on stand-in packages, synthesized voices stood in by tones: valid and test mix held-out
    real speakers only, test_synth held-out synthesized ones, train everything else."""
    from fqss_edge.data import synth

    def fake_synth(out, n, n_utts, seed, sr):
        rng = np.random.default_rng(seed)
        for i in range(n):
            for u in range(n_utts):
                write_wav(Path(out) / f"spk{i:03d}" / f"spk{i:03d}_{u:03d}.wav", _prompt(rng, 500 + 20 * i), sr)
        return [f"spk{i:03d}" for i in range(n)]

    monkeypatch.setattr(synth, "synthesize_corpus", fake_synth)
    monkeypatch.setattr(real_speech, "PITCH_SHIFTS", (2.0,))
    counts = {"train": 12, "valid": 4, "test": 6, "test_synth": 4}
    data = build_real_speech_set(tmp_path / "work", _fake_debs(tmp_path, n_prompts=3), counts, synth_speakers=8,
                                 synth_utts=2, seconds=1.0)
    info = json.loads((data / "speaker_split.json").read_text())
    split = info["split"]
    assert split["valid"] == REAL_SPLIT["valid"] and split["test"] == REAL_SPLIT["test"]
    assert split["test_synth"] == ["syn_spk002", "syn_spk003", "syn_spk004", "syn_spk005"]
    assert {"allison_p+2", "fillets_cs_v_p+2", "syn_spk000", "klettres_ml", "ktuberling_wa",
            "hedgewars_default_uk"} <= set(split["train"])
    assert "ktuberling_sr@latin" not in split["train"] and "hedgewars_robot" not in split["train"]
    assert not set(split["train"]) & {s for k in ("valid", "test", "test_synth") for s in split[k]}
    assert info["real_speakers"]["fillets_nl_v"]["packages"] == {"fillets-ng-data-nl": "GPL-2"}
    dm = DynamicMixDataset(data / "train_dynamic", SR, 2, 0.5)  # the training speakers, for dynamic mixing
    assert sorted(dm.names) == sorted(split["train"]) and len(dm) == counts["train"]
    assert dm.spec.speakers["ktuberling_wa"] == real_speech.SHORT_CLIP_ODDS and dm.spec.speakers["allison"] == 1.0
    assert dm.spec.same_group_odds == real_speech.SAME_GROUP_ODDS > 0
    assert dm.spec.groups["allison_p+2"] == dm.spec.groups["menardi"] == "asterisk"
    for name, n in counts.items():
        with open(data / name / "metadata.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n == len(list((data / name / "mix").glob("*.wav")))
        used = {r[f"source_{k}_speaker"] for r in rows for k in (1, 2)}
        assert used <= set(split[name]), name
