"""The building blocks of typed configs: strict sections, checked number types, a validated copy (pydantic v2).

``fqss_edge.config`` assembles the run config from them; each architecture's model config
(``fqss_edge/models/<arch>.py``) derives from ``ModelConfigBase``.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

__all__ = ["Section", "ModelConfigBase", "PosInt", "NonNegInt", "PosFloat", "NonNegFloat", "Dim", "Count", "replace",
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


class Section(BaseModel):
    """A config section: unknown keys are rejected, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfigBase(Section):
    """What every architecture's config has. Subclasses add ``name: Literal["<arch>"]`` and their fields."""

    name: str
    n_src: Count = 2
    sample_rate: Annotated[StrictInt, Field(le=768_000), AfterValidator(_positive)] = 8000


def replace(section: Section, **changes: object) -> Section:
    """A validated copy of ``section`` with ``changes`` (pydantic's ``model_copy(update=...)`` validates nothing)."""
    return type(section).model_validate({**section.model_dump(), **changes})
