"""Export metadata read back from a model file, validated through typed models before any of it is used.

``ContractFields`` is the I/O contract (``fqss.io_contract`` in ONNX, the same values in the .tflite entry);
``TfliteMetadata`` the ``fqss_edge`` entry of a .tflite. A file edited by hand (stride 0, kernel 1e12, a negative
sample rate, a missing ``input`` key, source names that are paths) gives one ``FqssError`` line naming the file
and the key, never a traceback or an allocation sized by the file.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from fqss_edge.config_types import MAX_DIM, SourceName, check_source_names
from fqss_edge.errors import FqssError
from fqss_edge.yaml_io import short_repr

__all__ = ["ContractFields", "TfliteMetadata", "validated"]

MAX_SAMPLE_RATE = 768_000
MAX_SOURCES = 64


def _finite_positive(v: float) -> float:
    if not (math.isfinite(v) and v > 0):
        raise ValueError("must be a finite number > 0")
    return v


Dim = Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ContractFields(_Strict):
    sample_rate: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_RATE)]
    n_src: Annotated[StrictInt, Field(ge=1, le=MAX_SOURCES)]
    stride: Dim
    kernel_size: Dim
    source_names: list[SourceName] = []
    input_name: Name = "mixture"
    output_name: Name = "sources"
    output_lsb: Annotated[float, AfterValidator(_finite_positive)] = 1.0 / 32768.0
    audio_channels: Annotated[StrictInt, Field(ge=1, le=2)] = 1  # files exported before stereo: mono

    @model_validator(mode="after")
    def _names_match_sources(self) -> "ContractFields":
        check_source_names(self.source_names, self.n_src)
        return self


class _Tensor(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: Name
    dtype: str


class _Length(_Strict):
    multiple_of: Dim | None = None
    min: Dim | None = None
    fixed: Dim | None = None  # exported at this one input length (``export --length``)


class TfliteMetadata(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    format: Literal["fqss-edge-tflite"]
    io: str
    input: _Tensor
    output: _Tensor
    sample_rate: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_RATE)] | None = None
    n_src: Annotated[StrictInt, Field(ge=1, le=MAX_SOURCES)] | None = None
    source_names: list[SourceName] | None = None
    length: _Length = _Length()
    precision: Literal["int8", "float32"] = "int8"
    onnx_metadata: dict[str, Any] = {}


def validated(model: type[BaseModel], data: Any, source: str) -> Any:
    """``model.model_validate(data)``, or one ``FqssError`` line: ``source: key: problem (got value)``."""
    if not isinstance(data, dict):
        raise FqssError(f"{source}: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = "".join(f"{p}: " for p in [".".join(str(p) for p in err["loc"])] if p)
        msg = str(err["msg"]).removeprefix("Value error, ")
        got = "" if err["type"] in ("missing", "value_error") else f" (got {short_repr(err.get('input'))})"
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise FqssError(f"{source}: {key}{msg[:1].lower()}{msg[1:]}{got}{more}") from None
