"""fqss_edge.fileio: an atomic write replaces the target only when it succeeds and leaves nothing behind."""

import pytest

from fqss_edge.fileio import atomic_write, atomic_write_bytes


def test_bytes_replace_the_target(tmp_path):
    target = tmp_path / "sub" / "x.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["x.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(error):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise error()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_written_files_honour_the_umask(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "x.bin", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o640


def test_output_folder_checks_and_cleans_up(tmp_path, monkeypatch):
    import os

    from fqss_edge.errors import FqssError
    from fqss_edge.fileio import check_output_folder, output_folder

    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "a" / "b") as d:
            (d / ".tmp").write_text("x")
            (d / ".tmp").unlink()
            raise RuntimeError()
    assert list(tmp_path.iterdir()) == []  # both folders it created are gone
    with output_folder(tmp_path / "kept") as d:
        assert d.is_dir()
    assert (tmp_path / "kept").is_dir()
    monkeypatch.setattr(os, "access", lambda *_: False)  # (as root every folder is writable)
    with pytest.raises(FqssError, match=rf"^{tmp_path / 'x'}: cannot write there \({tmp_path} is not writable\)$"):
        check_output_folder(tmp_path / "x")
