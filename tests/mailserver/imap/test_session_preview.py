"""PREVIEW (RFC 8970) through sessions on a real store: FETCH PREVIEW and PREVIEW (LAZY) (ours
is never slow, so LAZY gets the preview too, never NIL), UTF-8 text in a literal, "" for a
message without text, no \\Seen set, FETCH's own modifiers after it, bad modifiers BAD. Exact
bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, deliver, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def test_preview_is_announced(store: Store) -> None:
    assert b" SAVEDATE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW " in CAPS + b" "
    assert Client(store)(b"a CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_fetch_preview_in_every_form(store: Store) -> None:
    deliver(store, 1)  # body "hello 1"
    store.deliver(BOB, "INBOX", "Subject: x\r\n\r\n> quoted\r\ncafé crème\r\n".encode(), ())
    store.deliver(BOB, "INBOX", b"Subject: x\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n", ())
    c = Client(store)
    c.select()
    ok = b"a OK FETCH completed\r\n"
    assert c(b"a FETCH 1 (PREVIEW)") == b'* 1 FETCH (PREVIEW "hello 1")\r\n' + ok
    assert c(b"a FETCH 1 PREVIEW") == b'* 1 FETCH (PREVIEW "hello 1")\r\n' + ok
    assert c(b"a FETCH 1 (PREVIEW (LAZY) FLAGS)") == (
        b'* 1 FETCH (PREVIEW "hello 1" FLAGS (\\Recent))\r\n' + ok
    )
    assert c(b"a FETCH 1 preview (lazy lazy)") == b'* 1 FETCH (PREVIEW "hello 1")\r\n' + ok
    assert c(b"a FETCH 2 (PREVIEW)") == (
        b"* 2 FETCH (PREVIEW {12}\r\ncaf\xc3\xa9 cr\xc3\xa8me)\r\n" + ok
    )
    assert c(b"a FETCH 3 (PREVIEW)") == b'* 3 FETCH (PREVIEW "")\r\n' + ok
    assert c(b"b UID FETCH 1 (PREVIEW)") == (
        b'* 1 FETCH (UID 1 PREVIEW "hello 1")\r\nb OK FETCH completed\r\n'
    )
    assert c(b"d FETCH 1:3 FLAGS") == (  # a preview sets no \Seen
        b"* 1 FETCH (FLAGS (\\Recent))\r\n* 2 FETCH (FLAGS (\\Recent))\r\n"
        b"* 3 FETCH (FLAGS (\\Recent))\r\nd OK FETCH completed\r\n"
    )
    assert c(b"c FETCH 1 (PREVIEW) (CHANGEDSINCE 1)") == (
        b'* 1 FETCH (PREVIEW "hello 1" MODSEQ (2))\r\nc OK FETCH completed\r\n'
    )
    assert c(b"c FETCH 1 PREVIEW (CHANGEDSINCE 1)") == (  # FETCH's, not PREVIEW's
        b'* 1 FETCH (PREVIEW "hello 1" MODSEQ (2))\r\nc OK FETCH completed\r\n'
    )


def test_bad_modifiers(store: Store) -> None:
    deliver(store, 1)
    c = Client(store)
    c.select()
    assert c(b"a FETCH 1 (PREVIEW (FOO))").startswith(b"a BAD ")
    assert c(b"b FETCH 1 (PREVIEW ())") == b"b BAD '' is not a supported PREVIEW modifier\r\n"
    # a long modifier is shown cut at 40 characters; bytes that are not UTF-8 as '?'
    assert c(b"b FETCH 1 (PREVIEW (LAZY " + b"Y" * 50 + b"))") == (
        b"b BAD '" + b"Y" * 40 + b"' is not a supported PREVIEW modifier\r\n"
    )
    assert c(b"b FETCH 1 (SNIPPET (\xff\xfeZ))") == (
        b"b BAD '??Z' is not a supported SNIPPET modifier\r\n"
    )
    assert c(b"c FETCH 1 (PREVIEW LAZY)").startswith(b"c BAD ")
    assert c(b"d FETCH 1 PREVIEW (FOO)").startswith(b"d BAD ")


def test_the_drafts_forms_as_dovecot_takes_them(store: Store) -> None:
    """SNIPPET=FUZZY and PREVIEW=FUZZY (the drafts before RFC 8970, which Dovecot announces
    still): the answers Dovecot 2.3.19 gave to each form."""
    deliver(store, 1)
    c = Client(store)
    c.select()
    fuzzy = b'(FUZZY "hello 1")'
    forms = {
        b"(PREVIEW (LAZY=FUZZY))": b"PREVIEW " + fuzzy,
        b"(PREVIEW (FUZZY))": b"PREVIEW " + fuzzy,
        b"(PREVIEW (LAZY FUZZY) RFC822.SIZE)": b"PREVIEW " + fuzzy + b" RFC822.SIZE 148",
        b"(SNIPPET)": b"SNIPPET " + fuzzy,
        b"SNIPPET": b"SNIPPET " + fuzzy,
        b"(SNIPPET (LAZY))": b"SNIPPET " + fuzzy,
        b"(SNIPPET (FUZZY))": b"SNIPPET " + fuzzy,
        b"(snippet (lazy=fuzzy))": b"SNIPPET " + fuzzy,
        b"(PREVIEW=FUZZY)": b'PREVIEW "hello 1"',
        b"(SNIPPET=FUZZY)": b"SNIPPET " + fuzzy,
        b"(PREVIEW SNIPPET (FUZZY))": b'PREVIEW "hello 1" SNIPPET ' + fuzzy,
    }
    for items, answer in forms.items():
        assert c(b"a FETCH 1 " + items) == (
            b"* 1 FETCH (" + answer + b")\r\na OK FETCH completed\r\n"
        ), items
    assert c(b"b FETCH 1 (SNIPPET (FOO))") == b"b BAD 'FOO' is not a supported SNIPPET modifier\r\n"
    assert c(b"c FETCH 1 (PREVIEW (LAZY FOO))") == (
        b"c BAD 'FOO' is not a supported PREVIEW modifier\r\n"
    )
    assert c(b"d FETCH 1 (PREVIEW (LAZY ))").startswith(b"d BAD ")
