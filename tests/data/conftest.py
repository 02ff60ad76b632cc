import pytest

from fqss_edge import audio


@pytest.fixture()
def raw_levels(monkeypatch):
    """Items at the files' own levels (only clipping protection), to compare loaders with the files."""
    monkeypatch.setattr(audio, "PEAK_TARGET", None)  # read by peak_gain
