"""A small offline speech corpus from espeak-ng and flite: ``<out>/<speaker_id>/<utt>.wav`` (mono, 8 kHz).

Each speaker is one voice (an espeak-ng language voice with a variant such as ``en-us+f3``, or a flite voice such
as ``slt``) with its own pitch and speed; utterances are sentences built from a word list and templates.
Everything is drawn from ``seed``, so the same arguments give the same texts and voices. ``speakers.csv`` and
``utterances.csv`` at the top of ``out_dir`` record voices and texts.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fqss_edge.audio import write_wav
from fqss_edge.data.common import read_mono
from fqss_edge.data.external import require_tool, run_tool, trim_silence
from fqss_edge.errors import FqssError

ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan",
                 "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
FLITE_VOICES = {"kal": (85, 130), "kal16": (85, 130), "awb": (90, 140), "rms": (80, 125), "slt": (150, 220)}

_WORDS = {
    "adj": "red old quiet bright small heavy green warm cold young clever busy empty gentle proud sudden".split(),
    "noun": ("farmer garden river teacher window market doctor engine letter morning bridge captain kitchen "
             "village station painter ladder basket island student").split(),
    "verb": "carried painted found opened watched followed cleaned moved visited counted borrowed fixed".split(),
    "adv": "slowly quickly carefully again today yesterday quietly early later together".split(),
    "place": "near the harbour|across the street|behind the old mill|under the tall trees|in the small town|"
             "beside the station|on the hill".split("|"),
}
_TEMPLATES = (
    "The {adj} {noun} {verb} the {noun} {adv}.",
    "A {adj} {noun} {verb} my {adj} {noun} {place}.",
    "Yesterday the {noun} {verb} a {adj} {noun} {place}, and then left {adv}.",
    "Please tell the {noun} that the {adj} {noun} is waiting {place}.",
    "When the {noun} {verb} the {noun}, the {adj} {noun} went home {adv}.",
    "Seven {adj} {noun}s were {verb} {place} before noon.",
    "Nobody knew why the {noun} {verb} the {adj} {noun} {adv}.",
)


@dataclass(frozen=True)
class Voice:
    speaker_id: str
    engine: str  # "espeak-ng" or "flite"
    name: str
    pitch: float  # espeak-ng: -p 0..99; flite: target mean F0 in Hz
    speed: float  # espeak-ng: words per minute; flite: duration stretch (>1 slower)


def synthesize_corpus(out_dir: str | Path, n_speakers: int, n_utts: int, seed: int = 0, sample_rate: int = 8000,
                      jobs: int | None = None) -> list[str]:
    """Write ``n_speakers`` x ``n_utts`` utterances and return the speaker ids. Needs espeak-ng and flite."""
    out = Path(out_dir)
    espeak, flite = require_tool("espeak-ng"), require_tool("flite")
    voices = choose_voices(n_speakers, _espeak_voices(espeak), _flite_voices(flite), seed)
    rng = np.random.default_rng([seed, 1])
    tasks = [(v, f"{v.speaker_id}_{u:03d}", make_sentence(rng)) for v in voices for u in range(n_utts)]
    out.mkdir(parents=True, exist_ok=True)
    tools = {"espeak-ng": espeak, "flite": flite}
    with tempfile.TemporaryDirectory(prefix="fqss_synth_") as tmp, \
            ThreadPoolExecutor(jobs or min(8, 2 * (os.cpu_count() or 1))) as pool:
        list(pool.map(lambda t: _render(tools[t[0].engine], t[0], t[1], t[2], Path(tmp), out, sample_rate), tasks))
    _write_csv(out / "speakers.csv", ["speaker_id", "engine", "voice", "pitch", "speed"],
               [[v.speaker_id, v.engine, v.name, v.pitch, v.speed] for v in voices])
    _write_csv(out / "utterances.csv", ["speaker_id", "utterance", "text"],
               [[v.speaker_id, u, text] for v, u, text in tasks])
    return [v.speaker_id for v in voices]


def choose_voices(n: int, espeak_voices: list[str], flite_voices: list[str], seed: int) -> list[Voice]:
    """``n`` distinct speakers: every fourth from flite (when it has voices), the others espeak-ng voice+variant
    combinations in a seeded random order; combinations repeat only after all were used, with another pitch."""
    rng = np.random.default_rng([seed, 0])
    combos = [espeak_voices[i] for i in rng.permutation(len(espeak_voices))]
    out: list[Voice] = []
    n_e = n_f = 0
    for i in range(n):
        sid = f"spk{i:03d}"
        if flite_voices and (i % 4 == 3 or not combos):
            name = flite_voices[n_f % len(flite_voices)]
            lo, hi = FLITE_VOICES.get(name, (90, 140))
            pitch, speed = round(float(rng.uniform(lo, hi))), round(float(rng.uniform(0.85, 1.2)), 2)
            out.append(Voice(sid, "flite", name, pitch, speed))
            n_f += 1
        elif combos:
            pitch, speed = int(rng.integers(15, 85)), int(rng.integers(135, 195))
            out.append(Voice(sid, "espeak-ng", combos[n_e % len(combos)], pitch, speed))
            n_e += 1
        else:
            raise FqssError("synth: no usable espeak-ng or flite voice found")
    return out


def make_sentence(rng: np.random.Generator) -> str:
    template = _TEMPLATES[rng.integers(len(_TEMPLATES))]
    return re.sub(r"\{(\w+)\}", lambda m: str(rng.choice(_WORDS[m.group(1)])), template)


def _espeak_voices(exe: str) -> list[str]:
    langs = {ln.split()[1] for ln in run_tool([exe, "--voices=en"]).splitlines()[1:] if len(ln.split()) > 3}
    variants = {ln.split()[-1].removeprefix("!v/") for ln in run_tool([exe, "--voices=variant"]).splitlines()[1:]}
    return [f"{v}+{var}" for v in ESPEAK_VOICES if v in langs for var in ESPEAK_VARIANTS if var in variants]


def _flite_voices(exe: str) -> list[str]:
    listed = run_tool([exe, "-lv"]).replace("Voices available:", "").split()
    return [v for v in FLITE_VOICES if v in listed]


def _render(exe: str, v: Voice, utt: str, text: str, tmp: Path, out: Path, sample_rate: int) -> None:
    raw = tmp / f"{utt}.wav"
    if v.engine == "espeak-ng":
        run_tool([exe, "-v", v.name, "-p", str(int(v.pitch)), "-s", str(int(v.speed)), "-w", str(raw), text])
    else:
        run_tool([exe, "-voice", v.name, "--setf", f"duration_stretch={v.speed}",
              "--setf", f"int_f0_target_mean={v.pitch}", "-t", text, "-o", str(raw)])
    x = trim_silence(read_mono(raw, sample_rate, resample=True))
    if x is None:
        raise FqssError("synth: a synthesised utterance is silent")
    write_wav(out / v.speaker_id / f"{utt}.wav", x * (0.9 / max(float(np.abs(x).max()), 1e-9)), sample_rate)
    raw.unlink()


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
