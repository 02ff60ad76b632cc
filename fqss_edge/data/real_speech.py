"""A speaker-disjoint 2-speaker data set from real recorded voices: Debian's Asterisk voice prompts.

The prompts are real 8 kHz recordings of seven distinct speakers (``REAL_SPEAKERS``). They are short (about 1-3 s
each), so each speaker's prompts are trimmed of silence and packed into utterances of a few seconds. The split is
fixed by speaker and never changes with the seed: three speakers (one male) are only ever tested, one is validated,
three are trained on. Training speakers are widened offline with pitch-shifted copies (new pseudo-speakers, sox
``pitch``: formants move with the pitch) and speed-perturbed copies (0.95 / 1.05, the Sepformer recipe's factors,
extra utterances of the same speaker); synthesized espeak-ng/flite voices can be added to train and valid, never
to the real test split. Everything here runs offline on ``.deb`` files fetched beforehand
(``scripts/real_speech_set.py`` fetches them with ``apt-get download``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from fqss_edge.audio import write_wav
from fqss_edge.data.common import read_mono
from fqss_edge.data.external import require_tool, run_tool, trim_silence
from fqss_edge.data.generate import list_speakers, make_mixtures
from fqss_edge.errors import FqssError

SOUNDS = "usr/share/asterisk/sounds"


@dataclass(frozen=True)
class RealSpeaker:
    speaker_id: str
    gender: str
    language: str
    sources: tuple[tuple[str, str], ...]  # (Debian package, folder inside it)


REAL_SPEAKERS = (
    # en_US_f_Allison and es_MX_f_Allison are one speaker
    RealSpeaker("allison", "f", "en-US,es-MX", (("asterisk-core-sounds-en-wav", f"{SOUNDS}/en_US_f_Allison"),
                                                ("asterisk-core-sounds-es-wav", f"{SOUNDS}/es_MX_f_Allison"))),
    RealSpeaker("june", "f", "fr-CA", (("asterisk-core-sounds-fr-wav", f"{SOUNDS}/fr_CA_f_June"),)),
    RealSpeaker("carlo", "m", "it-IT", (("asterisk-core-sounds-it-wav", f"{SOUNDS}/it_IT_m_Carlo"),)),
    RealSpeaker("ivrvoice", "f", "ru-RU", (("asterisk-core-sounds-ru-wav", f"{SOUNDS}/ru_RU_f_IvrvoiceRU"),)),
    RealSpeaker("menardi", "f", "it-IT", (("asterisk-prompt-it-menardi-wav", f"{SOUNDS}/it_IT_f_Menardi"),)),
    RealSpeaker("armelle", "f", "fr-FR", (("asterisk-prompt-fr-armelle", f"{SOUNDS}/fr"),)),
    RealSpeaker("july", "f", "es-CO", (("asterisk-prompt-es-co", f"{SOUNDS}/es"),)),
)
PACKAGES = tuple(sorted({pkg for s in REAL_SPEAKERS for pkg, _ in s.sources}))
# Fixed by speaker: test has the only male voice and two unseen languages; nothing here depends on the seed.
REAL_SPLIT = {"train": ["allison", "ivrvoice", "menardi"], "valid": ["july"], "test": ["armelle", "carlo", "june"]}
PITCH_SHIFTS = (-4.0, -2.0, 2.0)  # semitones: new pseudo-speakers of each training speaker
SPEED_FACTORS = (0.95, 1.05)
MIN_PROMPT_SECONDS = 0.3


def extract_packages(deb_dir: str | Path, root: str | Path) -> Path:
    """Unpack every package of ``PACKAGES`` found as ``deb_dir/<package>_*.deb`` into ``root`` (dpkg-deb -x)."""
    deb_dir, root = Path(deb_dir), Path(root)
    dpkg = require_tool("dpkg-deb", "dpkg")
    missing = [p for p in PACKAGES if not sorted(deb_dir.glob(f"{p}_*.deb"))]
    if missing:
        raise FqssError(f"{deb_dir}: no .deb for {', '.join(missing)} (fetch them: apt-get download "
                        f"{' '.join(missing)})")
    root.mkdir(parents=True, exist_ok=True)
    for p in PACKAGES:
        run_tool([dpkg, "-x", str(sorted(deb_dir.glob(f"{p}_*.deb"))[-1]), str(root)], timeout=600)
    return root


def speaker_prompts(root: str | Path, speaker: RealSpeaker) -> list[Path]:
    """Every prompt file (wav or gsm, sub-folders included) of ``speaker`` under an unpacked ``root``."""
    files: list[Path] = []
    for _, folder in speaker.sources:
        d = Path(root) / folder
        if not d.is_dir():
            raise FqssError(f"{d}: no such folder (unpack {', '.join(PACKAGES)} there first)")
        files += sorted(p for p in d.rglob("*") if p.suffix in (".wav", ".gsm") and p.is_file())
    return files


def read_prompt(path: Path, sample_rate: int, tmp: Path) -> np.ndarray:
    """A prompt as float32 at ``sample_rate``; GSM 6.10 (``.gsm``) is decoded by sox."""
    if path.suffix == ".gsm":
        wav = tmp / "prompt.wav"
        run_tool([require_tool("sox"), str(path), "-b", "16", str(wav)])
        path = wav
    return read_mono(path, sample_rate, resample=True)


def pack_utterances(prompts: list[np.ndarray], sample_rate: int, seconds: float, gap_seconds: float = 0.15,
                    seed: int = 0) -> list[np.ndarray]:
    """Trimmed prompts in a seeded order, joined with short gaps into utterances of at least ``seconds``."""
    order = np.random.default_rng(seed).permutation(len(prompts))
    gap = np.zeros(int(round(gap_seconds * sample_rate)), dtype=np.float32)
    out, cur, n = [], [], 0
    for i in order:
        cur.append(prompts[i])
        n += len(prompts[i])
        if n >= seconds * sample_rate:
            out.append(np.concatenate([c for p in cur for c in (p, gap)][:-1]))
            cur, n = [], 0
    if cur and n >= seconds * sample_rate / 2:
        out.append(np.concatenate([c for p in cur for c in (p, gap)][:-1]))
    return out


def build_real_corpus(root: str | Path, corpus: str | Path, sample_rate: int = 8000, seconds: float = 4.0,
                      seed: int = 0) -> dict[str, int]:
    """``corpus/<speaker_id>/<speaker_id>_NNNN.wav`` for every real speaker; returns speaker -> utterance count."""
    corpus = Path(corpus)
    counts = {}
    with tempfile.TemporaryDirectory(prefix="fqss_real_") as tmp:
        for spk in REAL_SPEAKERS:
            prompts = []
            for f in speaker_prompts(root, spk):
                if f.stat().st_size <= 44:  # a few prompts in the packages are empty (header only)
                    continue
                x = trim_silence(read_prompt(f, sample_rate, Path(tmp)))
                if x is not None and len(x) >= MIN_PROMPT_SECONDS * sample_rate:
                    prompts.append(x.astype(np.float32))
            utts = pack_utterances(prompts, sample_rate, seconds, seed=seed)
            for k, u in enumerate(utts):
                write_wav(corpus / spk.speaker_id / f"{spk.speaker_id}_{k:04d}.wav", _peak(u), sample_rate)
            counts[spk.speaker_id] = len(utts)
    return counts


def augment_speakers(corpus: str | Path, speakers: list[str], sample_rate: int = 8000,
                     pitch_shifts: tuple[float, ...] = PITCH_SHIFTS,
                     speed_factors: tuple[float, ...] = SPEED_FACTORS) -> list[str]:
    """Pitch-shifted pseudo-speakers ``<spk>_p<+/-n>`` and speed-perturbed extra utterances (``_s<factor>``) of
    ``speakers``, written into ``corpus``; returns the new speaker ids. Only for training speakers."""
    corpus = Path(corpus)
    sox = require_tool("sox")
    available = list_speakers(corpus)
    new = []
    for spk in speakers:
        for f in available[spk]:
            x = read_mono(f, sample_rate)
            for factor in speed_factors:  # x played `factor` times faster: pitch and tempo change together
                y = soxr.resample(x, sample_rate * factor, sample_rate)
                write_wav(corpus / spk / f"{f.stem}_s{factor:.2f}.wav", _peak(y), sample_rate)
        for semis in pitch_shifts:
            sid = f"{spk}_p{semis:+.0f}"
            for f in available[spk]:
                out = corpus / sid / f.name
                out.parent.mkdir(parents=True, exist_ok=True)
                run_tool([sox, str(f), "-b", "16", str(out), "pitch", f"{100 * semis:.0f}"])
            new.append(sid)
    return new


def build_real_speech_set(work: str | Path, deb_dir: str | Path, counts: dict[str, int], seed: int = 0,
                          synth_speakers: int = 16, synth_utts: int = 20, sample_rate: int = 8000,
                          seconds: float = 4.0) -> Path:
    """``work/data/{train,valid,test}`` from the real speakers (split ``REAL_SPLIT``; train widened by
    ``augment_speakers`` and by synthesized voices; valid gets two of those, ``work/data/test_synth`` four
    held-out ones, for comparison).
    ``counts`` gives the number of mixtures per split name. Reuses a finished set."""
    work = Path(work)
    data, corpus = work / "data", work / "corpus"
    split_file = data / "speaker_split.json"
    if split_file.exists():
        return data
    if corpus.exists():
        shutil.rmtree(corpus)  # an unfinished earlier build
    root = extract_packages(deb_dir, work / "debs_unpacked")
    utterances = build_real_corpus(root, corpus, sample_rate, seconds, seed)
    split = {k: list(v) for k, v in REAL_SPLIT.items()}
    split["train"] += augment_speakers(corpus, REAL_SPLIT["train"], sample_rate)
    split.update(_add_synthetic(corpus, synth_speakers, synth_utts, seed, sample_rate, split))
    for i, (name, spk) in enumerate(split.items()):
        make_mixtures(corpus, data / name, counts[name], n_src=2, sample_rate=sample_rate, seed=seed + i,
                      speakers=spk, overwrite=True)
    info = {"split": split, "real_utterances": utterances,
            "real_speakers": {s.speaker_id: {"gender": s.gender, "language": s.language,
                                             "packages": [p for p, _ in s.sources]} for s in REAL_SPEAKERS}}
    split_file.write_text(json.dumps(info, indent=1))
    return data


def _add_synthetic(corpus: Path, n: int, n_utts: int, seed: int, sample_rate: int,
                   split: dict[str, list[str]]) -> dict[str, list[str]]:
    """Synthesize ``n`` voices into ``corpus`` (ids ``syn_spkNNN``): 2 to valid, 4 to ``test_synth``, the rest to
    train."""
    from fqss_edge.data.synth import synthesize_corpus

    if n < 8:
        raise FqssError(f"synthesized speakers: {n} requested, need at least 8 (2 valid, 4 test_synth, 2 train)")
    with tempfile.TemporaryDirectory(prefix="fqss_synth_", dir=corpus.parent) as tmp:
        ids = synthesize_corpus(tmp, n, n_utts, seed, sample_rate)
        for sid in ids:
            shutil.move(str(Path(tmp) / sid), str(corpus / f"syn_{sid}"))
    ids = [f"syn_{s}" for s in ids]
    return {"train": split["train"] + ids[6:], "valid": split["valid"] + ids[:2], "test_synth": ids[2:6]}


def _peak(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = float(np.abs(x).max())
    return x * (peak / m) if m > 0 else x
