"""I18NLEVEL=1 (RFC 5255 §4) through sessions: the capability, and SEARCH comparing header and
body text with i;unicode-casemap (RFC 5051), the comparator SORT and THREAD use too. Exact
bytes."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def mail(subject: str, body: str) -> bytes:
    encoded = base64.b64encode(subject.encode()).decode()
    return (
        f"From: a@crepes.fr\r\nSubject: =?UTF-8?B?{encoded}?=\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def test_i18nlevel_1_is_announced(store: Store) -> None:
    assert b" I18NLEVEL=1 " in CAPS
    assert Client(store)(b"a CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_search_compares_with_unicode_casemap(store: Store) -> None:
    for subject, body in [
        ("Résumé", "Grüße aus Köln"),  # composed
        ("RE\u0301SUME\u0301 2", "GRU\u0308ßE"),  # decomposed, upper case
        ("Resume", "Strasse"),  # no accents: another word
    ]:
        store.deliver(BOB, "INBOX", mail(subject, body), ())
    c = Client(store)
    c.select()
    searches = [
        ("SUBJECT", "résumé", b"1 2"),
        ("SUBJECT", "RE\u0301SUME\u0301", b"1 2"),
        ("SUBJECT", "resume", b"3"),
        ("BODY", "grüße", b"1 2"),
        ("BODY", "GRÜSSE", b""),  # ß has no simple titlecase: not "SS" (as Dovecot)
        ("BODY", "strasse", b"3"),
        ("TEXT", "köln", b"1"),
    ]
    for n, (key, text, found) in enumerate(searches):
        needle = text.encode()
        cmd = b"s%d SEARCH CHARSET UTF-8 %s {%d+}\r\n" % (n, key.encode(), len(needle)) + needle
        want = b"* SEARCH" + (b" " + found if found else b"") + b"\r\n"
        assert c(cmd) == want + b"s%d OK SEARCH completed\r\n" % n, text
