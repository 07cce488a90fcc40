"""Atomic writes: all or nothing, with the permissions of a plain open()."""

from __future__ import annotations

import os
import stat

import pytest

from textsmooth.io.atomic import atomic_path, atomic_write_text


def test_written_file_has_umask_permissions_not_mkstemps(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    (tmp_path / "plain.txt").write_text("z")  # same rule as open() under the restored umask
    atomic_write_text(tmp_path / "c.txt", "z")
    assert (tmp_path / "c.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_failure_leaves_neither_target_nor_temporary(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


def test_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
