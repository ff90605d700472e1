"""SAVEDATE (RFC 8514) through sessions on a real store: FETCH SAVEDATE is when the message was
saved to its mailbox (APPEND, delivery, COPY, MOVE), not the date it carries; SEARCH
SAVEDBEFORE, SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import CAPS, T0, Client, message, store_fixture

DAY = 86400


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def at(store: Store, when: float) -> None:
    store.clock.now = when  # type: ignore[attr-defined]


def test_savedate_is_announced(store: Store) -> None:
    assert b" SAVEDATE " in CAPS + b" "
    assert Client(store)(b"a CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_fetch_savedate_is_when_it_was_saved_here(store: Store) -> None:
    c = Client(store)
    c.select()
    m = message(1)
    appended = c(b'a APPEND INBOX "01-Jan-2020 10:00:00 +0000" {%d+}\r\n' % len(m) + m)
    assert b"a OK [APPENDUID " in appended  # saved at T0: 2023-11-14 22:13:20 UTC
    assert c(b"b FETCH 1 (INTERNALDATE SAVEDATE)") == (
        b'* 1 FETCH (INTERNALDATE "01-Jan-2020 10:00:00 +0000"'
        b' SAVEDATE "14-Nov-2023 22:13:20 +0000")\r\nb OK FETCH completed\r\n'
    )
    at(store, T0 + 3 * DAY)
    assert c(b"c COPY 1 Archive").startswith(b"c OK [COPYUID ")
    assert c(b"d MOVE 1 Trash").startswith(b"* OK [COPYUID ")
    for mailbox in (b"Archive", b"Trash"):
        c(b"s SELECT " + mailbox)
        assert c(b"e UID FETCH 1 (SAVEDATE INTERNALDATE)") == (
            b'* 1 FETCH (UID 1 SAVEDATE "17-Nov-2023 22:13:20 +0000"'
            b' INTERNALDATE "01-Jan-2020 10:00:00 +0000")\r\ne OK FETCH completed\r\n'
        )


def test_search_by_save_date(store: Store) -> None:
    c = Client(store)
    c.login()
    for n, day in enumerate((0, 1, 1, 5), 1):
        at(store, T0 + day * DAY)
        m = message(n)
        assert c(b'a APPEND INBOX "01-Jan-2001 00:00:00 +0000" {%d+}\r\n' % len(m) + m)[:4] == (
            b"a OK"
        )
    c(b"s SELECT INBOX")
    searches = {
        b"SAVEDON 15-Nov-2023": b" 2 3",
        b"SAVEDBEFORE 15-Nov-2023": b" 1",
        b"SAVEDSINCE 15-Nov-2023": b" 2 3 4",
        b"SAVEDSINCE 19-Nov-2023": b" 4",
        b"SAVEDSINCE 20-Nov-2023": b"",
        b"SAVEDBEFORE 14-Nov-2023": b"",
        b"SAVEDATESUPPORTED": b" 1 2 3 4",
        b"NOT SAVEDATESUPPORTED": b"",
        b"ON 1-Jan-2001 SAVEDON 19-Nov-2023": b" 4",
        b"SINCE 15-Nov-2023": b"",  # the internal date is 2001's
    }
    for key, found in searches.items():
        assert c(b"f SEARCH " + key) == b"* SEARCH" + found + b"\r\nf OK SEARCH completed\r\n", key


def test_bad_save_date_keys(store: Store) -> None:
    c = Client(store)
    c.select()
    assert c(b"a SEARCH SAVEDON") == b"a BAD expected a space\r\n"
    assert c(b"b SEARCH SAVEDON 31-Feb-2023").startswith(b"b BAD invalid date")
    assert c(b"c FETCH 1 SAVEDATE.PEEK").startswith(b"c BAD ")
