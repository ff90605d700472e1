"""IMAP4rev2 (RFC 9051) next to IMAP4rev1 through sessions on a real store: rev1's answers
until the client sends ENABLE IMAP4rev2, then rev2's: SELECT with the mailbox's LIST line and
no RECENT or [UNSEEN n], no \\Recent in FLAGS, SEARCH answered with ESEARCH, new mail as EXISTS
alone, mailbox names in UTF-8 (App. A, §6.3.2, §6.4.4, §7.4.1). Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import CAPS, Client, deliver, store_fixture

SELECT_TAIL = (
    b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    b"* OK [UIDNEXT 4] Predicted next UID\r\n"
    b"* OK [HIGHESTMODSEQ 4] Highest\r\n"
)
FLAGS = (
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n"
)


@pytest.fixture
def store() -> Iterator[Store]:
    store = next(s := store_fixture())
    deliver(store, 1, flags=("\\Seen",))
    deliver(store, 2)
    deliver(store, 3, flags=("\\Flagged",))
    yield store
    next(s, None)


def rev2(store: Store) -> Client:
    c = Client(store)
    c.login()
    assert c(b"e ENABLE IMAP4rev2") == b"* ENABLED IMAP4rev2\r\ne OK ENABLE completed\r\n"
    return c


def test_both_revisions_are_announced(store: Store) -> None:
    assert CAPS.startswith(b"IMAP4rev1 IMAP4rev2 ")
    c = rev2(store)
    assert c(b"a ENABLE IMAP4rev2") == b"* ENABLED\r\na OK ENABLE completed\r\n"
    assert c(b"b CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_select_before_and_after_enable(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"s SELECT INBOX") == (
        FLAGS + b"* 3 EXISTS\r\n* 3 RECENT\r\n* OK [UNSEEN 2] First unseen\r\n" + SELECT_TAIL
        + b"s OK [READ-WRITE] SELECT completed\r\n"
    )  # fmt: skip
    c = rev2(store)
    assert c(b"t EXAMINE INBOX") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
        b'* 3 EXISTS\r\n* LIST () "/" INBOX\r\n' + SELECT_TAIL
        + b"t OK [READ-ONLY] EXAMINE completed\r\n"
    )  # fmt: skip
    assert c(b"u SELECT Sent").startswith(
        b"* OK [CLOSED] Previous mailbox closed\r\n" + FLAGS + b"* 0 EXISTS\r\n"
        b'* LIST (\\Sent) "/" Sent\r\n'
    )  # fmt: skip


def test_search_is_answered_with_esearch(store: Store) -> None:
    c = rev2(store)
    c(b"s SELECT INBOX")
    assert c(b"a SEARCH UNSEEN") == b'* ESEARCH (TAG "a") ALL 2:3\r\na OK SEARCH completed\r\n'
    assert c(b"b UID SEARCH FLAGGED") == (
        b'* ESEARCH (TAG "b") UID ALL 3\r\nb OK SEARCH completed\r\n'
    )
    assert c(b"c SEARCH DRAFT") == b'* ESEARCH (TAG "c")\r\nc OK SEARCH completed\r\n'
    assert c(b"d SEARCH RETURN (COUNT) ALL") == (
        b'* ESEARCH (TAG "d") COUNT 3\r\nd OK SEARCH completed\r\n'
    )
    assert (
        c(b"e SEARCH RETURN () 1:2") == b'* ESEARCH (TAG "e") ALL 1:2\r\ne OK SEARCH completed\r\n'
    )
    assert c(b"f SORT (SUBJECT) UTF-8 ALL") == b"* SORT 1 2 3\r\nf OK SORT completed\r\n"


def test_no_recent_once_enabled(store: Store) -> None:
    c = Client(store)
    c.select()
    assert c(b"a FETCH 1 FLAGS") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\na OK FETCH completed\r\n"
    )
    assert c(b"e ENABLE IMAP4rev2") == b"e BAD ENABLE is only allowed before SELECT\r\n"
    c = rev2(store)
    deliver(store, 4)  # recent for this session: it is the first to select since
    c(b"s SELECT INBOX")
    assert c(b"b FETCH 4 FLAGS") == b"* 4 FETCH (FLAGS ())\r\nb OK FETCH completed\r\n"
    assert c(b"c SEARCH RECENT") == b'* ESEARCH (TAG "c") ALL 4\r\nc OK SEARCH completed\r\n'
    deliver(store, 5)
    assert c(b"d NOOP") == b"* 5 EXISTS\r\nd OK NOOP completed\r\n"
    assert c(b"f FETCH 5 FLAGS") == b"* 5 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"


def test_names_are_utf8_once_enabled(store: Store) -> None:
    c = rev2(store)
    name = "Entwürfe".encode()
    assert c(b'a CREATE "' + name + b'"') == b"a OK CREATE completed\r\n"
    assert c(b'b LIST "" Entw*') == (
        b'* LIST (\\HasNoChildren) "/" {9}\r\n' + name + b"\r\nb OK LIST completed\r\n"
    )
    out = c(b'c SELECT "' + name + b'"')
    assert b'* LIST () "/" {9}\r\n' + name + b"\r\n" in out
