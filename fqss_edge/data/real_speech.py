"""A speaker-disjoint 2-speaker data set from real recorded voices that Debian packages.

Sources (``REAL_SPEAKERS``, licences in ``LICENCES``): Debian's Asterisk voice prompts (7 speakers, 8 kHz, 1-3 s
prompts), the spoken dialogs of the game Fish Fillets NG in Czech and Dutch (``fillets-ng-data-{cs,nl}``: the big
fish ``v`` and the small fish ``m`` of each dub, four voice actors with about 35 min each, ogg), and short clips for
training only: KLettres' letters and syllables (``klettres-data``: one folder per language, 0.5-3 min each),
KTuberling's spoken object names (``ktuberling-data``: 12 languages, 15-210 words each) and Hedgewars' voice packs
(``hedgewars-data``: 14 packs of acted exclamations, ~1 min each), and for training the English dialogue of the game
Flight of the Amazon Queen (``flight-of-the-amazon-queen``, ``fqss_edge.data.queen_speech``: the hero, about 50 min,
and the person he talks to in each of 69 dialog files, 0.3-2.7 min each).
Each speaker's clips are trimmed of silence, long ones are cut, and they are packed into utterances of a few
seconds. The split is fixed by speaker and never changes with the seed (``REAL_SPLIT``): three real speakers (one
male) are only ever tested, two others (one male) only validated, as real+real mixtures, the rest is trained on.
Training speakers are widened offline with pitch-shifted copies (new pseudo-speakers, sox ``pitch``: formants move
with the pitch) and speed-perturbed copies (0.95 / 1.05, the Sepformer recipe's factors, extra utterances of the
same speaker); synthesized espeak-ng/flite voices are added to train and, held out, to ``test_synth``, never to
the real test or validation splits. Everything here runs offline on ``.deb`` files fetched beforehand
(``scripts/real_speech_set.py`` fetches them with ``apt-get download``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from fqss_edge.audio import write_wav
from fqss_edge.data import queen_speech
from fqss_edge.data.common import read_mono
from fqss_edge.data.dynamic_mix import write_spec
from fqss_edge.data.external import require_tool, run_tool, trim_silence
from fqss_edge.data.generate import list_speakers, make_mixtures
from fqss_edge.errors import FqssError

SOUNDS = "usr/share/asterisk/sounds"
FILLETS = "usr/share/games/fillets-ng/sound"
KLETTRES = "usr/share/klettres"
KTUBERLING = "usr/share/ktuberling/sounds"
HEDGEWARS = "usr/share/games/hedgewars/Data/Sounds/voices"
PROMPT = r".*\.(wav|gsm)"  # every Asterisk prompt, sub-folders included


@dataclass(frozen=True)
class RealSpeaker:
    speaker_id: str
    gender: str  # "f", "m", or "?" (not checked: KLettres)
    language: str
    # (Debian package, folder inside it, regex of the speaker's files' paths relative to that folder)
    sources: tuple[tuple[str, str, str], ...]


def _fillets(lang: str, char: str, gender: str) -> RealSpeaker:
    """One voice of a Fish Fillets NG dub: files ``<level>/<lang>/<level>-<char>-<line>.ogg``."""
    return RealSpeaker(f"fillets_{lang}_{char}", gender, lang,
                       ((f"fillets-ng-data-{lang}", FILLETS, rf"[^/]+/{lang}/[^-/]+-{char}-[^/]*\.ogg"),))


def _klettres(lang: str) -> RealSpeaker:
    return RealSpeaker(f"klettres_{lang}", "?", lang, (("klettres-data", f"{KLETTRES}/{lang}",
                                                        r"(alpha|syllab)/[^/]*\.ogg"),))


def _ktuberling(lang: str) -> RealSpeaker:
    """One voice of KTuberling's spoken object names: files ``<lang>/<theme>_<object>.ogg`` (44.1 kHz stereo)."""
    return RealSpeaker(f"ktuberling_{lang}", "?", lang, (("ktuberling-data", f"{KTUBERLING}/{lang}", r"[^/]*\.ogg"),))


def _queen(speaker_id: str, gender: str) -> RealSpeaker:
    """One speaker of Flight of the Amazon Queen's dialogue (``queen_speech.unpack_speech`` writes the files)."""
    return RealSpeaker(speaker_id, gender, "en", ((queen_speech.PACKAGE, queen_speech.SPEECH,
                                                   rf"{speaker_id}/[^/]*\.mp3"),))


def _hedgewars(pack: str) -> RealSpeaker:
    """One Hedgewars voice pack: acted exclamations, ``<pack>/<line>.ogg``."""
    return RealSpeaker(f"hedgewars_{pack.lower()}", "?", "?", (("hedgewars-data", f"{HEDGEWARS}/{pack}",
                                                                 r"[^/]*\.ogg"),))


# KLettres' languages with sound files (id and nn have none); one voice per language is assumed, not checked, so
# they are only ever trained on (as KTuberling's and Hedgewars' voices).
KLETTRES_LANGS = ("ar", "cs", "da", "de", "en", "en_GB", "es", "fr", "he", "hu", "it", "lt", "ml", "nb", "nds",
                  "nl", "pt_BR", "ru", "tn", "uk")
# KTuberling's languages with sounds (sr@latin, sr@ijekavian and sr@ijekavianlatin repeat sr's files).
KTUBERLING_LANGS = ("ca", "da", "de", "el", "en", "gl", "lt", "ru", "sl", "sr", "uk", "wa")
# Hedgewars' voice packs but "Robot" (processed); which packs share an actor is not known: training only.
HEDGEWARS_PACKS = ("British", "Classic", "Default", "Default_es", "Default_pl", "Default_ru", "Default_uk",
                   "HillBilly", "Mobster", "Pirate", "Russian", "Russian_pl", "Singer", "Surfer")
REAL_SPEAKERS = (
    # en_US_f_Allison and es_MX_f_Allison are one speaker
    RealSpeaker("allison", "f", "en-US,es-MX", (("asterisk-core-sounds-en-wav", f"{SOUNDS}/en_US_f_Allison", PROMPT),
                                                ("asterisk-core-sounds-es-wav", f"{SOUNDS}/es_MX_f_Allison", PROMPT))),
    RealSpeaker("june", "f", "fr-CA", (("asterisk-core-sounds-fr-wav", f"{SOUNDS}/fr_CA_f_June", PROMPT),)),
    RealSpeaker("carlo", "m", "it-IT", (("asterisk-core-sounds-it-wav", f"{SOUNDS}/it_IT_m_Carlo", PROMPT),)),
    RealSpeaker("ivrvoice", "f", "ru-RU", (("asterisk-core-sounds-ru-wav", f"{SOUNDS}/ru_RU_f_IvrvoiceRU", PROMPT),)),
    RealSpeaker("menardi", "f", "it-IT", (("asterisk-prompt-it-menardi-wav", f"{SOUNDS}/it_IT_f_Menardi", PROMPT),)),
    RealSpeaker("armelle", "f", "fr-FR", (("asterisk-prompt-fr-armelle", f"{SOUNDS}/fr", PROMPT),)),
    RealSpeaker("july", "f", "es-CO", (("asterisk-prompt-es-co", f"{SOUNDS}/es", PROMPT),)),
    # the big fish (v) is a male voice, the small fish (m) a female one, in each dub
    _fillets("cs", "v", "m"), _fillets("cs", "m", "f"), _fillets("nl", "v", "m"), _fillets("nl", "m", "f"),
    *(_klettres(lang) for lang in KLETTRES_LANGS),
    *(_ktuberling(lang) for lang in KTUBERLING_LANGS),
    *(_hedgewars(pack) for pack in HEDGEWARS_PACKS),
    *(_queen(s, "m" if s == queen_speech.JOE else "?") for s in queen_speech.SPEAKERS),
)
# Voices of short clips (a word, a letter, an exclamation), packed into utterances: training only, drawn less often.
SHORT_CLIP_PREFIXES = ("klettres_", "ktuberling_", "hedgewars_")
PACKAGES = tuple(sorted({pkg for s in REAL_SPEAKERS for pkg, _, _ in s.sources}))
# From each package's usr/share/doc/<package>/copyright.
LICENCES = {"asterisk-core-sounds-en-wav": "CC-BY-SA-3.0", "asterisk-core-sounds-es-wav": "CC-BY-SA-3.0",
            "asterisk-core-sounds-fr-wav": "CC-BY-SA-3.0", "asterisk-core-sounds-it-wav": "CC-BY-SA-3.0",
            "asterisk-core-sounds-ru-wav": "CC-BY-SA-3.0", "asterisk-prompt-it-menardi-wav": "CC-BY-SA-3.0 (Italian)",
            "asterisk-prompt-fr-armelle": "GPL-2+", "asterisk-prompt-es-co": "GPL",
            "fillets-ng-data-cs": "GPL-2", "fillets-ng-data-nl": "GPL-2", "klettres-data": "GPL-2+",
            "ktuberling-data": "GPL-2+", "hedgewars-data": "GFDL-1.3 (Data/Sounds)",
            "flight-of-the-amazon-queen": "Flight-of-the-Amazon-Queen-License (free redistribution, no sale)"}
# Fixed by speaker, nothing here depends on the seed. Test: the only male Asterisk voice and two unseen languages
# (as in the first run, for comparability); valid: real+real only, a male and a female voice not trained on.
REAL_SPLIT = {"train": ["allison", "ivrvoice", "menardi", "fillets_cs_v", "fillets_cs_m", "fillets_nl_m",
                        *(s.speaker_id for s in REAL_SPEAKERS
                          if s.speaker_id.startswith((*SHORT_CLIP_PREFIXES, queen_speech.PREFIX)))],
              "valid": ["july", "fillets_nl_v"], "test": ["armelle", "carlo", "june"]}
# Training speakers widened with pitch/speed copies: the ones with minutes of speech, not KLettres' short clips
# (their copies would outnumber the long-form voices).
AUGMENTED = ("allison", "ivrvoice", "menardi", "fillets_cs_v", "fillets_cs_m", "fillets_nl_m", queen_speech.JOE)
# The short-clip voices (SHORT_CLIP_PREFIXES) are drawn this much less often than the others in training mixtures:
# 46 voices of 15-260 short clips each would otherwise be in 8 training mixtures of 10 (2 speakers drawn from 82);
# at 0.4 they are in about 6 of 10, a long-form or synthesized voice in the others. (Since Flight of the Amazon
# Queen's 70 voices joined, 155 training speakers, they are in about 3 of 10 at 0.4.)
SHORT_CLIP_ODDS = 0.4
PITCH_SHIFTS = (-4.0, -2.0, 2.0)  # semitones: new pseudo-speakers of each training speaker
SPEED_FACTORS = (0.95, 1.05)
MIN_PROMPT_SECONDS = 0.3
# Quieter prompts are left out: the Asterisk voices ship silence/1..10 prompts (up to 10 s at about -91 dBFS), which
# trim_silence (relative to a file's own peak) keeps whole.
MIN_PROMPT_DBFS = -60.0
# Below speech: some recordings carry a DC offset and infrasonic rumble (armelle: 17 % of its energy under 20 Hz,
# menardi 14 %, ktuberling_en 21 %). In a mixture nothing tells which source it belongs to, and the mixture keeps it
# exactly, so it caps SI-SDRi on such voices; every prompt is high-passed (zero phase) before use.
HIGHPASS_HZ = (40.0, 80.0)  # stop below the first, pass above the second, a raised-cosine ramp between
# Voices of one recording set-up share a channel (bandwidth, noise floor, processing); mixtures mostly across
# set-ups may let a model separate by the channel, and the test pairs are all Asterisk voices. The dynamic-mixing spec
# records each speaker's set-up (``recording_group``) and draws this share of its items within one. Measured (run 3's
# tiny float fine-tuned 6,010 steps at 0.5; benchmarks/results/real_speech_tiny_dm_fqss.md): validation pair
# 4.97 -> 6.17 dB, synthesized test 3.94 -> 5.00, unseen real test 0.23 -> 0.29 (still ~0: three Asterisk voices to
# learn from are too few; after 3,600 steps the unseen Asterisk pair june + july had fallen 1.40 -> 0.01).
SAME_GROUP_ODDS = 0.5
ASTERISK_VOICES = tuple(s.speaker_id for s in REAL_SPEAKERS if s.sources[0][0].startswith("asterisk-"))


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
    queen_speech.unpack_speech(root)  # one resource file: its speech lines as files, by speaker
    return root


def speaker_prompts(root: str | Path, speaker: RealSpeaker) -> list[Path]:
    """Every file of ``speaker`` (its sources' patterns) under an unpacked ``root``."""
    files: list[Path] = []
    for _, folder, pattern in speaker.sources:
        d = Path(root) / folder
        if not d.is_dir():
            raise FqssError(f"{d}: no such folder (unpack {', '.join(PACKAGES)} there first)")
        rx = re.compile(pattern)
        files += sorted(p for p in d.rglob("*") if p.is_file() and rx.fullmatch(p.relative_to(d).as_posix()))
    if not files:
        raise FqssError(f"{Path(root) / speaker.sources[0][1]}: no files of speaker {speaker.speaker_id}")
    return files


def read_prompt(path: Path, sample_rate: int, tmp: Path) -> np.ndarray:
    """A prompt as float32 at ``sample_rate`` (resampled by soxr); GSM 6.10 (``.gsm``) is decoded by sox."""
    if path.suffix == ".gsm":
        wav = tmp / "prompt.wav"
        run_tool([require_tool("sox"), str(path), "-b", "16", str(wav)])
        path = wav
    return read_mono(path, sample_rate, resample=True)


def highpass(x: np.ndarray, sample_rate: int, band: tuple[float, float] = HIGHPASS_HZ) -> np.ndarray:
    """``x`` without its DC and content below ``band[0]`` Hz (zero phase, by FFT; a raised-cosine ramp up to
    ``band[1]`` Hz, unchanged above). Float32 out."""
    n = len(x)
    if n < 2:
        return np.asarray(x, dtype=np.float32)
    spec = np.fft.rfft(np.asarray(x, dtype=np.float64))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    lo, hi = band
    gain = np.clip((f - lo) / (hi - lo), 0.0, 1.0)
    spec *= 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spec, n).astype(np.float32)


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


def split_long(x: np.ndarray, length: int) -> list[np.ndarray]:
    """``x`` cut into equal pieces of at most ``length`` samples (clips of a few seconds stay whole)."""
    return np.array_split(x, -(-len(x) // length)) if len(x) > length else [x]


def build_real_corpus(root: str | Path, corpus: str | Path, sample_rate: int = 8000, seconds: float = 4.0,
                      seed: int = 0) -> dict[str, int]:
    """``corpus/<speaker_id>/<speaker_id>_NNNN.wav`` for every real speaker; returns speaker -> utterance count."""
    corpus = Path(corpus)
    counts = {}
    with tempfile.TemporaryDirectory(prefix="fqss_real_") as tmp:
        for spk in REAL_SPEAKERS:
            prompts = []
            for f in speaker_prompts(root, spk):
                if _is_empty(f):  # a few prompts in the packages are empty (header only)
                    continue
                x = trim_silence(highpass(read_prompt(f, sample_rate, Path(tmp)), sample_rate))
                if x is not None and len(x) >= MIN_PROMPT_SECONDS * sample_rate and _dbfs(x) >= MIN_PROMPT_DBFS:
                    prompts += split_long(x.astype(np.float32), int(seconds * sample_rate))
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
    ``augment_speakers`` of ``AUGMENTED`` and by synthesized voices; ``work/data/test_synth`` gets four held-out
    synthesized voices, for comparison).
    ``counts`` gives the number of mixtures per split name. ``work/data/train_dynamic`` is the training speakers
    for dynamic mixing (``fqss_edge.data.dynamic_mix``; ``counts["train"]`` mixtures an epoch). Reuses a finished
    set."""
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
    split["train"] += augment_speakers(corpus, list(AUGMENTED), sample_rate)
    split.update(_add_synthetic(corpus, synth_speakers, synth_utts, seed, sample_rate, split))
    for i, (name, spk) in enumerate(split.items()):
        make_mixtures(corpus, data / name, counts[name], n_src=2, sample_rate=sample_rate, seed=seed + i,
                      speakers=spk, overwrite=True,
                      speaker_weights=short_clip_odds(spk))
    train = split["train"]
    write_spec(data / "train_dynamic", corpus, {**dict.fromkeys(train, 1.0), **short_clip_odds(train)},
               counts["train"], groups={s: recording_group(s) for s in train}, same_group_odds=SAME_GROUP_ODDS)
    info = {"split": split, "real_utterances": utterances,
            "real_speakers": {s.speaker_id: {"gender": s.gender, "language": s.language,
                                             "packages": {p: LICENCES[p] for p, _, _ in s.sources}}
                             for s in REAL_SPEAKERS}}
    split_file.write_text(json.dumps(info, indent=1))
    return data


def recording_group(speaker_id: str) -> str:
    """The recording set-up a corpus speaker comes from: ``asterisk``, ``fillets_<lang>`` (one dub), ``klettres``,
    ``ktuberling``, ``hedgewars``, ``queen`` or ``synth``; pitch-shifted copies (``<id>_p-2``) keep their speaker's."""
    base = re.sub(r"_p[+-]\d+$", "", speaker_id)
    if base in ASTERISK_VOICES:
        return "asterisk"
    if base.startswith("fillets_"):
        return base.rsplit("_", 1)[0]
    if base.startswith("syn_"):
        return "synth"
    if base.startswith(queen_speech.PREFIX):
        return "queen"
    prefix = base.split("_", 1)[0]
    if f"{prefix}_" in SHORT_CLIP_PREFIXES:
        return prefix
    raise FqssError(f"speaker {speaker_id!r}: no recording set-up known for it")


def short_clip_odds(speakers: list[str]) -> dict[str, float]:
    """``SHORT_CLIP_ODDS`` for each short-clip voice of ``speakers`` (the others draw at odds 1)."""
    return {s: SHORT_CLIP_ODDS for s in speakers if s.startswith(SHORT_CLIP_PREFIXES)}


def _add_synthetic(corpus: Path, n: int, n_utts: int, seed: int, sample_rate: int,
                   split: dict[str, list[str]]) -> dict[str, list[str]]:
    """Synthesize ``n`` voices into ``corpus`` (ids ``syn_spkNNN``): the third to sixth to ``test_synth`` (the
    first run's held-out voices), the rest to train; validation stays real+real."""
    from fqss_edge.data.synth import synthesize_corpus

    if n < 8:
        raise FqssError(f"synthesized speakers: {n} requested, need at least 8 (4 test_synth, 4 train)")
    with tempfile.TemporaryDirectory(prefix="fqss_synth_", dir=corpus.parent) as tmp:
        ids = synthesize_corpus(tmp, n, n_utts, seed, sample_rate)
        for sid in ids:
            shutil.move(str(Path(tmp) / sid), str(corpus / f"syn_{sid}"))
    ids = [f"syn_{s}" for s in ids]
    return {"train": split["train"] + ids[:2] + ids[6:], "test_synth": ids[2:6]}


def _dbfs(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _is_empty(path: Path) -> bool:
    """A file without samples: a header-only wav (44 bytes) or an ogg of zero frames (one in fillets-ng-data-nl: read_wav would refuse it)."""
    if path.stat().st_size <= 44:
        return True
    if path.suffix != ".ogg":
        return False
    try:
        return sf.info(str(path)).frames == 0
    except (sf.LibsndfileError, RuntimeError) as e:
        raise FqssError(f"{path}: not a readable audio file ({e})") from None


def _peak(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = float(np.abs(x).max())
    return x * (peak / m) if m > 0 else x
