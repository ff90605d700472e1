"""A whole golden transcript: what Thunderbird does on connect (CAPABILITY, ID, AUTHENTICATE
PLAIN with a continuation, ENABLE CONDSTORE, LIST with SPECIAL-USE, SELECT (CONDSTORE), UID
FETCH of flags and headers, IDLE seeing a delivery, a CHANGEDSINCE fetch of the new mail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap.session import Idle
from mailserver.store import Store
from tests.mailserver.imap.session_kit import CAPS, Client, deliver, store_fixture, wire

TRANSCRIPT = [
    (
        b"1 capability",
        b"* CAPABILITY " + CAPS + b" STARTTLS AUTH=PLAIN APPENDLIMIT=5000\r\n"
        b"1 OK CAPABILITY completed\r\n",
    ),
    (
        b'2 ID ("name" "Thunderbird" "version" "128.0")',
        b'* ID ("name" "minternet mailserver")\r\n2 OK ID completed\r\n',
    ),
    (b"3 AUTHENTICATE PLAIN", b"+ \r\n"),
    (
        b"AGJvYkBoYW1idXJnZXIuZWR1AHNlY3JldA==",
        b"3 OK [CAPABILITY " + CAPS + b" COMPRESS=DEFLATE APPENDLIMIT=5000] Logged in\r\n",
    ),
    (b"4 ENABLE CONDSTORE", b"* ENABLED CONDSTORE\r\n4 OK ENABLE completed\r\n"),
    (
        b'5 LIST (SPECIAL-USE) "" "*"',
        b'* LIST (\\HasNoChildren \\Archive) "/" Archive\r\n'
        b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n'
        b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
        b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n'
        b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
        b"5 OK LIST completed\r\n",
    ),
    (
        b'6 LIST "" "INBOX" RETURN (SPECIAL-USE CHILDREN SUBSCRIBED)',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n6 OK LIST completed\r\n',
    ),
    (
        b"7 SELECT INBOX (CONDSTORE)",
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
        b" Flags permitted\r\n"
        b"* 2 EXISTS\r\n* 2 RECENT\r\n"
        b"* OK [UNSEEN 1] First unseen\r\n"
        b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
        b"* OK [UIDNEXT 3] Predicted next UID\r\n"
        b"* OK [HIGHESTMODSEQ 3] Highest\r\n"
        b"7 OK [READ-WRITE] SELECT completed\r\n",
    ),
    (
        b"8 UID FETCH 1:* (FLAGS)",
        b"* 1 FETCH (UID 1 FLAGS (\\Recent) MODSEQ (2))\r\n"
        b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) MODSEQ (3))\r\n"
        b"8 OK FETCH completed\r\n",
    ),
    (
        b"9 UID FETCH 1:2 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)])",
        b"* 1 FETCH (UID 1 RFC822.SIZE 148 FLAGS (\\Recent) BODY[HEADER.FIELDS (From Subject)]"
        b" {49}\r\nFrom: Alice <alice@crepes.fr>\r\nSubject: msg 1\r\n\r\n MODSEQ (2))\r\n"
        b"* 2 FETCH (UID 2 RFC822.SIZE 148 FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (From"
        b" Subject)] {49}\r\nFrom: Alice <alice@crepes.fr>\r\nSubject: msg 2\r\n\r\n"
        b" MODSEQ (3))\r\n"
        b"9 OK FETCH completed\r\n",
    ),
]


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def test_thunderbird_on_connect(store: Store):
    deliver(store, 1)
    deliver(store, 2, flags=("\\Seen",))
    client = Client(store)
    for frame, answer in TRANSCRIPT:
        assert client(frame) == answer, frame
    assert client(b"10 IDLE") == b"+ idling\r\n"
    assert client.last[-1] == Idle()
    assert client.session.poll() == []
    deliver(store, 3)
    assert wire(client.session.poll()) == b"* 3 EXISTS\r\n* 3 RECENT\r\n"
    assert client(b"DONE") == b"10 OK IDLE terminated\r\n"
    fetch = b"11 UID FETCH 3 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])"
    assert client(fetch + b" (CHANGEDSINCE 3)") == (
        b"* 3 FETCH (UID 3 RFC822.SIZE 148 FLAGS (\\Recent) BODY[HEADER.FIELDS (Subject)] {18}"
        b"\r\nSubject: msg 3\r\n\r\n MODSEQ (4))\r\n11 OK FETCH completed\r\n"
    )
    assert client(b"12 LOGOUT") == b"* BYE mail.test logging out\r\n12 OK LOGOUT completed\r\n"
