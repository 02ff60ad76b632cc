"""Results pages that benchmark scripts regenerate, without losing what people wrote under them.

A script writes its page whole on every run. Text below the line ``NOTES_MARKER`` in the page on disk is the
hand-written part (how a record was made, what it means, earlier figures): :func:`write_page` writes the new text
and, when the old page had the marker, the marker and everything after it unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fqss_edge.fileio import atomic_write_bytes

NOTES_MARKER = "<!-- notes: written by hand, kept when the script rewrites this page -->"


def kept_notes(path: str | Path) -> str:
    """The marker and the text after it in the page at ``path`` ("" if there is no page or no marker)."""
    p = Path(path)
    if not p.is_file():
        return ""
    text = p.read_text()
    at = text.find(NOTES_MARKER)
    return text[at:] if at >= 0 else ""


def write_page(path: str | Path, text: str) -> Path:
    """Write ``text`` (the generated page) to ``path``, atomically, followed by the old page's notes if any. A
    generated page may end with the marker itself (an empty notes section to write in); with old notes kept, that
    marker gives way to theirs, so rewrites never stack markers."""
    notes = kept_notes(path)
    if notes:
        text = text.split(NOTES_MARKER)[0]
    body = text.rstrip("\n") + "\n"
    if notes:
        body += "\n" + notes.rstrip("\n") + "\n"
    atomic_write_bytes(Path(path), body.encode())
    return Path(path)
