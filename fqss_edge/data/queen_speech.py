"""The spoken dialogue of the game Flight of the Amazon Queen (Debian's ``flight-of-the-amazon-queen``: the CD
version, freely redistributable) as one audio file per line, labelled by speaker.

The package holds one resource file, ``queen.1c`` (ScummVM's compressed form): ``QTBL``, a 6-byte version string,
2 bytes, a compression byte (1: MP3), a big-endian uint16 entry count, then per entry a 12-byte zero-padded name,
a bundle byte and big-endian uint32 offset and size into the same file. Speech lines are the ``.SB`` entries, each
an MP3 stream (11.025 kHz mono here; libsndfile decodes it). Speakers, from the names: ``<dialog:2><line:4>J<n>.SB``
and ``JOE<5 digits>.SB`` are Joe King, the hero (one actor); ``<dialog:2><line:4>P<n>.SB`` the person Joe talks to
in that dialog, one pseudo-speaker per dialog number (``queen_dNN``). That the first two digits number the dialog
files (73 ``.DOG`` entries, e.g. ``SPARKY1``-``SPARKY8``) is read from the names, not from the game's code: a
character with several dialogs is then several pseudo-speakers. Cut-scene and narration lines (other names) are
left out: their speaker is not in the name.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from fqss_edge.errors import FqssError

PACKAGE = "flight-of-the-amazon-queen"
RESOURCE = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
SPEECH = "usr/share/scummvm/flight-of-the-amazon-queen/speech"  # written by unpack_speech, beside the resource
MP3 = 1
_HEADER = struct.Struct(">4s6s2sBH")
_ENTRY = struct.Struct(">12sBII")
_LINE = re.compile(r"(\d\d)\d{4}([JP])\d\.SB")
_JOE = re.compile(r"JOE\d{5}\.SB")
PREFIX = "queen_"  # of every speaker id here
JOE = f"{PREFIX}joe"
# The dialog files with a person's lines in the Debian package (1.0.0-9) and about 0.3 min of speech or more (from
# their MP3 bytes at 16 kbit/s): the speakers REAL_SPEAKERS lists (a missing one is an error when the corpus is
# built). Joe has about 50 minutes, the 69 dialogs 0.3-2.7 each.
DIALOGS = ("02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
           "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "31", "33", "34", "35", "36", "37",
           "38", "39", "40", "41", "42", "45", "48", "49", "50", "51", "52", "53", "55", "57", "58", "59",
           "60", "61", "62", "64", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77", "79",
           "80", "83", "84")
SPEAKERS = (JOE, *(f"{PREFIX}d{d}" for d in DIALOGS))


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int
    size: int


def read_table(path: str | Path) -> tuple[int, list[Entry]]:
    """The compression byte and the entries of a ``queen.1c``; a file that is not one is an error naming it."""
    p = Path(path)
    total = p.stat().st_size
    with p.open("rb") as f:  # the table only (the file is 54 MB)
        head = f.read(_HEADER.size)
        if len(head) < _HEADER.size or head[:4] != b"QTBL":
            raise FqssError(f"{p}: not a Flight of the Amazon Queen resource file (no QTBL table)")
        _, _, _, compression, count = _HEADER.unpack(head)
        end = _HEADER.size + count * _ENTRY.size
        if end > total:
            raise FqssError(f"{p}: truncated table ({count} entries need {end} bytes, the file has {total})")
        table = f.read(count * _ENTRY.size)
    entries = []
    for k in range(count):
        raw, _, offset, size = _ENTRY.unpack_from(table, k * _ENTRY.size)
        name = raw.split(b"\0", 1)[0].decode("ascii", errors="replace")
        if offset + size > total:
            raise FqssError(f"{p}: entry {name} runs past the end of the file")
        entries.append(Entry(name, offset, size))
    return compression, entries


def speaker_of(name: str) -> str | None:
    """The speaker id of a speech entry's name, None for other entries and lines of unknown speakers."""
    if _JOE.fullmatch(name):
        return JOE
    m = _LINE.fullmatch(name)
    if m is None:
        return None
    return JOE if m[2] == "J" else f"{PREFIX}d{m[1]}"


def unpack_speech(root: str | Path) -> Path:
    """Write every labelled speech line of ``root/RESOURCE`` as ``root/SPEECH/<speaker>/<name>.mp3``."""
    root = Path(root)
    resource = root / RESOURCE
    if not resource.is_file():
        raise FqssError(f"{resource}: no such file (unpack {PACKAGE} there first)")
    compression, entries = read_table(resource)
    if compression != MP3:
        raise FqssError(f"{resource}: speech compression {compression}, only MP3 ({MP3}) is read")
    out = root / SPEECH
    with resource.open("rb") as f:
        for e in entries:
            speaker = speaker_of(e.name)
            if speaker is None:
                continue
            f.seek(e.offset)
            target = out / speaker / f"{e.name[:-3]}.mp3"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read(e.size))
    return out
