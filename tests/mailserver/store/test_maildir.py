"""Maildir files: names, CRLF normalisation, durable writes, listings."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.store import maildir


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\rb", b"a\r\nb"),
        (b"a\r\r\nb", b"a\r\n\r\nb"),
        (b"a\n\r\nb", b"a\r\n\r\nb"),
        (b"", b""),
        (b"no line end", b"no line end"),
    ],
)
def test_normalize_crlf(raw: bytes, normal: bytes) -> None:
    assert maildir.normalize_crlf(raw) == normal


@given(st.binary(max_size=200))
def test_normalize_crlf_leaves_only_crlf(data: bytes) -> None:
    out = maildir.normalize_crlf(data)
    assert out.replace(b"\r\n", b"") == data.replace(b"\r", b"").replace(b"\n", b"")
    assert b"\r" not in out.replace(b"\r\n", b"")
    assert maildir.normalize_crlf(out) == out


def test_new_base_format() -> None:
    base = maildir.new_base(1_700_000_000.25, "mx.test", 1234)
    m = re.fullmatch(r"1700000000\.M250000P(\d+)Q(\d+)\.mx\.test,S=1234", base)
    assert m is not None
    assert int(m.group(1)) == os.getpid()
    other = maildir.new_base(1_700_000_000.25, "mx.test", 1234)
    assert other != base


def test_new_base_microseconds() -> None:
    assert maildir.new_base(1_700_000_000.999999, "h", 1).startswith("1700000000.M999999P")
    assert maildir.new_base(1_700_000_000.0, "h", 1).startswith("1700000000.M0P")


def test_safe_host() -> None:
    assert maildir.safe_host("a/b:c") == "a\\057b\\072c"
    assert maildir.safe_host("") == "localhost"
    assert maildir.safe_host("mx.test") == "mx.test"


@pytest.mark.parametrize(
    ("name", "base", "info", "size"),
    [
        ("1.M2P3Q4.h,S=10", "1.M2P3Q4.h,S=10", None, 10),
        ("1.M2P3Q4.h,S=10:2,RS", "1.M2P3Q4.h,S=10", "RS", 10),
        ("1.M2P3Q4.h,S=10:2,", "1.M2P3Q4.h,S=10", "", 10),
        ("1.M2P3Q4.h,S=10,W=12:2,S", "1.M2P3Q4.h,S=10,W=12", "S", 10),
        ("1.h:1,experimental", "1.h", None, None),
        ("plain", "plain", None, None),
        ("1.h,S=x", "1.h,S=x", None, None),
    ],
)
def test_file_name_parse(name: str, base: str, info: str | None, size: int | None) -> None:
    parsed = maildir.FileName.parse(name)
    assert (parsed.base, parsed.info, parsed.size()) == (base, info, size)


def test_file_name() -> None:
    assert maildir.file_name("b", None) == "b"
    assert maildir.file_name("b", "S") == "b:2,S"
    assert maildir.file_name("b", "") == "b:2,"


def test_ensure_and_write(tmp_path: Path) -> None:
    md = str(tmp_path / "Maildir")
    old_umask = os.umask(0o022)
    try:
        assert maildir.ensure(md) is True
        assert maildir.ensure(md) is False
        assert sorted(os.listdir(md)) == ["cur", "new", "tmp"]
        sub = str(tmp_path / "Maildir" / ".Sent")
        assert maildir.ensure(sub, subfolder=True) is True
        assert maildir.ensure(sub, subfolder=True) is False
        assert sorted(os.listdir(sub)) == ["cur", "maildirfolder", "new", "tmp"]
        for d in (md, os.path.join(md, "cur"), os.path.join(md, "new"), os.path.join(md, "tmp")):
            assert os.stat(d).st_mode & 0o777 == 0o700
        assert os.stat(os.path.join(sub, "maildirfolder")).st_mode & 0o777 == 0o600
        os.rmdir(os.path.join(md, "new"))
        assert maildir.ensure(md) is True  # a missing subdirectory is made again
        assert sorted(os.listdir(md)) == [".Sent", "cur", "new", "tmp"]
        path = maildir.write_tmp(md, "base1", b"data", 1_600_000_000)
        assert os.stat(path).st_mode & 0o777 == 0o600
    finally:
        os.umask(old_umask)
    assert path == os.path.join(md, "tmp", "base1")
    assert Path(path).read_bytes() == b"data"
    assert os.stat(path).st_mtime == 1_600_000_000
    with pytest.raises(FileExistsError):
        maildir.write_tmp(md, "base1", b"other", 0)
    assert Path(path).read_bytes() == b"data"


def test_listing_skips_dot_files_wherever_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir.ensure(str(tmp_path))
    monkeypatch.setattr(os, "listdir", lambda path: [".hidden", "b:2,S", ".x", "a"])
    assert maildir.listing(str(tmp_path)) == {"a": ("cur", "a"), "b": ("cur", "b:2,S")}


def test_stale_tmp_skips_files_that_vanish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    maildir.ensure(str(tmp_path))
    (tmp_path / "tmp" / "old").write_bytes(b"x")
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: ["gone", *real(path)])
    now = os.stat(tmp_path / "tmp" / "old").st_ctime + maildir.TMP_MAX_AGE + 1
    assert maildir.stale_tmp(str(tmp_path), now) == [str(tmp_path / "tmp" / "old")]


def test_listing_without_new(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "cur")
    (tmp_path / "cur" / "a:2,S").write_bytes(b"x")
    assert maildir.listing(str(tmp_path)) == {"a": ("cur", "a:2,S")}


def test_listing_prefers_cur(tmp_path: Path) -> None:
    md = str(tmp_path)
    maildir.ensure(md)
    for rel in ("new/a", "cur/a:2,S", "cur/b:2,", "new/c", "cur/.hidden"):
        (tmp_path / rel).write_bytes(b"x")
    assert maildir.listing(md) == {"a": ("cur", "a:2,S"), "b": ("cur", "b:2,"), "c": ("new", "c")}
    assert maildir.listing(str(tmp_path / "missing")) == {}


def test_stale_tmp(tmp_path: Path) -> None:
    md = str(tmp_path)
    maildir.ensure(md)
    (tmp_path / "tmp" / "x").write_bytes(b"x")
    ctime = os.stat(tmp_path / "tmp" / "x").st_ctime
    assert maildir.stale_tmp(md, ctime + maildir.TMP_MAX_AGE) == []
    assert maildir.stale_tmp(md, ctime + maildir.TMP_MAX_AGE + 1) == [str(tmp_path / "tmp" / "x")]
    assert maildir.stale_tmp(str(tmp_path / "missing"), 0) == []


def test_run_parallel_runs_every_job_and_raises_the_first_error(tmp_path: Path) -> None:
    seen: list[int] = []
    maildir.run_parallel(range(20), seen.append)
    assert sorted(seen) == list(range(20))
    single: list[str] = []
    maildir.run_parallel(["only"], single.append)
    assert single == ["only"]
    maildir.run_parallel([], single.append)
    assert single == ["only"]

    def fail_on_3(n: int) -> None:
        if n == 3:
            raise ValueError("three")

    with pytest.raises(ValueError, match=r"^three$"):
        maildir.run_parallel(range(8), fail_on_3)
    with pytest.raises(ValueError, match=r"^three$"):
        maildir.run_parallel([3], fail_on_3)


def test_fsync_file_and_dir(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    maildir.fsync_file(str(tmp_path / "f"))
    maildir.fsync_dir(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        maildir.fsync_file(str(tmp_path / "missing"))
    with pytest.raises(NotADirectoryError):
        maildir.fsync_dir(str(tmp_path / "f"))
    maildir.run_parallel([str(tmp_path / "f")] * 3, maildir.fsync_file)


def test_write_tmp_without_sync_and_failure_cleanup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = str(tmp_path)
    maildir.ensure(md)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    maildir.write_tmp(md, "a", b"1", 0, sync=False)
    assert synced == []
    maildir.write_tmp(md, "b", b"2", 0)
    assert len(synced) == 1

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        maildir.write_tmp(md, "c", b"3", 0)
    assert sorted(os.listdir(tmp_path / "tmp")) == ["a", "b"]  # the failed file is gone


def test_run_parallel_works_in_a_forked_child_of_a_process_that_used_it() -> None:
    # the child inherits the pool but not its threads: it must make its own, not wait forever
    # (slow jobs, so the parent's pool has all its threads, and no room for a new one)
    maildir.run_parallel(range(4 * maildir.SYNC_THREADS), lambda n: time.sleep(0.005))
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if the jobs ran
        done: list[int] = []
        try:
            maildir.run_parallel(range(4), done.append)
        finally:
            os._exit(0 if sorted(done) == [0, 1, 2, 3] else 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("run_parallel in a forked child did not finish in 10 s")


def test_run_parallel_makes_a_new_pool_once_the_old_one_is_forgotten() -> None:
    # what a forked child's at-fork hook does, in this process (mutmut sees no child's calls)
    maildir.run_parallel(range(2), lambda n: None)
    old = maildir._pool
    maildir._forget_pool()
    try:
        assert maildir._pool is None
        done: list[int] = []
        maildir.run_parallel(range(4), done.append)
        assert sorted(done) == [0, 1, 2, 3]
        assert maildir._pool is not None and maildir._pool is not old
    finally:
        if old is not None:
            old.shutdown()
