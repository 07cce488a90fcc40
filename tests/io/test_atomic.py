"""Atomic writes: all or nothing, with the permissions of a plain open(); claims: one holder at a time."""

from __future__ import annotations

import os
import stat

import pytest

from claim_holders import held_by_another_process
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
    with held_by_another_process(target), claim(target) as taken:
        assert not taken  # another process holds it
    with claim(target) as taken:
        assert taken  # the killed holder's lock went with it


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="Linux's lock table")
def test_claim_holder_names_the_process_holding_the_claim_without_taking_it(tmp_path):
    from textsmooth.io.atomic import claim, claim_holder

    target = tmp_path / "runs" / "a"
    assert claim_holder(target) is None  # no lock file
    with claim(target) as mine:
        assert mine and claim_holder(target) == os.getpid()
    assert claim_holder(target) is None  # released (the lock file stays)
    with held_by_another_process(target) as pid:
        for _ in range(3):  # asking takes nothing: the holder keeps it, and asking again gives the same
            assert claim_holder(target) == pid
        with claim(target) as taken:
            assert not taken
    assert claim_holder(target) is None


def test_claim_holder_reads_the_lock_table_format(tmp_path):
    # /proc/locks: "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END", device numbers in hex; a
    # "N: -> FLOCK ..." line is a process waiting for the lock, not its holder
    from textsmooth.io.atomic import claim_holder

    target = tmp_path / "run"
    lock = tmp_path / "run.lock"
    lock.write_text("")
    info = lock.stat()
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}"
    table = tmp_path / "locks"
    lines = [
        f"1: POSIX  ADVISORY  WRITE 11 {device}:{info.st_ino} 0 EOF",  # a POSIX lock: not a claim
        f"2: FLOCK  ADVISORY  WRITE 22 {device}:{info.st_ino + 1} 0 EOF",  # another file
        f"3: -> FLOCK  ADVISORY  WRITE 33 {device}:{info.st_ino} 0 EOF",  # waiting
        "4: FLOCK  ADVISORY  WRITE x 00:00:1 0 EOF",  # malformed
        f"5: FLOCK  ADVISORY  WRITE 55 {device}:{info.st_ino} 0 EOF",
    ]
    table.write_text("\n".join(lines) + "\n")
    assert claim_holder(target, locks_table=table) == 55
    table.write_text("\n".join(lines[:4]) + "\n")
    assert claim_holder(target, locks_table=table) is None
    assert claim_holder(target, locks_table=tmp_path / "absent") is None  # no lock table here
