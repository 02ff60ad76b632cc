"""Typed run configs (pydantic v2), loaded from YAML.

A run config has four sections: ``model``, ``quant``, ``train`` and ``data``. Every key has a default (the paper's
recipe for a 2-speaker 8 kHz ConvTasNet), so a YAML file lists only what it changes. Unknown keys are rejected, and
every problem is raised as one ``FqssError`` line naming the file and the key, e.g.
``configs/x.yaml: unknown key 'model.n_filterz' (did you mean 'n_filters'?)``.

Relative ``data`` paths are resolved against the folder of the YAML file that names them.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, StrictBool, ValidationError, field_validator, model_validator

from fqss_edge.config_types import ModelConfigBase, NonNegFloat, NonNegInt, PosFloat, PosInt, Section
from fqss_edge.errors import FqssError
from fqss_edge.yaml_io import load_yaml_file, short_repr
from fqss_edge.models.registry import ARCHITECTURES
from fqss_edge.models.registry import freeze as freeze_architectures
import fqss_edge.models  # noqa: F401  (registers the architectures)

__all__ = ["ModelConfig", "ModelConfigBase", "LayerBits", "QuantConfig", "TrainConfig", "DataConfig", "RunConfig", "load_config",
           "parse_config", "merge_plan_file", "dump_config", "shipped_config", "shipped_configs"]


def _model_union() -> Any:
    """``model``: one config class per registered architecture, chosen by ``model.name``."""
    configs = tuple(a.config for a in ARCHITECTURES.values())
    return Annotated[Union[configs], Field(discriminator="name")] if len(configs) > 1 else configs[0]


ModelConfig = _model_union()
freeze_architectures()  # the union is fixed from here on: a later registration would be silently unknown


class LayerBits(Section):
    """One layer's bit widths in a mixed-precision plan (``quant.plan``): None keeps the uniform setting."""

    weight_bits: Literal[4, 8] | None = None  # the layer's weights (int4 codes: see docs/mixed_precision.md)
    act_bits: Literal[8, 16] | None = None  # the layer's OUTPUT activation quantizer

    @model_validator(mode="after")
    def _not_empty(self) -> "LayerBits":
        if self.weight_bits is None and self.act_bits is None:
            raise ValueError("names neither weight_bits nor act_bits")
        return self


class QuantConfig(Section):
    """Fake-quantization settings for QAT and PTQ."""

    enabled: StrictBool = True
    weight_bits: Literal[4, 8, 16] = 8
    act_bits: Literal[8, 16] = 8
    norm_bits: Literal[8, 16] = 8  # bits inside the normalisation: 8 all-int8 (split squares), 16 an int16 island
    splitter: StrictBool = True
    residual_output: StrictBool = True
    calib_batches: PosInt = 50
    ema_alpha: float = 0.9  # range observers: running = alpha * running + (1 - alpha) * batch
    # mixed precision: module path (as in model.named_modules()) -> that layer's bit widths (fqss_edge/quant/plan.py)
    plan: dict[str, LayerBits] = Field(default_factory=dict)

    @field_validator("ema_alpha")
    @classmethod
    def _alpha_in_range(cls, v: float) -> float:
        if not 0.0 <= v < 1.0:
            raise ValueError("must be in [0, 1)")
        return v


class TrainConfig(Section):
    """Optimisation settings (Adam, gradient clipping, LR halving on plateau, early stopping)."""

    epochs: PosInt = 50
    batch_size: PosInt = 2
    lr: PosFloat = 1e-3
    segment_seconds: PosFloat = 3.0
    grad_clip: PosFloat = 5.0
    # PIT SI-SDR (masking models), PIT MSE (waveform regression), or L1 of named sources in order (music stems)
    loss: Literal["si_sdr", "mse", "l1"] = "si_sdr"
    kd_lambda: NonNegFloat = 0.1  # weight of the knowledge-distillation term (FQSS)
    plateau_patience: NonNegInt = 3  # epochs without improvement before the LR is halved
    early_stop_patience: PosInt = 10
    num_workers: NonNegInt = 0
    seed: NonNegInt = 0
    max_steps_per_epoch: PosInt | None = None
    valid_max_utts: PosInt | None = None
    # wall-clock budget of the training steps (None: none); the epoch it runs out in ends there, is validated
    # and saved as usual, and the run stops (a resume starts at the next epoch)
    max_minutes: PosFloat | None = None


class DataConfig(Section):
    """Data folders (None: not configured). Relative paths are resolved against the config file's folder."""

    train: str | None = None
    valid: str | None = None
    test: str | None = None


class RunConfig(Section):
    model: ModelConfig = Field(default_factory=lambda: ARCHITECTURES["convtasnet"].config())
    quant: QuantConfig = Field(default_factory=QuantConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    data: DataConfig = Field(default_factory=DataConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # ``data:`` with nothing under it parses as None: treat it as an empty section.
        if isinstance(data, dict):
            data = {k: ({} if v is None and k in cls.model_fields else v) for k, v in data.items()}
            model = data.get("model")
            if isinstance(model, dict) and "name" not in model:
                data["model"] = {"name": "convtasnet", **model}  # configs written before the model registry
        return data

    def updated(self, **sections: dict[str, Any]) -> "RunConfig":
        """A validated copy with some keys of some sections changed: ``cfg.updated(train={"epochs": 3})``."""
        d = self.model_dump()
        for section, changes in sections.items():
            if section not in d:
                raise FqssError(f"config: no section {section!r}")
            d[section] = {**d[section], **changes}
        try:
            return RunConfig.model_validate(d)
        except ValidationError as e:
            raise _validation_error("config", e) from None

    def with_data_root(self, root: str | Path) -> "RunConfig":
        """``data`` from one folder holding train/ valid/ (and test/, if present); MUSDB18-HQ (train/ test/ of
        track folders): valid is train/ (its standard validation tracks, ``fqss_edge.data.musdb``)."""
        from fqss_edge.data.musdb import is_musdb_root

        r = Path(root).absolute()
        if is_musdb_root(r):
            return self.updated(data={"train": str(r / "train"), "valid": str(r / "train"),
                                      "test": str(r / "test") if (r / "test").exists() else None})
        return self.updated(data={"train": str(r / "train"), "valid": str(r / "valid"),
                                  "test": str(r / "test") if (r / "test").exists() else None})


# -- validation errors ------------------------------------------------------------------------------------------


def _untagged(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """The key path without the union tag pydantic inserts (``model.convtasnet.n_filters`` -> ``model.n_filters``),
    and the model config class the tag names."""
    if len(loc) >= 2 and loc[0] == "model" and loc[1] in ARCHITECTURES and len(ARCHITECTURES) > 1:
        return (loc[0], *loc[2:]), ARCHITECTURES[loc[1]].config
    return loc, None


def _suggestion(loc: tuple[Any, ...], model_class: type[BaseModel] | None) -> str:
    section: type[BaseModel] = RunConfig
    for part in loc[:-1]:
        if part == "model" and section is RunConfig:
            section = model_class or ARCHITECTURES["convtasnet"].config
            continue
        field = section.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        section = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(error: dict[str, Any]) -> str:
    loc, model_class = _untagged(tuple(error["loc"]))
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'{_suggestion(loc, model_class)}"
    if error["type"] == "union_tag_invalid" or (loc == ("model", "name") and error["type"] == "literal_error"):
        # (a single registered architecture is no union: its name is a literal)
        tag = str(error.get("ctx", {}).get("tag", error.get("input", "")))[:60]
        close = difflib.get_close_matches(tag, list(ARCHITECTURES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"model.name: unknown architecture '{tag}'{hint}; registered: {', '.join(sorted(ARCHITECTURES))}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] not in ("value_error",):
        msg = f"{msg[:1].lower()}{msg[1:]} (got {short_repr(error.get('input'))})"
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
    data = load_yaml_file(p, "config file")
    if data is None:
        raise FqssError(f"{p}: config file is empty")
    cfg = parse_config(data, str(p), base_dir=p.parent)
    from fqss_edge.models.size import check_model_size  # (the models import this module)

    check_model_size(cfg.model, str(p))
    if cfg.quant.plan:
        from fqss_edge.models.factory import build_model  # builds it: every planned layer must exist

        build_model(cfg.model, cfg.quant, source=str(p))
    return cfg


def merge_plan_file(cfg: RunConfig, path: str | Path) -> RunConfig:
    """``cfg`` with the ``quant`` section of a plan file merged in (``train --plan``): a YAML mapping with only a
    ``quant`` section, e.g. ``quant: {plan: {masker.mask_conv: {act_bits: 16}}}`` (as ``analyze --plan``
    writes it). Validated like a config file; errors name the plan file."""
    p = Path(path)
    data = load_yaml_file(p, "plan file")
    if not isinstance(data, dict) or set(data) != {"quant"} or not isinstance(data["quant"], dict):
        raise FqssError(f"{p}: a plan file holds one section, 'quant' (e.g. quant: {{plan: {{LAYER: "
                        "{act_bits: 16}}), got "
                        f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
    merged = dump_config(cfg)
    merged["quant"] = {**merged["quant"], **data["quant"]}
    out = parse_config(merged, str(p))
    if out.quant.plan:
        from fqss_edge.models.factory import build_model

        build_model(out.model, out.quant, source=str(p))
    return out


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
