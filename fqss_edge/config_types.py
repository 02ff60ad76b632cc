"""The building blocks of typed configs: strict sections, checked number types, a validated copy (pydantic v2).

``fqss_edge.config`` assembles the run config from them; each architecture's model config
(``fqss_edge/models/<arch>.py``) derives from ``ModelConfigBase``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, StrictInt,
                      model_serializer, model_validator)

__all__ = ["Section", "ModelConfigBase", "PosInt", "NonNegInt", "PosFloat", "NonNegFloat", "Dim", "Count", "SourceName",
           "check_source_names", "replace",
           "MAX_DIM"]


def _positive(v: int | float) -> int | float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    if v <= 0:
        raise ValueError("must be > 0")
    return v


def _non_negative(v: int | float) -> int | float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    if v < 0:
        raise ValueError("must be >= 0")
    return v


PosInt = Annotated[StrictInt, AfterValidator(_positive)]
NonNegInt = Annotated[StrictInt, AfterValidator(_non_negative)]
PosFloat = Annotated[float, AfterValidator(_positive)]
NonNegFloat = Annotated[float, AfterValidator(_non_negative)]

MAX_DIM = 65536  # channels, kernel sizes and strides of a model: far above any real one, far below an OOM
Dim = Annotated[StrictInt, Field(le=MAX_DIM), AfterValidator(_positive)]
Count = Annotated[StrictInt, Field(le=64), AfterValidator(_positive)]  # layers, blocks, repeats, sources
# a source name becomes part of a file name (<mix>_<source>.wav): no separators, no leading dot
SourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def check_source_names(names: list[str], n_src: int) -> None:
    """``ValueError`` unless ``names`` is empty or one distinct name per source."""
    if names and len(names) != n_src:
        raise ValueError(f"source_names: {len(names)} names for n_src {n_src}")
    if len(set(names)) != len(names):
        raise ValueError(f"source_names: repeated names {names}")


class Section(BaseModel):
    """A config section: unknown keys are rejected, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfigBase(Section):
    """What every architecture's config has. Subclasses add ``name: Literal["<arch>"]`` and their fields."""

    name: str
    n_src: Count = 2
    sample_rate: Annotated[StrictInt, Field(le=768_000), AfterValidator(_positive)] = 8000
    # 1 (mono) or 2 (stereo): the model maps [B, audio_channels, T] to [B, n_src * audio_channels, T]
    audio_channels: Annotated[StrictInt, Field(ge=1, le=2)] = 1
    # the sources' names (file names of ``separate``; [] = s1, s2, ...): one per source, e.g. drums, bass, ...
    source_names: list[SourceName] = []
    # fields added after checkpoints and exports recorded this config: dumped only when they differ from their
    # default, so that a model that does not use one keeps its saved config, its checkpoint fingerprint
    # (``fingerprint.py``, over the dumped config) and its exports' fingerprints
    late_fields: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_late_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        d = handler(self)
        for k in self.late_fields:
            if getattr(self, k) == type(self).model_fields[k].default:
                d.pop(k, None)
        return d

    @model_validator(mode="after")
    def _one_name_per_source(self) -> "ModelConfigBase":
        check_source_names(self.source_names, self.n_src)
        return self


def replace(section: Section, **changes: object) -> Section:
    """A validated copy of ``section`` with ``changes`` (pydantic's ``model_copy(update=...)`` validates nothing)."""
    return type(section).model_validate({**section.model_dump(), **changes})
