"""Fixtures for the store tests: a store in a scratch directory, a clock the test controls."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from mailserver.store import Store, UserStore

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
ADDRESS = "bob@hamburger.edu"


class Clock:
    """A clock that moves only when told to (and by a microsecond per read, as time does)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 0.000001
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


#: Store tests run on a tmpfs when there is one: fsync costs 3-4 ms on this kind of disk and
#: says nothing there (test_durability, which is about fsync, uses the real disk).
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@pytest.fixture
def store(clock: Clock) -> Iterator[Store]:
    root = tempfile.mkdtemp(prefix="store-test-", dir=SCRATCH)
    s = Store(root, clock=clock, host="mx.test")
    yield s
    s.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def user(store: Store) -> UserStore:
    return store.user(ADDRESS)


def files(user: UserStore, mailbox: str = "INBOX") -> dict[str, list[str]]:
    """The names of a mailbox's message files, in new/, cur/ and tmp/."""
    folder = user.folder_path(mailbox)
    return {sub: sorted(os.listdir(os.path.join(folder, sub))) for sub in ("new", "cur", "tmp")}


def message(n: int = 1, body: str = "hello") -> bytes:
    return f"From: a@b.example\r\nSubject: msg {n}\r\n\r\n{body} {n}\r\n".encode()
