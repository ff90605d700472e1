"""COMPRESS=DEFLATE (RFC 4978) in the session core: announced once logged in, taken in the
authenticated and selected states, the OK before the StartCompress action, once only
(NO [COMPRESSIONACTIVE]), DEFLATE the one mechanism (NO otherwise, as Dovecot answers), and
BAD for a command that is not COMPRESS SP atom. Exact bytes and actions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap.session import Log, Send, StartCompress
from mailserver.store import Store
from tests.mailserver.imap.session_kit import CAPS, Client, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def test_announced_only_once_logged_in(store: Store) -> None:
    c = Client(store)
    assert b"COMPRESS" not in c(b"a CAPABILITY")
    assert b" COMPRESS=DEFLATE APPENDLIMIT=5000] Logged in" in c.login()
    assert c(b"b CAPABILITY").startswith(b"* CAPABILITY " + CAPS + b" COMPRESS=DEFLATE ")


def test_not_before_login(store: Store) -> None:
    c = Client(store)
    actions = c.actions(b"a COMPRESS DEFLATE")
    assert c.session.compressed is False
    assert [type(a) for a in actions] == [Send]
    assert c(b"a COMPRESS DEFLATE").startswith(b"a BAD ")


@pytest.mark.parametrize("select", [False, True], ids=["authenticated", "selected"])
def test_the_ok_goes_out_then_compression_starts(store: Store, select: bool) -> None:
    c = Client(store)
    if select:
        c.select()
    else:
        c.login()
    actions = c.actions(b"z COMPRESS deflate")
    assert actions == [  # the log line says what the connection now is
        Send(data=b"z OK DEFLATE active\r\n"),
        StartCompress(),
        Log(text="COMPRESS DEFLATE active"),
    ]
    assert c.session.compressed is True


def test_once_only(store: Store) -> None:
    c = Client(store)
    c.login()
    c(b"a COMPRESS DEFLATE")
    actions = c.actions(b"b COMPRESS DEFLATE")
    assert actions == [
        Send(data=b"b NO [COMPRESSIONACTIVE] DEFLATE is already active\r\n")
    ]  # no second StartCompress: the stream would be compressed twice


def test_an_unknown_mechanism_is_refused_and_changes_nothing(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"a COMPRESS GZIP") == b"a NO unknown compression mechanism GZIP\r\n"
    assert c.session.compressed is False
    assert [type(a) for a in c.actions(b"b COMPRESS DEFLATE")][:2] == [Send, StartCompress]


@pytest.mark.parametrize(
    "line",
    [b"a COMPRESS", b"a COMPRESS DEFLATE X", b'a COMPRESS "DEFLATE"', b"a COMPRESS  DEFLATE"],
)
def test_bad_syntax_is_bad(store: Store, line: bytes) -> None:
    c = Client(store)
    c.login()
    assert c(line).startswith(b"a BAD ")
    assert c.session.compressed is False
