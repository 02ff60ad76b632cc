"""fqss_edge.data.queen_speech: Flight of the Amazon Queen's speech lines from its resource file, by speaker, on
stand-in resource files of the same layout."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.data import queen_speech
from fqss_edge.data.queen_speech import JOE, read_table, speaker_of, unpack_speech
from fqss_edge.errors import FqssError

SR = 11025


def mp3_clip(f0: float, seconds: float = 0.6) -> bytes:
    """An MP3 stream of a tone, as the resource file stores speech (11.025 kHz mono)."""
    t = np.arange(int(SR * seconds)) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), SR, format="MP3")
    return buf.getvalue()


def write_resource(path: Path, files: dict[str, bytes], compression: int = queen_speech.MP3) -> Path:
    """A ``queen.1c``: QTBL, version, 2 bytes, compression, entry count, entries, then the files' bytes."""
    head = struct.pack(">4s6s2sBH", b"QTBL", b"CEM10\0", b"\0\0", compression, len(files))
    offset = len(head) + 21 * len(files)
    table, blobs = b"", b""
    for name, data in files.items():
        table += struct.pack(">12sBII", name.encode("ascii"), 1, offset + len(blobs), len(data))
        blobs += data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + table + blobs)
    return path


@pytest.mark.parametrize("name, speaker", [
    ("020006J1.SB", JOE), ("JOE07512.SB", JOE), ("020006P1.SB", "queen_d02"), ("830011P2.SB", "queen_d83"),
    ("C100A032.SB", None), ("1000SSSS.SB", None), ("MIK_0019.SB", None), ("020006J1.PCX", None),
    ("20006J1.SB", None), ("020006X1.SB", None)])
def test_speaker_of_name(name, speaker):
    assert speaker_of(name) == speaker


def test_table_round_trip(tmp_path):
    files = {"020006J1.SB": b"abc", "ROOM1.PCX": b"", "020006P1.SB": bytes(range(7))}
    compression, entries = read_table(write_resource(tmp_path / "queen.1c", files))
    assert compression == queen_speech.MP3
    data = (tmp_path / "queen.1c").read_bytes()
    assert {e.name: data[e.offset:e.offset + e.size] for e in entries} == files


def test_unpack_by_speaker(tmp_path):
    write_resource(tmp_path / queen_speech.RESOURCE, {
        "020006J1.SB": mp3_clip(200), "JOE00001.SB": mp3_clip(210), "020006P1.SB": mp3_clip(300),
        "350001P1.SB": mp3_clip(400), "C100A032.SB": mp3_clip(500), "ROOM1.PCX": b"\1\2"})
    out = unpack_speech(tmp_path)
    found = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert found == {f"{JOE}/020006J1.mp3", f"{JOE}/JOE00001.mp3", "queen_d02/020006P1.mp3",
                     "queen_d35/350001P1.mp3"}
    x, sr = sf.read(out / "queen_d35" / "350001P1.mp3")
    assert sr == SR and len(x) > 0.5 * SR
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * SR / len(x) - 400) < 10  # the line's own audio, not a neighbour's


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"RIFF" + b[4:], "no QTBL table"),
    (lambda b: b[:30], "truncated table"),
    (lambda b: b[:-3], "runs past the end"),
])
def test_bad_resource_is_named(tmp_path, damage, message):
    path = write_resource(tmp_path / "queen.1c", {"020006J1.SB": b"x" * 10})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(FqssError, match=message) as e:
        read_table(path)
    assert str(path) in str(e.value)


def test_other_compression_refused(tmp_path):
    write_resource(tmp_path / queen_speech.RESOURCE, {"020006J1.SB": b"x"}, compression=2)
    with pytest.raises(FqssError, match="compression 2, only MP3"):
        unpack_speech(tmp_path)


def test_missing_resource_named(tmp_path):
    with pytest.raises(FqssError, match="queen.1c: no such file"):
        unpack_speech(tmp_path)
