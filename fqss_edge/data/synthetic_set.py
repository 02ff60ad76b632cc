"""A speaker-disjoint 2-speaker data set built offline from synthesized speakers (espeak-ng and flite)."""

from __future__ import annotations

import json
from pathlib import Path

from fqss_edge.data.generate import list_speakers, make_mixtures, split_speakers
from fqss_edge.data.synth import synthesize_corpus


def build_synthetic_set(work: str | Path, n_speakers: int, n_utts: int, counts: dict[str, int], seed: int = 0,
                        sample_rate: int = 8000) -> Path:
    """``work/corpus`` (speech) and ``work/data/{train,valid,test}`` (mix/ s1/ s2/) with disjoint speakers.

    Test gets a fifth of the speakers, valid a sixth (at least 2 each), train the rest. Reuses a finished set."""
    work = Path(work)
    corpus, data = work / "corpus", work / "data"
    split_file = data / "speaker_split.json"
    if split_file.exists():
        return data
    if not (corpus.is_dir() and list_speakers(corpus)):
        synthesize_corpus(corpus, n_speakers, n_utts, seed, sample_rate)
    speakers = sorted(list_speakers(corpus))
    n_test, n_valid = max(2, len(speakers) // 5), max(2, len(speakers) // 6)
    split = split_speakers(speakers, {"test": n_test, "valid": n_valid, "train": len(speakers) - n_test - n_valid}, seed)
    for i, (name, spk) in enumerate(split.items()):
        make_mixtures(corpus, data / name, counts[name], n_src=2, sample_rate=sample_rate, seed=seed + i,
                      speakers=spk, overwrite=True)
    split_file.write_text(json.dumps(split, indent=1))
    return data
