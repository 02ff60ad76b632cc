"""Built-in default assets (see README.md here): the tiny Conv-TasNet trained on real recorded speech, float
and FQSS 8-bit, an example mixture and a few test mixtures of real voices never trained on, with their sources."""

from importlib.resources import files
from pathlib import Path


def asset(name: str) -> Path:
    return Path(str(files(__name__) / name))
