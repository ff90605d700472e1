"""UTF8=ACCEPT (RFC 6855) through sessions on a real store: before ENABLE, names in modified
UTF-7 and 8-bit quoted strings BAD, an APPEND with 8-bit header octets NO; after it, UTF-8 in
quoted strings and mailbox names both ways (LIST, LSUB, STATUS, LIST-STATUS, GETQUOTAROOT), and
APPEND's `UTF8 (~{n})` form, in CATENATE too. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, store_fixture

ETE = "Brouillons été".encode()  # 16 octets in UTF-8
ETE_UTF7 = b'"Brouillons &AOk-t&AOk-"'
HEADER_8BIT = "From: José <jose@crepes.fr>\r\nSubject: Grüße\r\n\r\nhi\r\n".encode()


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def client(store: Store, enable: bool = True) -> Client:
    c = Client(store)
    c.login()
    if enable:
        assert c(b"e ENABLE UTF8=ACCEPT") == b"* ENABLED UTF8=ACCEPT\r\ne OK ENABLE completed\r\n"
    return c


def test_utf8_accept_is_announced_and_enabled_once(store: Store) -> None:
    assert b" UTF8=ACCEPT " in CAPS
    c = client(store)
    assert c(b"f ENABLE UTF8=ACCEPT") == b"* ENABLED\r\nf OK ENABLE completed\r\n"
    assert c(b"g CAPABILITY").startswith(b"* CAPABILITY " + CAPS)  # ENABLE changes no capability


def test_before_enable_names_are_modified_utf7_and_quoted_strings_ascii(store: Store) -> None:
    c = client(store, enable=False)
    assert c(b"a CREATE " + ETE_UTF7) == b"a OK CREATE completed\r\n"
    assert c(b'b LIST "" "Brouillons*"') == (
        b'* LIST (\\HasNoChildren) "/" ' + ETE_UTF7 + b"\r\nb OK LIST completed\r\n"
    )
    assert c(b'c CREATE "' + ETE + b'"') == b"c BAD invalid quoted string\r\n"


def test_after_enable_names_are_utf8_both_ways(store: Store) -> None:
    c = client(store)
    assert c(b'a CREATE "' + ETE + b'"') == b"a OK CREATE completed\r\n"
    assert store.user(BOB).mailbox_names().count("Brouillons été") == 1
    literal = b"{16}\r\n" + ETE
    assert c(b'b LIST "" "Brouillons*"') == (
        b'* LIST (\\HasNoChildren) "/" ' + literal + b"\r\nb OK LIST completed\r\n"
    )
    assert c(b'c SUBSCRIBE "' + ETE + b'"') == b"c OK SUBSCRIBE completed\r\n"
    assert c(b'd LSUB "" "Brouillons*"') == (
        b'* LSUB () "/" ' + literal + b"\r\nd OK LSUB completed\r\n"
    )
    assert c(b'e STATUS "' + ETE + b'" (MESSAGES)') == (
        b"* STATUS " + literal + b" (MESSAGES 0)\r\ne OK STATUS completed\r\n"
    )
    assert c(b'f LIST "" "Brouillons*" RETURN (STATUS (MESSAGES))') == (
        b'* LIST (\\HasNoChildren) "/" ' + literal + b"\r\n"
        b"* STATUS " + literal + b" (MESSAGES 0)\r\nf OK LIST completed\r\n"
    )
    assert c(b'f LIST (SUBSCRIBED) "" "Brouillons*"') == (
        b'* LIST (\\Subscribed) "/" ' + literal + b"\r\nf OK LIST completed\r\n"
    )
    assert c(b'f LIST "' + ETE + b'/x" ""') == (  # the reference's root, in UTF-8 too
        b'* LIST (\\Noselect) "/" {17}\r\n' + ETE + b"/\r\nf OK LIST completed\r\n"
    )
    assert c(b'g GETQUOTAROOT "' + ETE + b'"') == (
        b"* QUOTAROOT " + literal + b"\r\ng OK GETQUOTAROOT completed\r\n"
    )
    assert c(b'h SELECT "' + ETE + b'"').endswith(b"h OK [READ-WRITE] SELECT completed\r\n")
    assert c(b"i CREATE " + ETE_UTF7) == b"i OK CREATE completed\r\n"  # now a name as it is
    assert "Brouillons &AOk-t&AOk-" in store.user(BOB).mailbox_names()


def test_a_name_that_is_not_utf8_is_bad(store: Store) -> None:
    c = client(store)
    assert c(b'a CREATE "caf\xe9"') == b"a BAD mailbox name is not valid UTF-8\r\n"
    assert c(b"b CREATE {4+}\r\ncaf\xe9") == b"b BAD mailbox name is not valid UTF-8\r\n"


def test_an_8bit_header_needs_enable(store: Store) -> None:
    c = client(store, enable=False)
    n = len(HEADER_8BIT)
    assert c(b"a APPEND INBOX {%d+}\r\n" % n + HEADER_8BIT) == (
        b"a NO 8-bit octets in the header of the message: ENABLE UTF8=ACCEPT first\r\n"
    )
    two = b"{2+}\r\nhi {%d+}\r\n" % n + HEADER_8BIT
    assert c(b"b APPEND INBOX " + two) == (
        b"b NO 8-bit octets in the header of message 2: ENABLE UTF8=ACCEPT first\r\n"
    )
    first = b"\xe9X: x\r\n\r\nbody\r\n"  # 8-bit as the header's very first octet
    assert c(b"d APPEND INBOX {%d+}\r\n" % len(first) + first) == (
        b"d NO 8-bit octets in the header of the message: ENABLE UTF8=ACCEPT first\r\n"
    )
    body_only = b"Subject: plain\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"  # 8-bit in the body is fine
    ok = c(b"c APPEND INBOX {%d+}\r\n" % len(body_only) + body_only)
    assert ok.startswith(b"c OK [APPENDUID ")
    assert c(b"d APPEND INBOX UTF8 (~{%d+}\r\n" % n + HEADER_8BIT + b")") == (
        b"d BAD APPEND UTF8 (...) needs ENABLE UTF8=ACCEPT first\r\n"
    )
    assert list(store.user(BOB).uids("INBOX")) == [1]


def test_after_enable_the_utf8_append_form_stores_the_message(store: Store) -> None:
    c = client(store)
    n = len(HEADER_8BIT)
    ok = c(b"a APPEND INBOX (\\Seen) UTF8 (~{%d}\r\n" % n + HEADER_8BIT + b")")
    assert ok.startswith(b"a OK [APPENDUID ") and ok.endswith(b" 1] APPEND completed\r\n")
    ok = c(b"b APPEND INBOX {%d+}\r\n" % n + HEADER_8BIT)  # a plain literal is taken too
    assert ok.startswith(b"b OK [APPENDUID ")
    ok = c(b"c APPEND INBOX CATENATE (UTF8 (~{%d+}\r\n" % n + HEADER_8BIT + b") TEXT {2+}\r\nok)")
    assert ok.startswith(b"c OK [APPENDUID ")
    dated = b'd APPEND INBOX "01-Feb-2020 10:00:00 +0000" UTF8 (~{%d+}\r\n' % n
    assert c(dated + HEADER_8BIT + b")").startswith(b"d OK [APPENDUID ")
    assert c(b"s SELECT INBOX").endswith(b"s OK [READ-WRITE] SELECT completed\r\n")
    assert c(b"f FETCH 4 INTERNALDATE") == (  # the date given, with the UTF8 form too
        b'* 4 FETCH (INTERNALDATE "01-Feb-2020 10:00:00 +0000")\r\nf OK FETCH completed\r\n'
    )
    user = store.user(BOB)
    assert [user.read_message("INBOX", u) for u in (1, 2, 3, 4)] == [
        HEADER_8BIT,
        HEADER_8BIT,
        HEADER_8BIT + b"ok",
        HEADER_8BIT,
    ]
    assert user.fetch("INBOX", [1])[0].flags == ("\\Seen",)
    cases = {
        b"d APPEND INBOX UTF8 ~{2+}\r\nhi": b'd BAD expected "(" and a literal8\r\n',
        b"d APPEND INBOX UTF8 (~{2+}\r\nhi": b'd BAD expected ")" after the literal8\r\n',
        b"d APPEND INBOX UTF8 (hi)": b"d BAD invalid literal\r\n",
        b"d APPEND INBOX UTF8": b"d BAD expected a space\r\n",
    }
    for cmd, want in cases.items():
        assert c(cmd) == want, cmd
