"""Where ``separate`` writes: output file names from a template, as demucs' ``--filename`` / ``-n`` do.

``OUT[/NAME]/<template>``, the template's fields being ``{track}`` (the input's name without its extension),
``{trackext}`` (its extension), ``{stem}`` (the source, or ``STEM`` / ``no_STEM`` with ``--two-stems``) and
``{ext}`` (wav, flac or mp3). Ours is ``{track}_{stem}.{ext}`` by default (every stem beside the others in OUT);
demucs' is ``{track}/{stem}.{ext}`` under ``OUT/<model name>``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from fqss_edge.errors import FqssError

DEFAULT_FILENAME = "{track}_{stem}.{ext}"
DEMUCS_FILENAME = "{track}/{stem}.{ext}"
FIELDS = ("track", "trackext", "stem", "ext")


def check_filename(template: str) -> str:
    """The template, or ``FqssError`` naming what is wrong: an unknown or positional field, a missing ``{stem}``
    (every stem would go to one file), a path that leaves the output folder."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise FqssError(f"--filename {template!r}: {e}") from None
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise FqssError(f"--filename {template!r}: unknown field {{{unknown[0]}}} (use {{track}}, {{trackext}}, "
                        f"{{stem}}, {{ext}})")
    if "stem" not in fields:
        raise FqssError(f"--filename {template!r}: needs {{stem}} (each stem is its own file)")
    if _escapes(template):
        raise FqssError(f"--filename {template!r}: must stay inside the output folder (no absolute path, no '..')")
    return template


def check_name(name: str | None) -> str | None:
    """``-n NAME``: one folder name (no separator, not '.' or '..')."""
    if name is not None and (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name):
        raise FqssError(f"-n {name!r}: must be one folder name")
    return name


def _escapes(relative: str) -> bool:
    p = PurePosixPath(relative)
    return p.is_absolute() or ".." in p.parts or relative.startswith("\\")


def output_paths(mixture: str | Path, out_dir: str | Path, source_names: Sequence[str], ext: str = "wav",
                 filename: str = DEFAULT_FILENAME, name: str | None = None) -> dict[str, Path]:
    """``{source: out_dir[/name]/<filename filled in>}``."""
    m = Path(mixture)
    base = Path(out_dir) / name if name else Path(out_dir)
    track, trackext = m.stem, m.suffix.removeprefix(".")
    paths = {}
    for stem in source_names:
        rel = filename.format(track=track, trackext=trackext, stem=stem, ext=ext)
        if _escapes(rel) or not PurePosixPath(rel).name:  # a track or stem name could still carry '..' or '/'
            raise FqssError(f"{m}: output name {rel!r} (from --filename {filename!r}) leaves the output folder")
        paths[stem] = base / rel
    return paths


__all__ = ["DEFAULT_FILENAME", "DEMUCS_FILENAME", "check_filename", "check_name", "output_paths"]
