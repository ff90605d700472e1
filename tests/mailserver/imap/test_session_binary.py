"""BINARY (RFC 3516) through sessions on a real store: FETCH BINARY[part], BINARY.PEEK and
BINARY.SIZE, \\Seen as BODY sets it, NO [UNKNOWN-CTE] for a part that cannot be decoded (the
other messages still answered), and APPEND of a literal8 whose NULs BINARY gives back and
BODY[] does not. Exact bytes."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, store_fixture

ATTACHMENT = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
MIXED = (
    b"From: a@crepes.fr\r\nSubject: photo\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"
    b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(ATTACHMENT)
    + b"\r\n--b--\r\n"
)
UUENCODED = (
    b"From: a@crepes.fr\r\nSubject: old\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 f\r\nend\r\n"
)
PLAIN = b"From: a@crepes.fr\r\nSubject: plain\r\n\r\nplain body\r\n"


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def bob(store: Store) -> Client:
    for raw in (MIXED, UUENCODED, PLAIN):
        store.deliver(BOB, "INBOX", raw, ())
    c = Client(store)
    c.select()
    return c


def test_binary_is_announced(bob: Client) -> None:
    assert bob(b"c CAPABILITY").startswith(b"* CAPABILITY " + CAPS)
    assert b" BINARY" in CAPS


def test_binary_peek_and_size_of_the_parts(bob: Client) -> None:
    assert bob(b"f FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1] BINARY.SIZE[1])") == (
        b"* 1 FETCH (BINARY[2] ~{16}\r\n" + ATTACHMENT + b" BINARY.SIZE[2] 16"
        b" BINARY[1] {5}\r\ncaf\xc3\xa9 BINARY.SIZE[1] 5)\r\nf OK FETCH completed\r\n"
    )
    assert bob(b"g FETCH 1 FLAGS") == b"* 1 FETCH (FLAGS (\\Recent))\r\ng OK FETCH completed\r\n"


def test_a_partial_binary_counts_decoded_octets(bob: Client) -> None:
    assert bob(b"f UID FETCH 1 BINARY.PEEK[2]<8.4>") == (
        b"* 1 FETCH (UID 1 BINARY[2]<8> ~{4}\r\n\x00\x00\x00\r)\r\nf OK FETCH completed\r\n"
    )
    assert bob(b"f FETCH 1 BINARY.PEEK[2]<4.4>") == (  # no NUL in these four: a literal
        b"* 1 FETCH (BINARY[2]<4> {4}\r\n\r\n\x1a\n)\r\nf OK FETCH completed\r\n"
    )
    assert bob(b"f FETCH 1 BINARY.PEEK[2]<100.4>") == (
        b'* 1 FETCH (BINARY[2]<100> "")\r\nf OK FETCH completed\r\n'
    )


def test_binary_sets_seen_as_body_does_and_size_does_not(bob: Client) -> None:
    assert bob(b"f FETCH 3 BINARY.SIZE[1]") == (
        b"* 3 FETCH (BINARY.SIZE[1] 12)\r\nf OK FETCH completed\r\n"
    )
    assert bob(b"f FETCH 3 FLAGS") == b"* 3 FETCH (FLAGS (\\Recent))\r\nf OK FETCH completed\r\n"
    assert bob(b"f FETCH 3 BINARY[1]") == (
        b"* 3 FETCH (BINARY[1] {12}\r\nplain body\r\n FLAGS (\\Seen \\Recent))\r\n"
        b"f OK FETCH completed\r\n"
    )


def test_examine_leaves_seen_alone(store: Store) -> None:
    store.deliver(BOB, "INBOX", PLAIN, ())
    c = Client(store)
    c.login()
    c(b"e EXAMINE INBOX")
    assert c(b"f FETCH 1 BINARY[]") == (
        b"* 1 FETCH (BINARY[] {%d}\r\n" % len(PLAIN) + PLAIN + b")\r\nf OK FETCH completed\r\n"
    )
    assert c(b"g FETCH 1 FLAGS") == b"* 1 FETCH (FLAGS ())\r\ng OK FETCH completed\r\n"


def test_the_whole_message_is_converted(bob: Client) -> None:
    whole = bob(b"f FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])")
    converted = MIXED.replace(b"quoted-printable", b"binary").replace(b"base64", b"binary")
    converted = converted.replace(b"caf=C3=A9", b"caf\xc3\xa9")
    converted = converted.replace(base64.b64encode(ATTACHMENT), ATTACHMENT)
    assert whole == (
        b"* 1 FETCH (BINARY[] ~{%d}\r\n" % len(converted) + converted
        + b" BINARY.SIZE[] %d)\r\nf OK FETCH completed\r\n" % len(converted)
    )  # fmt: skip


def test_an_unknown_encoding_is_no_unknown_cte_and_the_others_are_answered(
    bob: Client, store: Store
) -> None:
    assert bob(b"f FETCH 1:3 BINARY.PEEK[1]") == (
        b"* 1 FETCH (BINARY[1] {5}\r\ncaf\xc3\xa9)\r\n"
        b"* 3 FETCH (BINARY[1] {12}\r\nplain body\r\n)\r\n"
        b"f NO [UNKNOWN-CTE] unknown Content-Transfer-Encoding x-uuencode\r\n"
    )
    assert bob(b"g FETCH 2 BINARY.SIZE[1]") == (
        b"g NO [UNKNOWN-CTE] unknown Content-Transfer-Encoding x-uuencode\r\n"
    )
    # the mailbox's news come before the NO, as before an OK
    store.deliver(BOB, "INBOX", PLAIN, ())
    assert bob(b"g FETCH 2 BINARY.PEEK[1]") == (
        b"* 4 EXISTS\r\n* 4 RECENT\r\n"
        b"g NO [UNKNOWN-CTE] unknown Content-Transfer-Encoding x-uuencode\r\n"
    )
    # BODY[] is not decoded: it still works, and so does BINARY of a part that does not exist
    assert bob(b"h FETCH 2 (BODY.PEEK[TEXT] BINARY.PEEK[2])") == (
        b'* 2 FETCH (BODY[TEXT] {18}\r\nbegin 644 f\r\nend\r\n BINARY[2] "")\r\n'
        b"h OK FETCH completed\r\n"
    )


def test_binary_sets_seen_before_an_unknown_encoding_is_found(bob: Client) -> None:
    """The \\Seen of a FETCH is stored before its answers are rendered (as for BODY[]): the
    message that could not be decoded is \\Seen all the same."""
    refused = b"f NO [UNKNOWN-CTE] unknown Content-Transfer-Encoding x-uuencode\r\n"
    assert bob(b"f FETCH 2 BINARY[1]") == refused
    assert bob(b"g FETCH 2 FLAGS") == (
        b"* 2 FETCH (FLAGS (\\Seen \\Recent))\r\ng OK FETCH completed\r\n"
    )


def test_append_of_a_literal8_keeps_its_nul_octets(store: Store) -> None:
    c = Client(store)
    c.select()
    raw = b"From: a@crepes.fr\r\nSubject: nul\r\n\r\nnul\x00here\r\n"
    assert c(b"a APPEND INBOX ~{%d}\r\n" % len(raw) + raw) == (
        b"* 1 EXISTS\r\n* 1 RECENT\r\na OK [APPENDUID 1700000000 1] APPEND completed\r\n"
    )
    assert c(b"f FETCH 1 (RFC822.SIZE BINARY.PEEK[1] BODY.PEEK[1] BINARY.PEEK[])") == (
        b"* 1 FETCH (RFC822.SIZE %d BINARY[1] ~{10}\r\nnul\x00here\r\n" % len(raw)
        + b" BODY[1] {10}\r\nnul\x80here\r\n BINARY[] ~{%d}\r\n" % len(raw)
        + raw + b")\r\nf OK FETCH completed\r\n"
    )  # fmt: skip
    assert c(b"s SEARCH BODY here") == b"* SEARCH 1\r\ns OK SEARCH completed\r\n"


def test_a_plain_literal_with_nul_is_still_bad(store: Store) -> None:
    c = Client(store)
    c.select()
    assert c(b"a APPEND INBOX {3}\r\na\x00b") == b"a BAD NUL octet in a literal\r\n"
    assert c(b"n NOOP") == b"n OK NOOP completed\r\n"
