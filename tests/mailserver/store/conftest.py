"""Fixtures for the store tests: a store under tmp_path with a clock the test controls."""

from __future__ import annotations

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


@pytest.fixture
def store(tmp_path: object, clock: Clock) -> Iterator[Store]:
    s = Store(str(tmp_path), clock=clock, host="mx.test")
    yield s
    s.close()


@pytest.fixture
def user(store: Store) -> UserStore:
    return store.user(ADDRESS)


def message(n: int = 1, body: str = "hello") -> bytes:
    return f"From: a@b.example\r\nSubject: msg {n}\r\n\r\n{body} {n}\r\n".encode()
