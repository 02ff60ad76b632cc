"""Reports for people: the HTML summary page (players, waveforms, spectrograms, metrics and latency tables)."""

from fqss_edge.report.summary_page import build_summary_page, html_table

__all__ = ["build_summary_page", "html_table"]
