"""Atomic writes: all or nothing, with the permissions of a plain open(); claims: one holder at a time."""

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


def test_claim_is_taken_once_and_ends_with_its_block_or_its_holder(tmp_path):
    # claim(): one holder at a time, no waiting; the lock ends with the block, or with a holder that dies
    import subprocess
    import sys

    from textsmooth.io.atomic import claim

    target = tmp_path / "runs" / "a"
    with claim(target) as first:
        assert first and (tmp_path / "runs" / "a.lock").is_file()
        with claim(target) as second:
            assert not second  # another holder (here another lock object of this process)
        with claim(tmp_path / "runs" / "b") as other:
            assert other  # another path is another lock
    with claim(target) as again:
        assert again  # released at the end of the block
    script = (
        f"from textsmooth.io.atomic import claim\nimport time\nwith claim({str(target)!r}):\n"
        "    print('held', flush=True)\n    time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with claim(target) as taken:
            assert not taken  # another process holds it
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with claim(target) as taken:
        assert taken  # the killed holder's lock went with it
