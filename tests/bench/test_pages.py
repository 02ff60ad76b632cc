"""Regenerated results pages keep the hand-written notes under their marker, and nothing else of the old page."""

from __future__ import annotations

from fqss_edge.bench.pages import NOTES_MARKER, kept_notes, write_page


def test_a_new_page_is_the_generated_text(tmp_path):
    page = write_page(tmp_path / "r.md", "# run 1\n\n| a |\n")
    assert page.read_text() == "# run 1\n\n| a |\n" and kept_notes(page) == ""


def test_notes_under_the_marker_survive_a_rewrite(tmp_path):
    page = write_page(tmp_path / "r.md", "# run 1\n| 1.0 |")
    page.write_text(page.read_text() + f"\n{NOTES_MARKER}\nBefore: 0.9 dB.\n")
    write_page(page, "# run 2\n| 2.0 |\n")
    assert page.read_text() == f"# run 2\n| 2.0 |\n\n{NOTES_MARKER}\nBefore: 0.9 dB.\n"
    write_page(page, "# run 3")
    assert page.read_text().startswith("# run 3\n\n") and page.read_text().count(NOTES_MARKER) == 1
    assert "run 2" not in page.read_text() and page.read_text().endswith("Before: 0.9 dB.\n")


def test_a_page_generated_with_an_empty_marker_keeps_one_marker(tmp_path):
    """Scripts that end their page with the marker (an empty notes section) rewrite it without stacking markers."""
    page = write_page(tmp_path / "r.md", f"# run 1\n\n{NOTES_MARKER}\n")
    assert page.read_text() == f"# run 1\n\n{NOTES_MARKER}\n"
    page.write_text(page.read_text() + "Measured by hand.\n")
    write_page(page, f"# run 2\n\n{NOTES_MARKER}\n")
    write_page(page, f"# run 3\n\n{NOTES_MARKER}\n")
    assert page.read_text() == f"# run 3\n\n{NOTES_MARKER}\nMeasured by hand.\n"
