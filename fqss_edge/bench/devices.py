"""Device profiles (``configs/devices/*.yaml``): architecture, cores, default threads and how to reach the device.

    profile = load_device("rpi4")            # a shipped profile, or a path to a YAML file
    profile.check_local()                    # FqssError unless this host can run it natively

Unknown keys are rejected; every problem is one ``FqssError`` line naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import platform
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from fqss_edge.errors import FqssError
from fqss_edge.yaml_io import load_yaml_file, short_repr

ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
                "armv7l": "armv7l", "armv8l": "armv7l"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SshSettings(_Strict):
    host: str | None = None  # user@addr
    port: StrictInt = 22
    key: str | None = None  # private key file

    @model_validator(mode="after")
    def _safe_for_ssh(self) -> "SshSettings":
        from fqss_edge.bench.remote import check_ssh_settings

        try:
            check_ssh_settings(self.host, self.port, self.key)
        except FqssError as e:
            raise ValueError(str(e)) from None
        return self


class DeviceProfile(_Strict):
    name: str
    description: str = ""
    arch: Literal["native", "x86_64", "aarch64", "armv7l"] = "native"
    cpu: str | None = None
    cores: StrictInt | None = None
    default_threads: StrictInt = 1
    python: str = "python3"
    workdir: str = "/tmp"
    ssh: SshSettings = Field(default_factory=SshSettings)

    @field_validator("cores", "default_threads")
    @classmethod
    def _positive(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("must be >= 1")
        return v

    @property
    def core_count(self) -> int:
        return self.cores or os.cpu_count() or 1

    def runs_here(self) -> bool:
        return self.arch == "native" or self.arch == host_arch()

    def check_local(self) -> None:
        """Raise unless this host can run the profile natively (no --host, no --emulate)."""
        if not self.runs_here():
            raise FqssError(f"device {self.name!r} is {self.arch} but this host is {host_arch()}: pass --host "
                            f"user@addr to run on the device, or --emulate for an emulated (not representative) run")


def host_arch() -> str:
    m = platform.machine().lower()
    return ARCH_ALIASES.get(m, m)


def devices_dir() -> Path:
    return Path(str(files("fqss_edge.configs") / "devices"))


def shipped_devices() -> list[str]:
    return sorted(p.stem for p in devices_dir().glob("*.yaml"))


def _describe(source: str, e: ValidationError) -> FqssError:
    err = e.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    key = ".".join(loc) or "(top level)"
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    if err["type"] == "extra_forbidden":
        model: type[BaseModel] = SshSettings if loc[:1] == ("ssh",) else DeviceProfile
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return FqssError(f"{source}: unknown key '{key}'{hint}{more}")
    msg = str(err["msg"]).removeprefix("Value error, ")
    return FqssError(f"{source}: {key}: {msg} (got {short_repr(err.get('input'))}){more}")


def parse_device(data: Any, source: str = "device profile") -> DeviceProfile:
    if not isinstance(data, dict):
        raise FqssError(f"{source}: a device profile must be a mapping of keys, not {type(data).__name__}")
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as e:
        raise _describe(source, e) from None


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name (``cpu``, ``rpi4``, ``rpi5``, ``aarch64``) or a YAML file."""
    p = Path(name_or_path)
    if p.suffix.lower() not in (".yaml", ".yml"):
        p = devices_dir() / f"{name_or_path}.yaml"
        if not p.is_file():
            close = difflib.get_close_matches(str(name_or_path), shipped_devices(), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise FqssError(f"unknown device {str(name_or_path)!r} ({hint}available: {', '.join(shipped_devices())}, "
                            f"or a path to a device .yaml)")
    elif not p.is_file():
        raise FqssError(f"{p}: no such device profile")
    return parse_device(load_yaml_file(p, "device profile"), str(p))
