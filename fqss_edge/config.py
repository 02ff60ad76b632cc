"""Typed run configs (pydantic v2), loaded from YAML.

A run config has four sections: ``model``, ``quant``, ``train`` and ``data``. Every key has a default (the paper's
recipe for a 2-speaker 8 kHz ConvTasNet), so a YAML file lists only what it changes. Unknown keys are rejected, and
every problem is raised as one ``FqssError`` line naming the file and the key, e.g.
``configs/x.yaml: unknown key 'model.n_filterz' (did you mean 'n_filters'?)``.

Relative ``data`` paths are resolved against the folder of the YAML file that names them.
"""

from __future__ import annotations

import difflib
import re
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError,
                      ValidationInfo, field_validator, model_validator)

from fqss_edge.errors import FqssError

__all__ = ["ModelConfig", "QuantConfig", "TrainConfig", "DataConfig", "RunConfig", "load_config", "parse_config",
           "dump_config", "shipped_config", "shipped_configs"]


def _positive(v: int | float) -> int | float:
    if v <= 0:
        raise ValueError("must be > 0")
    return v


def _non_negative(v: int | float) -> int | float:
    if v < 0:
        raise ValueError("must be >= 0")
    return v


PosInt = Annotated[StrictInt, AfterValidator(_positive)]
NonNegInt = Annotated[StrictInt, AfterValidator(_non_negative)]
PosFloat = Annotated[float, AfterValidator(_positive)]
NonNegFloat = Annotated[float, AfterValidator(_non_negative)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    """ConvTasNet hyper-parameters (asteroid/paper names in comments)."""

    name: Literal["convtasnet"] = "convtasnet"
    n_src: PosInt = 2
    sample_rate: PosInt = 8000
    n_filters: PosInt = 512  # N: encoder filters
    kernel_size: PosInt = 16  # L: encoder window (samples)
    stride: PosInt = 8
    bn_chan: PosInt = 128  # B: bottleneck channels
    hid_chan: PosInt = 512  # H: channels inside a TCN block
    skip_chan: PosInt = 128
    conv_kernel_size: PosInt = 3  # P: depthwise kernel
    n_blocks: PosInt = 8  # X: blocks per repeat (dilations 1 .. 2**(X-1))
    n_repeats: PosInt = 3  # R
    mask_act: Literal["relu", "sigmoid"] = "relu"
    norm: Literal["gLN"] = "gLN"
    encoder_act: Literal["relu", "none"] = "relu"

    @field_validator("stride")
    @classmethod
    def _stride_fits_kernel(cls, v: int, info: ValidationInfo) -> int:
        kernel = info.data.get("kernel_size")
        if kernel is not None and v > kernel:
            raise ValueError(f"must be <= kernel_size ({kernel})")
        return v


class QuantConfig(_Section):
    """Fake-quantization settings for QAT and PTQ."""

    enabled: StrictBool = True
    weight_bits: Literal[4, 8, 16] = 8
    act_bits: Literal[8, 16] = 8
    norm_bits: Literal[8, 16] = 8  # bits inside the normalisation: 8 all-int8 (split squares), 16 an int16 island
    splitter: StrictBool = True
    residual_output: StrictBool = True
    calib_batches: PosInt = 50
    ema_alpha: float = 0.9  # range observers: running = alpha * running + (1 - alpha) * batch

    @field_validator("ema_alpha")
    @classmethod
    def _alpha_in_range(cls, v: float) -> float:
        if not 0.0 <= v < 1.0:
            raise ValueError("must be in [0, 1)")
        return v


class TrainConfig(_Section):
    """Optimisation settings (Adam, gradient clipping, LR halving on plateau, early stopping)."""

    epochs: PosInt = 50
    batch_size: PosInt = 2
    lr: PosFloat = 1e-3
    segment_seconds: PosFloat = 3.0
    grad_clip: PosFloat = 5.0
    kd_lambda: NonNegFloat = 0.1  # weight of the knowledge-distillation term (FQSS)
    plateau_patience: NonNegInt = 3  # epochs without improvement before the LR is halved
    early_stop_patience: PosInt = 10
    num_workers: NonNegInt = 0
    seed: NonNegInt = 0
    max_steps_per_epoch: PosInt | None = None
    valid_max_utts: PosInt | None = None


class DataConfig(_Section):
    """Data folders (None: not configured). Relative paths are resolved against the config file's folder."""

    train: str | None = None
    valid: str | None = None
    test: str | None = None


class RunConfig(_Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    quant: QuantConfig = Field(default_factory=QuantConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    data: DataConfig = Field(default_factory=DataConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # ``data:`` with nothing under it parses as None: treat it as an empty section.
        if isinstance(data, dict):
            return {k: ({} if v is None and k in cls.model_fields else v) for k, v in data.items()}
        return data


# -- YAML -------------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_error(path: Path, e: yaml.YAMLError) -> FqssError:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return FqssError(f"{path}: invalid YAML: {problem}{where}")


# -- validation errors ------------------------------------------------------------------------------------------


def _suggestion(loc: tuple[Any, ...]) -> str:
    section: type[BaseModel] = RunConfig
    for part in loc[:-1]:
        field = section.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        section = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'{_suggestion(loc)}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] not in ("value_error",):
        msg = f"{msg[:1].lower()}{msg[1:]} (got {error.get('input')!r})"
    return f"{key}: {msg}"


def _validation_error(source: str, e: ValidationError) -> FqssError:
    errors = e.errors()
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return FqssError(f"{source}: {_describe(errors[0])}{more}")


# -- public API -------------------------------------------------------------------------------------------------


def parse_config(data: Any, source: str = "config", base_dir: str | Path | None = None) -> RunConfig:
    """Validate a config mapping (e.g. parsed YAML or a checkpoint's stored config).

    ``source`` names the origin in error messages; ``base_dir`` resolves relative ``data`` paths."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FqssError(f"{source}: expected a mapping of sections (model, quant, train, data), got "
                        f"{type(data).__name__}")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise _validation_error(source, e) from None
    if base_dir is None:
        return cfg
    base = Path(base_dir).absolute()
    paths = {k: (v if v is None or Path(v).is_absolute() else str((base / v).resolve()))
             for k, v in cfg.data.model_dump().items()}
    return cfg.model_copy(update={"data": DataConfig(**paths)})


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config. Raises ``FqssError`` (one line naming the file) on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FqssError(f"{p}: config file not found") from None
    except IsADirectoryError:
        raise FqssError(f"{p}: is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FqssError(f"{p}: cannot read config ({e})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise _yaml_error(p, e) from None
    if data is None:
        raise FqssError(f"{p}: config file is empty")
    return parse_config(data, str(p), base_dir=p.parent)


def dump_config(cfg: RunConfig) -> dict[str, Any]:
    """Plain dict of a run config (JSON/YAML-safe); ``parse_config(dump_config(c)) == c``."""
    return cfg.model_dump(mode="json")


def shipped_configs() -> list[str]:
    """Names of the YAML configs shipped with the package (``fqss_edge.configs``), without ``.yaml``."""
    return sorted(r.name.removesuffix(".yaml") for r in files("fqss_edge.configs").iterdir()
                  if r.name.endswith(".yaml"))


def shipped_config(name: str) -> Path:
    """Path of a shipped config by name (``"convtasnet_tiny"``) or file name."""
    resource = files("fqss_edge.configs") / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not resource.is_file():
        raise FqssError(f"no shipped config named '{name}' (available: {', '.join(shipped_configs())})")
    return Path(str(resource))
