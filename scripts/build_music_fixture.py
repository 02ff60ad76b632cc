"""Render music tracks in the MUSDB18-HQ layout from real instrument sounds, with exact stems.

    ROOT/{train,test}/<track>/{mixture,drums,bass,other,vocals}.{wav|flac}   44.1 kHz, stereo, 16-bit

* bass and other: a generated composition (a random diatonic chord progression: a bass line, and a piano /
  guitar / organ / strings part of chords and a melody), written as one MIDI file per instrument with ``mido`` and
  rendered by ``fluidsynth`` with Debian's General MIDI soundfont (``fluid-soundfont-gm``);
* drums: real drum hits from Debian's ``sonic-pi-samples`` (kicks, snares, hats, toms) on a random pattern;
* vocals: real speech recordings (Debian's ``asterisk-core-sounds-*-wav`` packages, 8 kHz, resampled), phrases
  placed on the beat;
* every stem panned to stereo, then coded as 16-bit PCM; the mixture is the sum of the stems' int16 codes (scaled
  so that it does not clip), so ``mixture == drums + bass + other + vocals`` exactly, sample for sample.

Needs (as root): ``apt-get install fluidsynth fluid-soundfont-gm sonic-pi-samples`` and the speech packages
extracted (``dpkg-deb -x asterisk-core-sounds-en-wav_*.deb DIR``, ``--speech DIR``); ``pip install mido``.

    python scripts/build_music_fixture.py -o benchmarks/work/music --train 12 --test 4 --seconds 20 \
        --speech /tmp/asterisk
    python scripts/build_music_fixture.py -o tests/assets/music --train 2 --test 1 --seconds 2 --format flac \
        --speech /tmp/asterisk          # the shipped test fixture
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

RATE = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLES = Path("/usr/share/sonic-pi/samples")
DRUMS = {"kick": ["drum_heavy_kick", "bd_haus", "bd_fat", "bd_klub"],
         "snare": ["drum_snare_hard", "drum_snare_soft", "sn_dolf", "sn_generic"],
         "hat": ["drum_cymbal_closed", "drum_cymbal_pedal", "drum_cymbal_soft"],
         "tom": ["drum_tom_mid_hard", "drum_tom_lo_hard", "drum_tom_hi_hard"]}
BASS_PROGRAMS = [32, 33, 34, 38]  # acoustic, finger, pick, synth bass (General MIDI, 0-based)
OTHER_PROGRAMS = [0, 4, 24, 16, 48, 80]  # piano, e-piano, nylon guitar, organ, strings, square lead
MAJOR = [0, 2, 4, 5, 7, 9, 11]


def _midi(notes: list[tuple[float, float, int, int]], program: int, bpm: float, path: Path) -> None:
    """notes: (start beat, length in beats, pitch, velocity) on channel 0 with ``program``."""
    import mido

    tpb = 480
    events = []
    for start, length, pitch, vel in notes:
        events.append((int(start * tpb), mido.Message("note_on", note=pitch, velocity=vel, channel=0)))
        events.append((int((start + length) * tpb) - 1, mido.Message("note_off", note=pitch, velocity=0, channel=0)))
    events.sort(key=lambda e: e[0])
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                            mido.Message("program_change", program=program, channel=0)])
    now = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    mid = mido.MidiFile(ticks_per_beat=tpb)
    mid.tracks.append(track)
    mid.save(str(path))


def _render(mid: Path, n: int) -> np.ndarray:
    """fluidsynth -> float [2, n] at 44.1 kHz (reverb and chorus off: the stem is what the instrument plays)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.wav"
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(RATE), "-F", str(out),
                        str(SOUNDFONT), str(mid)], check=True, capture_output=True)
        x, sr = sf.read(str(out), dtype="float64", always_2d=True)
    assert sr == RATE, sr
    y = np.zeros((2, n))
    m = min(n, x.shape[0])
    y[:, :m] = x[:m].T
    return y


def _composition(rng: np.random.Generator, beats: int) -> tuple[list, list]:
    """A bass line and a chords + melody part over a random diatonic progression (one chord per bar of 4)."""
    root = int(rng.integers(40, 52))
    degrees = [0] + list(rng.choice([1, 3, 4, 5], size=max(beats // 4 - 1, 0)))
    bass, other = [], []
    for bar, deg in enumerate(degrees):
        b0 = 4 * bar
        chord = [root + 12 + MAJOR[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]
        bass_note = root - 12 + MAJOR[deg % 7] if root - 12 + MAJOR[deg % 7] >= 28 else root + MAJOR[deg % 7]
        for beat in range(4):
            bass.append((b0 + beat, 0.9, bass_note + (12 if beat == 2 and rng.random() < 0.3 else 0),
                         int(rng.integers(80, 110))))
        for p in chord:
            other.append((b0, 3.8, p, int(rng.integers(55, 75))))
        for beat in np.arange(0, 4, 0.5):
            if rng.random() < 0.6:
                other.append((b0 + beat, 0.45, int(rng.choice(chord)) + 12, int(rng.integers(70, 100))))
    return bass, other


def _pan(x: np.ndarray, pos: float) -> np.ndarray:
    """mono [n] -> stereo [2, n], constant-power pan, pos in [-1, 1]."""
    a = (pos + 1) * np.pi / 4
    return np.stack([np.cos(a) * x, np.sin(a) * x])


def _sample(name: str) -> np.ndarray:
    x, sr = sf.read(str(SAMPLES / f"{name}.flac"), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, RATE) if sr != RATE else x


def _drums(rng: np.random.Generator, n: int, beat_len: int) -> np.ndarray:
    kit = {k: _sample(str(rng.choice(v))) for k, v in DRUMS.items()}
    pans = {"kick": 0.0, "snare": float(rng.uniform(-0.2, 0.2)), "hat": float(rng.uniform(0.3, 0.6)),
            "tom": float(rng.uniform(-0.6, -0.2))}
    out = np.zeros((2, n))
    eighth = beat_len // 2
    for step in range(n // eighth + 1):
        hits = ["hat"] if rng.random() < 0.9 else []
        if step % 4 == 0 or (step % 8 == 7 and rng.random() < 0.4):
            hits.append("kick")
        if step % 4 == 2:
            hits.append("snare")
        if step % 16 == 15 and rng.random() < 0.5:
            hits.append("tom")
        for h in hits:
            s = _pan(kit[h] * rng.uniform(0.6, 1.0), pans[h])
            start = step * eighth
            m = min(s.shape[1], n - start)
            if m > 0:
                out[:, start:start + m] += s[:, :m]
    return out


def _vocals(rng: np.random.Generator, n: int, beat_len: int, phrases: list[Path]) -> np.ndarray:
    out = np.zeros((2, n))
    pos = float(rng.uniform(-0.15, 0.15))
    t = int(beat_len * rng.integers(0, 2))
    while t < n:
        x, sr = sf.read(str(phrases[int(rng.integers(len(phrases)))]), dtype="float64", always_2d=True)
        x = soxr.resample(x.mean(axis=1), sr, RATE)
        x = x / (np.max(np.abs(x)) + 1e-9) * rng.uniform(0.5, 0.9)
        m = min(x.size, n - t)
        out[:, t:t + m] += _pan(x[:m], pos)
        t += -(-(x.size + beat_len // 2) // beat_len) * beat_len  # the next phrase on the next beat
    return out


def build_track(rng: np.random.Generator, seconds: float, phrases: list[Path]) -> dict[str, np.ndarray]:
    """The four stems and the mixture as int16 [2, n] (mixture = exact sum of the stems)."""
    n = int(round(seconds * RATE))
    bpm = float(rng.uniform(90, 130))
    beat_len = int(round(60 / bpm * RATE))
    beats = -(-n // beat_len) + 4
    bass_notes, other_notes = _composition(rng, beats)
    with tempfile.TemporaryDirectory() as d:
        _midi(bass_notes, int(rng.choice(BASS_PROGRAMS)), bpm, Path(d) / "bass.mid")
        _midi(other_notes, int(rng.choice(OTHER_PROGRAMS)), bpm, Path(d) / "other.mid")
        stems = {"drums": _drums(rng, n, beat_len), "bass": _render(Path(d) / "bass.mid", n),
                 "other": _render(Path(d) / "other.mid", n), "vocals": _vocals(rng, n, beat_len, phrases)}
    for k in ("bass", "other"):  # fluidsynth centres the instrument: a random balance
        b = rng.uniform(-0.3, 0.3)
        stems[k] = stems[k] * np.array([[1 - b], [1 + b]])
    for k in stems:  # comparable levels, some variation
        stems[k] *= rng.uniform(0.6, 1.0) / (np.sqrt(np.mean(stems[k] ** 2)) + 1e-9) * 0.08
    peak = np.max(np.abs(sum(stems.values())))
    codes = {k: np.round(v * (0.85 / peak) * 32768).astype(np.int32) for k, v in stems.items()}
    mix = sum(codes.values())
    assert np.max(np.abs(mix)) < 32768
    return {"mixture": mix.astype(np.int16), **{k: v.astype(np.int16) for k, v in codes.items()}}


def _speaker(path: Path) -> str:
    """The speaker folder of an asterisk recording (``en_US_f_Allison``), or its parent folder."""
    return next((part for part in path.parts if re.match(r"^[a-z]{2}_[A-Z]{2}_", part)), path.parent.name)


def speech_phrases(folder: Path) -> list[Path]:
    phrases = sorted(p for p in folder.rglob("*.wav") if 0.6 < sf.info(str(p)).duration < 4.0)
    if not phrases:
        sys.exit(f"{folder}: no speech recordings (extract asterisk-core-sounds-*-wav with dpkg-deb -x)")
    return phrases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--train", type=int, default=12)
    ap.add_argument("--test", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--test-seconds", type=float, default=None, help="test track length (default: --seconds)")
    ap.add_argument("--format", choices=["wav", "flac"], default="wav")
    ap.add_argument("--speech", type=Path, required=True, help="folder of extracted asterisk speech recordings")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for need in (SOUNDFONT, SAMPLES):
        if not need.exists():
            sys.exit(f"{need}: missing (apt-get install fluidsynth fluid-soundfont-gm sonic-pi-samples)")
    phrases = speech_phrases(args.speech)
    rng = np.random.default_rng(args.seed)
    # train and test voices differ: the last speaker folder (en_US_f_Allison, fr_CA_f_June, ...) is the test voice
    speakers = sorted({_speaker(p) for p in phrases})
    test_voice = speakers[-1] if len(speakers) > 1 else None
    pools = {"train": [p for p in phrases if _speaker(p) != test_voice],
             "test": [p for p in phrases if test_voice in (None, _speaker(p))]}
    print(f"voices: train {speakers[:-1] if test_voice else speakers}, test {test_voice or speakers}")
    seconds = {"train": args.seconds, "test": args.seconds if args.test_seconds is None else args.test_seconds}
    for split, count in (("train", args.train), ("test", args.test)):
        pool = pools[split]
        for i in range(count):
            track = args.out / split / f"rendered {split} {i:02d}"
            track.mkdir(parents=True, exist_ok=True)
            for name, x in build_track(rng, seconds[split], pool).items():
                sf.write(str(track / f"{name}.{args.format}"), x.T, RATE, subtype="PCM_16")
            print(track)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
