"""Maildir files: unique names, durable writes, moves, and a folder's listing.

A message file is named as the Maildir spec says, `<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>`
(the base), with `:2,<info letters>` appended in cur/ (flags.py). The base never changes for the
life of the file: mutt and Dovecot rename files only to change the info and to move new/ ->
cur/, so the base is how the index follows a file. Content is normalised to CRLF line ends at
delivery (a bare LF or a bare CR becomes CRLF): IMAP sizes and POP3 sizes are then the file's
size, and a client never sees a line end the RFCs forbid.

Durability: write to tmp/ with O_EXCL, fsync the file, rename it into new/ or cur/, fsync that
directory (once per directory for a batch). Only then may the index refer to the file, or,
for a delivery whose content the index holds until it is settled (settle.py), to its tmp/ name.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from minternet.durable import fsync_dir

T = TypeVar("T")

SUBDIRS = ("cur", "new", "tmp")
INFO_SEP = ":2,"
TMP_MAX_AGE = 36 * 3600  # the Maildir spec: a tmp/ file untouched this long is garbage

SYNC_THREADS = 8  # concurrent fsyncs for a batch
_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist (fork copies one thread): a job given
    to the inherited pool would wait forever. The child makes its own pool when it needs one."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)
_counter = itertools.count(1)  # Q<n>: unique per process, shared by every store in it
_SIZE = re.compile(r",S=(\d{1,15})(?=[,:]|$)")


def normalize_crlf(data: bytes) -> bytes:
    """`data` with every line end (bare LF, bare CR, CRLF) as CRLF."""
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def safe_host(host: str) -> str:
    """The host part of a file name: `/` and `:` escaped as the spec says, never empty."""
    host = host.replace("/", "\\057").replace(":", "\\072")
    return host or "localhost"


def new_base(now: float, host: str, size: int) -> str:
    """A fresh unique base name for a message of `size` octets delivered at `now`."""
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    return f"{sec}.M{usec}P{os.getpid()}Q{next(_counter)}.{host},S={size}"


@dataclass(frozen=True, slots=True)
class FileName:
    """A message file name split into its base and its info (None in new/ style names)."""

    base: str
    info: str | None

    @classmethod
    def parse(cls, name: str) -> FileName:
        base, sep, info = name.partition(":")
        if not sep:
            return cls(base, None)
        return cls(base, info[2:] if info.startswith("2,") else None)

    def size(self) -> int | None:
        """The S=<size> the base carries, or None."""
        m = _SIZE.search(self.base)
        return int(m.group(1)) if m else None


def file_name(base: str, info: str | None) -> str:
    """`base` with `:2,<info>` when `info` is not None."""
    return base if info is None else f"{base}{INFO_SEP}{info}"


def ensure(path: str, subfolder: bool = False) -> bool:
    """Create the Maildir `path` (cur/ new/ tmp/, and the Maildir++ `maildirfolder` marker for
    a subfolder) if missing; True when something was created. Each piece is made with one
    atomic call, so two processes doing this at once both succeed."""
    made = False
    with contextlib.suppress(FileExistsError):
        os.makedirs(path, mode=0o700)
        made = True
    for sub in SUBDIRS:
        with contextlib.suppress(FileExistsError):
            os.mkdir(os.path.join(path, sub), 0o700)
            made = True
    if subfolder:
        with contextlib.suppress(FileExistsError):
            marker = os.path.join(path, "maildirfolder")
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
            made = True
    if made:
        fsync_dir(path)
        fsync_dir(os.path.dirname(os.path.abspath(path)))
    return made


def fsync_file(path: str) -> None:
    """Make a file's contents durable (a read-only descriptor is enough on Linux)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_parallel(items: Iterable[T], job: Callable[[T], object]) -> None:
    """Run `job` on every item, several at once (fsyncs, index commits of different users):
    concurrent fsyncs share the filesystem's journal commits (measured here: 3.9 ms per file
    one after another, 0.25 ms per file with four at once). The first error is raised."""
    todo = list(items)
    if len(todo) <= 1:
        for item in todo:
            job(item)
        return
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="store-sync")
    for _ in _pool.map(job, todo):
        pass


def write_tmp(maildir: str, base: str, data: bytes, mtime: float, sync: bool = True) -> str:
    """Write `data` to tmp/`base`, stamped with `mtime` and fsynced (unless the caller will,
    with run_parallel and fsync_file); the tmp path."""
    path = os.path.join(maildir, "tmp", base)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.utime(fd, (mtime, mtime))
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return path


def listing(maildir: str) -> dict[str, tuple[str, str]]:
    """The message files of a Maildir folder: base -> (subdir, file name), new/ and cur/.

    When one base is in both (a move interrupted by a crash leaves none, but a foreign program
    might), the cur/ entry wins and the other is left alone on disk.
    """
    found: dict[str, tuple[str, str]] = {}
    for sub in ("new", "cur"):
        try:
            entries = os.listdir(os.path.join(maildir, sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.startswith("."):
                continue
            found[FileName.parse(entry).base] = (sub, entry)
    return found


def stale_tmp(maildir: str, now: float) -> list[str]:
    """tmp/ files older than TMP_MAX_AGE (never acknowledged deliveries): safe to delete."""
    out: list[str] = []
    tmp = os.path.join(maildir, "tmp")
    try:
        entries = os.listdir(tmp)
    except FileNotFoundError:
        return out
    for entry in entries:
        path = os.path.join(tmp, entry)
        try:
            if now - os.stat(path).st_ctime > TMP_MAX_AGE:  # mtime is the internaldate
                out.append(path)
        except FileNotFoundError:
            continue
    return out
