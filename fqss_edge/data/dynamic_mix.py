"""Dynamic mixing: training mixtures drawn afresh for every item of every epoch from a speaker corpus.

A folder holding ``dynamic_mix.json`` is a training set of this kind (``open_dataset`` detects it)::

    {"corpus": "../../corpus",          # <speaker>/*.wav, relative to this folder (or absolute)
     "speakers": {"allison": 1.0, ...}, # the speakers drawn from, with their relative odds
     "mixtures": 8000,                  # items per epoch
     "level_db": [-33.0, -25.0],        # each source's RMS level, drawn uniformly (dBFS)
     "groups": {"allison": "asterisk", ...},  # optional: each speaker's recording set-up
     "same_group_odds": 0.5}            # optional: the share of mixtures drawn within one set-up

Item ``k`` of epoch ``e`` draws ``n_src`` distinct speakers by their odds, one utterance of each, a random crop of
each (the training segment), a level for each, from a generator seeded by ``(seed, e, k)`` once ``set_epoch`` was
called (so a run is reproducible and every epoch sees new mixtures), and sums them; sources shorter than the
segment keep their length (the shortest decides, as in LibriMix's ``min`` mode) and the base class pads the end.
This is the Sepformer / WSJ0-2mix recipes' dynamic mixing: on a corpus of few speakers it yields combinations a
fixed set of mixtures never shows, which is what speaker-independent separation needs.

With ``same_group_odds`` > 0, that share of the items draws its first speaker as above and the others from the
first one's group (by their odds; the usual draw where the group has too few speakers). A corpus pooled from
several recording set-ups otherwise mostly mixes voices across set-ups, and a model can learn to separate by the
channel (bandwidth, noise floor, room) instead of by the voice: it then fails on two voices of one set-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field, ValidationError, field_validator, model_validator

from fqss_edge.config_types import Section
from fqss_edge.data.common import SeparationDataset, read_mono
from fqss_edge.data.generate import list_speakers, rms_db
from fqss_edge.errors import FqssError

SPEC = "dynamic_mix.json"


class DynamicMixSpec(Section):
    """The contents of ``dynamic_mix.json`` (unknown keys are refused)."""

    corpus: str
    speakers: dict[str, float]
    mixtures: int = Field(gt=0)
    level_db: tuple[float, float] = (-33.0, -25.0)
    groups: dict[str, str] = {}
    same_group_odds: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _grouped(self) -> DynamicMixSpec:
        if self.same_group_odds > 0:
            missing = [s for s, w in self.speakers.items() if w > 0 and s not in self.groups]
            if missing:
                raise ValueError(f"same_group_odds > 0 needs a group for every speaker; none for "
                                 f"{', '.join(missing[:5])}")
        return self

    @field_validator("speakers")
    @classmethod
    def _odds(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not np.isfinite(w) or w < 0 for w in v.values()) or sum(w > 0 for w in v.values()) < 2:
            raise ValueError("needs at least two speakers with odds > 0, none negative")
        return v


def is_dynamic_mix(path: Path) -> bool:
    return (path / SPEC).is_file()


def write_spec(folder: str | Path, corpus: str | Path, speakers: dict[str, float], mixtures: int,
               level_db: tuple[float, float] = (-33.0, -25.0), groups: dict[str, str] | None = None,
               same_group_odds: float = 0.0) -> Path:
    """``folder/dynamic_mix.json`` naming ``corpus`` relative to ``folder`` (the pair can be moved together)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = DynamicMixSpec(corpus=os.path.relpath(Path(corpus).resolve(), folder.resolve()), speakers=speakers,
                          mixtures=mixtures, level_db=level_db, groups=groups or {},
                          same_group_odds=same_group_odds)
    out = folder / SPEC
    out.write_text(json.dumps(spec.model_dump(), indent=1))
    return out


class DynamicMixDataset(SeparationDataset):
    """Mixtures of ``n_src`` speakers of a corpus, drawn per item (see the module docstring); training only: it
    needs a segment length."""

    def __init__(self, folder: str | Path, sample_rate: int, n_src: int, segment_seconds: float | None,
                 seed: int = 0) -> None:
        super().__init__(sample_rate, n_src, segment_seconds, seed)
        self.folder = Path(folder)
        spec_file = self.folder / SPEC
        if self.segment is None:
            raise FqssError(f"{spec_file}: dynamic mixing is for training (it needs train.segment_seconds); "
                            "validate and test on fixed mixtures")
        try:
            self.spec = DynamicMixSpec.model_validate(json.loads(spec_file.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise FqssError(f"{spec_file}: not valid JSON ({e})") from None
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "spec"
            raise FqssError(f"{spec_file}: {where}: {first['msg']}") from None
        corpus = Path(self.spec.corpus)
        self.corpus = corpus if corpus.is_absolute() else (self.folder / corpus)
        available = list_speakers(self.corpus)
        names = [s for s, w in self.spec.speakers.items() if w > 0]
        unknown = [s for s in names if s not in available]
        if unknown:
            raise FqssError(f"{spec_file}: no wavs of speaker(s) {', '.join(unknown[:5])} in {self.corpus}")
        if len(names) < n_src:
            raise FqssError(f"{spec_file}: {len(names)} speaker(s) with odds > 0, need {n_src}")
        self.names = sorted(names)
        self.files = [available[s] for s in self.names]
        w = np.array([self.spec.speakers[s] for s in self.names], dtype=np.float64)
        self.odds = w / w.sum()
        self.group = [self.spec.groups.get(s) for s in self.names]

    def __len__(self) -> int:
        return self.spec.mixtures

    def _rng(self, index: int) -> np.random.Generator:
        if self.epoch is not None:
            return np.random.default_rng([self.seed, self.epoch, index])
        return np.random.default_rng(int(torch.randint(2**31, (1,)).item()))

    def _speakers(self, rng: np.random.Generator) -> np.ndarray:
        """``n_src`` distinct speaker indices (see the module docstring)."""
        if self.spec.same_group_odds > 0 and rng.uniform() < self.spec.same_group_odds:
            first = int(rng.choice(len(self.names), p=self.odds))
            mates = [j for j in range(len(self.names)) if j != first and self.group[j] == self.group[first]]
            if len(mates) >= self.n_src - 1:
                w = self.odds[mates]
                rest = rng.choice(mates, self.n_src - 1, replace=False, p=w / w.sum())
                return np.array([first, *rest])
        return rng.choice(len(self.names), self.n_src, replace=False, p=self.odds)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        rng = self._rng(index)
        seg = self.segment
        assert seg is not None
        chosen = self._speakers(rng)
        sigs = []
        for j in chosen:
            path = self.files[j][int(rng.integers(len(self.files[j])))]
            x = read_mono(path, self.sample_rate)
            start = int(rng.integers(max(len(x) - seg, 0) + 1))
            x = x[start:start + seg]
            level = rms_db(x)
            if level < -90:  # a silent crop: keep it silent rather than amplify noise
                sigs.append(np.zeros_like(x))
                continue
            sigs.append(x * np.float32(10 ** ((rng.uniform(*self.spec.level_db) - level) / 20)))
        n = min(len(s) for s in sigs)
        sources = np.stack([s[:n] for s in sigs]).astype(np.float32)
        utt = f"dm{self.epoch if self.epoch is not None else 'x'}_{index:05d}_" + "_".join(self.names[j]
                                                                                           for j in chosen)
        return sources.sum(0), sources, utt
