import pytest

from fqss_edge.data import common


@pytest.fixture()
def raw_levels(monkeypatch):
    """Items at the files' own levels (only clipping protection), to compare loaders with the files."""
    monkeypatch.setattr(common, "PEAK_TARGET", None)
